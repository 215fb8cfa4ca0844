// crypto-sodium identities: the identity secret blob, signatures, contact codes, fingerprints and
// safety numbers.
//
// Identity
//   An identity is two key pairs drawn from libsodium's RNG: X25519, whose public key is the user
//   id (Noise and the ratchet use it), and Ed25519, for signatures. The secret blob, which the
//   kernel seals at rest, holds only the secrets; both public keys are derived from it:
//
//     identity-blob = version (1 byte, kIdentityBlobVersion)
//                     || x25519-secret (32 bytes) || ed25519-seed (32 bytes)        (65 bytes)
//
//   A blob of another length or version is refused, never guessed at.
//
// Contact codes
//   Text a person can read aloud or put in a QR code: a user id, a checksum that catches typing
//   mistakes, and optional endpoint hints. The grammar and the checksum are frozen for version 1:
//
//     contact-code = "entre:" body [ "?" hints ]
//     body         = 60 symbols of the alphabet below, written in 15 groups of 4 joined by "-"
//     hints        = hint *( "&" hint )                  ; at most kMaxContactHints
//     hint         = "h=" 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / ":" / "/" / "@"
//                           / "%" HEXDIG HEXDIG )       ; percent-encoded UTF-8
//
//   The body is base32 (5 bits per symbol, most significant bit first) of the 37-byte payload
//
//     payload  = version (1 byte, kContactCodeVersion) || user id (32 bytes) || checksum (4 bytes)
//     checksum = first 4 bytes of BLAKE2b-256(personal = "entre-contact-v1", no key, zero salt,
//                  version || user id || for each hint: length (1 byte) || hint bytes)
//
//   followed by 4 zero padding bits (296 payload bits in 300 symbol bits). The alphabet is
//   "0123456789abcdefghjkmnpqrstvwxyz" (Crockford's: no i, l, o, u). Hints are covered by the
//   checksum as decoded bytes, so equivalent percent-encodings parse alike. A decoded hint is 1 to
//   kMaxContactHintBytes bytes of UTF-8 without control characters (so the SDK's '\n'-joined form
//   round-trips).
//
//   Parsing trims surrounding ASCII whitespace, accepts upper case in the prefix and the body, and
//   ignores '-' and ASCII whitespace inside the body; hints are taken literally. Text longer than
//   kMaxContactCodeTextBytes is refused unread (kBadLength). Then checks run in this order, each
//   with its own ContactCodeError and message: prefix, alphabet (naming the character and its
//   1-based byte position in the text), length, hints, checksum (which also requires zero padding
//   bits), version. The checksum comes before the version because a mistyped character is far
//   likelier than a code from a future version; later versions keep this checksum construction, so
//   a genuine newer code with a 60-symbol body reports kUnsupportedVersion.
//
// Fingerprint and safety number: see fingerprint() and safety_number().
//
// Errors: every function is noexcept and reports failure by its return value; outputs are written
// only on success. Messages are short (under 120 bytes, to fit an sdk::Status), for people, and
// never contain secret material. Threading: stateless; every function may be called from any
// thread.
#pragma once

#include "primitives.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace entre::plugins::sodium {

inline constexpr uint8_t kIdentityBlobVersion = 1;
inline constexpr std::size_t kUserIdBytes = 32;
inline constexpr std::size_t kSigningPublicBytes = 32;
inline constexpr std::size_t kEd25519SeedBytes = 32;
inline constexpr std::size_t kSignatureBytes = 64;
inline constexpr std::size_t kIdentityBlobBytes = 1 + kX25519Bytes + kEd25519SeedBytes;

inline constexpr uint8_t kContactCodeVersion = 1;
inline constexpr std::string_view kContactCodePrefix = "entre:";
inline constexpr std::size_t kContactChecksumBytes = 4;
inline constexpr std::size_t kContactPayloadBytes = 1 + kUserIdBytes + kContactChecksumBytes;
inline constexpr std::size_t kContactCodeSymbols = 60; // ceil(37 * 8 / 5)
inline constexpr std::size_t kContactGroupSymbols = 4;
inline constexpr std::size_t kMaxContactHints = 8;
inline constexpr std::size_t kMaxContactHintBytes = 200; // decoded
// Longest text parse_contact_code looks at; anything longer is refused as kBadLength.
inline constexpr std::size_t kMaxContactCodeTextBytes = 8192;

inline constexpr std::size_t kSafetyNumberGroups = 12;
inline constexpr std::size_t kSafetyNumberRounds = 1024;

// --- Identity ------------------------------------------------------------------------------------

