// libFuzzer target: contact codes (plugins/crypto-sodium/identity.hpp, docs/protocol.md "Contact
// codes"), the text a user pastes from anyone.
//
// Input: the first byte selects a mode (its low bit), the rest is the body.
//   0  body = text, parsed as given.
//   1  body = a code to write: flags (1 byte), symbol (1 byte), replacement (1 byte), the user id
//      (32 bytes; zeros where the body is shorter), then hints joined by '\n' (empty ones
//      included; no hints when nothing follows the user id). The code is encoded, then written
//      again as the flags say, in ways the grammar says parse alike:
//        bit 0  prefix and body in upper case
//        bits 1-2  between body symbols: groups of 4 joined by '-' / nothing / a space after
//               each symbol / groups joined by "\t-\r\n"
//        bit 3  whitespace around the whole text
//        bit 4  every hint byte percent-encoded, literal characters included
//        bit 5  percent escapes in lower-case hex
//        bit 6  instead: body symbol number `symbol` (mod 60) replaced by another one
// Oracles (a violation aborts):
//   - a refusal says why, in under 120 bytes, and leaves the output untouched;
//   - what parses obeys the bounds: at most kMaxContactHints hints, each 1 to
//     kMaxContactHintBytes bytes without control characters;
//   - what parses encodes again, and that code parses to the same user id and hints;
//   - the encoder refuses only hints that break a rule, and accepts every list of at most
//     kMaxContactHints hints of 1 to kMaxContactHintBytes printable ASCII characters;
//   - a code the encoder wrote parses to its user id and hints, as written and as rewritten;
//   - a code with one body symbol changed never parses to its user id: the checksum (or, if the
//     checksum happens to collide, the version check) refuses it, and a change that touches only
//     the checksum and padding bits (symbols 53 to 59) is always refused as kBadChecksum.
#include "identity.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using entre::plugins::sodium::ByteSpan;
using entre::plugins::sodium::ContactCode;
using entre::plugins::sodium::ContactCodeError;
using entre::plugins::sodium::encode_contact_code;
using entre::plugins::sodium::kContactCodePrefix;
using entre::plugins::sodium::kContactCodeSymbols;
using entre::plugins::sodium::kMaxContactHintBytes;
using entre::plugins::sodium::kMaxContactHints;
using entre::plugins::sodium::kUserIdBytes;
using entre::plugins::sodium::parse_contact_code;

constexpr std::string_view kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";
// The first body symbol whose 5 bits lie wholly in the checksum and padding: bit 5 * 53 = 265 is
// past the version and user id (bits 0 to 263).
constexpr std::size_t kFirstChecksumSymbol = 53;
constexpr std::size_t kMaxMessageBytes = 120;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

