// Identity blobs and signatures, contact codes, fingerprints and safety numbers.
//
// The frozen values below (contact codes, fingerprint, safety number) were computed with an
// independent implementation of the constructions documented in identity.hpp (Python's hashlib
// BLAKE2b with the same personalisation strings), so a change to the format fails here and must be
// a deliberate version bump.
#include "identity.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

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

template <std::size_t N> Bytes to_bytes(const std::array<uint8_t, N>& a) {
  return Bytes(a.begin(), a.end());
}

Bytes sequence_key(uint8_t first) {
  Bytes key(kUserIdBytes);
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(first + i);
  }
  return key;
}

Bytes random_key() {
  Bytes key(kUserIdBytes);
  randombytes_buf(key.data(), key.size());
  return key;
}

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_sodium()); }
};

// --- Identity ------------------------------------------------------------------------------------

// RFC 7748 section 6.1 (Alice) for the X25519 half and RFC 8032 section 7.1 TEST 1 for the Ed25519
// half: a blob built from them must give the RFCs' public keys and signature.
Bytes rfc_blob() {
  Bytes blob{kIdentityBlobVersion};
  const Bytes x = from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const Bytes seed = from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  blob.insert(blob.end(), x.begin(), x.end());
  blob.insert(blob.end(), seed.begin(), seed.end());
  return blob;
}

