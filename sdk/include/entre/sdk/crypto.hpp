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

inline constexpr std::size_t kPublicKeyBytes = 32;  // a user id: the identity's X25519 public key
inline constexpr std::size_t kSigningKeyBytes = 32; // an Ed25519 public key
inline constexpr std::size_t kSignatureBytes = 64;
inline constexpr std::size_t kMediaKeyBytes = 32;
inline constexpr std::size_t kStorageKeyBytes = 32;
inline constexpr std::size_t kHandshakeHashMaxBytes = 64;

enum class HandshakePattern : uint32_t {
  kNN = 1,
  kKK = 2,
  kIK = 3,
  kXX = 4,
  kNNpsk0 = 11,
  kNNpsk2 = 12,
  kKKpsk0 = 13,
  kKKpsk2 = 14,
  kIKpsk1 = 15,
  kIKpsk2 = 16,
  kXXpsk3 = 17,
};

enum class HandshakeRole : uint32_t { kInitiator = 1, kResponder = 2 };

enum class HandshakeStatus : uint32_t {
  kWriteMessage = 1, // the next call must be write_message
  kReadMessage = 2,  // the next call must be read_message
  kComplete = 3,     // split() may be called
  kFailed = 4,       // a message did not verify; the object only accepts destroy()
  // A call out of turn (write when a read is due, anything after completion) is refused with
  // kInvalidArgument and changes nothing, so a duplicated message cannot break a handshake.
};

struct HandshakeParams {
  HandshakePattern pattern;
  HandshakeRole role;
  ByteView local_identity_secret; // the identity blob from generate_identity; empty if unused
  ByteView remote_public;         // the peer's user id when the pattern pre-knows it (IK, KK)
  ByteView prologue;              // binds protocol name and version: a mismatch fails the handshake
  ByteView psk;                   // 32 bytes for psk patterns, else empty
};

enum class KdfStrength : uint32_t { kInteractive = 1, kModerate = 2, kSensitive = 3 };

struct KdfCost {
  KdfStrength strength;     // the suite's preset for this level
  uint64_t ops_limit;       // 0: take the preset's
  uint64_t mem_limit_bytes; // 0: take the preset's
};

// A per-contact Double Ratchet session.
class Session {
 public:
  // Encrypts one message with the next sending key; `ad` is authenticated, not sent.
  virtual Status encrypt(ByteView ad, ByteView plaintext, ByteSink& out) noexcept = 0;
  // Decrypts one message. Out-of-order messages use stored skipped keys within the suite's bounds;
  // a replayed or forged message fails (kAuthFailed / kOutOfRange) and leaves the state unchanged.
  virtual Status decrypt(ByteView ad, ByteView message, ByteSink& plaintext) noexcept = 0;
  // Versioned serialisation of the whole state (contains secrets: the kernel seals it at rest).
  virtual Status serialize(ByteSink& out) const noexcept = 0;
  // Key material for one call, derived from the session and the call id; the same on both sides.
  virtual Status derive_media_key(ByteView call_id, MutableByteView key_out) noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  ~Session() = default;
};

class Handshake {
 public:
  [[nodiscard]] virtual HandshakeStatus status() const noexcept = 0;
  virtual Status write_message(ByteView payload, ByteSink& message_out) noexcept = 0;
  // A payload read before kComplete is neither authenticated as the peer's nor fresh (IK's first
  // message can be replayed): act on it only after the handshake completes.
  virtual Status read_message(ByteView message, ByteSink& payload_out) noexcept = 0;
  // The peer's user id once the pattern has revealed or confirmed it.
  virtual Status remote_public(MutableByteView key_out) const noexcept = 0;
  // The handshake hash (channel binding), once complete; writes its length to *size.
  virtual Status handshake_hash(MutableByteView hash_out, uint64_t* size) const noexcept = 0;
  // After kComplete: the ratchet session seeded from the handshake. Valid once.
  virtual Status split(Session** out) noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  ~Handshake() = default;
};

