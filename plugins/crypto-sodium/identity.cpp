#include "identity.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

namespace entre::plugins::sodium {
namespace {

// BLAKE2b personalisation strings: exactly crypto_generichash_blake2b_PERSONALBYTES (16) bytes.
constexpr char kContactPersonal[] = "entre-contact-v1";
constexpr char kFingerprintPersonal[] = "entre-fingerp-v1";
constexpr char kSafetyPersonal[] = "entre-safetyn-v1";
static_assert(sizeof kContactPersonal - 1 == crypto_generichash_blake2b_PERSONALBYTES);
static_assert(sizeof kFingerprintPersonal - 1 == crypto_generichash_blake2b_PERSONALBYTES);
static_assert(sizeof kSafetyPersonal - 1 == crypto_generichash_blake2b_PERSONALBYTES);

constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
static_assert(kAlphabet.size() == 32);
static_assert(kContactCodeSymbols * 5 >= kContactPayloadBytes * 8);
static_assert(kContactCodeSymbols * 5 < kContactPayloadBytes * 8 + 5);

const unsigned char* personal(const char* text) noexcept {
  return reinterpret_cast<const unsigned char*>(text);
}

// --- Identity blob -------------------------------------------------------------------------------

constexpr std::size_t kBlobX25519Offset = 1;
constexpr std::size_t kBlobSeedOffset = 1 + kX25519Bytes;

IdentityError check_blob(ByteSpan blob) noexcept {
  if (!init_sodium()) {
    return IdentityError::kSodiumUnavailable;
  }
  if (blob.size() != kIdentityBlobBytes) {
    return IdentityError::kBadBlobLength;
  }
  if (blob[0] != kIdentityBlobVersion) {
    return IdentityError::kUnsupportedVersion;
  }
  return IdentityError::kOk;
}

// --- Contact codes -------------------------------------------------------------------------------

bool is_ascii_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Value of one body symbol, case-insensitive; -1 if it is not in the alphabet.
int symbol_value(char c) noexcept {
  const auto at = kAlphabet.find(ascii_lower(c));
  return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// The alphabet leaves out letters that look like digits; say which digit was probably meant.
const char* confusable_hint(char c) noexcept {
  switch (ascii_lower(c)) {
  case 'o':
    return " (did you mean '0'?)";
  case 'i':
  case 'l':
    return " (did you mean '1'?)";
  case 'u':
    return " (did you mean 'v'?)";
  default:
    return "";
  }
}

// A character for a message: printable ASCII as itself, anything else as a byte value.
std::string describe_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  char buffer[16];
  if (byte >= 0x21 && byte <= 0x7e) {
    std::snprintf(buffer, sizeof buffer, "'%c'", c);
  } else {
    std::snprintf(buffer, sizeof buffer, "byte 0x%02x", byte);
  }
  return buffer;
}

bool is_hint_literal(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/' || c == '@';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    uint32_t min = 0;
    uint32_t cp = 0;
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    if ((b0 & 0xe0) == 0xc0) {
      extra = 1;
      min = 0x80;
      cp = b0 & 0x1fu;
    } else if ((b0 & 0xf0) == 0xe0) {
      extra = 2;
      min = 0x800;
      cp = b0 & 0x0fu;
    } else if ((b0 & 0xf8) == 0xf0) {
      extra = 3;
      min = 0x10000;
      cp = b0 & 0x07u;
    } else {
      return false;
    }
    if (s.size() - i <= extra) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (b & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// The rules every decoded hint obeys, on both the encoding and the parsing side. `number` is
// 1-based, for the message.
bool check_hint(std::string_view hint, std::size_t number, std::string& error) {
  if (hint.empty()) {
    error = "contact code hint " + std::to_string(number) + " is empty";
    return false;
  }
  if (hint.size() > kMaxContactHintBytes) {
    error = "contact code hint " + std::to_string(number) + " is longer than " +
            std::to_string(kMaxContactHintBytes) + " bytes";
    return false;
  }
  for (const char c : hint) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      error = "contact code hint " + std::to_string(number) + " contains a control character";
      return false;
    }
  }
  if (!is_valid_utf8(hint)) {
    error = "contact code hint " + std::to_string(number) + " is not valid UTF-8";
    return false;
  }
  return true;
}

std::string too_many_hints_message() {
  return "contact code has more than " + std::to_string(kMaxContactHints) + " hints";
}

// First kContactChecksumBytes of the personalised BLAKE2b-256 over version || user id || hints.
void contact_checksum(uint8_t version, ByteSpan user_id, std::span<const std::string> hints,
                      uint8_t out[kContactChecksumBytes]) noexcept {
  constexpr std::size_t kHashBytes = 32;
  crypto_generichash_blake2b_state state;
  crypto_generichash_blake2b_init_salt_personal(&state, nullptr, 0, kHashBytes, nullptr,
                                                personal(kContactPersonal));
  crypto_generichash_blake2b_update(&state, &version, 1);
  crypto_generichash_blake2b_update(&state, user_id.data(), user_id.size());
  for (const auto& hint : hints) {
    const auto length = static_cast<uint8_t>(hint.size()); // bounded by kMaxContactHintBytes
    crypto_generichash_blake2b_update(&state, &length, 1);
    crypto_generichash_blake2b_update(&state, reinterpret_cast<const uint8_t*>(hint.data()),
                                      hint.size());
  }
  uint8_t hash[kHashBytes];
  crypto_generichash_blake2b_final(&state, hash, kHashBytes);
  std::memcpy(out, hash, kContactChecksumBytes);
}

ContactCodeError encode_impl(ByteSpan user_id, std::span<const std::string> hints,
                             std::string& text_out, std::string& error_out) {
  if (user_id.size() != kUserIdBytes) {
    error_out = "contact code needs a " + std::to_string(kUserIdBytes) + "-byte user id";
    return ContactCodeError::kBadKeyLength;
  }
  if (hints.size() > kMaxContactHints) {
    error_out = too_many_hints_message();
    return ContactCodeError::kMalformedHints;
  }
  for (std::size_t i = 0; i < hints.size(); ++i) {
    if (!check_hint(hints[i], i + 1, error_out)) {
      return ContactCodeError::kMalformedHints;
    }
  }

  std::array<uint8_t, kContactPayloadBytes> payload{};
  payload[0] = kContactCodeVersion;
  std::memcpy(payload.data() + 1, user_id.data(), kUserIdBytes);
  contact_checksum(kContactCodeVersion, user_id, hints, payload.data() + 1 + kUserIdBytes);

  std::string text(kContactCodePrefix);
  uint32_t buffer = 0;
  std::size_t bits = 0;
  std::size_t symbols = 0;
  const auto emit = [&](uint32_t value) {
    if (symbols > 0 && symbols % kContactGroupSymbols == 0) {
      text.push_back('-');
    }
    text.push_back(kAlphabet[value & 31u]);
    ++symbols;
  };
  for (const uint8_t byte : payload) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      emit(buffer >> bits);
    }
  }
  if (bits > 0) {
    emit(buffer << (5 - bits)); // zero padding bits
  }

