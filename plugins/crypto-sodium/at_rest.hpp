// crypto-sodium storage at rest: a passphrase-derived key and the sealed-record format.
//
// Key derivation
//   key = Argon2id (libsodium crypto_pwhash, crypto_pwhash_ALG_ARGON2ID13), 32 bytes, from the
//   passphrase and a random kStorageSaltBytes (16) salt that the caller stores beside the data.
//   The cost is one of libsodium's Argon2id presets (interactive / moderate / sensitive:
//   crypto_pwhash_argon2id_{OPS,MEM}LIMIT_*), or an explicit ops or memory limit where the
//   sdk::KdfCost field is non-zero. An explicit limit outside libsodium's Argon2id bounds is
//   refused, never clamped. The caller records the cost it used: it is not part of the sealed
//   record.
//
// Sealed record (version 1)
//
//     sealed = version (1 byte, kAtRestVersion) || nonce (24 random bytes)
//              || XChaCha20-Poly1305(key, nonce, ad = version || caller's ad, plaintext)
//
//   The AEAD output is ciphertext || 16-byte tag, so a record is plaintext + kAtRestOverheadBytes
//   long. The caller's ad names the record (e.g. its table and key), so a record moved to another
//   place fails to open. open_at_rest checks the key length, the record length and the version
//   before any use, and fails with kAuthFailed for a wrong key or ad.
//
// Errors: every function is noexcept and returns an AtRestError; outputs are written only on
// success. Threading: stateless; derive_storage_key is slow and memory-hungry by design, so the
// kernel calls it from its worker pool.
#pragma once

#include "primitives.hpp"

#include <entre/sdk/crypto.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace entre::plugins::sodium {

inline constexpr uint8_t kAtRestVersion = 1;
inline constexpr std::size_t kStorageSaltBytes = crypto_pwhash_argon2id_SALTBYTES; // 16
inline constexpr std::size_t kStorageKeyBytes = 32;
inline constexpr std::size_t kAtRestHeaderBytes = 1 + kXNonceBytes;
inline constexpr std::size_t kAtRestOverheadBytes = kAtRestHeaderBytes + kAeadTagBytes; // 41

enum class AtRestError : uint8_t {
  kOk = 0,
  kBadSaltLength,      // the salt is not kStorageSaltBytes
  kBadKeyLength,       // the key (or the key output) is not kStorageKeyBytes
  kBadStrength,        // the KdfStrength is none of the three presets
  kOpsLimitOutOfRange, // an explicit ops limit outside libsodium's Argon2id bounds
  kMemLimitOutOfRange, // an explicit memory limit outside libsodium's Argon2id bounds
  kKdfFailed,          // crypto_pwhash failed, in practice for lack of memory
  kTruncated,          // shorter than version || nonce || tag
  kUnsupportedVersion, // the record's version byte is not kAtRestVersion
  kAuthFailed,         // wrong passphrase (key) or a record that is not this one (ad)
  kTooLarge,           // the plaintext exceeds the AEAD's limit
  kInternal,           // out of memory, or libsodium could not be initialised
};

// A fixed, static message for each error.
[[nodiscard]] const char* at_rest_error_message(AtRestError error) noexcept;

struct KdfLimits {
  uint64_t ops_limit = 0;
  uint64_t mem_limit_bytes = 0;
};

// The Argon2id limits `cost` stands for, after applying the preset and checking the bounds.
[[nodiscard]] AtRestError resolve_kdf_cost(const sdk::KdfCost& cost,
                                           KdfLimits& limits_out) noexcept;

// Derives the storage key into `key_out` (exactly kStorageKeyBytes).
[[nodiscard]] AtRestError derive_storage_key(std::string_view passphrase, ByteSpan salt,
                                             const sdk::KdfCost& cost,
                                             MutableByteSpan key_out) noexcept;

// Seals `plaintext` under `key` (kStorageKeyBytes), binding `ad`; `sealed_out` is replaced by the
// record.
[[nodiscard]] AtRestError seal_at_rest(ByteSpan key, ByteSpan ad, ByteSpan plaintext,
                                       Bytes& sealed_out) noexcept;

// Opens a record made by seal_at_rest with the same key and ad; `plaintext_out` is replaced by the
// plaintext on success and left untouched on any error.
[[nodiscard]] AtRestError open_at_rest(ByteSpan key, ByteSpan ad, ByteSpan sealed,
                                       SecretBytes& plaintext_out) noexcept;

} // namespace entre::plugins::sodium