TEST_F(IdentityTest, KnownBlobGivesTheRfcKeysAndSignature) {
  const Bytes blob = rfc_blob();
  ASSERT_EQ(blob.size(), kIdentityBlobBytes);
  std::array<uint8_t, kUserIdBytes> user_id{};
  ASSERT_EQ(identity_public(blob, user_id), IdentityError::kOk);
  EXPECT_EQ(to_bytes(user_id),
            from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
  std::array<uint8_t, kSigningPublicBytes> signing{};
  ASSERT_EQ(identity_signing_public(blob, signing), IdentityError::kOk);
  EXPECT_EQ(to_bytes(signing),
            from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
  std::array<uint8_t, kSignatureBytes> signature{};
  ASSERT_EQ(identity_sign(blob, {}, signature), IdentityError::kOk);
  EXPECT_EQ(to_bytes(signature),
            from_hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"));
  EXPECT_EQ(identity_verify(signing, {}, signature), IdentityError::kOk);
  Secret<kX25519Bytes> secret;
  ASSERT_EQ(identity_x25519_secret(blob, secret), IdentityError::kOk);
  EXPECT_TRUE(std::equal(blob.begin() + 1, blob.begin() + 33, secret.data()));
}

TEST_F(IdentityTest, GenerateGivesAVersionedBlobWhosePublicKeysMatch) {
  Secret<kIdentityBlobBytes> blob;
  std::array<uint8_t, kUserIdBytes> user_id{};
  ASSERT_EQ(generate_identity(blob, user_id), IdentityError::kOk);
  EXPECT_EQ(blob.data()[0], kIdentityBlobVersion);

  // The blob survives a trip through plain bytes (as the kernel stores it) and gives the same id.
  const Bytes stored(blob.span().begin(), blob.span().end());
  std::array<uint8_t, kUserIdBytes> again{};
  ASSERT_EQ(identity_public(stored, again), IdentityError::kOk);
  EXPECT_EQ(again, user_id);
  std::array<uint8_t, kUserIdBytes> expected{};
  crypto_scalarmult_base(expected.data(), blob.data() + 1);
  EXPECT_EQ(user_id, expected);

  std::array<uint8_t, kSigningPublicBytes> signing{};
  ASSERT_EQ(identity_signing_public(stored, signing), IdentityError::kOk);
  std::array<uint8_t, kSigningPublicBytes> signing_expected{};
  Bytes secret_key(crypto_sign_SECRETKEYBYTES);
  crypto_sign_seed_keypair(signing_expected.data(), secret_key.data(), blob.data() + 33);
  EXPECT_EQ(signing, signing_expected);

  // Two identities differ, and their X25519 halves agree on a shared secret.
  Secret<kIdentityBlobBytes> other;
  std::array<uint8_t, kUserIdBytes> other_id{};
  ASSERT_EQ(generate_identity(other, other_id), IdentityError::kOk);
  EXPECT_NE(other_id, user_id);
  EXPECT_FALSE(std::equal(blob.span().begin(), blob.span().end(), other.span().begin()));
  Secret<kX25519Bytes> mine;
  Secret<kX25519Bytes> theirs;
  ASSERT_EQ(identity_x25519_secret(blob.span(), mine), IdentityError::kOk);
  ASSERT_EQ(identity_x25519_secret(other.span(), theirs), IdentityError::kOk);
  std::array<uint8_t, 32> ab{};
  std::array<uint8_t, 32> ba{};
  ASSERT_TRUE(x25519(mine.data(), other_id.data(), ab.data()));
  ASSERT_TRUE(x25519(theirs.data(), user_id.data(), ba.data()));
  EXPECT_EQ(ab, ba);
}

TEST_F(IdentityTest, SignaturesVerifyAndTamperingIsCaught) {
  Secret<kIdentityBlobBytes> blob;
  std::array<uint8_t, kUserIdBytes> user_id{};
  ASSERT_EQ(generate_identity(blob, user_id), IdentityError::kOk);
  std::array<uint8_t, kSigningPublicBytes> signing{};
  ASSERT_EQ(identity_signing_public(blob.span(), signing), IdentityError::kOk);

  const std::string text = "entre: hello, this is my device list";
  const Bytes message(text.begin(), text.end());
  std::array<uint8_t, kSignatureBytes> signature{};
  ASSERT_EQ(identity_sign(blob.span(), message, signature), IdentityError::kOk);
  EXPECT_EQ(identity_verify(signing, message, signature), IdentityError::kOk);

  for (std::size_t i = 0; i < message.size(); ++i) {
    Bytes tampered = message;
    tampered[i] ^= 0x01;
    EXPECT_EQ(identity_verify(signing, tampered, signature), IdentityError::kBadSignature) << i;
  }
  for (std::size_t i = 0; i < signature.size(); ++i) {
    auto tampered = signature;
    tampered[i] ^= 0x80;
    EXPECT_EQ(identity_verify(signing, message, tampered), IdentityError::kBadSignature) << i;
  }
  Bytes longer = message;
  longer.push_back(0);
  EXPECT_EQ(identity_verify(signing, longer, signature), IdentityError::kBadSignature);

  // Another identity's key does not verify it; the user id (an X25519 key) is not a signing key.
  Secret<kIdentityBlobBytes> other;
  std::array<uint8_t, kUserIdBytes> other_id{};
  ASSERT_EQ(generate_identity(other, other_id), IdentityError::kOk);
  std::array<uint8_t, kSigningPublicBytes> other_signing{};
  ASSERT_EQ(identity_signing_public(other.span(), other_signing), IdentityError::kOk);
  EXPECT_EQ(identity_verify(other_signing, message, signature), IdentityError::kBadSignature);
  EXPECT_NE(identity_verify(user_id, message, signature), IdentityError::kOk);

  // Sizes are checked before libsodium sees anything.
  EXPECT_EQ(identity_verify(ByteSpan(signing.data(), 31), message, signature),
            IdentityError::kBadKeyLength);
  EXPECT_EQ(identity_verify(signing, message, ByteSpan(signature.data(), 63)),
            IdentityError::kBadSignatureLength);
  Bytes long_signature(signature.begin(), signature.end());
  long_signature.push_back(0);
  EXPECT_EQ(identity_verify(signing, message, long_signature), IdentityError::kBadSignatureLength);
}

TEST_F(IdentityTest, MalformedBlobsAreRefusedByEveryFunction) {
  const Bytes good = rfc_blob();
  struct Case {
    Bytes blob;
    IdentityError want;
  };
  std::vector<Case> cases;
  cases.push_back({Bytes{}, IdentityError::kBadBlobLength});
  cases.push_back({Bytes(good.begin(), good.end() - 1), IdentityError::kBadBlobLength});
  Bytes longer = good;
  longer.push_back(0);
  cases.push_back({longer, IdentityError::kBadBlobLength});
  cases.push_back({Bytes(good.begin() + 1, good.end()), IdentityError::kBadBlobLength});
  for (const uint8_t version : {0, 2, 0xff}) {
    Bytes bad = good;
    bad[0] = version;
    cases.push_back({bad, IdentityError::kUnsupportedVersion});
  }
  for (const auto& c : cases) {
    std::array<uint8_t, 32> out{};
    out.fill(0xaa);
    EXPECT_EQ(identity_public(c.blob, out), c.want);
    EXPECT_EQ(identity_signing_public(c.blob, out), c.want);
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0xaa; }));
    std::array<uint8_t, kSignatureBytes> signature{};
    EXPECT_EQ(identity_sign(c.blob, {}, signature), c.want);
    EXPECT_EQ(signature, (std::array<uint8_t, kSignatureBytes>{}));
    Secret<kX25519Bytes> secret;
    EXPECT_EQ(identity_x25519_secret(c.blob, secret), c.want);
  }
}

