// Storage at rest: Argon2id key derivation (presets, explicit limits and their bounds) and the
// sealed-record format (round trip, wrong key, swapped ad, truncation, version, tampering).
//
// The Argon2id known answers were computed with an independent implementation (Python
// cryptography's Argon2id, lanes = 1, memory in KiB = mem_limit_bytes / 1024, as libsodium uses).
#include "at_rest.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace entre::plugins::sodium {
namespace {

Bytes from_hex(std::string_view hex) {
  Bytes out(hex.size() / 2);
  if (out.empty()) {
    return out; // libsodium's pointers must not be null
  }
  EXPECT_EQ(
      sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, nullptr, nullptr), 0);
  return out;
}

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

Bytes key_bytes(const Secret<kStorageKeyBytes>& key) {
  return Bytes(key.span().begin(), key.span().end());
}

constexpr sdk::KdfCost kInteractive{sdk::KdfStrength::kInteractive, 0, 0};
constexpr std::string_view kPassphrase = "correct horse battery staple";

Bytes fixed_salt() {
  Bytes salt(kStorageSaltBytes);
  for (std::size_t i = 0; i < salt.size(); ++i) {
    salt[i] = static_cast<uint8_t>(i);
  }
  return salt;
}

// Keys are derived once for the whole suite (interactive cost) to keep the tests fast.
class AtRestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(init_sodium());
    ASSERT_EQ(derive_storage_key(kPassphrase, fixed_salt(), kInteractive, key_->span()),
              AtRestError::kOk);
    ASSERT_EQ(derive_storage_key("correct horse battery stapler", fixed_salt(), kInteractive,
                                 wrong_key_->span()),
              AtRestError::kOk);
  }
  static void TearDownTestSuite() {
    key_->wipe();
    wrong_key_->wipe();
  }

  static Bytes seal(ByteSpan plaintext, ByteSpan ad) {
    Bytes sealed;
    EXPECT_EQ(seal_at_rest(key_->span(), ad, plaintext, sealed), AtRestError::kOk);
    return sealed;
  }

  static inline Secret<kStorageKeyBytes> key_storage_;
  static inline Secret<kStorageKeyBytes> wrong_key_storage_;
  static inline Secret<kStorageKeyBytes>* const key_ = &key_storage_;
  static inline Secret<kStorageKeyBytes>* const wrong_key_ = &wrong_key_storage_;
};

TEST_F(AtRestTest, InteractiveKeyMatchesAnIndependentArgon2id) {
  EXPECT_EQ(key_bytes(*key_),
            from_hex("c05ce4c4dd7e0e45ee6011cc59d068ade47df1b01fc0cf9cd4678bdf68a5b7b0"));
  EXPECT_NE(key_bytes(*key_), key_bytes(*wrong_key_));
}

TEST_F(AtRestTest, ExplicitLimitsOverrideThePreset) {
  Secret<kStorageKeyBytes> key;
  const sdk::KdfCost small{sdk::KdfStrength::kInteractive, 2, 64 * 1024};
  ASSERT_EQ(derive_storage_key(kPassphrase, fixed_salt(), small, key.span()), AtRestError::kOk);
  EXPECT_EQ(key_bytes(key),
            from_hex("2df47ede6358ed17a9976d4fcedb897a10036d432a4acef17d263bfc98bd20ac"));
  // The smallest cost libsodium allows, with the strength ignored once both limits are given.
  const sdk::KdfCost minimum{sdk::KdfStrength::kSensitive, 1, 8192};
  ASSERT_EQ(derive_storage_key(kPassphrase, fixed_salt(), minimum, key.span()), AtRestError::kOk);
  EXPECT_EQ(key_bytes(key),
            from_hex("d17ea6341ca93da6079ea2f64dc4aa31dd1aaf9caa67fb42ac4afd0714706f26"));

  // Same inputs, same key; another salt or passphrase, another key.
  Secret<kStorageKeyBytes> again;
  ASSERT_EQ(derive_storage_key(kPassphrase, fixed_salt(), minimum, again.span()), AtRestError::kOk);
  EXPECT_EQ(key_bytes(again), key_bytes(key));
  Bytes salt = fixed_salt();
  salt[15] ^= 1;
  ASSERT_EQ(derive_storage_key(kPassphrase, salt, minimum, again.span()), AtRestError::kOk);
  EXPECT_NE(key_bytes(again), key_bytes(key));
  ASSERT_EQ(derive_storage_key("", fixed_salt(), minimum, again.span()), AtRestError::kOk);
  EXPECT_NE(key_bytes(again), key_bytes(key));
}