bool is_control(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

bool within_bounds(const std::vector<std::string>& hints) {
  return hints.size() <= kMaxContactHints &&
         std::all_of(hints.begin(), hints.end(), [](const std::string& h) {
           return !h.empty() && h.size() <= kMaxContactHintBytes &&
                  std::none_of(h.begin(), h.end(), is_control);
         });
}

bool printable_ascii(const std::vector<std::string>& hints) {
  return std::all_of(hints.begin(), hints.end(), [](const std::string& h) {
    return std::all_of(h.begin(), h.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  });
}

bool same(const ContactCode& a, const ContactCode& b) {
  return a.user_id == b.user_id && a.hints == b.hints;
}

ContactCodeError parse(std::string_view text, ContactCode& out) {
  std::string error;
  const ContactCode before = out;
  const ContactCodeError e = parse_contact_code(text, out, error);
  if (e != ContactCodeError::kOk) {
    check(!error.empty() && error.size() < kMaxMessageBytes);
    check(same(out, before));
  }
  return e;
}

// Encodes `code` and parses the result: it must come back the same.
std::string encode_and_parse_back(const ContactCode& code) {
  std::string text;
  std::string error;
  check(encode_contact_code(ByteSpan(code.user_id), code.hints, text, error) ==
        ContactCodeError::kOk);
  ContactCode again;
  check(parse(text, again) == ContactCodeError::kOk && same(again, code));
  return text;
}

void parse_text(std::string_view text) {
  ContactCode code;
  code.user_id.fill(0xa5);
  code.hints = {"untouched"};
  if (parse(text, code) != ContactCodeError::kOk) {
    return;
  }
  check(within_bounds(code.hints));
  (void)encode_and_parse_back(code);
}

bool is_literal(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == ':' || c == '/' || c == '@';
}

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

// The code's text written again from its parts, as `flags` say (see the top of the file).
std::string rewrite(const std::string& symbols, const std::vector<std::string>& hints,
                    uint8_t flags) {
  const bool upper_case = (flags & 0x01) != 0;
  std::string text(upper_case ? "ENTRE:" : kContactCodePrefix);
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    const bool group_start = i > 0 && i % 4 == 0;
    switch ((flags >> 1) & 3) {
    case 0:
      text += group_start ? "-" : "";
      break;
    case 2:
      text += i > 0 ? " " : "";
      break;
    case 3:
      text += group_start ? "\t-\r\n" : "";
      break;
    default:
      break;
    }
    text.push_back(upper_case ? upper(symbols[i]) : symbols[i]);
  }
  const char* digits = (flags & 0x20) != 0 ? "0123456789abcdef" : "0123456789ABCDEF";
  for (std::size_t i = 0; i < hints.size(); ++i) {
    text += i == 0 ? "?h=" : "&h=";
    for (const char c : hints[i]) {
      if (is_literal(c) && (flags & 0x10) == 0) {
        text.push_back(c);
      } else {
        const auto byte = static_cast<unsigned char>(c);
        text.push_back('%');
        text.push_back(digits[byte >> 4]);
        text.push_back(digits[byte & 15]);
      }
    }
  }
  return (flags & 0x08) != 0 ? " \t\r\n" + text + "\n " : text;
}

void write_code(std::span<const uint8_t> body) {
  const auto at = [&](std::size_t i) -> uint8_t { return i < body.size() ? body[i] : 0; };
  const uint8_t flags = at(0);
  const std::size_t symbol = at(1) % kContactCodeSymbols;
  const uint8_t replacement = at(2);
  ContactCode code;
  for (std::size_t i = 0; i < kUserIdBytes; ++i) {
    code.user_id[i] = at(3 + i);
  }
  const std::size_t hints_at = 3 + kUserIdBytes;
  if (body.size() > hints_at) {
    const std::string_view rest(reinterpret_cast<const char*>(body.data()) + hints_at,
                                body.size() - hints_at);
    std::size_t start = 0;
    while (true) {
      const std::size_t end = std::min(rest.find('\n', start), rest.size());
      code.hints.emplace_back(rest.substr(start, end - start));
      if (end == rest.size()) {
        break;
      }
      start = end + 1;
    }
  }

  std::string text;
  std::string error;
  const ContactCodeError e = encode_contact_code(ByteSpan(code.user_id), code.hints, text, error);
  if (e != ContactCodeError::kOk) {
    check(!error.empty() && error.size() < kMaxMessageBytes);
    check(!within_bounds(code.hints) || !printable_ascii(code.hints));
    return;
  }
  check(within_bounds(code.hints));
  text = encode_and_parse_back(code);

  // The body's symbols, without the prefix, the dashes and the hints.
  std::string symbols;
  for (std::size_t i = kContactCodePrefix.size(); i < text.size() && text[i] != '?'; ++i) {
    if (text[i] != '-') {
      symbols.push_back(text[i]);
    }
  }
  check(symbols.size() == kContactCodeSymbols);

  if ((flags & 0x40) == 0) {
    ContactCode again;
    check(parse(rewrite(symbols, code.hints, flags), again) == ContactCodeError::kOk);
    check(same(again, code));
    return;
  }
  const auto old_value = kAlphabet.find(symbols[symbol]);
  check(old_value != std::string_view::npos);
  symbols[symbol] = kAlphabet[(old_value + 1 + replacement % 31) % 32];
  ContactCode changed;
  const ContactCodeError result = parse(rewrite(symbols, code.hints, flags & ~0x40), changed);
  if (symbol >= kFirstChecksumSymbol) {
    check(result == ContactCodeError::kBadChecksum);
  }
  check(result == ContactCodeError::kBadChecksum ||
        result == ContactCodeError::kUnsupportedVersion ||
        (result == ContactCodeError::kOk && changed.user_id != code.user_id));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::span<const uint8_t> body(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    parse_text(std::string_view(reinterpret_cast<const char*>(body.data()), body.size()));
  } else {
    write_code(body);
  }
  return 0;
}
