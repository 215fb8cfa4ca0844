// The Double Ratchet of one contact session, after "The Double Ratchet Algorithm" (Trevor Perrin
// and Moxie Marlinspike, Signal, revision 1, 2016-11-20), section 3, with header encryption off.
//
// Algorithm (names as in the specification)
//   A completed Noise handshake gives both sides a 32-byte shared key SK; Alice is the initiator,
//   and Bob's first ratchet key pair is his handshake ephemeral.
//     init_alice: DHs = fresh pair; DHr = Bob's ratchet public; RK, CKs = KDF_RK(SK, DH(DHs, DHr))
//     init_bob:   DHs = his ratchet pair; RK = SK; no chains until Alice's first message arrives
//   Both derive media_base = HKDF-SHA256(salt = "", ikm = SK, info "entre media base") and keep it
//   for the life of the session: derive_media_key(call_id) = HKDF-SHA256(salt = call_id,
//   ikm = media_base, info "entre media key"), the same on both sides however often it is called.
//
//   KDF_RK(rk, dh_out) = HKDF-SHA256(salt = rk, ikm = dh_out, info "entre ratchet root"), 64 bytes:
//                        the new root key || a chain key
//   KDF_CK(ck)         = BLAKE2b-512(key = ck, 0x01): mk (first 32 bytes) || next ck (last 32)
//   ENCRYPT(mk, ...)   = BLAKE2b-448(key = mk, "entre message keys"): AEAD key (32) || nonce (24);
//                        XChaCha20-Poly1305 with AD = caller AD || encoded header
//   (The specification recommends HMAC for KDF_CK and HKDF for ENCRYPT; keyed BLAKE2b is an equally
//   strong PRF and is several times cheaper with libsodium, which matters once per message. The
//   DH steps keep HKDF-SHA256.)
//
//   encrypt: mk, CKs = KDF_CK(CKs); send header(DHs.public, PN, Ns) || ENCRYPT(mk); Ns += 1
//   decrypt: 1. a key skipped earlier for (header.dh, header.n): use it, delete it
//            2. header.dh is new: skip the current receiving chain up to header.pn (keys stored),
//               then the DH ratchet step:
//                 PN = Ns; Ns = Nr = 0; DHr = header.dh
//                 RK, CKr = KDF_RK(RK, DH(DHs, DHr)); DHs = fresh pair
//                 RK, CKs = KDF_RK(RK, DH(DHs, DHr))
//            3. skip the receiving chain up to header.n (keys stored);
//               mk, CKr = KDF_CK(CKr); Nr += 1
//   Decryption is transactional: steps 2 and 3 work on a copy of the chain state and a list of
//   staged skipped keys, and nothing is committed unless the AEAD tag verifies and the caller's
//   sink accepted the plaintext. A forged, tampered, replayed or refused message leaves the state
//   exactly as it was (its serialisation is byte-for-byte the same).
//
// Bounds (all checked before any key is derived)
//   - kRatchetMaxSkip: at most this many keys are skipped in one chain for one message; a header
//     whose N (or, for a new ratchet key, PN) lies further ahead is refused with kOutOfRange.
//   - kRatchetMaxSkippedKeys: keys stored in total; the oldest are evicted first.
//   - kRatchetSkippedKeyMaxAgeSteps: a skipped key lives while the receiving side has taken at
//     most this many DH ratchet steps since the chain it belongs to; it is deleted at the next.
//   - kRatchetMaxPlaintextBytes / kRatchetMaxAdBytes bound every allocation.
//
// Wire format of one message (every length checked; a version other than 1 is refused):
//   message     = header ciphertext
//   header      = version ratchet-key pn n     ; kRatchetHeaderBytes = 41 bytes
//   version     = %x01                         ; kRatchetWireVersion
//   ratchet-key = 32 bytes                     ; the sender's current DHs public key
//   pn          = uint32, big-endian           ; length of the sender's previous sending chain
//   n           = uint32, big-endian           ; index in the current sending chain
//   ciphertext  = XChaCha20-Poly1305 output    ; plaintext length + 16 (tag)
//
// Serialised state (versioned, all secrets included; the kernel seals it at rest):
//   state         = magic version phase root-key send-secret send-public recv-public
//                   send-chain recv-chain media-base ns nr pn epoch skipped-count
//                   *skipped-key checksum
//   magic         = "ERAT"
//   version       = %x01                       ; kRatchetStateVersion
//   phase         = %x01 initiator-sending / %x02 responder-waiting / %x03 active
//   root-key, send-secret, send-public, recv-public, send-chain, recv-chain, media-base
//                 = 32 bytes each              ; all zero where the phase has none
//   ns, nr, pn, epoch, skipped-count
//                 = uint32, big-endian each    ; skipped-count <= kRatchetMaxSkippedKeys
//   skipped-key   = ratchet-key(32) n(uint32 be) epoch(uint32 be) message-key(32)
//                                              ; oldest first
//   checksum      = SHA-256 of every preceding byte (catches corruption, not an attacker)
//   deserialize() checks the length, magic, version, checksum and then the consistency of every
//   field, and says which check failed.
//
// A RatchetState is a value (copyable; copies are independent) and is not thread-safe: the caller
// serialises use of each.
//
// Errors: every function is noexcept and returns an sdk::Status (kAuthFailed: did not verify;
// kOutOfRange: a bound was hit, or the message key is gone (replay, evicted, expired); kCorrupt:
// malformed bytes; kUnsupported: unknown version; kUnavailable: no sending chain yet;
// kBufferTooSmall: the sink refused the output). Secrets live in Secret<N> and are wiped on every
// exit path; a RatchetState wipes everything it holds when destroyed or wipe()d.
#pragma once