TEST_F(AtRestTest, PresetsAreLibsodiumsArgon2idConstants) {
  KdfLimits limits;
  ASSERT_EQ(resolve_kdf_cost(kInteractive, limits), AtRestError::kOk);
  EXPECT_EQ(limits.ops_limit, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
  EXPECT_EQ(limits.mem_limit_bytes, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
  EXPECT_EQ(limits.ops_limit, 2u);
  EXPECT_EQ(limits.mem_limit_bytes, 64u << 20);
  ASSERT_EQ(resolve_kdf_cost({sdk::KdfStrength::kModerate, 0, 0}, limits), AtRestError::kOk);
  EXPECT_EQ(limits.ops_limit, crypto_pwhash_argon2id_OPSLIMIT_MODERATE);
  EXPECT_EQ(limits.mem_limit_bytes, crypto_pwhash_argon2id_MEMLIMIT_MODERATE);
  ASSERT_EQ(resolve_kdf_cost({sdk::KdfStrength::kSensitive, 0, 0}, limits), AtRestError::kOk);
  EXPECT_EQ(limits.ops_limit, crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE);
  EXPECT_EQ(limits.mem_limit_bytes, crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE);
  EXPECT_EQ(limits.mem_limit_bytes, 1u << 30);

  // One explicit limit replaces only that limit.
  ASSERT_EQ(resolve_kdf_cost({sdk::KdfStrength::kModerate, 7, 0}, limits), AtRestError::kOk);
  EXPECT_EQ(limits.ops_limit, 7u);
  EXPECT_EQ(limits.mem_limit_bytes, crypto_pwhash_argon2id_MEMLIMIT_MODERATE);
  ASSERT_EQ(resolve_kdf_cost({sdk::KdfStrength::kModerate, 0, 1u << 20}, limits), AtRestError::kOk);
  EXPECT_EQ(limits.ops_limit, crypto_pwhash_argon2id_OPSLIMIT_MODERATE);
  EXPECT_EQ(limits.mem_limit_bytes, 1u << 20);
}

TEST_F(AtRestTest, ModerateDerivesOnce) {
  Secret<kStorageKeyBytes> key;
  ASSERT_EQ(derive_storage_key(kPassphrase, fixed_salt(), {sdk::KdfStrength::kModerate, 0, 0},
                               key.span()),
            AtRestError::kOk);
  EXPECT_NE(key_bytes(key), key_bytes(*key_));
  EXPECT_NE(key_bytes(key), Bytes(kStorageKeyBytes, 0));
}

TEST_F(AtRestTest, CostsOutsideLibsodiumsBoundsAreRefused) {
  const uint64_t ops_max = crypto_pwhash_argon2id_opslimit_max();
  const uint64_t mem_min = crypto_pwhash_argon2id_memlimit_min();
  const uint64_t mem_max = crypto_pwhash_argon2id_memlimit_max();
  KdfLimits limits{11, 22};
  const auto interactive = sdk::KdfStrength::kInteractive;
  EXPECT_EQ(resolve_kdf_cost({interactive, ops_max, 0}, limits), AtRestError::kOk);
  EXPECT_EQ(resolve_kdf_cost({interactive, ops_max + 1, 0}, limits),
            AtRestError::kOpsLimitOutOfRange);
  EXPECT_EQ(resolve_kdf_cost({interactive, UINT64_MAX, 0}, limits),
            AtRestError::kOpsLimitOutOfRange);
  EXPECT_EQ(resolve_kdf_cost({interactive, 0, mem_min}, limits), AtRestError::kOk);
  EXPECT_EQ(resolve_kdf_cost({interactive, 0, mem_min - 1}, limits),
            AtRestError::kMemLimitOutOfRange);
  EXPECT_EQ(resolve_kdf_cost({interactive, 0, 1}, limits), AtRestError::kMemLimitOutOfRange);
  EXPECT_EQ(resolve_kdf_cost({interactive, 0, mem_max}, limits), AtRestError::kOk);
  EXPECT_EQ(resolve_kdf_cost({interactive, 0, mem_max + 1}, limits),
            AtRestError::kMemLimitOutOfRange);
  EXPECT_EQ(resolve_kdf_cost({static_cast<sdk::KdfStrength>(0), 0, 0}, limits),
            AtRestError::kBadStrength);
  EXPECT_EQ(resolve_kdf_cost({static_cast<sdk::KdfStrength>(4), 1, 8192}, limits),
            AtRestError::kBadStrength);
  // Failures leave the output alone (the last success was mem_max).
  EXPECT_EQ(limits.mem_limit_bytes, mem_max);

  // derive_storage_key refuses the same costs, and bad sizes, without touching the key.
  Secret<kStorageKeyBytes> key;
  key.span()[0] = 0x5a;
  EXPECT_EQ(
      derive_storage_key(kPassphrase, fixed_salt(), {interactive, ops_max + 1, 0}, key.span()),
      AtRestError::kOpsLimitOutOfRange);
  EXPECT_EQ(
      derive_storage_key(kPassphrase, fixed_salt(), {interactive, 0, mem_min - 1}, key.span()),
      AtRestError::kMemLimitOutOfRange);
  EXPECT_EQ(derive_storage_key(kPassphrase, fixed_salt(), {static_cast<sdk::KdfStrength>(9), 0, 0},
                               key.span()),
            AtRestError::kBadStrength);
  const Bytes salt = fixed_salt();
  EXPECT_EQ(derive_storage_key(kPassphrase, ByteSpan(salt.data(), 15), kInteractive, key.span()),
            AtRestError::kBadSaltLength);
  EXPECT_EQ(derive_storage_key(kPassphrase, Bytes(17, 0), kInteractive, key.span()),
            AtRestError::kBadSaltLength);
  EXPECT_EQ(derive_storage_key(kPassphrase, salt, kInteractive, key.span().first(31)),
            AtRestError::kBadKeyLength);
  EXPECT_EQ(key.span()[0], 0x5a);
  EXPECT_EQ(key_bytes(key)[1], 0);
}

TEST_F(AtRestTest, SealOpenRoundTrip) {
  const Bytes ad = bytes_of("profile/identity");
  for (const std::size_t size : {0u, 1u, 15u, 16u, 17u, 1000u, 70000u}) {
    Bytes plaintext(size, 0x61);
    if (size > 0) {
      randombytes_buf(plaintext.data(), plaintext.size());
    }
    const Bytes sealed = seal(plaintext, ad);
    ASSERT_EQ(sealed.size(), size + kAtRestOverheadBytes);
    EXPECT_EQ(sealed[0], kAtRestVersion);
    SecretBytes opened;
    ASSERT_EQ(open_at_rest(key_->span(), ad, sealed, opened), AtRestError::kOk);
    EXPECT_EQ(opened.vec(), plaintext);
  }
  // A fresh random nonce each time: sealing twice gives different records.
  const Bytes plaintext = bytes_of("same plaintext");
  const Bytes first = seal(plaintext, ad);
  const Bytes second = seal(plaintext, ad);
  EXPECT_NE(first, second);
  EXPECT_FALSE(std::equal(first.begin() + 1, first.begin() + 25, second.begin() + 1));
}

TEST_F(AtRestTest, RecordLayoutIsVersionNonceAeadWithVersionedAd) {
  const Bytes ad = bytes_of("contacts/42");
  const Bytes plaintext = bytes_of("alice");
  const Bytes sealed = seal(plaintext, ad);
  Bytes full_ad{kAtRestVersion};
  full_ad.insert(full_ad.end(), ad.begin(), ad.end());
  Bytes opened;
  ASSERT_TRUE(xchacha_open(key_->data(), sealed.data() + 1, full_ad,
                           ByteSpan(sealed).subspan(1 + kXNonceBytes), opened));
  EXPECT_EQ(opened, plaintext);
  // The bare caller's ad is not what is authenticated.
  EXPECT_FALSE(xchacha_open(key_->data(), sealed.data() + 1, ad,
                            ByteSpan(sealed).subspan(1 + kXNonceBytes), opened));
}

TEST_F(AtRestTest, WrongPassphraseFailsAndWritesNothing) {
  const Bytes ad = bytes_of("settings");
  const Bytes sealed = seal(bytes_of("secret settings"), ad);
  SecretBytes empty;
  const AtRestError error = open_at_rest(wrong_key_->span(), ad, sealed, empty);
  EXPECT_EQ(error, AtRestError::kAuthFailed);
  EXPECT_STREQ(at_rest_error_message(error), "wrong passphrase or a record that is not this one");
  EXPECT_TRUE(empty.vec().empty());
  SecretBytes kept;
  kept.vec() = bytes_of("previous contents");
  EXPECT_EQ(open_at_rest(wrong_key_->span(), ad, sealed, kept), AtRestError::kAuthFailed);
  EXPECT_EQ(kept.vec(), bytes_of("previous contents"));
}

TEST_F(AtRestTest, SwappingAdBetweenRecordsFails) {
  const Bytes ad_one = bytes_of("contacts/1");
  const Bytes ad_two = bytes_of("contacts/2");
  const Bytes one = seal(bytes_of("first contact"), ad_one);
  const Bytes two = seal(bytes_of("second contact"), ad_two);
  SecretBytes out;
  EXPECT_EQ(open_at_rest(key_->span(), ad_two, one, out), AtRestError::kAuthFailed);
  EXPECT_EQ(open_at_rest(key_->span(), ad_one, two, out), AtRestError::kAuthFailed);
  EXPECT_EQ(open_at_rest(key_->span(), {}, one, out), AtRestError::kAuthFailed);
  EXPECT_TRUE(out.vec().empty());
  ASSERT_EQ(open_at_rest(key_->span(), ad_one, one, out), AtRestError::kOk);
  EXPECT_EQ(out.vec(), bytes_of("first contact"));
  // Empty ad is an ad like any other.
  const Bytes bare = seal(bytes_of("x"), {});
  EXPECT_EQ(open_at_rest(key_->span(), Bytes{0}, bare, out), AtRestError::kAuthFailed);
  EXPECT_EQ(open_at_rest(key_->span(), {}, bare, out), AtRestError::kOk);
}

TEST_F(AtRestTest, TruncatedRecordsAreRefused) {
  const Bytes ad = bytes_of("log");
  const Bytes sealed = seal(bytes_of("some plaintext"), ad);
  SecretBytes out;
  for (std::size_t length = 0; length < sealed.size(); ++length) {
    const ByteSpan cut(sealed.data(), length);
    const AtRestError want =
        length < kAtRestOverheadBytes ? AtRestError::kTruncated : AtRestError::kAuthFailed;
    EXPECT_EQ(open_at_rest(key_->span(), ad, cut, out), want) << length;
    // Cut from the front as well.
    EXPECT_NE(open_at_rest(key_->span(), ad, ByteSpan(sealed).subspan(sealed.size() - length), out),
              AtRestError::kOk)
        << length;
  }
  EXPECT_TRUE(out.vec().empty());
  EXPECT_EQ(open_at_rest(key_->span(), ad, {}, out), AtRestError::kTruncated);
}

TEST_F(AtRestTest, BadVersionAndFlippedBitsAreRefused) {
  const Bytes ad = bytes_of("sessions/7");
  const Bytes sealed = seal(bytes_of("0123456789abcdef0123456789abcdef"), ad);
  SecretBytes out;
  for (const uint8_t version : {0, 2, 0x81, 0xff}) {
    Bytes bad = sealed;
    bad[0] = version;
    EXPECT_EQ(open_at_rest(key_->span(), ad, bad, out), AtRestError::kUnsupportedVersion);
  }
  for (std::size_t i = 1; i < sealed.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = sealed;
      bad[i] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_EQ(open_at_rest(key_->span(), ad, bad, out), AtRestError::kAuthFailed)
          << i << "/" << bit;
    }
  }
  EXPECT_TRUE(out.vec().empty());
  // Appending a byte is tampering too.
  Bytes longer = sealed;
  longer.push_back(0);
  EXPECT_EQ(open_at_rest(key_->span(), ad, longer, out), AtRestError::kAuthFailed);
}

TEST_F(AtRestTest, KeysMustBe32Bytes) {
  const Bytes key = key_bytes(*key_);
  Bytes sealed = bytes_of("unchanged");
  EXPECT_EQ(seal_at_rest(ByteSpan(key.data(), 31), {}, bytes_of("x"), sealed),
            AtRestError::kBadKeyLength);
  EXPECT_EQ(sealed, bytes_of("unchanged"));
  Bytes longer = key;
  longer.push_back(0);
  EXPECT_EQ(seal_at_rest(longer, {}, bytes_of("x"), sealed), AtRestError::kBadKeyLength);
  const Bytes good = seal(bytes_of("x"), {});
  SecretBytes out;
  EXPECT_EQ(open_at_rest(ByteSpan(key.data(), 31), {}, good, out), AtRestError::kBadKeyLength);
  EXPECT_EQ(open_at_rest(longer, {}, good, out), AtRestError::kBadKeyLength);
  EXPECT_EQ(open_at_rest(key, {}, good, out), AtRestError::kOk);
}

TEST_F(AtRestTest, EveryErrorHasItsOwnMessage) {
  std::set<std::string> messages;
  const AtRestError all[] = {
      AtRestError::kOk,          AtRestError::kBadSaltLength,      AtRestError::kBadKeyLength,
      AtRestError::kBadStrength, AtRestError::kOpsLimitOutOfRange, AtRestError::kMemLimitOutOfRange,
      AtRestError::kKdfFailed,   AtRestError::kTruncated,          AtRestError::kUnsupportedVersion,
      AtRestError::kAuthFailed,  AtRestError::kTooLarge,           AtRestError::kInternal,
  };
  for (const auto error : all) {
    const std::string message = at_rest_error_message(error);
    EXPECT_FALSE(message.empty());
    EXPECT_LT(message.size(), 120u);
    messages.insert(message);
  }
  EXPECT_EQ(messages.size(), std::size(all));
}

} // namespace
} // namespace entre::plugins::sodium
