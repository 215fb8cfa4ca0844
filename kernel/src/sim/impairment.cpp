#include "sim/impairment.hpp"

namespace entre::sim {

double unit_draw(std::mt19937_64& rng) {
  // The top 53 bits make a double with every representable value equally likely.
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

uint32_t bounded_draw(std::mt19937_64& rng, uint32_t bound) {
  if (bound == 0) {
    return 0;
  }
  // Rejection sampling so the result is exactly uniform.
  const uint64_t range = uint64_t{bound} + 1;
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % range);
  uint64_t x = rng();
  while (x >= limit) {
    x = rng();
  }
  return static_cast<uint32_t>(x % range);
}

Fate decide_fate(const Impairment& impairment, std::mt19937_64& rng) {
  Fate fate;
  if (unit_draw(rng) < impairment.loss) {
    return fate;
  }
  fate.copies = unit_draw(rng) < impairment.duplicate ? 2 : 1;
  fate.reordered = unit_draw(rng) < impairment.reorder;
  for (uint32_t i = 0; i < fate.copies; ++i) {
    fate.delay_ms[i] = impairment.latency_ms + bounded_draw(rng, impairment.jitter_ms);
  }
  if (fate.reordered) {
    fate.delay_ms[0] += impairment.reorder_delay_ms;
  }
  return fate;
}

std::string check_impairment(const Impairment& impairment) {
  const auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };
  if (!probability(impairment.loss)) {
    return "loss must be between 0 and 1";
  }
  if (!probability(impairment.duplicate)) {
    return "duplicate must be between 0 and 1";
  }
  if (!probability(impairment.reorder)) {
    return "reorder must be between 0 and 1";
  }
  if (impairment.latency_ms > kMaxImpairmentDelayMs ||
      impairment.jitter_ms > kMaxImpairmentDelayMs ||
      impairment.reorder_delay_ms > kMaxImpairmentDelayMs) {
    return "latency, jitter and reorder delay must each be at most " +
           std::to_string(kMaxImpairmentDelayMs) + " ms";
  }
  return {};
}

} // namespace entre::sim
