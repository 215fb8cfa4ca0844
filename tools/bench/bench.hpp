// Shared by the benchmark files: the ratio table that entre-bench prints after the runs.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace entre::bench {

// Seconds per iteration of each benchmark that ran, by name.
using Timings = std::map<std::string, double>;

struct Ratio {
  std::string what;
  std::string baseline;
  double measured_per_second = 0;
  double baseline_per_second = 0;
  double target = 0; // the ratio must be at least this
};

// A function that turns the timings into table rows; each benchmark file registers its own.
using RatioMaker = std::function<std::vector<Ratio>(const Timings&)>;
int register_ratios(RatioMaker maker);

} // namespace entre::bench