enum class IdentityError : uint8_t {
  kOk = 0,
  kBadBlobLength,      // the blob is not kIdentityBlobBytes long
  kUnsupportedVersion, // the blob's version byte is not kIdentityBlobVersion
  kBadKeyLength,       // verify: the signing key is not kSigningPublicBytes
  kBadSignatureLength, // verify: the signature is not kSignatureBytes
  kBadSignature,       // verify: the signature does not verify
  kSodiumUnavailable,  // sodium_init() failed
};

// A fixed, static message for each error.
[[nodiscard]] const char* identity_error_message(IdentityError error) noexcept;

// A fresh identity from libsodium's RNG: the blob and its user id.
[[nodiscard]] IdentityError
generate_identity(Secret<kIdentityBlobBytes>& blob_out,
                  std::array<uint8_t, kUserIdBytes>& user_id_out) noexcept;

// The user id (X25519 public key) of a blob.
[[nodiscard]] IdentityError
identity_public(ByteSpan blob, std::array<uint8_t, kUserIdBytes>& user_id_out) noexcept;

// The Ed25519 public key of a blob.
[[nodiscard]] IdentityError
identity_signing_public(ByteSpan blob,
                        std::array<uint8_t, kSigningPublicBytes>& signing_key_out) noexcept;

// The X25519 secret of a blob, for the handshake.
[[nodiscard]] IdentityError identity_x25519_secret(ByteSpan blob,
                                                   Secret<kX25519Bytes>& secret_out) noexcept;

// Detached Ed25519 signature of `message`.
[[nodiscard]] IdentityError
identity_sign(ByteSpan blob, ByteSpan message,
              std::array<uint8_t, kSignatureBytes>& signature_out) noexcept;

// Verifies a detached Ed25519 signature with libsodium's crypto_sign_verify_detached, which
// refuses non-canonical encodings (s >= L, non-canonical or small-order R and A). kOk only if it
// verifies; kBadKeyLength or kBadSignatureLength for wrong sizes, kBadSignature otherwise.
[[nodiscard]] IdentityError identity_verify(ByteSpan signing_key, ByteSpan message,
                                            ByteSpan signature) noexcept;

// --- Contact codes -------------------------------------------------------------------------------

enum class ContactCodeError : uint8_t {
  kOk = 0,
  kBadPrefix,          // the text does not start with "entre:"
  kBadLength,          // not 60 symbols in the body, or the text is too long to be a code
  kBadAlphabet,        // a character outside the alphabet (the message names it and its position)
  kBadChecksum,        // the checksum or the padding bits do not match: a mistyped character
  kUnsupportedVersion, // a well-formed code of a version this build cannot read
  kMalformedHints,     // hint syntax, escape, count, length, empty, control character or UTF-8
  kBadKeyLength,       // encode: the user id is not kUserIdBytes
  kInternal,           // out of memory
};

struct ContactCode {
  std::array<uint8_t, kUserIdBytes> user_id{};
  std::vector<std::string> hints; // decoded, in order
};

// The contact code of `user_id` with `hints` (each 1..kMaxContactHintBytes bytes of UTF-8 without
// control characters, at most kMaxContactHints of them). On error `error_out` says why.
[[nodiscard]] ContactCodeError encode_contact_code(ByteSpan user_id,
                                                   std::span<const std::string> hints,
                                                   std::string& text_out,
                                                   std::string& error_out) noexcept;

// Parses a contact code; on error `code_out` is untouched and `error_out` says why.
[[nodiscard]] ContactCodeError parse_contact_code(std::string_view text, ContactCode& code_out,
                                                  std::string& error_out) noexcept;

// --- Fingerprints and safety numbers -------------------------------------------------------------

// Display form of one public key (32 bytes): the 64 lower-case hex digits of
// BLAKE2b-256(personal = "entre-fingerp-v1", no key, zero salt, key), in 16 groups of 4 separated
// by single spaces. False (and `text_out` untouched) if the key is not 32 bytes.
[[nodiscard]] bool fingerprint(ByteSpan public_key, std::string& text_out) noexcept;

// The safety number of two public keys (32 bytes each): 60 decimal digits in 12 groups of 5
// separated by single spaces, the same whichever order the keys are given in.
//
//   (lo, hi) = the two keys in lexicographic byte order
//   h_0      = BLAKE2b-512(personal = "entre-safetyn-v1", no key, zero salt, lo || hi)
//   h_i      = BLAKE2b-512(same parameters, h_(i-1) || lo || hi)    for i = 1 .. 1024
//   group g  = (big-endian 40-bit integer of h_1024[5g .. 5g+4]) mod 100000, zero-padded to 5
//              digits, for g = 0 .. 11
//
// The 1024 rounds make a search for a key pair with a chosen number 1025 times as costly; the bias
// of 2^40 mod 100000 is below 10^-6 per group. False if a key is not 32 bytes.
[[nodiscard]] bool safety_number(ByteSpan key_a, ByteSpan key_b, std::string& text_out) noexcept;

} // namespace entre::plugins::sodium