TEST_F(IdentityTest, EveryErrorHasItsOwnMessage) {
  std::set<std::string> messages;
  for (const auto error :
       {IdentityError::kOk, IdentityError::kBadBlobLength, IdentityError::kUnsupportedVersion,
        IdentityError::kBadKeyLength, IdentityError::kBadSignatureLength,
        IdentityError::kBadSignature, IdentityError::kSodiumUnavailable}) {
    const std::string message = identity_error_message(error);
    EXPECT_FALSE(message.empty());
    EXPECT_LT(message.size(), 120u);
    messages.insert(message);
  }
  EXPECT_EQ(messages.size(), 7u);
}

// --- Contact codes -------------------------------------------------------------------------------

// An independent encoder written from the grammar in identity.hpp (bit string rather than an
// accumulator), able to produce any version: used to cross-check the real encoder and to build
// well-formed codes of other versions.
std::string reference_code(uint8_t version, const Bytes& key,
                           const std::vector<std::string>& hints) {
  Bytes checked{version};
  checked.insert(checked.end(), key.begin(), key.end());
  for (const auto& hint : hints) {
    checked.push_back(static_cast<uint8_t>(hint.size()));
    checked.insert(checked.end(), hint.begin(), hint.end());
  }
  uint8_t hash[32];
  const char personal[] = "entre-contact-v1";
  crypto_generichash_blake2b_salt_personal(hash, sizeof hash, checked.data(), checked.size(),
                                           nullptr, 0, nullptr,
                                           reinterpret_cast<const unsigned char*>(personal));
  Bytes payload{version};
  payload.insert(payload.end(), key.begin(), key.end());
  payload.insert(payload.end(), hash, hash + 4);
  std::string bits;
  for (const uint8_t byte : payload) {
    for (int b = 7; b >= 0; --b) {
      bits.push_back(((byte >> b) & 1) ? '1' : '0');
    }
  }
  while (bits.size() % 5 != 0) {
    bits.push_back('0');
  }
  const std::string alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  std::string text = "entre:";
  for (std::size_t i = 0; i < bits.size(); i += 5) {
    if (i > 0 && i % 20 == 0) {
      text.push_back('-');
    }
    text.push_back(alphabet[std::stoi(bits.substr(i, 5), nullptr, 2)]);
  }
  for (std::size_t i = 0; i < hints.size(); ++i) {
    text += i == 0 ? "?h=" : "&h=";
    for (const char c : hints[i]) {
      const auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) != 0 && u < 0x80) {
        text.push_back(c);
      } else if (std::string_view("-._~:/@").find(c) != std::string_view::npos) {
        text.push_back(c);
      } else {
        char escape[4];
        std::snprintf(escape, sizeof escape, "%%%02X", u);
        text += escape;
      }
    }
  }
  return text;
}

std::string encode(const Bytes& key, const std::vector<std::string>& hints = {}) {
  std::string text;
  std::string error;
  EXPECT_EQ(encode_contact_code(key, hints, text, error), ContactCodeError::kOk) << error;
  return text;
}

struct Parsed {
  ContactCodeError error = ContactCodeError::kInternal;
  std::string message;
  ContactCode code;
};

Parsed parse(std::string_view text) {
  Parsed parsed;
  parsed.error = parse_contact_code(text, parsed.code, parsed.message);
  return parsed;
}

const char kFrozenCode[] =
    "entre:0400-20g3-0g2g-c1r8-1450-p30d-1r7h-048j-2ca1-a5gq-30ch-m6rw-3mf1-yjbx-ekqg";
const char kFrozenCodeWithHints[] =
    "entre:0400-20g3-0g2g-c1r8-1450-p30d-1r7h-048j-2ca1-a5gq-30ch-m6rw-3mf1-yqjs-zga0"
    "?h=udp:192.0.2.1:4000&h=relay.example/%C3%BC%20x";
