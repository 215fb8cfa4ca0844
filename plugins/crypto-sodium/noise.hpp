// Noise Protocol Framework (revision 34) handshakes for the sodium suite:
// Noise_<pattern>_25519_ChaChaPoly_<SHA256|BLAKE2b>.
//
// Patterns (spec notation; "..." ends the pre-messages, keys both sides know beforehand):
//
//   NN:      -> e                      NNpsk0:  -> psk, e              NNpsk2:  -> e
//            <- e, ee                           <- e, ee                        <- e, ee, psk
//
//   KK:      -> s                      KKpsk0:  -> s                   KKpsk2:  -> s
//            <- s                               <- s                            <- s
//            ...                                ...                             ...
//            -> e, es, ss                       -> psk, e, es, ss               -> e, es, ss
//            <- e, ee, se                       <- e, ee, se                    <- e, ee, se, psk
//
//   IK:      <- s                      IKpsk1:  <- s                   IKpsk2:  <- s
//            ...                                ...                             ...
//            -> e, es, s, ss                    -> e, es, s, ss, psk            -> e, es, s, ss
//            <- e, ee, se                       <- e, ee, se                    <- e, ee, se, psk
//
//   XX:      -> e                      XXpsk3:  -> e
//            <- e, ee, s, es                    <- e, ee, s, es
//            -> s, se                           -> s, se, psk
//
// Tokens: e (send/receive an ephemeral public key; in psk patterns also MixKey(e)), s (send/receive
// a static public key, encrypted once a key exists), ee/es/se/ss (MixKey of a DH: the first letter
// is the initiator's key, the second the responder's), psk (MixKeyAndHash of the pre-shared key).
// Every handshake message ends with the payload, encrypted once a key exists.
//
// Contract
// - NoiseHandshake and CipherState never throw: every operation returns a NoiseResult (an error
//   code and a fixed reason text). For a handshake any failure is final: the handshake becomes
//   kFailed, every secret it holds is wiped and every later call is refused. The destructor wipes
//   the same secrets.
// - A handshake message is at most kNoiseMaxMessageBytes (65535) bytes, as the spec requires;
//   larger messages are refused on both sides. Every length is checked before the bytes are used.
// - A low-order X25519 point from the peer (ephemeral or static) is a hard failure, detected as
//   soon as the key is received.
// - A payload read before kComplete is neither authenticated as the peer's nor fresh: act on it
//   only after the handshake completes.
// - Not thread-safe; one owner at a time. Handshakes are neither copyable nor movable (they hold
//   secrets and a unique ephemeral key).
#pragma once

#include "primitives.hpp"

#include <entre/sdk/crypto.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace entre::plugins::sodium {

// Limits fixed by the Noise specification.
inline constexpr std::size_t kNoiseMaxMessageBytes = 65535;
inline constexpr std::size_t kNoiseDhBytes = 32;
inline constexpr std::size_t kNoiseKeyBytes = 32;
inline constexpr std::size_t kNoisePskBytes = 32;
inline constexpr std::size_t kNoiseTagBytes = 16;
inline constexpr std::size_t kNoiseMaxHashBytes = 64;
// Nonce 2^64-1 is reserved: a CipherState that reaches it refuses to encrypt or decrypt.
inline constexpr uint64_t kNoiseMaxNonce = UINT64_MAX;

using NoisePublicKey = std::array<uint8_t, kNoiseDhBytes>;

// The hash function of the suite, chosen at run time.
enum class NoiseHash : uint8_t { kSha256, kBlake2b };

// Where a handshake stands. kComplete and kFailed are final.
enum class NoiseStatus : uint8_t {
  kWriteMessage, // the next call must be write_message
  kReadMessage,  // the next call must be read_message
  kComplete,     // split() and the accessors below may be used
  kFailed,       // something failed; secrets are wiped, every call is refused
};

