#include <entre/passphrase.hpp>

#include <array>
#include <cctype>
#include <cmath>

namespace entre {

PassphraseStrength passphrase_strength(std::string_view p) {
  PassphraseStrength s;
  if (p.empty()) {
    s.text = "Choose a passphrase: it seals your identity and messages on this device.";
    return s;
  }
  std::string folded(p);
  for (char& c : folded) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  static constexpr std::array<const char*, 10> kKnown = {
      "password", "passphrase", "123456", "12345678", "qwerty",
      "letmein",  "iloveyou",   "admin",  "welcome",  "entre"};
  for (const char* known : kKnown) {
    if (folded.find(known) != std::string::npos && p.size() < 20) {
      s.text = "Too well known: guessers try this first.";
      return s;
    }
  }
  bool lower = false;
  bool upper = false;
  bool digit = false;
  bool other = false;
  for (const unsigned char c : p) {
    lower |= std::islower(c) != 0;
    upper |= std::isupper(c) != 0;
    digit |= std::isdigit(c) != 0;
    other |= std::isalnum(c) == 0;
  }
  const int classes = int{lower} + int{upper} + int{digit} + int{other};
  std::size_t effective = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const bool run = i >= 1 && (p[i] == p[i - 1] || p[i] == p[i - 1] + 1);
    effective += run ? 0 : 1;
  }
  const double alphabet = classes <= 1 ? 26.0 : classes == 2 ? 36.0 : classes == 3 ? 62.0 : 90.0;
  const double bits = static_cast<double>(effective) * std::log2(alphabet);
  s.score = bits < 28 ? 0 : bits < 40 ? 1 : bits < 56 ? 2 : bits < 72 ? 3 : 4;
  s.acceptable = s.score >= kMinPassphraseScore;
  static constexpr std::array<const char*, 5> kText = {
      "Too short or too simple (repeated and sequential characters count once).",
      "Weak: add words or characters.", "Fair: a few more words make it strong.", "Good.",
      "Strong."};
  s.text = kText[static_cast<std::size_t>(s.score)];
  return s;
}

std::string key_derivation_cost_text(std::string_view level, uint64_t mem_limit_bytes) {
  std::string time;
  uint64_t memory = 0;
  if (level == "interactive") {
    time = "well under a second";
    memory = 64ull << 20;
  } else if (level == "sensitive") {
    time = "several seconds";
    memory = 1ull << 30;
  } else {
    time = "about a second";
    memory = 256ull << 20;
  }
  if (mem_limit_bytes != 0) {
    memory = mem_limit_bytes;
  }
  const std::string amount =
      memory >= (1ull << 30) && memory % (1ull << 30) == 0 ? std::to_string(memory >> 30) + " GiB"
      : memory >= (1ull << 20) ? std::to_string((memory + (1ull << 19)) >> 20) + " MiB"
                               : std::to_string((memory + 512) >> 10) + " KiB";
  return time + " and about " + amount + " of memory";
}

} // namespace entre
