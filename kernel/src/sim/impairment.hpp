// The impairment model shared by the scenario network (SimNetwork) and entre-impair: what happens
// to one frame crossing an imperfect link.
//
// For each frame, in this order and always drawing from the caller's generator in the same order
// (so a seed reproduces a run):
//   1. lost with probability `loss`                                   -> dropped, nothing else
//   drawn
//   2. duplicated with probability `duplicate`                        -> two copies instead of one
//   3. held back with probability `reorder`: the first copy waits `reorder_delay_ms` more, so
//      frames sent after it overtake it
//   4. each copy waits latency_ms + a uniform draw in [0, jitter_ms] (independently per copy)
// Jitter alone can reorder frames too (as with netem); `reorder` forces it even without jitter.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>

namespace entre::sim {

struct Impairment {
  double loss = 0.0;      // 0..1
  double duplicate = 0.0; // 0..1
  double reorder = 0.0;   // 0..1
  uint32_t latency_ms = 0;
  uint32_t jitter_ms = 0;
  uint32_t reorder_delay_ms = 10; // extra wait of a held-back frame
};

inline constexpr uint32_t kMaxImpairmentDelayMs = 600'000;

// The fate of one frame: `copies` is 0 (dropped), 1, or 2 (duplicated); delay_ms[i] is when copy i
// arrives, counted from the send.
struct Fate {
  uint32_t copies = 0;
  bool reordered = false;
  std::array<uint32_t, 2> delay_ms{};
};

// Draws the fate of one frame. Deterministic for a given generator state.
[[nodiscard]] Fate decide_fate(const Impairment& impairment, std::mt19937_64& rng);

// A uniform draw in [0, 1) built from the generator's bits, the same with every standard library
// (std::uniform_real_distribution is not).
[[nodiscard]] double unit_draw(std::mt19937_64& rng);

// A uniform draw in [0, bound], the same with every standard library.
[[nodiscard]] uint32_t bounded_draw(std::mt19937_64& rng, uint32_t bound);

// Empty when every field is in range; otherwise says which field is wrong and why.
[[nodiscard]] std::string check_impairment(const Impairment& impairment);

} // namespace entre::sim