const std::vector<std::string> kFrozenHints = {"udp:192.0.2.1:4000", "relay.example/\xc3\xbc x"};

// Position (0-based, in the text) of the n-th body symbol, skipping the prefix and the dashes.
std::size_t symbol_position(const std::string& code, std::size_t n) {
  std::size_t seen = 0;
  for (std::size_t i = kContactCodePrefix.size(); i < code.size(); ++i) {
    if (code[i] == '-') {
      continue;
    }
    if (seen++ == n) {
      return i;
    }
  }
  ADD_FAILURE() << "no symbol " << n;
  return 0;
}

TEST_F(IdentityTest, ContactCodeFormatIsFrozen) {
  EXPECT_EQ(encode(sequence_key(0)), kFrozenCode);
  EXPECT_EQ(encode(sequence_key(0), kFrozenHints), kFrozenCodeWithHints);
  EXPECT_EQ(std::string(kFrozenCode).size(), 6u + 60u + 14u);

  const Parsed plain = parse(kFrozenCode);
  ASSERT_EQ(plain.error, ContactCodeError::kOk) << plain.message;
  EXPECT_EQ(to_bytes(plain.code.user_id), sequence_key(0));
  EXPECT_TRUE(plain.code.hints.empty());
  const Parsed hinted = parse(kFrozenCodeWithHints);
  ASSERT_EQ(hinted.error, ContactCodeError::kOk) << hinted.message;
  EXPECT_EQ(to_bytes(hinted.code.user_id), sequence_key(0));
  EXPECT_EQ(hinted.code.hints, kFrozenHints);
}

TEST_F(IdentityTest, ContactCodeMatchesTheReferenceEncoderAndRoundTrips) {
  const std::vector<std::vector<std::string>> hint_sets = {
      {},
      {"udp:[2001:db8::1]:4000"},
      {"a", "100% sure & ready?", "x=y#z", "caf\xc3\xa9 \xe2\x98\x95", "\xf0\x9f\x94\x91"},
  };
  for (int round = 0; round < 50; ++round) {
    const Bytes key = random_key();
    for (const auto& hints : hint_sets) {
      const std::string text = encode(key, hints);
      EXPECT_EQ(text, reference_code(kContactCodeVersion, key, hints));
      const Parsed parsed = parse(text);
      ASSERT_EQ(parsed.error, ContactCodeError::kOk) << text << ": " << parsed.message;
      EXPECT_EQ(to_bytes(parsed.code.user_id), key);
      EXPECT_EQ(parsed.code.hints, hints);
    }
  }
}

TEST_F(IdentityTest, ContactCodeHintsAtTheirBounds) {
  const Bytes key = random_key();
  std::vector<std::string> hints;
  for (std::size_t i = 0; i < kMaxContactHints; ++i) {
    hints.push_back(std::string(kMaxContactHintBytes, static_cast<char>('a' + i)));
  }
  hints.back() = std::string(kMaxContactHintBytes / 2, '\x7e') + std::string(100, ' ');
  const std::string text = encode(key, hints);
  const Parsed parsed = parse(text);
  ASSERT_EQ(parsed.error, ContactCodeError::kOk) << parsed.message;
  EXPECT_EQ(parsed.code.hints, hints);
  EXPECT_LE(text.size(), kMaxContactCodeTextBytes);
}