#include "primitives.hpp"

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

namespace entre::plugins::sodium {

// --- Constants -----------------------------------------------------------------------------------
inline constexpr uint8_t kRatchetWireVersion = 1;
inline constexpr std::size_t kRatchetHeaderBytes = 1 + kX25519Bytes + 4 + 4; // 41
// Per chain and per message: the furthest a header may point ahead of the next expected key.
inline constexpr uint32_t kRatchetMaxSkip = 1000;
// Skipped message keys kept in total, across chains; the oldest are evicted beyond this.
inline constexpr std::size_t kRatchetMaxSkippedKeys = 2000;
// Receiving DH ratchet steps a skipped key survives (deleted at the 6th step after its chain's).
inline constexpr uint32_t kRatchetSkippedKeyMaxAgeSteps = 5;
inline constexpr std::size_t kRatchetMaxPlaintextBytes = std::size_t{1} << 20; // 1 MiB
inline constexpr std::size_t kRatchetMaxAdBytes = std::size_t{64} << 10;       // 64 KiB
inline constexpr std::size_t kRatchetMaxCallIdBytes = 256;
// Domain-separation labels (HKDF info strings) and the KDF_CK inputs.
inline constexpr std::string_view kRatchetRootInfo = "entre ratchet root";
inline constexpr std::string_view kRatchetMessageKeysInfo = "entre message keys";
inline constexpr std::string_view kRatchetMediaBaseInfo = "entre media base";
inline constexpr std::string_view kRatchetMediaKeyInfo = "entre media key";
inline constexpr uint8_t kRatchetChainStepInput = 0x01;
inline constexpr uint8_t kRatchetStateVersion = 1;
inline constexpr std::array<uint8_t, 4> kRatchetStateMagic = {'E', 'R', 'A', 'T'};

// --- Header --------------------------------------------------------------------------------------
struct RatchetHeader {
  std::array<uint8_t, kX25519Bytes> ratchet_public{}; // the sender's DHs public key
  uint32_t previous_chain_length = 0;                 // PN
  uint32_t message_number = 0;                        // N
};

[[nodiscard]] std::array<uint8_t, kRatchetHeaderBytes>
encode_ratchet_header(const RatchetHeader& header) noexcept;
// Parses the header at the start of `message` (which may carry a ciphertext after it). kCorrupt if
// too short, kUnsupported for an unknown version.
[[nodiscard]] sdk::Status parse_ratchet_header(ByteSpan message, RatchetHeader& out) noexcept;

// --- State ---------------------------------------------------------------------------------------
enum class RatchetPhase : uint8_t {
  kEmpty = 0,            // no keys (default-constructed or wiped): every call is refused
  kInitiatorSending = 1, // Alice before Bob's first reply: a sending chain only
  kResponderWaiting = 2, // Bob before Alice's first message: no chain; encrypt is refused
  kActive = 3,           // both chains
};

// Where a ratchet's fresh key pairs come from. States draw them from libsodium's CSPRNG; only the
// tests replace the source (through RatchetTestAccess, which only test code defines) to freeze
// vectors. The SDK glue cannot reach it, and it is never serialised.
class RatchetKeySource {
 public:
  virtual void next_keypair(Secret<32>& secret, std::array<uint8_t, 32>& public_key) noexcept = 0;

 protected:
  ~RatchetKeySource() = default;
};

class RatchetState {
 public:
  RatchetState() noexcept = default; // kEmpty

