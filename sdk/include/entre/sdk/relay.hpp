// Relayed transports (SDK 1.2): a transport that reaches peers through a server which must know
// who the node is, such as transport-tcp-relay and entre-relay.
//
// The node's identity secret never leaves the kernel. A relayed transport proves the identity to
// its server with a Noise handshake that the kernel builds for it through IdentityProof; the
// handshake's result comes back as two MediaCipher objects (one per direction) for the link to
// the server. The frames the transport carries are already end-to-end encrypted by the kernel; the
// link encryption hides from the network which peers a node talks to.
//
// Contract
// - A transport whose info() has kTransportRelayed offers RelayedTransport through
//   query_interface(InterfaceId::kRelayedTransportV1).
// - The kernel calls attach(&proof) on an event-loop thread once the identity is unlocked (and the
//   transport started), and attach(nullptr) before stop(). Until attached, the
//   transport reaches nobody: send() returns kUnavailable and local_endpoints() lists nothing.
// - IdentityProof belongs to the kernel and stays valid until attach(nullptr) returns. Its calls
//   are thread-safe and never block on the network or disk (an X25519 operation at most).
// - Handshake and MediaCipher objects from IdentityProof belong to the caller, who ends them with
//   destroy(). They are independent of each other and of the proof's later life.
// - describe_path() may be called from any thread; it must not block.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/crypto.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

// Implemented by the kernel.
class IdentityProof {
 public:
  // The node's user id (kPublicKeyBytes).
  virtual Status identity_public(MutableByteView key_out) const noexcept = 0;
  // A Noise IK handshake as initiator, with the node's identity as the static key, towards the
  // responder whose static public key is `server_public`, bound to `prologue`.
  virtual Status begin(ByteView server_public, ByteView prologue, Handshake** out) noexcept = 0;
  // After `handshake` completed: ciphers for the link, keyed from the handshake's result and
  // `label` (the same label on the server). `send` seals the initiator's frames, `receive` opens
  // the responder's. The handshake is used up either way.
  virtual Status finish(Handshake& handshake, StringView label, MediaCipher** send,
                        MediaCipher** receive) noexcept = 0;

 protected:
  ~IdentityProof() = default;
};

// Implemented by a relayed transport beside Transport.
class RelayedTransport {
 public:
  // Gives the transport the node's identity (nullptr: takes it away; the transport closes its
  // server links and forgets the pointer before returning).
  virtual void attach(IdentityProof* proof) noexcept = 0;
  // The path a frame to or from `endpoint` takes, for people to read: e.g. "relay:host:443".
  // Contains no key and no secret. kInvalidArgument for an endpoint of another scheme.
  virtual Status describe_path(StringView endpoint, ByteSink& out) const noexcept = 0;

 protected:
  ~RelayedTransport() = default;
};

} // namespace entre::sdk