TEST_F(IdentityTest, ContactCodeParsingIgnoresCaseDashesAndSpaces) {
  std::string upper = kFrozenCodeWithHints;
  const std::size_t query = upper.find('?');
  std::transform(
      upper.begin(), upper.begin() + static_cast<std::ptrdiff_t>(query), upper.begin(),
      [](char c) { return static_cast<char>(std::toupper(static_cast<unsigned char>(c))); });
  ASSERT_EQ(upper.substr(0, 10), "ENTRE:0400");

  std::string undashed;
  for (const char c : std::string_view(kFrozenCode)) {
    if (c != '-') {
      undashed.push_back(c);
    }
  }
  std::string spaced = "entre:";
  for (std::size_t i = 6; i < undashed.size(); ++i) {
    spaced.push_back(undashed[i]);
    if ((i - 6) % 5 == 4) {
      spaced += " - ";
    }
  }
  const std::string surrounded = "  \n\t" + std::string(kFrozenCode) + " \r\n";
  std::string mixed = kFrozenCode;
  for (std::size_t i = 0; i < mixed.size(); i += 3) {
    mixed[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[i])));
  }
  for (const std::string& text :
       {undashed, spaced, surrounded, mixed, std::string("entre: ") + (kFrozenCode + 6)}) {
    const Parsed parsed = parse(text);
    ASSERT_EQ(parsed.error, ContactCodeError::kOk) << text << ": " << parsed.message;
    EXPECT_EQ(to_bytes(parsed.code.user_id), sequence_key(0));
  }
  const Parsed parsed = parse(upper);
  ASSERT_EQ(parsed.error, ContactCodeError::kOk) << parsed.message;
  EXPECT_EQ(parsed.code.hints, kFrozenHints);
  // Percent escapes may be lower case, and a literal may be escaped: the checksum covers the
  // decoded hint.
  std::string lower_escapes = kFrozenCodeWithHints;
  lower_escapes.replace(lower_escapes.find("%C3%BC"), 6, "%c3%bc");
  lower_escapes.replace(lower_escapes.find("udp"), 3, "%75dp");
  const Parsed relaxed = parse(lower_escapes);
  ASSERT_EQ(relaxed.error, ContactCodeError::kOk) << relaxed.message;
  EXPECT_EQ(relaxed.code.hints, kFrozenHints);
}

TEST_F(IdentityTest, ContactCodeBadPrefix) {
  const std::string body = std::string(kFrozenCode).substr(6);
  for (const std::string& text :
       {std::string(), std::string("entre"), std::string("entre;") + body, "entr:" + body,
        "xentre:" + body, "https://entre:" + body, body, std::string("entre :") + body}) {
    const Parsed parsed = parse(text);
    EXPECT_EQ(parsed.error, ContactCodeError::kBadPrefix) << text;
    EXPECT_EQ(parsed.message, "contact code must start with \"entre:\"");
  }
}

TEST_F(IdentityTest, ContactCodeBadLength) {
  const std::string code = kFrozenCode;
  const Parsed short_one = parse(code.substr(0, code.size() - 1));
  EXPECT_EQ(short_one.error, ContactCodeError::kBadLength);
  EXPECT_EQ(short_one.message, "contact code has 59 characters after \"entre:\"; expected 60");
  const Parsed long_one = parse(code + "0");
  EXPECT_EQ(long_one.error, ContactCodeError::kBadLength);
  EXPECT_NE(long_one.message.find("has 61 characters"), std::string::npos);
  EXPECT_EQ(parse("entre:").error, ContactCodeError::kBadLength);
  EXPECT_EQ(parse("entre:---").error, ContactCodeError::kBadLength);
  EXPECT_EQ(parse(code.substr(0, 40) + code.substr(45)).error, ContactCodeError::kBadLength);
  const Parsed huge = parse(code + "?h=" + std::string(kMaxContactCodeTextBytes, 'a'));
  EXPECT_EQ(huge.error, ContactCodeError::kBadLength);
  EXPECT_EQ(huge.message, "contact code text is longer than 8192 bytes");
}

TEST_F(IdentityTest, ContactCodeBadAlphabetNamesCharacterAndPosition) {
  const std::string code = kFrozenCode;
  // Position 12 (1-based) is the 6th body symbol: "entre:0400-2" -> the '2'.
  ASSERT_EQ(code[11], '2');
  const struct {
    char replacement;
    const char* message;
  } cases[] = {
      {'o', "contact code: 'o' at position 12 is not in the alphabet (did you mean '0'?)"},
      {'O', "contact code: 'O' at position 12 is not in the alphabet (did you mean '0'?)"},
      {'i', "contact code: 'i' at position 12 is not in the alphabet (did you mean '1'?)"},
      {'L', "contact code: 'L' at position 12 is not in the alphabet (did you mean '1'?)"},
      {'u', "contact code: 'u' at position 12 is not in the alphabet (did you mean 'v'?)"},
      {'!', "contact code: '!' at position 12 is not in the alphabet"},
      {'_', "contact code: '_' at position 12 is not in the alphabet"},
      {'\x01', "contact code: byte 0x01 at position 12 is not in the alphabet"},
      {'\xc3', "contact code: byte 0xc3 at position 12 is not in the alphabet"},
  };
  for (const auto& c : cases) {
    std::string bad = code;
    bad[11] = c.replacement;
    const Parsed parsed = parse(bad);
    EXPECT_EQ(parsed.error, ContactCodeError::kBadAlphabet);
    EXPECT_EQ(parsed.message, c.message);
  }
  // Every position is reported correctly, counting from the start of the text as given.
  for (std::size_t n = 0; n < kContactCodeSymbols; ++n) {
    std::string bad = "  " + code;
    const std::size_t at = symbol_position(code, n) + 2;
    bad[at] = '=';
    const Parsed parsed = parse(bad);
    EXPECT_EQ(parsed.error, ContactCodeError::kBadAlphabet);
    EXPECT_NE(parsed.message.find("'=' at position " + std::to_string(at + 1) + " "),
              std::string::npos)
        << parsed.message;
  }
  // The alphabet is checked before the length: a short code with a bad character names it.
  EXPECT_EQ(parse("entre:01o").error, ContactCodeError::kBadAlphabet);
}

