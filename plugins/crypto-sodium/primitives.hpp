// crypto-sodium primitives: thin, checked wrappers over libsodium, plus the HMAC and HKDF
// constructions libsodium 1.0.18 lacks. Everything else in this plugin builds on these.
//
// All functions report failure by return value. Secrets live in Secret<N> or SecretBytes, wiped on
// destruction; long-lived secret state lives in Locked<T> (sodium_malloc: locked, guarded, wiped).
#pragma once

#include <sodium.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <utility>
#include <vector>

namespace entre::plugins::sodium {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using MutableByteSpan = std::span<uint8_t>;

// Calls sodium_init() once; false if libsodium cannot be used.
[[nodiscard]] bool init_sodium() noexcept;

// A fixed-size secret, zeroed on destruction. Cheap enough for per-message keys: it does not
// lock memory itself; long-lived secrets are kept inside a Locked<T> (below).
template <std::size_t N> class Secret {
 public:
  Secret() noexcept = default;
  Secret(const Secret& other) noexcept = default;
  Secret& operator=(const Secret& other) noexcept = default;
  ~Secret() { sodium_memzero(bytes_.data(), N); }
  [[nodiscard]] uint8_t* data() noexcept { return bytes_.data(); }
  [[nodiscard]] const uint8_t* data() const noexcept { return bytes_.data(); }
  [[nodiscard]] static constexpr std::size_t size() noexcept { return N; }
  [[nodiscard]] ByteSpan span() const noexcept { return {bytes_.data(), N}; }
  [[nodiscard]] MutableByteSpan span() noexcept { return {bytes_.data(), N}; }
  void wipe() noexcept { sodium_memzero(bytes_.data(), N); }

 private:
  std::array<uint8_t, N> bytes_{};
};

// Owns one T in memory from sodium_malloc: locked (not swapped) where the OS allows, fenced by
// guard pages, and zeroed when freed. For long-lived secret state (identities, ratchet sessions).
// T's destructor runs first, so T should wipe what it owns that lives outside itself.
template <typename T> class Locked {
 public:
  Locked() = default;
  template <typename... Args> static Locked make(Args&&... args) {
    Locked out;
    void* memory = sodium_malloc(sizeof(T));
    if (memory == nullptr) {
      throw std::bad_alloc();
    }
    try {
      out.object_ = new (memory) T(std::forward<Args>(args)...);
    } catch (...) {
      sodium_free(memory);
      throw;
    }
    return out;
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
  Locked(Locked&& other) noexcept : object_(std::exchange(other.object_, nullptr)) {}
  Locked& operator=(Locked&& other) noexcept {
    if (this != &other) {
      reset();
      object_ = std::exchange(other.object_, nullptr);
    }
    return *this;
  }
  ~Locked() { reset(); }
  void reset() noexcept {
    if (object_ != nullptr) {
      object_->~T();
      sodium_free(object_);
      object_ = nullptr;
    }
  }
  [[nodiscard]] T* get() const noexcept { return object_; }
  T* operator->() const noexcept { return object_; }
  T& operator*() const noexcept { return *object_; }
  explicit operator bool() const noexcept { return object_ != nullptr; }

 private:
  T* object_ = nullptr;
};

// A variable-size secret buffer, wiped on destruction.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n) : bytes_(n, 0) {}
  SecretBytes(const SecretBytes&) = default;
  SecretBytes& operator=(const SecretBytes& other) {
    if (this != &other) {
      wipe();
      bytes_ = other.bytes_;
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }
  void wipe() noexcept {
    if (!bytes_.empty()) {
      sodium_memzero(bytes_.data(), bytes_.size());
    }
  }
  [[nodiscard]] std::vector<uint8_t>& vec() noexcept { return bytes_; }
  [[nodiscard]] const std::vector<uint8_t>& vec() const noexcept { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

inline constexpr std::size_t kX25519Bytes = 32;
inline constexpr std::size_t kSha256Bytes = 32;
inline constexpr std::size_t kBlake2bBytes = 64;
inline constexpr std::size_t kAeadKeyBytes = 32;
inline constexpr std::size_t kAeadTagBytes = 16;
inline constexpr std::size_t kXNonceBytes = 24;

// --- X25519 --------------------------------------------------------------------------------------
// Random key pair.
void x25519_keypair(Secret<32>& secret, std::array<uint8_t, 32>& public_key) noexcept;
// Public key of a secret.
void x25519_public(const Secret<32>& secret, std::array<uint8_t, 32>& public_key) noexcept;
// DH(secret, peer). False for a low-order (or otherwise degenerate) peer point, whose result would
// be all zeros: a hard failure for every caller.
[[nodiscard]] bool x25519(const uint8_t* secret, const uint8_t* peer_public, uint8_t* out) noexcept;

// --- Hashes and MACs -----------------------------------------------------------------------------
void sha256(ByteSpan data, uint8_t out[kSha256Bytes]) noexcept;
void blake2b(ByteSpan data, uint8_t out[kBlake2bBytes]) noexcept;
// Keyed BLAKE2b (a PRF) with an output of 16 to 64 bytes; false for other sizes or a key over 64.
[[nodiscard]] bool blake2b_keyed(ByteSpan key, ByteSpan data, MutableByteSpan out) noexcept;
// HMAC-SHA256 (RFC 2104) with a key of any length.
void hmac_sha256(ByteSpan key, ByteSpan data, uint8_t out[kSha256Bytes]) noexcept;
// HMAC-BLAKE2b-512 as the Noise specification defines HMAC (block length 128).
void hmac_blake2b(ByteSpan key, ByteSpan data, uint8_t out[kBlake2bBytes]) noexcept;
// HKDF-SHA256 (RFC 5869). False if `out` is longer than 255 * 32 bytes.
[[nodiscard]] bool hkdf_sha256(ByteSpan salt, ByteSpan ikm, ByteSpan info,
                               MutableByteSpan out) noexcept;

// --- AEAD ----------------------------------------------------------------------------------------
// ChaCha20-Poly1305 (IETF, 96-bit nonce). `out` receives ciphertext || tag.
void chacha_seal(const uint8_t key[32], const uint8_t nonce[12], ByteSpan ad, ByteSpan plaintext,
                 Bytes& out);
[[nodiscard]] bool chacha_open(const uint8_t key[32], const uint8_t nonce[12], ByteSpan ad,
                               ByteSpan sealed, Bytes& out);
// XChaCha20-Poly1305 (192-bit nonce). `out` receives ciphertext || tag.
void xchacha_seal(const uint8_t key[32], const uint8_t nonce[24], ByteSpan ad, ByteSpan plaintext,
                  Bytes& out);
[[nodiscard]] bool xchacha_open(const uint8_t key[32], const uint8_t nonce[24], ByteSpan ad,
                                ByteSpan sealed, Bytes& out);

// Constant-time equality of two equal-length byte strings (false if the lengths differ).
[[nodiscard]] bool equal_ct(ByteSpan a, ByteSpan b) noexcept;

} // namespace entre::plugins::sodium
