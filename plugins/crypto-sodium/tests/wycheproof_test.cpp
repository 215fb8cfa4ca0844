// Project Wycheproof known-answer tests (tests/vectors/wycheproof/, see tests/vectors/README.md)
// run through this plugin's own wrappers, so that what is tested is what the protocols call:
// chacha_/xchacha_seal/open, x25519(), identity_verify(), hkdf_sha256() and hmac_sha256().
//
// Every test walks the whole file, counts what it did with each case (passed, rejected, skipped),
// and asserts that the counts add up to the file's numberOfTests and match the expected split, so a
// file that silently loses cases, or a wrapper that starts accepting a bad case, fails.
#include "identity.hpp"
#include "primitives.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace entre::plugins::sodium {
namespace {

using nlohmann::json;

Bytes from_hex(const std::string& hex) {
  Bytes out(hex.size() / 2);
  EXPECT_EQ(hex.size() % 2, 0u) << hex;
  if (out.empty()) {
    return out; // libsodium's pointers must not be null
  }
  EXPECT_EQ(
      sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, nullptr, nullptr), 0)
      << hex;
  return out;
}

json load(const std::string& name) {
  const std::string path = std::string(ENTRE_VECTOR_DIR) + "/wycheproof/" + name;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  if (!in.good()) {
    return json::object();
  }
  return json::parse(in);
}