TEST_F(IdentityTest, ContactCodeEverySubstitutionFailsTheChecksum) {
  const std::string alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  for (const std::string& code : {std::string(kFrozenCode), std::string(kFrozenCodeWithHints),
                                  encode(random_key(), {"h1", "h2"})}) {
    int substitutions = 0;
    for (std::size_t n = 0; n < kContactCodeSymbols; ++n) {
      const std::size_t at = symbol_position(code, n);
      for (const char replacement : alphabet) {
        if (replacement == code[at]) {
          continue;
        }
        std::string bad = code;
        bad[at] = replacement;
        const Parsed parsed = parse(bad);
        EXPECT_EQ(parsed.error, ContactCodeError::kBadChecksum) << bad;
        ++substitutions;
      }
    }
    EXPECT_EQ(substitutions, 60 * 31);
    // Swapping two neighbouring, different symbols is caught too.
    for (std::size_t n = 0; n + 1 < kContactCodeSymbols; ++n) {
      std::string bad = code;
      const std::size_t a = symbol_position(code, n);
      const std::size_t b = symbol_position(code, n + 1);
      if (bad[a] == bad[b]) {
        continue;
      }
      std::swap(bad[a], bad[b]);
      EXPECT_EQ(parse(bad).error, ContactCodeError::kBadChecksum) << bad;
    }
  }
  const Parsed parsed = parse(std::string(kFrozenCode).replace(7, 1, "1"));
  EXPECT_EQ(parsed.message, "contact code checksum does not match: a character is mistyped");

  // Hints are covered: changing, dropping, adding or reordering one fails the checksum.
  const std::string hinted = kFrozenCodeWithHints;
  const std::string body = hinted.substr(0, hinted.find('?'));
  for (const std::string& text :
       {body, body + "?h=udp:192.0.2.1:4001&h=relay.example/%C3%BC%20x",
        body + "?h=udp:192.0.2.1:4000", body + "?h=relay.example/%C3%BC%20x&h=udp:192.0.2.1:4000",
        hinted + "&h=more", std::string(kFrozenCode) + "?h=x"}) {
    EXPECT_EQ(parse(text).error, ContactCodeError::kBadChecksum) << text;
  }
}

TEST_F(IdentityTest, ContactCodeUnsupportedVersion) {
  for (const uint8_t version : {0, 2, 0x80, 0xff}) {
    const std::string text = reference_code(version, sequence_key(7), {"udp:x"});
    const Parsed parsed = parse(text);
    EXPECT_EQ(parsed.error, ContactCodeError::kUnsupportedVersion) << text;
    EXPECT_EQ(parsed.message, "contact code version " + std::to_string(version) +
                                  " is not supported (this build reads version 1)");
  }
  EXPECT_EQ(parse(reference_code(1, sequence_key(7), {"udp:x"})).error, ContactCodeError::kOk);
}