  // Alice's side. kInvalidArgument if Bob's key is a low-order point. On failure `out` is
  // unchanged.
  [[nodiscard]] static sdk::Status init_alice(const Secret<32>& shared_key,
                                              const std::array<uint8_t, 32>& bob_ratchet_public,
                                              RatchetState& out) noexcept;
  // Bob's side: his ratchet key pair is his handshake ephemeral. kInvalidArgument if the public
  // key does not belong to the secret. On failure `out` is unchanged.
  [[nodiscard]] static sdk::Status init_bob(const Secret<32>& shared_key,
                                            const Secret<32>& bob_ratchet_secret,
                                            const std::array<uint8_t, 32>& bob_ratchet_public,
                                            RatchetState& out) noexcept;
  // Restores a state written by serialize(). The bytes are untrusted: on any failure `out` is
  // unchanged and the status says which check failed (kCorrupt, kUnsupported for another version).
  [[nodiscard]] static sdk::Status deserialize(ByteSpan data, RatchetState& out) noexcept;

  // Appends header || ciphertext to `out`. kUnavailable before a sending chain exists (Bob before
  // Alice's first message). The state advances only if `out` accepted the message.
  [[nodiscard]] sdk::Status encrypt(ByteSpan ad, ByteSpan plaintext, sdk::ByteSink& out) noexcept;
  // Appends the plaintext to `plaintext_out`. Transactional: on any failure the state is unchanged.
  [[nodiscard]] sdk::Status decrypt(ByteSpan ad, ByteSpan message,
                                    sdk::ByteSink& plaintext_out) noexcept;
  // Appends the serialised state (format above) to `out`; kInvalidArgument for an empty state.
  [[nodiscard]] sdk::Status serialize(sdk::ByteSink& out) const noexcept;
  // The call's media key; `call_id` is 1..kRatchetMaxCallIdBytes bytes.
  [[nodiscard]] sdk::Status derive_media_key(ByteSpan call_id, Secret<32>& key_out) const noexcept;

  [[nodiscard]] RatchetPhase phase() const noexcept { return core_.phase; }
  // Skipped message keys currently stored (diagnostics and tests).
  [[nodiscard]] std::size_t skipped_key_count() const noexcept { return skipped_.size(); }
  // Receiving DH ratchet steps taken so far (diagnostics and tests).
  [[nodiscard]] uint32_t receive_steps() const noexcept { return core_.epoch; }
  // Forgets every key; the state becomes kEmpty.
  void wipe() noexcept;

 private:
  friend struct RatchetTestAccess; // defined by the tests only

  struct SkippedKey {
    std::array<uint8_t, 32> ratchet_public{};
    uint32_t message_number = 0;
    uint32_t epoch = 0; // `Core::epoch` of the receiving chain the key belongs to
    Secret<32> message_key;
  };
  // Everything but the skipped keys and the media base: small, copied whole by decrypt() and
  // committed only on success.
  struct Core {
    RatchetPhase phase = RatchetPhase::kEmpty;
    Secret<32> root_key;                   // RK
    Secret<32> send_secret;                // DHs
    std::array<uint8_t, 32> send_public{}; // DHs
    std::array<uint8_t, 32> recv_public{}; // DHr
    Secret<32> send_chain;                 // CKs
    Secret<32> recv_chain;                 // CKr
    uint32_t send_count = 0;               // Ns
    uint32_t recv_count = 0;               // Nr
    uint32_t previous_send_count = 0;      // PN
    uint32_t epoch = 0;                    // receiving DH ratchet steps taken
  };

  [[nodiscard]] static sdk::Status init_alice_with(const Secret<32>& shared_key,
                                                   const std::array<uint8_t, 32>& bob_public,
                                                   RatchetKeySource* source, RatchetState& out);
  [[nodiscard]] sdk::Status decrypt_staged(ByteSpan ad, ByteSpan message, sdk::ByteSink& sink);
  [[nodiscard]] sdk::Status dh_step(Core& next, const std::array<uint8_t, 32>& their_public) const;
  void new_keypair(Secret<32>& secret, std::array<uint8_t, 32>& public_key) const noexcept;
  static void skip_chain(Core& next, uint32_t until, std::vector<SkippedKey>& staged);
  void commit(const Core& next) noexcept;
  [[nodiscard]] bool has_send_chain() const noexcept;
  [[nodiscard]] bool has_recv_chain() const noexcept;

  Core core_;
  Secret<32> media_base_;
  std::deque<SkippedKey> skipped_;         // oldest first
  RatchetKeySource* key_source_ = nullptr; // nullptr: x25519_keypair
};

} // namespace entre::plugins::sodium