  static constexpr char kHexDigits[] = "0123456789ABCDEF";
  for (std::size_t i = 0; i < hints.size(); ++i) {
    text += (i == 0) ? "?h=" : "&h=";
    for (const char c : hints[i]) {
      if (is_hint_literal(c)) {
        text.push_back(c);
      } else {
        const auto byte = static_cast<unsigned char>(c);
        text.push_back('%');
        text.push_back(kHexDigits[byte >> 4]);
        text.push_back(kHexDigits[byte & 15]);
      }
    }
  }
  text_out = std::move(text);
  return ContactCodeError::kOk;
}

// Parses the part after '?' (starting at byte `offset` of the text, for positions in messages).
ContactCodeError parse_hints(std::string_view query, std::size_t offset,
                             std::vector<std::string>& hints, std::string& error) {
  std::size_t start = 0;
  while (true) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string_view field = query.substr(start, end - start);
    if (hints.size() == kMaxContactHints) {
      error = too_many_hints_message();
      return ContactCodeError::kMalformedHints;
    }
    if (field.substr(0, 2) != "h=") {
      error =
          "contact code hints: expected \"h=\" at position " + std::to_string(offset + start + 1);
      return ContactCodeError::kMalformedHints;
    }
    std::string hint;
    for (std::size_t i = 2; i < field.size(); ++i) {
      const std::size_t position = offset + start + i + 1;
      const char c = field[i];
      if (c == '%') {
        const int high = i + 2 < field.size() ? hex_value(field[i + 1]) : -1;
        const int low = i + 2 < field.size() ? hex_value(field[i + 2]) : -1;
        if (high < 0 || low < 0) {
          error = "contact code hints: bad percent escape at position " + std::to_string(position);
          return ContactCodeError::kMalformedHints;
        }
        hint.push_back(static_cast<char>(high * 16 + low));
        i += 2;
      } else if (is_hint_literal(c)) {
        hint.push_back(c);
      } else {
        error = "contact code hints: " + describe_char(c) + " at position " +
                std::to_string(position) + " must be percent-encoded";
        return ContactCodeError::kMalformedHints;
      }
      if (hint.size() > kMaxContactHintBytes) {
        break; // check_hint reports it; stop copying
      }
    }
    if (!check_hint(hint, hints.size() + 1, error)) {
      return ContactCodeError::kMalformedHints;
    }
    hints.push_back(std::move(hint));
    if (end == query.size()) {
      return ContactCodeError::kOk;
    }
    start = end + 1;
  }
}