enum class NoiseError : uint8_t {
  kNone,
  kInvalidConfig,   // the keys or psk given do not fit the pattern
  kWrongState,      // write when a read is due (or the reverse), or a call after completion
  kAlreadyFailed,   // the handshake failed earlier
  kMessageTooLarge, // a message or payload over kNoiseMaxMessageBytes
  kTruncated,       // the message ends before its tokens (or the payload tag) do
  kAuthFailed,      // an AEAD tag did not verify: tampering, wrong key, wrong prologue or psk
  kLowOrderPoint,   // a peer key is a low-order X25519 point
  kNonceExhausted,  // the reserved nonce 2^64-1 was reached
  kInternal,        // out of memory, or a state the pattern tables cannot produce
};

[[nodiscard]] std::string_view noise_error_name(NoiseError error) noexcept;

// An error code and a fixed, human-readable reason ("" when ok).
struct NoiseResult {
  NoiseError error = NoiseError::kNone;
  std::string_view reason;

  [[nodiscard]] bool ok() const noexcept { return error == NoiseError::kNone; }
};

// The spec's name of a pattern ("IKpsk2"), or "" for a value outside the enum.
[[nodiscard]] std::string_view noise_pattern_name(sdk::HandshakePattern pattern) noexcept;
// "Noise_" + pattern + "_25519_ChaChaPoly_" + ("SHA256" | "BLAKE2b"); "" for an unknown pattern.
[[nodiscard]] std::string noise_protocol_name(sdk::HandshakePattern pattern, NoiseHash hash);

// CipherState (spec 5.1): a ChaCha20-Poly1305 key and a 64-bit counter nonce. The AEAD nonce is 4
// zero bytes then the counter, little-endian. Without a key, encrypt/decrypt pass the bytes through
// unchanged, as the spec requires during the first handshake messages. Messages are bounded by
// kNoiseMaxMessageBytes. Copyable (a copy continues from the same nonce: do not use both).
class CipherState {
 public:
  CipherState() = default;

  // InitializeKey: the first kNoiseKeyBytes of `key` (fewer bytes: the state is left without a
  // key); the nonce restarts at 0.
  void initialize_key(ByteSpan key) noexcept;
  [[nodiscard]] bool has_key() const noexcept { return has_key_; }
  [[nodiscard]] const Secret<kNoiseKeyBytes>& key() const noexcept { return key_; }
  [[nodiscard]] uint64_t nonce() const noexcept { return nonce_; }
  // SetNonce (spec 5.1), for tests and explicit-nonce transports.
  void set_nonce(uint64_t nonce) noexcept { nonce_ = nonce; }

  // EncryptWithAd: `out` becomes ciphertext || tag and the nonce advances.
  [[nodiscard]] NoiseResult encrypt_with_ad(ByteSpan ad, ByteSpan plaintext, Bytes& out) noexcept;
  // DecryptWithAd: `out` becomes the plaintext and the nonce advances. On failure `out` is empty
  // and the nonce is unchanged (the state stays usable).
  [[nodiscard]] NoiseResult decrypt_with_ad(ByteSpan ad, ByteSpan ciphertext, Bytes& out) noexcept;

  void wipe() noexcept;

 private:
  Secret<kNoiseKeyBytes> key_;
  uint64_t nonce_ = 0;
  bool has_key_ = false;
};

// SymmetricState (spec 5.2): chaining key ck, handshake hash h and a CipherState. HASHLEN is 32
// (SHA-256) or 64 (BLAKE2b); HKDF outputs are cut to 32 bytes where they become cipher keys.
// Public so that tests can build hostile messages; the handshake below is the normal user.
// mix_hash and the *_and_hash functions allocate and may throw std::bad_alloc.
class SymmetricState {
 public:
  // InitializeSymmetric(protocol_name).
  void initialize(NoiseHash hash, std::string_view protocol_name);
  void mix_key(ByteSpan input_key_material) noexcept;
  void mix_hash(ByteSpan data);
  void mix_key_and_hash(ByteSpan input_key_material);
  // Appends EncryptWithAd(h, plaintext) to `out`, then MixHash(ciphertext).
  [[nodiscard]] NoiseResult encrypt_and_hash(ByteSpan plaintext, Bytes& out);
  // `out` becomes DecryptWithAd(h, ciphertext), then MixHash(ciphertext).
  [[nodiscard]] NoiseResult decrypt_and_hash(ByteSpan ciphertext, Bytes& out);
  // Split(): the initiator sends with `first`, the responder with `second`.
  void split(CipherState& first, CipherState& second) const noexcept;

