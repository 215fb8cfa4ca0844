#include "primitives.hpp"

#include <algorithm>
#include <cstring>

namespace entre::plugins::sodium {

bool init_sodium() noexcept {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

void x25519_keypair(Secret<32>& secret, std::array<uint8_t, 32>& public_key) noexcept {
  randombytes_buf(secret.data(), 32);
  x25519_public(secret, public_key);
}

void x25519_public(const Secret<32>& secret, std::array<uint8_t, 32>& public_key) noexcept {
  crypto_scalarmult_base(public_key.data(), secret.data());
}

bool x25519(const uint8_t* secret, const uint8_t* peer_public, uint8_t* out) noexcept {
  // libsodium refuses an all-zero result (a low-order peer point) with -1.
  if (crypto_scalarmult(out, secret, peer_public) != 0) {
    sodium_memzero(out, kX25519Bytes);
    return false;
  }
  return true;
}

void sha256(ByteSpan data, uint8_t out[kSha256Bytes]) noexcept {
  crypto_hash_sha256(out, data.data(), data.size());
}

void blake2b(ByteSpan data, uint8_t out[kBlake2bBytes]) noexcept {
  crypto_generichash(out, kBlake2bBytes, data.data(), data.size(), nullptr, 0);
}

bool blake2b_keyed(ByteSpan key, ByteSpan data, MutableByteSpan out) noexcept {
  if (out.size() < crypto_generichash_BYTES_MIN || out.size() > crypto_generichash_BYTES_MAX ||
      key.size() < crypto_generichash_KEYBYTES_MIN ||
      key.size() > crypto_generichash_KEYBYTES_MAX) {
    return false;
  }
  return crypto_generichash(out.data(), out.size(), data.data(), data.size(), key.data(),
                            key.size()) == 0;
}

void hmac_sha256(ByteSpan key, ByteSpan data, uint8_t out[kSha256Bytes]) noexcept {
  static const uint8_t kNoKey = 0; // libsodium wants a pointer even for an empty key
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, key.empty() ? &kNoKey : key.data(), key.size());
  crypto_auth_hmacsha256_update(&state, data.data(), data.size());
  crypto_auth_hmacsha256_final(&state, out);
  sodium_memzero(&state, sizeof state);
}

void hmac_blake2b(ByteSpan key, ByteSpan data, uint8_t out[kBlake2bBytes]) noexcept {
  constexpr std::size_t kBlock = 128;
  Secret<kBlock> block;
  if (key.size() > kBlock) {
    blake2b(key, block.data());
  } else if (!key.empty()) {
    std::memcpy(block.data(), key.data(), key.size());
  }
  Secret<kBlock> pad;
  Secret<kBlake2bBytes> inner;
  crypto_generichash_state state;
  for (std::size_t i = 0; i < kBlock; ++i) {
    pad.data()[i] = block.data()[i] ^ 0x36;
  }
  crypto_generichash_init(&state, nullptr, 0, kBlake2bBytes);
  crypto_generichash_update(&state, pad.data(), kBlock);
  crypto_generichash_update(&state, data.data(), data.size());
  crypto_generichash_final(&state, inner.data(), kBlake2bBytes);
  for (std::size_t i = 0; i < kBlock; ++i) {
    pad.data()[i] = block.data()[i] ^ 0x5c;
  }
  crypto_generichash_init(&state, nullptr, 0, kBlake2bBytes);
  crypto_generichash_update(&state, pad.data(), kBlock);
  crypto_generichash_update(&state, inner.data(), kBlake2bBytes);
  crypto_generichash_final(&state, out, kBlake2bBytes);
  sodium_memzero(&state, sizeof state);
}

bool hkdf_sha256(ByteSpan salt, ByteSpan ikm, ByteSpan info, MutableByteSpan out) noexcept {
  if (out.size() > 255 * kSha256Bytes) {
    return false;
  }
  // Extract: PRK = HMAC(salt, IKM); an absent salt is HashLen zeros.
  Secret<kSha256Bytes> prk;
  const uint8_t zeros[kSha256Bytes] = {};
  hmac_sha256(salt.empty() ? ByteSpan(zeros, sizeof zeros) : salt, ikm, prk.data());
  // Expand: T(i) = HMAC(PRK, T(i-1) || info || i).
  Secret<kSha256Bytes> t;
  std::size_t t_len = 0;
  std::size_t done = 0;
  for (uint8_t counter = 1; done < out.size(); ++counter) {
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, prk.data(), prk.size());
    crypto_auth_hmacsha256_update(&state, t.data(), t_len);
    crypto_auth_hmacsha256_update(&state, info.data(), info.size());
    crypto_auth_hmacsha256_update(&state, &counter, 1);
    crypto_auth_hmacsha256_final(&state, t.data());
    sodium_memzero(&state, sizeof state);
    t_len = kSha256Bytes;
    const std::size_t n = std::min(kSha256Bytes, out.size() - done);
    std::memcpy(out.data() + done, t.data(), n);
    done += n;
  }
  return true;
}