ContactCodeError parse_impl(std::string_view text, ContactCode& code_out, std::string& error_out) {
  if (text.size() > kMaxContactCodeTextBytes) {
    error_out =
        "contact code text is longer than " + std::to_string(kMaxContactCodeTextBytes) + " bytes";
    return ContactCodeError::kBadLength;
  }
  // Positions in messages count bytes of the text as given, from 1.
  std::size_t begin = 0;
  std::size_t end = text.size();
  while (begin < end && is_ascii_space(text[begin])) {
    ++begin;
  }
  while (end > begin && is_ascii_space(text[end - 1])) {
    --end;
  }
  const std::size_t prefix_size = kContactCodePrefix.size();
  bool prefix_ok = end - begin >= prefix_size;
  for (std::size_t i = 0; prefix_ok && i < prefix_size; ++i) {
    prefix_ok = ascii_lower(text[begin + i]) == kContactCodePrefix[i];
  }
  if (!prefix_ok) {
    error_out = "contact code must start with \"entre:\"";
    return ContactCodeError::kBadPrefix;
  }

  const std::size_t body_begin = begin + prefix_size;
  const std::size_t body_end = std::min(text.find('?', body_begin), end);
  std::array<uint8_t, kContactCodeSymbols> symbols{};
  std::size_t count = 0;
  for (std::size_t i = body_begin; i < body_end; ++i) {
    const char c = text[i];
    if (c == '-' || is_ascii_space(c)) {
      continue;
    }
    const int value = symbol_value(c);
    if (value < 0) {
      error_out = "contact code: " + describe_char(c) + " at position " + std::to_string(i + 1) +
                  " is not in the alphabet" + confusable_hint(c);
      return ContactCodeError::kBadAlphabet;
    }
    if (count < kContactCodeSymbols) {
      symbols[count] = static_cast<uint8_t>(value);
    }
    ++count;
  }
  if (count != kContactCodeSymbols) {
    error_out = "contact code has " + std::to_string(count) + " characters after \"entre:\"; " +
                "expected " + std::to_string(kContactCodeSymbols);
    return ContactCodeError::kBadLength;
  }

  std::vector<std::string> hints;
  if (body_end < end) {
    const std::string_view query = text.substr(body_end + 1, end - body_end - 1);
    const auto result = parse_hints(query, body_end + 1, hints, error_out);
    if (result != ContactCodeError::kOk) {
      return result;
    }
  }

  std::array<uint8_t, kContactPayloadBytes> payload{};
  uint32_t buffer = 0;
  std::size_t bits = 0;
  std::size_t filled = 0;
  for (const uint8_t value : symbols) {
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      payload[filled++] = static_cast<uint8_t>(buffer >> bits);
    }
  }
  const uint32_t padding = buffer & ((1u << bits) - 1u);

  const uint8_t version = payload[0];
  const ByteSpan user_id(payload.data() + 1, kUserIdBytes);
  uint8_t expected[kContactChecksumBytes];
  contact_checksum(version, user_id, hints, expected);
  const bool checksum_ok =
      equal_ct(ByteSpan(expected, kContactChecksumBytes),
               ByteSpan(payload.data() + 1 + kUserIdBytes, kContactChecksumBytes));
  if (filled != kContactPayloadBytes || padding != 0 || !checksum_ok) {
    error_out = "contact code checksum does not match: a character is mistyped";
    return ContactCodeError::kBadChecksum;
  }
  if (version != kContactCodeVersion) {
    error_out = "contact code version " + std::to_string(version) +
                " is not supported (this build reads version " +
                std::to_string(kContactCodeVersion) + ")";
    return ContactCodeError::kUnsupportedVersion;
  }

  std::copy(user_id.begin(), user_id.end(), code_out.user_id.begin());
  code_out.hints = std::move(hints);
  return ContactCodeError::kOk;
}