// Seals and opens the media frames of one call direction: AEAD with a 64-bit counter nonce and a
// replay window. Frames and associated data of up to 65,536 bytes each are accepted (the relay
// link passes a whole frame as associated data); larger ones may be refused with kOutOfRange.
// Frames under another key fail with kAuthFailed; replays and frames too old for the window fail
// with kOutOfRange.
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

  // Identity: a secret blob (suite-defined, written to `secret_out`; the kernel seals it at rest)
  // and the user id (kPublicKeyBytes).
  virtual Status generate_identity(ByteSink& secret_out, MutableByteView public_out) noexcept = 0;
  virtual Status identity_public(ByteView secret, MutableByteView public_out) noexcept = 0;
  virtual Status signing_public(ByteView secret, MutableByteView signing_key_out) noexcept = 0;
  virtual Status sign(ByteView secret, ByteView message,
                      MutableByteView signature_out) noexcept = 0;
  virtual Status verify(ByteView signing_key, ByteView message, ByteView signature) noexcept = 0;

  // Contact codes: text ("entre:...") carrying a user id, a checksum and optional endpoint hints
  // (UTF-8, '\n'-separated). parse_contact_code gives a distinct message for a bad prefix, length,
  // alphabet and checksum.
  virtual Status encode_contact_code(ByteView public_key, StringView hints,
                                     ByteSink& text_out) noexcept = 0;
  virtual Status parse_contact_code(StringView text, MutableByteView public_out,
                                    ByteSink& hints_out) noexcept = 0;
  // Verification: a short fingerprint of one key for display, and a safety number for two keys that
  // is identical whichever order they are given in.
  virtual Status fingerprint(ByteView public_key, ByteSink& text_out) noexcept = 0;
  virtual Status safety_number(ByteView key_a, ByteView key_b, ByteSink& text_out) noexcept = 0;

  virtual Status create_handshake(const HandshakeParams& params, Handshake** out) noexcept = 0;
  virtual Status restore_session(ByteView state, Session** out) noexcept = 0;
  // `direction` 0 or 1: the two directions of a call use different nonce spaces.
  virtual Status create_media_cipher(ByteView media_key, uint32_t direction,
                                     MediaCipher** out) noexcept = 0;

  // Storage at rest: passphrase -> key (slow: call from the worker pool), then AEAD binding `ad`.
  // A wrong key fails with kAuthFailed and writes nothing.
  [[nodiscard]] virtual uint64_t storage_salt_bytes() const noexcept = 0;
  virtual Status derive_storage_key(StringView passphrase, ByteView salt, KdfCost cost,
                                    MutableByteView key_out) noexcept = 0;
  virtual Status seal_at_rest(ByteView key, ByteView ad, ByteView plaintext,
                              ByteSink& out) noexcept = 0;
  virtual Status open_at_rest(ByteView key, ByteView ad, ByteView sealed,
                              ByteSink& out) noexcept = 0;

 protected:
  ~CryptoSuite() = default;
};

// Optional (InterfaceId::kPairwiseKeysV1, SDK 1.1): keys two identities share without a session,
// for features that must recognise a contact before any handshake, such as LAN discovery beacons.
// A suite without it leaves those features off. Threading and errors as for CryptoSuite.
class PairwiseKeys {
 public:
  inline static constexpr std::size_t kPairwiseKeyBytes = 32;
  inline static constexpr std::size_t kKeyedHashMinBytes = 16;
  inline static constexpr std::size_t kKeyedHashMaxBytes = 64;

  // The 32-byte key of the pair (my identity, their public key): the same for both sides, different
  // for every other pair and for every `label` (a domain separator, 1..64 bytes). Costs one
  // Diffie-Hellman operation. kAuthFailed when `their_public` is a low-order point,
  // kInvalidArgument for wrong sizes. The caller wipes the key.
  virtual Status pairwise_key(ByteView my_secret, ByteView their_public, StringView label,
                              MutableByteView key_out) noexcept = 0;
  // A keyed hash (a PRF and MAC) of `message` under a kPairwiseKeyBytes key, out.size between
  // kKeyedHashMinBytes and kKeyedHashMaxBytes; a different output size gives an unrelated output.
  virtual Status keyed_hash(ByteView key, ByteView message, MutableByteView out) noexcept = 0;

 protected:
  ~PairwiseKeys() = default;
};

} // namespace entre::sdk