  [[nodiscard]] NoiseHash hash() const noexcept { return hash_; }
  [[nodiscard]] std::size_t hash_bytes() const noexcept;
  [[nodiscard]] bool has_key() const noexcept { return cipher_.has_key(); }
  [[nodiscard]] ByteSpan handshake_hash() const noexcept { return {h_.data(), hash_bytes()}; }
  [[nodiscard]] ByteSpan chaining_key() const noexcept { return {ck_.data(), hash_bytes()}; }

  void wipe() noexcept;

 private:
  NoiseHash hash_ = NoiseHash::kSha256;
  Secret<kNoiseMaxHashBytes> ck_;
  std::array<uint8_t, kNoiseMaxHashBytes> h_{};
  CipherState cipher_;
};

struct HandshakeConfig {
  sdk::HandshakePattern pattern = sdk::HandshakePattern::kNN;
  sdk::HandshakeRole role = sdk::HandshakeRole::kInitiator;
  NoiseHash hash = NoiseHash::kBlake2b;
  // Both sides must give the same bytes; a mismatch fails the handshake (downgrade detection).
  // Read only by the constructor.
  ByteSpan prologue;
  // Required exactly when the pattern sends or pre-knows the local static key (KK, IK, XX and
  // their psk forms for both roles); refused otherwise.
  std::optional<Secret<32>> static_secret;
  // The public key of static_secret, when the caller already has it (saves an X25519 base
  // multiplication per handshake). Trusted: it must belong to static_secret.
  std::optional<NoisePublicKey> static_public;
  // The peer's static public key, required exactly when the pattern pre-knows it (KK both roles,
  // IK initiator); refused otherwise: in XX compare remote_static() after completion instead.
  std::optional<NoisePublicKey> remote_static;
  // Required exactly for the psk patterns; refused otherwise.
  std::optional<Secret<kNoisePskBytes>> psk;
};

// The pattern tables live in noise.cpp.
struct NoisePattern;
enum class NoiseToken : uint8_t;

// TEST ONLY. Fixes the local ephemeral key so that known-answer vectors can be reproduced. Reached
// only through the NoiseHandshake constructor overload that takes it; the SDK glue
// (sodium_suite.cpp) never calls that overload and no configuration or SDK call can set it. Using
// a fixed ephemeral outside tests destroys forward secrecy.
struct HandshakeTestHooks {
  std::optional<Secret<32>> fixed_ephemeral;
};

// The two transport CipherStates of a completed handshake, from the local side's point of view.
struct TransportCiphers {
  CipherState send;
  CipherState receive;
};

// HandshakeState (spec 5.3) for one side of one handshake.
//
//   NoiseHandshake hs(config);                       // status(): kWriteMessage or kReadMessage
//   hs.write_message(payload, message);              // turn by turn, as status() says
//   hs.read_message(message, payload);
//   ... until status() == kComplete, then split() and the accessors.
class NoiseHandshake {
 public:
  // Initialize(): checks the config against the pattern, then mixes the protocol name, the
  // prologue and the pre-message keys. An unfit config leaves the handshake kFailed, with
  // last_error() saying why (kInvalidConfig; kLowOrderPoint for a low-order remote_static).
  explicit NoiseHandshake(const HandshakeConfig& config) noexcept;
  // TEST ONLY: see HandshakeTestHooks.
  NoiseHandshake(const HandshakeConfig& config, const HandshakeTestHooks& hooks) noexcept;
  ~NoiseHandshake();
  NoiseHandshake(const NoiseHandshake&) = delete;
  NoiseHandshake& operator=(const NoiseHandshake&) = delete;
  NoiseHandshake(NoiseHandshake&&) = delete;
  NoiseHandshake& operator=(NoiseHandshake&&) = delete;

  [[nodiscard]] NoiseStatus status() const noexcept { return status_; }
  // Why the handshake failed (kNone while it has not).
  [[nodiscard]] const NoiseResult& last_error() const noexcept { return error_; }
  [[nodiscard]] sdk::HandshakeRole role() const noexcept { return role_; }
  [[nodiscard]] std::string_view protocol_name() const noexcept { return protocol_name_; }