bool has_flag(const json& test, const std::string& flag) {
  const auto& flags = test.at("flags");
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

std::string case_name(const json& test) {
  return "tcId " + std::to_string(test.at("tcId").get<int>()) + " (" +
         test.at("comment").get<std::string>() + ")";
}

struct Counts {
  int total = 0;    // every case seen
  int passed = 0;   // valid (or acceptable) cases that gave the expected output
  int rejected = 0; // cases the wrapper refused, as expected
  int skipped = 0;  // cases the API cannot express

  void expect(int file_total, int want_passed, int want_rejected, int want_skipped) const {
    EXPECT_EQ(total, file_total);
    EXPECT_EQ(passed + rejected + skipped, file_total);
    EXPECT_EQ(passed, want_passed);
    EXPECT_EQ(rejected, want_rejected);
    EXPECT_EQ(skipped, want_skipped);
  }
};

// Both AEADs share one schema (aead_test_schema_v1). `Seal` and `Open` take the nonce as a pointer
// to exactly `nonce_bytes` bytes.
template <typename Seal, typename Open>
Counts run_aead(const json& file, std::size_t nonce_bytes, Seal seal, Open open) {
  Counts counts;
  for (const auto& group : file.at("testGroups")) {
    for (const auto& test : group.at("tests")) {
      ++counts.total;
      SCOPED_TRACE(case_name(test));
      const Bytes key = from_hex(test.at("key"));
      const Bytes iv = from_hex(test.at("iv"));
      const Bytes aad = from_hex(test.at("aad"));
      const Bytes msg = from_hex(test.at("msg"));
      Bytes sealed = from_hex(test.at("ct"));
      const Bytes tag = from_hex(test.at("tag"));
      sealed.insert(sealed.end(), tag.begin(), tag.end());
      const std::string result = test.at("result");

      if (iv.size() != nonce_bytes) {
        // The API takes a fixed-size nonce: these cases cannot be expressed.
        EXPECT_TRUE(has_flag(test, "InvalidNonceSize"));
        EXPECT_EQ(result, "invalid");
        ++counts.skipped;
        continue;
      }
      EXPECT_EQ(key.size(), kAeadKeyBytes);
      if (key.size() != kAeadKeyBytes) {
        continue; // counted in total only, so the count check fails
      }
      Bytes opened{0xee};
      const bool ok = open(key.data(), iv.data(), aad, sealed, opened);
      if (result == "valid") {
        EXPECT_TRUE(ok);
        EXPECT_EQ(opened, msg);
        Bytes resealed;
        seal(key.data(), iv.data(), aad, msg, resealed);
        EXPECT_EQ(resealed, sealed);
        if (ok && opened == msg && resealed == sealed) {
          ++counts.passed;
        }
      } else {
        EXPECT_EQ(result, "invalid");
        EXPECT_FALSE(ok);
        EXPECT_TRUE(opened.empty());
        Bytes resealed;
        seal(key.data(), iv.data(), aad, msg, resealed);
        EXPECT_NE(resealed, sealed);
        if (!ok) {
          ++counts.rejected;
        }
      }
    }
  }
  return counts;
}

TEST(Wycheproof, ChaCha20Poly1305) {
  const json file = load("chacha20_poly1305_test.json");
  ASSERT_EQ(file.value("algorithm", ""), "CHACHA20-POLY1305");
  const Counts counts = run_aead(
      file, 12,
      [](const uint8_t* key, const uint8_t* nonce, ByteSpan ad, ByteSpan msg, Bytes& out) {
        chacha_seal(key, nonce, ad, msg, out);
      },
      [](const uint8_t* key, const uint8_t* nonce, ByteSpan ad, ByteSpan sealed, Bytes& out) {
        return chacha_open(key, nonce, ad, sealed, out);
      });
  counts.expect(file.at("numberOfTests").get<int>(), 256, 60, 9);
  EXPECT_EQ(counts.total, 325);
}

TEST(Wycheproof, XChaCha20Poly1305) {
  const json file = load("xchacha20_poly1305_test.json");
  ASSERT_EQ(file.value("algorithm", ""), "XCHACHA20-POLY1305");
  const Counts counts = run_aead(
      file, kXNonceBytes,
      [](const uint8_t* key, const uint8_t* nonce, ByteSpan ad, ByteSpan msg, Bytes& out) {
        xchacha_seal(key, nonce, ad, msg, out);
      },
      [](const uint8_t* key, const uint8_t* nonce, ByteSpan ad, ByteSpan sealed, Bytes& out) {
        return xchacha_open(key, nonce, ad, sealed, out);
      });
  counts.expect(file.at("numberOfTests").get<int>(), 246, 60, 9);
  EXPECT_EQ(counts.total, 315);
}

// X25519 through x25519(). The file has no "invalid" cases; its "acceptable" ones are edge cases
// RFC 7748 lets an implementation either accept or reject. Behaviour, asserted case by case:
// - flagged ZeroSharedSecret (31 cases, all LowOrderPublic: the peer point has order 1, 2, 4 or 8,
//   so the shared secret would be all zeros): REJECTED by x25519(), with the output zeroed. Noise
//   and the ratchet treat that as a hard failure, so a peer cannot force a known key;
// - every other acceptable case (Twist, NonCanonicalPublic, SpecialPublicKey, ...: 223 cases) is
//   accepted with Wycheproof's output, as RFC 7748 computes it (the top bit of u is masked and a
//   non-canonical u is reduced mod p).
TEST(Wycheproof, X25519) {
  const json file = load("x25519_test.json");
  ASSERT_EQ(file.value("algorithm", ""), "XDH");
  Counts counts;
  int zero_shared_flagged = 0;
  int acceptable_passed = 0;
  for (const auto& group : file.at("testGroups")) {
    ASSERT_EQ(group.at("curve"), "curve25519");
    for (const auto& test : group.at("tests")) {
      ++counts.total;
      SCOPED_TRACE(case_name(test));
      const Bytes peer = from_hex(test.at("public"));
      const Bytes secret = from_hex(test.at("private"));
      const Bytes shared = from_hex(test.at("shared"));
      ASSERT_EQ(peer.size(), kX25519Bytes);
      ASSERT_EQ(secret.size(), kX25519Bytes);
      ASSERT_EQ(shared.size(), kX25519Bytes);
      const std::string result = test.at("result");
      ASSERT_NE(result, "invalid"); // none in this file; a new one would need a decision here
      const bool all_zero =
          std::all_of(shared.begin(), shared.end(), [](uint8_t b) { return b == 0; });
      const bool zero_flag = has_flag(test, "ZeroSharedSecret");
      EXPECT_EQ(all_zero, zero_flag);

      Bytes out(kX25519Bytes, 0xee);
      const bool ok = x25519(secret.data(), peer.data(), out.data());
      if (zero_flag) {
        ++zero_shared_flagged;
        EXPECT_EQ(result, "acceptable");
        EXPECT_TRUE(has_flag(test, "LowOrderPublic"));
        EXPECT_FALSE(ok) << "x25519() accepted a low-order public key";
        EXPECT_EQ(out, Bytes(kX25519Bytes, 0));
        if (!ok) {
          ++counts.rejected;
        }
      } else {
        EXPECT_TRUE(ok);
        EXPECT_EQ(out, shared);
        if (ok && out == shared) {
          ++counts.passed;
          if (result == "acceptable") {
            ++acceptable_passed;
          }
        }
      }
    }
  }
  EXPECT_EQ(zero_shared_flagged, 31);
  EXPECT_EQ(acceptable_passed, 223);
  counts.expect(file.at("numberOfTests").get<int>(), 264 + 223, 31, 0);
}

// RFC 7748 section 5.2, the iterated test (not in the Wycheproof file): k = u = 9, then
// (k, u) = (X25519(k, u), k). 1 and 1,000 iterations; 1,000,000 takes too long for a unit test.
TEST(Wycheproof, X25519Rfc7748Iterated) {
  std::array<uint8_t, 32> k{9};
  std::array<uint8_t, 32> u{9};
  std::array<uint8_t, 32> next{};
  for (int i = 1; i <= 1000; ++i) {
    ASSERT_TRUE(x25519(k.data(), u.data(), next.data()));
    u = k;
    k = next;
    if (i == 1) {
      EXPECT_EQ(Bytes(k.begin(), k.end()),
                from_hex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"));
    }
  }
  EXPECT_EQ(Bytes(k.begin(), k.end()),
            from_hex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"));
}

// Ed25519 through identity_verify() (crypto_sign_verify_detached with the group's public key).
TEST(Wycheproof, Ed25519) {
  const json file = load("ed25519_test.json");
  ASSERT_EQ(file.value("algorithm", ""), "EDDSA");
  Counts counts;
  int malleability_rejected = 0;
  for (const auto& group : file.at("testGroups")) {
    const auto& public_key = group.at("publicKey");
    ASSERT_EQ(public_key.at("curve"), "edwards25519");
    const Bytes pk = from_hex(public_key.at("pk"));
    for (const auto& test : group.at("tests")) {
      ++counts.total;
      SCOPED_TRACE(case_name(test));
      const Bytes msg = from_hex(test.at("msg"));
      const Bytes sig = from_hex(test.at("sig"));
      const std::string result = test.at("result");
      const IdentityError verdict = identity_verify(pk, msg, sig);
      if (result == "valid") {
        EXPECT_EQ(verdict, IdentityError::kOk);
        if (verdict == IdentityError::kOk) {
          ++counts.passed;
        }
      } else {
        EXPECT_EQ(result, "invalid");
        EXPECT_NE(verdict, IdentityError::kOk);
        // A 64-byte signature reaches libsodium; a wrong-size one is refused before.
        EXPECT_EQ(verdict, sig.size() == kSignatureBytes ? IdentityError::kBadSignature
                                                         : IdentityError::kBadSignatureLength);
        if (verdict != IdentityError::kOk) {
          ++counts.rejected;
          if (has_flag(test, "SignatureMalleability")) {
            ++malleability_rejected;
          }
        }
      }
    }
  }
  EXPECT_EQ(malleability_rejected, 8); // s + L and friends: non-canonical s is refused
  counts.expect(file.at("numberOfTests").get<int>(), 88, 63, 0);
}

// HKDF-SHA256 through hkdf_sha256(). The invalid cases ask for more than 255 * 32 bytes.
TEST(Wycheproof, HkdfSha256) {
  const json file = load("hkdf_sha256_test.json");
  ASSERT_EQ(file.value("algorithm", ""), "HKDF-SHA-256");
  Counts counts;
  for (const auto& group : file.at("testGroups")) {
    for (const auto& test : group.at("tests")) {
      ++counts.total;
      SCOPED_TRACE(case_name(test));
      const Bytes ikm = from_hex(test.at("ikm"));
      const Bytes salt = from_hex(test.at("salt"));
      const Bytes info = from_hex(test.at("info"));
      const auto size = test.at("size").get<std::size_t>();
      const std::string result = test.at("result");
      Bytes out(size, 0xee);
      const bool ok = hkdf_sha256(salt, ikm, info, out);
      if (result == "valid") {
        EXPECT_TRUE(ok);
        EXPECT_EQ(out, from_hex(test.at("okm")));
        if (ok && out == from_hex(test.at("okm"))) {
          ++counts.passed;
        }
      } else {
        EXPECT_EQ(result, "invalid");
        EXPECT_TRUE(has_flag(test, "SizeTooLarge"));
        EXPECT_GT(size, 255u * kSha256Bytes);
        EXPECT_FALSE(ok);
        if (!ok) {
          ++counts.rejected;
        }
      }
    }
  }
  counts.expect(file.at("numberOfTests").get<int>(), 83, 3, 0);
}

// HMAC-SHA256 through hmac_sha256(). Groups with a tagSize below 256 bits carry truncated tags:
// they are compared on that prefix (constant time, equal_ct). The invalid cases are modified tags,
// which the comparison must catch.
TEST(Wycheproof, HmacSha256) {
  const json file = load("hmac_sha256_test.json");
  ASSERT_EQ(file.value("algorithm", ""), "HMACSHA256");
  Counts counts;
  int truncated_passed = 0;
  for (const auto& group : file.at("testGroups")) {
    const auto tag_bytes = group.at("tagSize").get<std::size_t>() / 8;
    ASSERT_LE(tag_bytes, kSha256Bytes);
    for (const auto& test : group.at("tests")) {
      ++counts.total;
      SCOPED_TRACE(case_name(test));
      const Bytes key = from_hex(test.at("key"));
      const Bytes msg = from_hex(test.at("msg"));
      const Bytes tag = from_hex(test.at("tag"));
      const std::string result = test.at("result");
      uint8_t mac[kSha256Bytes];
      hmac_sha256(key, msg, mac);
      const bool match = tag.size() == tag_bytes && equal_ct(ByteSpan(mac, tag_bytes), tag);
      if (result == "valid") {
        EXPECT_TRUE(match);
        if (match) {
          ++counts.passed;
          if (tag_bytes < kSha256Bytes) {
            ++truncated_passed;
          }
        }
      } else {
        EXPECT_EQ(result, "invalid");
        EXPECT_FALSE(match);
        if (!match) {
          ++counts.rejected;
        }
      }
    }
  }
  EXPECT_GT(truncated_passed, 0);
  counts.expect(file.at("numberOfTests").get<int>(), 66, 108, 0);
}

} // namespace
} // namespace entre::plugins::sodium
