#include "at_rest.hpp"

#include <cstring>
#include <new>

namespace entre::plugins::sodium {
namespace {

// ad = version || caller's ad.
Bytes versioned_ad(ByteSpan ad) {
  Bytes full;
  full.reserve(1 + ad.size());
  full.push_back(kAtRestVersion);
  full.insert(full.end(), ad.begin(), ad.end());
  return full;
}

} // namespace

const char* at_rest_error_message(AtRestError error) noexcept {
  switch (error) {
  case AtRestError::kOk:
    return "ok";
  case AtRestError::kBadSaltLength:
    return "storage salt must be 16 bytes";
  case AtRestError::kBadKeyLength:
    return "storage key must be 32 bytes";
  case AtRestError::kBadStrength:
    return "unknown key-derivation strength";
  case AtRestError::kOpsLimitOutOfRange:
    return "key-derivation ops limit is outside Argon2id's bounds (1 to 4294967295)";
  case AtRestError::kMemLimitOutOfRange:
    return "key-derivation memory limit is outside Argon2id's bounds (at least 8192 bytes)";
  case AtRestError::kKdfFailed:
    return "key derivation failed (not enough memory for the chosen cost?)";
  case AtRestError::kTruncated:
    return "sealed record is too short";
  case AtRestError::kUnsupportedVersion:
    return "sealed record has an unsupported format version";
  case AtRestError::kAuthFailed:
    return "wrong passphrase or a record that is not this one";
  case AtRestError::kTooLarge:
    return "record is too large to seal";
  case AtRestError::kInternal:
    return "out of memory, or libsodium could not be initialised";
  }
  return "unknown at-rest error";
}

AtRestError resolve_kdf_cost(const sdk::KdfCost& cost, KdfLimits& limits_out) noexcept {
  KdfLimits limits;
  switch (cost.strength) {
  case sdk::KdfStrength::kInteractive:
    limits = {crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
              crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE};
    break;
  case sdk::KdfStrength::kModerate:
    limits = {crypto_pwhash_argon2id_OPSLIMIT_MODERATE, crypto_pwhash_argon2id_MEMLIMIT_MODERATE};
    break;
  case sdk::KdfStrength::kSensitive:
    limits = {crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE, crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE};
    break;
  default:
    return AtRestError::kBadStrength;
  }
  if (cost.ops_limit != 0) {
    if (cost.ops_limit < crypto_pwhash_argon2id_opslimit_min() ||
        cost.ops_limit > crypto_pwhash_argon2id_opslimit_max()) {
      return AtRestError::kOpsLimitOutOfRange;
    }
    limits.ops_limit = cost.ops_limit;
  }
  if (cost.mem_limit_bytes != 0) {
    if (cost.mem_limit_bytes < crypto_pwhash_argon2id_memlimit_min() ||
        cost.mem_limit_bytes > crypto_pwhash_argon2id_memlimit_max()) {
      return AtRestError::kMemLimitOutOfRange;
    }
    limits.mem_limit_bytes = cost.mem_limit_bytes;
  }
  limits_out = limits;
  return AtRestError::kOk;
}

AtRestError derive_storage_key(std::string_view passphrase, ByteSpan salt, const sdk::KdfCost& cost,
                               MutableByteSpan key_out) noexcept {
  if (!init_sodium()) {
    return AtRestError::kInternal;
  }
  if (salt.size() != kStorageSaltBytes) {
    return AtRestError::kBadSaltLength;
  }
  if (key_out.size() != kStorageKeyBytes) {
    return AtRestError::kBadKeyLength;
  }
  KdfLimits limits;
  if (const auto error = resolve_kdf_cost(cost, limits); error != AtRestError::kOk) {
    return error;
  }
  Secret<kStorageKeyBytes> key;
  const char* passphrase_data = passphrase.empty() ? "" : passphrase.data();
  if (crypto_pwhash(key.data(), key.size(), passphrase_data, passphrase.size(), salt.data(),
                    limits.ops_limit, static_cast<std::size_t>(limits.mem_limit_bytes),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return AtRestError::kKdfFailed;
  }
  std::memcpy(key_out.data(), key.data(), key.size());
  return AtRestError::kOk;
}

AtRestError seal_at_rest(ByteSpan key, ByteSpan ad, ByteSpan plaintext,
                         Bytes& sealed_out) noexcept {
  if (!init_sodium()) {
    return AtRestError::kInternal;
  }
  if (key.size() != kStorageKeyBytes) {
    return AtRestError::kBadKeyLength;
  }
  if (plaintext.size() >
      crypto_aead_xchacha20poly1305_ietf_messagebytes_max() - kAtRestOverheadBytes) {
    return AtRestError::kTooLarge;
  }
  try {
    uint8_t nonce[kXNonceBytes];
    randombytes_buf(nonce, sizeof nonce);
    Bytes ciphertext;
    xchacha_seal(key.data(), nonce, versioned_ad(ad), plaintext, ciphertext);
    Bytes sealed;
    sealed.reserve(kAtRestHeaderBytes + ciphertext.size());
    sealed.push_back(kAtRestVersion);
    sealed.insert(sealed.end(), nonce, nonce + sizeof nonce);
    sealed.insert(sealed.end(), ciphertext.begin(), ciphertext.end());
    sealed_out.swap(sealed);
    return AtRestError::kOk;
  } catch (const std::bad_alloc&) {
    return AtRestError::kInternal;
  }
}

AtRestError open_at_rest(ByteSpan key, ByteSpan ad, ByteSpan sealed,
                         SecretBytes& plaintext_out) noexcept {
  if (!init_sodium()) {
    return AtRestError::kInternal;
  }
  if (key.size() != kStorageKeyBytes) {
    return AtRestError::kBadKeyLength;
  }
  if (sealed.size() < kAtRestOverheadBytes) {
    return AtRestError::kTruncated;
  }
  if (sealed[0] != kAtRestVersion) {
    return AtRestError::kUnsupportedVersion;
  }
  try {
    SecretBytes plaintext;
    if (!xchacha_open(key.data(), sealed.data() + 1, versioned_ad(ad),
                      sealed.subspan(kAtRestHeaderBytes), plaintext.vec())) {
      return AtRestError::kAuthFailed;
    }
    // The previous contents move into `plaintext`, which wipes them on destruction.
    plaintext_out.vec().swap(plaintext.vec());
    return AtRestError::kOk;
  } catch (const std::bad_alloc&) {
    return AtRestError::kInternal;
  }
}

} // namespace entre::plugins::sodium