TEST_F(IdentityTest, ContactCodeMalformedHints) {
  const std::string code = kFrozenCode;
  const struct {
    std::string query;
    std::string message;
  } cases[] = {
      {"", "contact code hints: expected \"h=\" at position 82"},
      {"x=1", "contact code hints: expected \"h=\" at position 82"},
      {"H=a", "contact code hints: expected \"h=\" at position 82"},
      {"h=a&&h=b", "contact code hints: expected \"h=\" at position 86"},
      {"h=a&", "contact code hints: expected \"h=\" at position 86"},
      {"h=", "contact code hint 1 is empty"},
      {"h=a&h=", "contact code hint 2 is empty"},
      {"h=a b", "contact code hints: byte 0x20 at position 85 must be percent-encoded"},
      {"h=a?b", "contact code hints: '?' at position 85 must be percent-encoded"},
      {"h=a=b", "contact code hints: '=' at position 85 must be percent-encoded"},
      {"h=%zz", "contact code hints: bad percent escape at position 84"},
      {"h=ab%4", "contact code hints: bad percent escape at position 86"},
      {"h=ab%", "contact code hints: bad percent escape at position 86"},
      {"h=a%0Ab", "contact code hint 1 contains a control character"},
      {"h=%7F", "contact code hint 1 contains a control character"},
      {"h=%FF", "contact code hint 1 is not valid UTF-8"},
      {"h=%C0%AF", "contact code hint 1 is not valid UTF-8"},       // overlong '/'
      {"h=%ED%A0%80", "contact code hint 1 is not valid UTF-8"},    // surrogate
      {"h=%F4%90%80%80", "contact code hint 1 is not valid UTF-8"}, // above U+10FFFF
      {"h=%C3", "contact code hint 1 is not valid UTF-8"},          // truncated sequence
      {"h=" + std::string(kMaxContactHintBytes + 1, 'a'),
       "contact code hint 1 is longer than 200 bytes"},
      {"h=a&h=" + std::string(kMaxContactHintBytes, 'b') + "%41",
       "contact code hint 2 is longer than 200 bytes"},
      {"h=1&h=2&h=3&h=4&h=5&h=6&h=7&h=8&h=9", "contact code has more than 8 hints"},
  };
  for (const auto& c : cases) {
    const Parsed parsed = parse(code + "?" + c.query);
    EXPECT_EQ(parsed.error, ContactCodeError::kMalformedHints) << c.query;
    EXPECT_EQ(parsed.message, c.message) << c.query;
  }
}