namespace {

using AeadEncrypt = int (*)(unsigned char*, unsigned long long*, const unsigned char*,
                            unsigned long long, const unsigned char*, unsigned long long,
                            const unsigned char*, const unsigned char*, const unsigned char*);
using AeadDecrypt = int (*)(unsigned char*, unsigned long long*, unsigned char*,
                            const unsigned char*, unsigned long long, const unsigned char*,
                            unsigned long long, const unsigned char*, const unsigned char*);

void aead_seal(AeadEncrypt encrypt, const uint8_t* key, const uint8_t* nonce, ByteSpan ad,
               ByteSpan plaintext, Bytes& out) {
  out.resize(plaintext.size() + kAeadTagBytes);
  unsigned long long n = 0;
  encrypt(out.data(), &n, plaintext.data(), plaintext.size(), ad.data(), ad.size(), nullptr, nonce,
          key);
  out.resize(static_cast<std::size_t>(n));
}

bool aead_open(AeadDecrypt decrypt, const uint8_t* key, const uint8_t* nonce, ByteSpan ad,
               ByteSpan sealed, Bytes& out) {
  if (sealed.size() < kAeadTagBytes) {
    out.clear();
    return false;
  }
  out.resize(sealed.size() - kAeadTagBytes);
  unsigned long long n = 0;
  if (decrypt(out.data(), &n, nullptr, sealed.data(), sealed.size(), ad.data(), ad.size(), nonce,
              key) != 0) {
    sodium_memzero(out.data(), out.size());
    out.clear();
    return false;
  }
  out.resize(static_cast<std::size_t>(n));
  return true;
}

} // namespace

void chacha_seal(const uint8_t key[32], const uint8_t nonce[12], ByteSpan ad, ByteSpan plaintext,
                 Bytes& out) {
  aead_seal(crypto_aead_chacha20poly1305_ietf_encrypt, key, nonce, ad, plaintext, out);
}

bool chacha_open(const uint8_t key[32], const uint8_t nonce[12], ByteSpan ad, ByteSpan sealed,
                 Bytes& out) {
  return aead_open(crypto_aead_chacha20poly1305_ietf_decrypt, key, nonce, ad, sealed, out);
}

void xchacha_seal(const uint8_t key[32], const uint8_t nonce[24], ByteSpan ad, ByteSpan plaintext,
                  Bytes& out) {
  aead_seal(crypto_aead_xchacha20poly1305_ietf_encrypt, key, nonce, ad, plaintext, out);
}

bool xchacha_open(const uint8_t key[32], const uint8_t nonce[24], ByteSpan ad, ByteSpan sealed,
                  Bytes& out) {
  return aead_open(crypto_aead_xchacha20poly1305_ietf_decrypt, key, nonce, ad, sealed, out);
}

bool equal_ct(ByteSpan a, ByteSpan b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace entre::plugins::sodium
