// Shared by the benchmark files: the tables that entre-bench prints after the runs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace entre::bench {

// Seconds per iteration of each benchmark that ran, by name ("BM_Ratchet/100": the function name,
// then the arguments if any; not the iterations:/repeats:/manual_time suffixes).
using Timings = std::map<std::string, double>;

// The user counters (state.counters) of each benchmark that ran, by benchmark name as in Timings,
// then by counter name.
using Counters = std::map<std::string, std::map<std::string, double>>;

// Every value is the median of the benchmark's repetitions.
struct Results {
  Timings timings;
  Counters counters;

  // The counter, or a negative value when that benchmark or counter did not run.
  [[nodiscard]] double counter(const std::string& bench, const std::string& name) const;
};

struct Ratio {
  std::string what;
  std::string baseline;
  double measured_per_second = 0;
  double baseline_per_second = 0;
  double target = 0; // the ratio must be at least this; 0: no target (a figure for context)
};

// A function that turns the timings into table rows; each benchmark file registers its own.
using RatioMaker = std::function<std::vector<Ratio>(const Timings&)>;
int register_ratios(RatioMaker maker);

// A row of the second table, for figures that are not rates: latencies, sizes, times. The maker
// formats the values and decides whether the target is met.
struct Figure {
  std::string what;
  std::string measured;          // with its unit, e.g. "412 us"
  std::string baseline;          // empty when the figure has none
  std::string baseline_measured; // with its unit
  std::string ratio;             // measured / baseline, formatted; empty when none
  std::string target;            // e.g. "ratio <= 5"; "-" or empty: none (met is ignored)
  bool met = false;
};

using FigureMaker = std::function<std::vector<Figure>(const Results&)>;
int register_figures(FigureMaker maker);

// `v` with `decimals` decimals and its unit after a space ("412 us"; no space for unit "").
inline std::string fixed(double v, int decimals, const char* unit) {
  char buf[64];
  (void)std::snprintf(buf, sizeof buf, "%.*f%s%s", decimals, v, *unit != '\0' ? " " : "", unit);
  return buf;
}

// The nearest-rank percentile (q in 0..1) of the samples; 0 for none.
inline double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) {
    return 0;
  }
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
  return samples[std::clamp<std::size_t>(rank, 1, samples.size()) - 1];
}

} // namespace entre::bench
