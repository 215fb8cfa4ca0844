// Crypto-suite plugins: identities, handshakes, sessions, media keys, storage at rest.
//
// The kernel never touches a primitive: every key, handshake and cipher goes through this
// interface, so a deployment can swap the suite. A suite has a stable id (suite_id()) that storage
// records with the data; opening data written by another suite is refused.
//
// Contract
// - Secrets cross the boundary only as bytes in caller-owned sinks or views. The kernel keeps them
// in
//   memory it wipes; the plugin wipes every secret it holds when the object holding it is destroyed
//   (and on every error path).
// - Comparisons of MACs, keys and tags are constant time.
// - Objects returned through `out` parameters (Handshake, Session, MediaCipher) are owned by the
//   caller and released with destroy(). They are not thread-safe; the kernel serialises use of
//   each.
// - Errors: kAuthFailed for anything that did not verify (the object stays usable unless said
//   otherwise), kCorrupt for malformed input, kInvalidArgument for wrong sizes, kOutOfRange when a
//   bound (skipped keys, replay window, message size) is exceeded.
// - Every length read from input is bounded before use; no input can make a call allocate more than
//   its documented limit.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

inline constexpr std::size_t kPublicKeyBytes = 32;
inline constexpr std::size_t kSecretKeyBytes = 32;

enum class HandshakePattern : uint32_t {
  kNN = 1,
  kKK = 2,
  kIK = 3,
  kXX = 4,
  kNNpsk0 = 11,
  kKKpsk0 = 12,
  kIKpsk2 = 13,
  kXXpsk3 = 14,
};

enum class HandshakeRole : uint32_t { kInitiator = 1, kResponder = 2 };

enum class HandshakeStatus : uint32_t {
  kWriteMessage = 1, // the next call must be write_message
  kReadMessage = 2,  // the next call must be read_message
  kComplete = 3,     // split() may be called
  kFailed = 4,       // a message did not verify; the object only accepts destroy()
};

struct HandshakeParams {
  HandshakePattern pattern;
  HandshakeRole role;
  ByteView local_static_secret;  // empty when the pattern has no local static key
  ByteView remote_static_public; // empty unless the pattern pre-knows it (IK, KK initiator)
  ByteView prologue;             // binds protocol name and version
  ByteView psk;                  // 32 bytes for psk patterns, else empty
};

struct KdfCost {
  uint64_t ops_limit;
  uint64_t mem_limit_bytes;
};

class Session {
 public:
  // Encrypts one message with the next sending key of the ratchet; `ad` is authenticated, not sent.
  virtual Status encrypt(ByteView ad, ByteView plaintext, ByteSink& out) noexcept = 0;
  // Decrypts one message; out-of-order messages use stored skipped keys within the suite's bounds.
  virtual Status decrypt(ByteView ad, ByteView message, ByteSink& plaintext) noexcept = 0;
  // Versioned serialisation of the whole state (contains secrets: the kernel seals it at rest).
  virtual Status serialize(ByteSink& out) const noexcept = 0;
  // 32-byte key material for a call, derived from the session and the call id; same on both sides.
  virtual Status derive_media_key(ByteView call_id, MutableByteView key_out) noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  ~Session() = default;
};

class Handshake {
 public:
  [[nodiscard]] virtual HandshakeStatus status() const noexcept = 0;
  virtual Status write_message(ByteView payload, ByteSink& message_out) noexcept = 0;
  virtual Status read_message(ByteView message, ByteSink& payload_out) noexcept = 0;
  // The peer's static public key once the pattern has revealed or confirmed it.
  virtual Status remote_static(MutableByteView key_out) const noexcept = 0;
  virtual Status handshake_hash(MutableByteView hash_out) const noexcept = 0;
  // After kComplete: the session seeded from the handshake. Valid once.
  virtual Status split(Session** out) noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  ~Handshake() = default;
};

// Seals and opens media frames of one call direction: AEAD with a 64-bit counter nonce and a replay
// window; frames from another call or key fail with kAuthFailed, replays with kOutOfRange.
class MediaCipher {
 public:
  virtual Status seal(uint64_t counter, ByteView ad, ByteView frame, ByteSink& out) noexcept = 0;
  virtual Status open(uint64_t counter, ByteView ad, ByteView sealed, ByteSink& out) noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  ~MediaCipher() = default;
};

class CryptoSuite {
 public:
  // Stable id recorded with stored data, e.g. "entre-sodium-v1".
  [[nodiscard]] virtual StringView suite_id() const noexcept = 0;
  virtual void random_bytes(MutableByteView out) noexcept = 0;
  virtual Status generate_identity(MutableByteView secret_out,
                                   MutableByteView public_out) noexcept = 0;
  virtual Status public_from_secret(ByteView secret, MutableByteView public_out) noexcept = 0;
  virtual Status create_handshake(const HandshakeParams& params, Handshake** out) noexcept = 0;
  virtual Status restore_session(ByteView state, Session** out) noexcept = 0;
  virtual Status create_media_cipher(ByteView media_key, uint32_t direction,
                                     MediaCipher** out) noexcept = 0;
  // Storage at rest: passphrase -> key (slow, call from the worker pool), then AEAD with `ad`.
  virtual Status derive_storage_key(StringView passphrase, ByteView salt, KdfCost cost,
                                    MutableByteView key_out) noexcept = 0;
  virtual Status seal_at_rest(ByteView key, ByteView ad, ByteView plaintext,
                              ByteSink& out) noexcept = 0;
  virtual Status open_at_rest(ByteView key, ByteView ad, ByteView sealed,
                              ByteSink& out) noexcept = 0;
  // Safety number for two public keys, identical whichever order they are given in.
  virtual Status safety_number(ByteView key_a, ByteView key_b, ByteSink& text_out) noexcept = 0;

 protected:
  ~CryptoSuite() = default;
};

} // namespace entre::sdk
