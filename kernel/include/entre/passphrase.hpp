// Passphrases: the one rule every frontend applies to a new identity's passphrase, a strength
// estimate to show while it is typed, and the cost of the key derivation that stretches it.
//
// Contract
// - Pure functions of their arguments: no node, no threads, no allocation beyond the result.
// - The estimate guides a person; it is no proof of strength. The key derivation's cost (the
//   profile's [crypto] kdf) is what slows down a guesser who holds the stored identity.
// - Where a person chooses a passphrase (entre-host's prompt, entre-gui's first start) a
//   passphrase that is not `acceptable` is refused with `text` as the reason. A passphrase handed
//   over by a file or the environment (services, scripts) is only warned about.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace entre {

struct PassphraseStrength {
  int score = 0;           // 0 (refused) to 4 (strong)
  bool acceptable = false; // score >= kMinPassphraseScore
  std::string text;        // one sentence for a person: the verdict and what would help
};

inline constexpr int kMinPassphraseScore = 1;

// Length and character classes give an estimate in bits, where a run of one character or of a
// sequence ("aaaa", "1234", "abcd") counts as one character and a well-known choice ("password",
// "123456", ...) in a passphrase under 20 bytes scores 0. Scores: under 28 bits 0, under 40 1,
// under 56 2, under 72 3, else 4.
[[nodiscard]] PassphraseStrength passphrase_strength(std::string_view passphrase);

// The cost of one key derivation at a level ("interactive", "moderate", "sensitive") as a phrase
// for a person, e.g. "several seconds and about 1 GiB of memory": the figures are those of
// libsodium's Argon2id presets (which crypto-sodium uses; another suite's may differ), and
// `mem_limit_bytes` (0: the preset's) replaces the memory when the profile sets it.
[[nodiscard]] std::string key_derivation_cost_text(std::string_view level,
                                                   uint64_t mem_limit_bytes);

} // namespace entre
