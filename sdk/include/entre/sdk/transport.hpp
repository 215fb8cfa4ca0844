// Transport plugins: move opaque frames between endpoints.
//
// A transport sees only ciphertext: the kernel hands it frames that are already encrypted and
// framed, and it hands received frames back unchanged. It knows nothing of contacts or messages.
//
// Endpoints are strings the transport parses itself, prefixed with its scheme:
//   udp:203.0.113.5:7400   relay:relay.example.org:443   lan:192.168.1.20:7401
// A transport rejects an endpoint it cannot parse with kInvalidArgument and a message naming it.
//
// Endpoint rules (the kernel stores endpoints, puts them in contact codes and tells them to peers)
// - An endpoint is "<scheme>:<rest>", 1 to kMaxEndpointBytes (200) bytes of printable ASCII
//   (0x21-0x7e: no space, no control character). local_endpoints() lists only such endpoints,
//   and the endpoints a transport reports in callbacks are such endpoints too.
// - A contact code carries at most kMaxEndpointHints (8) endpoints, taken from every transport's
//   local_endpoints() in the profile's transport order; the kernel leaves out, and logs, the
//   endpoints past the eighth and any that break the rule above. So does the endpoints envelope
//   that tells a peer reached through a relay where to dial directly (docs/protocol.md).
// - With network_scope = "private" the kernel uses an endpoint only when its host is an IP literal
//   of the local network (private, link-local or loopback, sdk/net.hpp), or when its transport
//   sets kTransportLocalOnly (its endpoints cannot leave the machine, e.g. Unix sockets). Any
//   other endpoint (a host name, a public address) is refused in contact codes and dropped on
//   receipt.
//
// Frame sizes
// - info().max_payload_bytes is at least kTransportMinPayloadBytes (117): the largest frame the
//   kernel cannot split, the first handshake message of a link (docs/protocol.md, "Frames").
//   The kernel refuses a transport that declares less when the node starts, naming the plugin;
//   entre-plugin-check --conformance fails it. Larger is better: messages are fragmented to fit,
//   and a call's media frames (codec packet + 38 bytes) are sent only when they fit.
//
// Contract
// - Lifecycle: the kernel calls start() once, then send() any number of times, then stop() once,
//   then destroys the root plugin object. After stop() returns, no more callbacks arrive.
// - Threading: start(), send() and stop() are called on event-loop threads (Host::io_context()).
//   send() never blocks: it queues or drops and returns; a transport keeps its own bounded queue
//   and returns kUnavailable when it is full. TransportEvents callbacks are made on event-loop
//   threads, never concurrently for the same transport unless the transport documents otherwise.
// - Ownership: the TransportEvents object belongs to the kernel and outlives stop(). Views passed
//   to callbacks are valid only during the callback.
// - Bounds: a frame longer than info().max_payload_bytes is refused with kOutOfRange (send) or
//   dropped and counted (receive); a transport never delivers a frame larger than it declared.
// - Links: on_link() is for transports that hold a connection or session of their own (a TCP
//   connection to a relay): kUp when it is established, kDown when it is lost. A datagram
//   transport without connections (UDP, LAN) never needs to call it. The kernel passes it to
//   frontends as a LinkStateChanged event and nothing more: whether a peer is reachable is
//   decided by the kernel's own handshakes and keep-alives over on_frame() and send().
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

// SDK 1.3: the rules above as constants.
inline constexpr uint32_t kMaxEndpointBytes = 200;
inline constexpr uint32_t kMaxEndpointHints = 8;
// 1 type byte + 4 index bytes + Noise IK's first message carrying a 16-byte session id:
// ephemeral key (32) + sealed static key (32 + 16) + sealed payload (16 + 16).
inline constexpr uint32_t kTransportMinPayloadBytes = 1 + 4 + 32 + (32 + 16) + (16 + 16);

enum TransportFlags : uint32_t {
  kTransportReliable = 1u << 0, // ordered reliable stream (TCP); else datagrams that may be lost
  // Only reaches the local network. Informational: the kernel neither restricts nor prefers such a
  // transport for it (network_scope = "private" judges each endpoint by its address).
  kTransportLanOnly = 1u << 1,
  kTransportDiscovery = 1u << 2, // reports peers through on_discovered()
  kTransportRelayed = 1u << 3,   // SDK 1.2: reaches peers through a server (relay.hpp)
  // SDK 1.3: every endpoint of this transport is local to the machine (a Unix socket, a pipe):
  // network_scope = "private" accepts them whatever their text. A kernel older than 1.3 ignores it.
  kTransportLocalOnly = 1u << 4,
};

struct TransportInfo {
  char scheme[16];            // endpoint prefix without the colon, e.g. "udp"
  uint32_t flags;             // TransportFlags
  uint32_t max_payload_bytes; // largest frame send() accepts; >= kTransportMinPayloadBytes
};

enum class LinkState : uint32_t { kUp = 1, kDown = 2 };

// Implemented by the kernel.
class TransportEvents {
 public:
  virtual void on_frame(StringView endpoint, ByteView frame) noexcept = 0;
  virtual void on_link(StringView endpoint, LinkState state) noexcept = 0;
  // A discovery transport saw `beacon` from `endpoint`; the kernel decides whether it is a contact.
  virtual void on_discovered(StringView endpoint, ByteView beacon) noexcept = 0;

 protected:
  ~TransportEvents() = default;
};

class Transport {
 public:
  [[nodiscard]] virtual TransportInfo info() const noexcept = 0;
  virtual Status start(TransportEvents& events) noexcept = 0;
  virtual void stop() noexcept = 0;
  virtual Status send(StringView endpoint, ByteView frame) noexcept = 0;
  // The endpoints at which peers may reach this node (e.g. the bound address), separated by '\n'
  // (see "Endpoint rules" above). Called on a loop thread after start(), and by the messenger
  // thread while the transport runs: it must be safe to call from any thread.
  virtual Status local_endpoints(ByteSink& out) const noexcept = 0;

 protected:
  ~Transport() = default;
};

} // namespace entre::sdk