TEST_F(IdentityTest, ContactCodeEncodeRefusesWhatParseWouldRefuse) {
  const Bytes key = sequence_key(0);
  std::string text = "unchanged";
  std::string error;
  EXPECT_EQ(encode_contact_code(ByteSpan(key.data(), 31), {}, text, error),
            ContactCodeError::kBadKeyLength);
  EXPECT_EQ(error, "contact code needs a 32-byte user id");
  Bytes longer = key;
  longer.push_back(0);
  EXPECT_EQ(encode_contact_code(longer, {}, text, error), ContactCodeError::kBadKeyLength);

  const struct {
    std::vector<std::string> hints;
    std::string message;
  } cases[] = {
      {std::vector<std::string>(kMaxContactHints + 1, "x"), "contact code has more than 8 hints"},
      {{"a", ""}, "contact code hint 2 is empty"},
      {{std::string(kMaxContactHintBytes + 1, 'a')},
       "contact code hint 1 is longer than 200 bytes"},
      {{"line\nbreak"}, "contact code hint 1 contains a control character"},
      {{std::string("nul\0x", 5)}, "contact code hint 1 contains a control character"},
      {{"\xff"}, "contact code hint 1 is not valid UTF-8"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(encode_contact_code(key, c.hints, text, error), ContactCodeError::kMalformedHints);
    EXPECT_EQ(error, c.message);
  }
  EXPECT_EQ(text, "unchanged");
}

TEST_F(IdentityTest, ContactCodeErrorsHaveDistinctMessagesAndLeaveOutputAlone) {
  const std::string code = kFrozenCode;
  std::string bad_alphabet = code;
  bad_alphabet[11] = 'o';
  std::string bad_checksum = code;
  bad_checksum[7] = bad_checksum[7] == '1' ? '2' : '1';
  const std::vector<std::pair<std::string, ContactCodeError>> inputs = {
      {"entry:" + code.substr(6), ContactCodeError::kBadPrefix},
      {code.substr(0, code.size() - 2), ContactCodeError::kBadLength},
      {bad_alphabet, ContactCodeError::kBadAlphabet},
      {bad_checksum, ContactCodeError::kBadChecksum},
      {reference_code(2, sequence_key(0), {}), ContactCodeError::kUnsupportedVersion},
      {code + "?h=%", ContactCodeError::kMalformedHints},
  };
  std::set<std::string> messages;
  for (const auto& [text, want] : inputs) {
    ContactCode out;
    out.user_id.fill(0x5a);
    out.hints = {"keep"};
    std::string message;
    EXPECT_EQ(parse_contact_code(text, out, message), want) << text;
    EXPECT_FALSE(message.empty());
    EXPECT_LT(message.size(), 120u) << message;
    messages.insert(message);
    std::array<uint8_t, kUserIdBytes> sentinel{};
    sentinel.fill(0x5a);
    EXPECT_EQ(out.user_id, sentinel);
    EXPECT_EQ(out.hints, std::vector<std::string>{"keep"});
  }
  EXPECT_EQ(messages.size(), inputs.size());
}

// --- Fingerprints and safety numbers -------------------------------------------------------------

TEST_F(IdentityTest, FingerprintIsFrozenAndDistinguishesKeys) {
  std::string text;
  ASSERT_TRUE(fingerprint(sequence_key(0), text));
  EXPECT_EQ(text,
            "484d 400f 8a27 dfc0 fbb1 f7de 9b2b c4bd 5e9a 66f0 1eb0 5648 c619 20b5 4016 e51b");
  std::string again;
  ASSERT_TRUE(fingerprint(sequence_key(0), again));
  EXPECT_EQ(again, text);
  Bytes flipped = sequence_key(0);
  flipped[31] ^= 1;
  std::string other;
  ASSERT_TRUE(fingerprint(flipped, other));
  EXPECT_NE(other, text);
  EXPECT_EQ(other.size(), 79u);

  std::string untouched = "keep";
  EXPECT_FALSE(fingerprint(ByteSpan(flipped.data(), 31), untouched));
  EXPECT_FALSE(fingerprint(Bytes(33, 0), untouched));
  EXPECT_EQ(untouched, "keep");
}

TEST_F(IdentityTest, SafetyNumberIsFrozenSymmetricAndKeySpecific) {
  const Bytes a = sequence_key(0);
  const Bytes b = sequence_key(32);
  std::string ab;
  std::string ba;
  ASSERT_TRUE(safety_number(a, b, ab));
  ASSERT_TRUE(safety_number(b, a, ba));
  EXPECT_EQ(ab, "49670 79057 88744 02163 99556 78064 58121 60508 06241 05902 31716 91718");
  EXPECT_EQ(ba, ab);

  for (int round = 0; round < 20; ++round) {
    const Bytes x = random_key();
    const Bytes y = random_key();
    std::string xy;
    std::string yx;
    ASSERT_TRUE(safety_number(x, y, xy));
    ASSERT_TRUE(safety_number(y, x, yx));
    EXPECT_EQ(xy, yx);
    ASSERT_EQ(xy.size(), 71u);
    for (std::size_t i = 0; i < xy.size(); ++i) {
      if (i % 6 == 5) {
        EXPECT_EQ(xy[i], ' ');
      } else {
        EXPECT_TRUE(xy[i] >= '0' && xy[i] <= '9') << xy;
      }
    }
    EXPECT_NE(xy, ab);
  }

  // Changing either key by one bit changes the number; so does pairing with a third key.
  for (std::size_t i = 0; i < kUserIdBytes; ++i) {
    Bytes a2 = a;
    a2[i] ^= 0x01;
    Bytes b2 = b;
    b2[i] ^= 0x80;
    std::string changed_a;
    std::string changed_b;
    ASSERT_TRUE(safety_number(a2, b, changed_a));
    ASSERT_TRUE(safety_number(a, b2, changed_b));
    EXPECT_NE(changed_a, ab);
    EXPECT_NE(changed_b, ab);
    EXPECT_NE(changed_a, changed_b);
  }
  std::string ac;
  ASSERT_TRUE(safety_number(a, sequence_key(64), ac));
  EXPECT_NE(ac, ab);

  std::string untouched = "keep";
  EXPECT_FALSE(safety_number(ByteSpan(a.data(), 31), b, untouched));
  EXPECT_FALSE(safety_number(a, Bytes(33, 1), untouched));
  EXPECT_EQ(untouched, "keep");
}

} // namespace
} // namespace entre::plugins::sodium