  // WriteMessage: `message_out` becomes the next handshake message carrying `payload`. Requires
  // kWriteMessage. On failure `message_out` is empty.
  [[nodiscard]] NoiseResult write_message(ByteSpan payload, Bytes& message_out) noexcept;
  // ReadMessage: `payload_out` becomes the payload of `message`. Requires kReadMessage. On failure
  // `payload_out` is empty.
  [[nodiscard]] NoiseResult read_message(ByteSpan message, Bytes& payload_out) noexcept;

  // --- Results, for the session layer (Double Ratchet) ------------------------------------------
  // Valid while status() == kComplete unless said otherwise; empty / nullopt otherwise. All of it
  // is wiped when the handshake fails or is destroyed: copy what you keep, then destroy the
  // handshake promptly (until then it still holds e, s and ck).

  // The handshake hash h (HASHLEN bytes): identical on both sides, for channel binding.
  [[nodiscard]] ByteSpan handshake_hash() const noexcept;
  // The final chaining key ck (HASHLEN bytes, SECRET); identical on both sides.
  [[nodiscard]] ByteSpan chaining_key() const noexcept;
  // Split(), resolved for the local role: `send` encrypts what this side sends (nonces from 0).
  [[nodiscard]] std::optional<TransportCiphers> split() const noexcept;
  // The local ephemeral key pair, available from the moment this side wrote its `e` token (so
  // also before completion; the secret is all zero before that or after a failure).
  [[nodiscard]] const Secret<32>& local_ephemeral_secret() const noexcept { return e_; }
  [[nodiscard]] const NoisePublicKey& local_ephemeral_public() const noexcept { return e_public_; }
  // The peer's ephemeral public key, once received (also before completion).
  [[nodiscard]] std::optional<NoisePublicKey> remote_ephemeral() const noexcept;
  // The peer's static public key: given in the config (KK, IK initiator) or received (IK
  // responder after message 1, XX after the peer's `s`). Before kComplete it is not yet proven to
  // belong to the peer; an IK responder may look it up to decide whether to continue.
  [[nodiscard]] std::optional<NoisePublicKey> remote_static() const noexcept;

 private:
  void initialize(const HandshakeConfig& config) noexcept;
  [[nodiscard]] NoiseResult check_config(const HandshakeConfig& config) const noexcept;
  [[nodiscard]] NoiseResult check_turn(NoiseStatus expected) const noexcept;
  [[nodiscard]] NoiseResult write_tokens(ByteSpan payload, Bytes& out);
  [[nodiscard]] NoiseResult read_tokens(ByteSpan message, Bytes& payload);
  [[nodiscard]] NoiseResult mix_dh(NoiseToken token) noexcept;
  [[nodiscard]] std::size_t message_bytes(std::size_t payload_bytes) const noexcept;
  void advance() noexcept;
  // The one exit path for every failure: records the reason, wipes, and makes the state final.
  NoiseResult fail(NoiseResult result) noexcept;
  void wipe() noexcept;

  const NoisePattern* pattern_ = nullptr;
  sdk::HandshakeRole role_ = sdk::HandshakeRole::kInitiator;
  NoiseStatus status_ = NoiseStatus::kFailed;
  NoiseResult error_;
  std::size_t next_message_ = 0;
  std::string protocol_name_;
  SymmetricState symmetric_;

  Secret<32> s_; // local static
  NoisePublicKey s_public_{};
  bool has_s_ = false;
  Secret<32> e_; // local ephemeral
  NoisePublicKey e_public_{};
  bool has_e_ = false;
  NoisePublicKey rs_{}; // remote static
  bool has_rs_ = false;
  NoisePublicKey re_{}; // remote ephemeral
  bool has_re_ = false;
  Secret<kNoisePskBytes> psk_;
  bool has_psk_ = false;
  Secret<32> fixed_ephemeral_; // test hook only
  bool has_fixed_ephemeral_ = false;
};

} // namespace entre::plugins::sodium