// --- Fingerprint ---------------------------------------------------------------------------------

constexpr std::size_t kFingerprintHashBytes = 32;
constexpr std::size_t kFingerprintGroupChars = 4;

} // namespace

// --- Identity ------------------------------------------------------------------------------------

const char* identity_error_message(IdentityError error) noexcept {
  switch (error) {
  case IdentityError::kOk:
    return "ok";
  case IdentityError::kBadBlobLength:
    return "identity secret has the wrong length (expected 65 bytes)";
  case IdentityError::kUnsupportedVersion:
    return "identity secret has an unsupported format version";
  case IdentityError::kBadKeyLength:
    return "signing key must be 32 bytes";
  case IdentityError::kBadSignatureLength:
    return "signature must be 64 bytes";
  case IdentityError::kBadSignature:
    return "signature does not verify";
  case IdentityError::kSodiumUnavailable:
    return "libsodium could not be initialised";
  }
  return "unknown identity error";
}

IdentityError generate_identity(Secret<kIdentityBlobBytes>& blob_out,
                                std::array<uint8_t, kUserIdBytes>& user_id_out) noexcept {
  if (!init_sodium()) {
    return IdentityError::kSodiumUnavailable;
  }
  Secret<kIdentityBlobBytes> blob;
  blob.data()[0] = kIdentityBlobVersion;
  randombytes_buf(blob.data() + 1, kIdentityBlobBytes - 1);
  std::array<uint8_t, kUserIdBytes> user_id{};
  crypto_scalarmult_base(user_id.data(), blob.data() + kBlobX25519Offset);
  blob_out = blob;
  user_id_out = user_id;
  return IdentityError::kOk;
}

IdentityError identity_public(ByteSpan blob,
                              std::array<uint8_t, kUserIdBytes>& user_id_out) noexcept {
  if (const auto error = check_blob(blob); error != IdentityError::kOk) {
    return error;
  }
  crypto_scalarmult_base(user_id_out.data(), blob.data() + kBlobX25519Offset);
  return IdentityError::kOk;
}

IdentityError
identity_signing_public(ByteSpan blob,
                        std::array<uint8_t, kSigningPublicBytes>& signing_key_out) noexcept {
  if (const auto error = check_blob(blob); error != IdentityError::kOk) {
    return error;
  }
  Secret<crypto_sign_SECRETKEYBYTES> secret_key;
  crypto_sign_seed_keypair(signing_key_out.data(), secret_key.data(),
                           blob.data() + kBlobSeedOffset);
  return IdentityError::kOk;
}

IdentityError identity_x25519_secret(ByteSpan blob, Secret<kX25519Bytes>& secret_out) noexcept {
  if (const auto error = check_blob(blob); error != IdentityError::kOk) {
    return error;
  }
  std::memcpy(secret_out.data(), blob.data() + kBlobX25519Offset, kX25519Bytes);
  return IdentityError::kOk;
}

IdentityError identity_sign(ByteSpan blob, ByteSpan message,
                            std::array<uint8_t, kSignatureBytes>& signature_out) noexcept {
  if (const auto error = check_blob(blob); error != IdentityError::kOk) {
    return error;
  }
  Secret<crypto_sign_SECRETKEYBYTES> secret_key;
  std::array<uint8_t, crypto_sign_PUBLICKEYBYTES> public_key{};
  crypto_sign_seed_keypair(public_key.data(), secret_key.data(), blob.data() + kBlobSeedOffset);
  crypto_sign_detached(signature_out.data(), nullptr, message.data(), message.size(),
                       secret_key.data());
  return IdentityError::kOk;
}

IdentityError identity_verify(ByteSpan signing_key, ByteSpan message, ByteSpan signature) noexcept {
  if (!init_sodium()) {
    return IdentityError::kSodiumUnavailable;
  }
  if (signing_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return IdentityError::kBadKeyLength;
  }
  if (signature.size() != crypto_sign_BYTES) {
    return IdentityError::kBadSignatureLength;
  }
  if (crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                  signing_key.data()) != 0) {
    return IdentityError::kBadSignature;
  }
  return IdentityError::kOk;
}

// --- Contact codes -------------------------------------------------------------------------------

ContactCodeError encode_contact_code(ByteSpan user_id, std::span<const std::string> hints,
                                     std::string& text_out, std::string& error_out) noexcept {
  try {
    if (!init_sodium()) {
      error_out = "libsodium could not be initialised";
      return ContactCodeError::kInternal;
    }
    return encode_impl(user_id, hints, text_out, error_out);
  } catch (const std::bad_alloc&) {
    return ContactCodeError::kInternal;
  }
}

ContactCodeError parse_contact_code(std::string_view text, ContactCode& code_out,
                                    std::string& error_out) noexcept {
  try {
    if (!init_sodium()) {
      error_out = "libsodium could not be initialised";
      return ContactCodeError::kInternal;
    }
    return parse_impl(text, code_out, error_out);
  } catch (const std::bad_alloc&) {
    return ContactCodeError::kInternal;
  }
}

// --- Fingerprints and safety numbers -------------------------------------------------------------

bool fingerprint(ByteSpan public_key, std::string& text_out) noexcept {
  if (public_key.size() != kUserIdBytes || !init_sodium()) {
    return false;
  }
  uint8_t hash[kFingerprintHashBytes];
  crypto_generichash_blake2b_salt_personal(hash, sizeof hash, public_key.data(), public_key.size(),
                                           nullptr, 0, nullptr, personal(kFingerprintPersonal));
  static constexpr char kHexDigits[] = "0123456789abcdef";
  try {
    std::string text;
    text.reserve(kFingerprintHashBytes * 2 + kFingerprintHashBytes * 2 / kFingerprintGroupChars);
    for (std::size_t i = 0; i < kFingerprintHashBytes * 2; ++i) {
      if (i > 0 && i % kFingerprintGroupChars == 0) {
        text.push_back(' ');
      }
      const uint8_t byte = hash[i / 2];
      text.push_back(kHexDigits[(i % 2 == 0) ? (byte >> 4) : (byte & 15)]);
    }
    text_out = std::move(text);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

bool safety_number(ByteSpan key_a, ByteSpan key_b, std::string& text_out) noexcept {
  if (key_a.size() != kUserIdBytes || key_b.size() != kUserIdBytes || !init_sodium()) {
    return false;
  }
  const bool a_first = std::memcmp(key_a.data(), key_b.data(), kUserIdBytes) <= 0;
  const ByteSpan lo = a_first ? key_a : key_b;
  const ByteSpan hi = a_first ? key_b : key_a;

  constexpr std::size_t kHashBytes = crypto_generichash_blake2b_BYTES_MAX; // 64
  static_assert(kSafetyNumberGroups * 5 <= kHashBytes);
  std::array<uint8_t, kHashBytes> hash{};
  const auto round = [&](bool chained) {
    crypto_generichash_blake2b_state state;
    crypto_generichash_blake2b_init_salt_personal(&state, nullptr, 0, kHashBytes, nullptr,
                                                  personal(kSafetyPersonal));
    if (chained) {
      crypto_generichash_blake2b_update(&state, hash.data(), hash.size());
    }
    crypto_generichash_blake2b_update(&state, lo.data(), lo.size());
    crypto_generichash_blake2b_update(&state, hi.data(), hi.size());
    crypto_generichash_blake2b_final(&state, hash.data(), hash.size());
  };
  round(false);
  for (std::size_t i = 0; i < kSafetyNumberRounds; ++i) {
    round(true);
  }

  try {
    std::string text;
    text.reserve(kSafetyNumberGroups * 6);
    for (std::size_t group = 0; group < kSafetyNumberGroups; ++group) {
      uint64_t value = 0;
      for (std::size_t k = 0; k < 5; ++k) {
        value = (value << 8) | hash[group * 5 + k];
      }
      char digits[8];
      std::snprintf(digits, sizeof digits, "%05u", static_cast<unsigned>(value % 100000));
      if (group > 0) {
        text.push_back(' ');
      }
      text += digits;
    }
    text_out = std::move(text);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

} // namespace entre::plugins::sodium
