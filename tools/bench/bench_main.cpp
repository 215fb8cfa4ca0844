// entre-bench: runs the Google Benchmark targets, then prints each figure as a ratio against the
// baseline measured in the same run, with its target: the median of interleaved repetitions. A
// second table holds the figures that are not rates (latency percentiles, times, sizes), built from
// the benchmarks' user counters. Exit status 0 even when a target is missed: figures are reported,
// not asserted (docs/performance.md keeps the latest tables).
#include "bench.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace entre::bench {

namespace {

std::vector<RatioMaker>& makers() {
  static std::vector<RatioMaker> list;
  return list;
}

std::vector<FigureMaker>& figure_makers() {
  static std::vector<FigureMaker> list;
  return list;
}

// "BM_Ratchet/100": the function name and the arguments, without the suffixes Google Benchmark
// adds for fixed iterations, repetitions or manual time.
std::string short_name(const benchmark::BenchmarkReporter::Run& run) {
  std::string name = run.run_name.function_name;
  if (!run.run_name.args.empty()) {
    name += "/" + run.run_name.args;
  }
  return name;
}

template <typename V> V median_of(std::vector<V> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      if (run.run_type == Run::RT_Iteration && run.iterations > 0 && !run.error_occurred) {
        const std::string name = short_name(run);
        samples[name].push_back(run.real_accumulated_time / static_cast<double>(run.iterations));
        for (const auto& [counter, value] : run.counters) {
          counter_samples[name][counter].push_back(value.value);
        }
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  // The median of each benchmark's repetitions (--benchmark_repetitions), in seconds.
  [[nodiscard]] Results medians() const {
    Results out;
    for (const auto& [name, values] : samples) {
      out.timings[name] = median_of(values);
    }
    for (const auto& [name, counters] : counter_samples) {
      for (const auto& [counter, values] : counters) {
        out.counters[name][counter] = median_of(values);
      }
    }
    return out;
  }
  std::map<std::string, std::vector<double>> samples;
  std::map<std::string, std::map<std::string, std::vector<double>>> counter_samples;
};

} // namespace

int register_ratios(RatioMaker maker) {
  makers().push_back(std::move(maker));
  return 0;
}

int register_figures(FigureMaker maker) {
  figure_makers().push_back(std::move(maker));
  return 0;
}

double Results::counter(const std::string& bench, const std::string& name) const {
  const auto b = counters.find(bench);
  if (b == counters.end()) {
    return -1;
  }
  const auto c = b->second.find(name);
  return c == b->second.end() ? -1 : c->second;
}

} // namespace entre::bench

int main(int argc, char** argv) {
  // Defaults for a noisy shared machine: repetitions in random interleaved order (so a slow spell
  // hits baseline and figure alike) and their median. Flags given on the command line win.
  std::vector<char*> args(argv, argv + argc);
  std::string reps = "--benchmark_repetitions=7";
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  std::string min_time = "--benchmark_min_time=0.2";
  args.insert(args.begin() + 1, {reps.data(), interleave.data(), min_time.data()});
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  argc = count;
  argv = args.data();
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 2;
  }
  entre::bench::CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  const entre::bench::Results results = reporter.medians();
  std::vector<entre::bench::Ratio> ratios;
  for (const auto& maker : entre::bench::makers()) {
    for (auto& r : maker(results.timings)) {
      ratios.push_back(std::move(r));
    }
  }
  if (!ratios.empty()) {
    std::printf("\n| figure | per second | baseline | baseline per second | ratio | target |\n");
    std::printf("|---|---:|---|---:|---:|---:|\n");
    for (const auto& r : ratios) {
      const double ratio =
          r.baseline_per_second > 0 ? r.measured_per_second / r.baseline_per_second : 0;
      if (r.target <= 0) { // a figure for context, with no target of its own
        std::printf("| %s | %.0f | %s | %.0f | %.2f | - |\n", r.what.c_str(), r.measured_per_second,
                    r.baseline.c_str(), r.baseline_per_second, ratio);
        continue;
      }
      std::printf("| %s | %.0f | %s | %.0f | %.2f | >= %.2f %s |\n", r.what.c_str(),
                  r.measured_per_second, r.baseline.c_str(), r.baseline_per_second, ratio, r.target,
                  ratio >= r.target ? "met" : "MISSED");
    }
  }
  std::vector<entre::bench::Figure> figures;
  for (const auto& maker : entre::bench::figure_makers()) {
    for (auto& f : maker(results)) {
      figures.push_back(std::move(f));
    }
  }
  if (!figures.empty()) {
    std::printf("\n| figure | measured | baseline | baseline measured | ratio | target |\n");
    std::printf("|---|---:|---|---:|---:|---:|\n");
    for (const auto& f : figures) {
      const bool has_target = !f.target.empty() && f.target != "-";
      std::printf("| %s | %s | %s | %s | %s | %s%s |\n", f.what.c_str(), f.measured.c_str(),
                  f.baseline.empty() ? "-" : f.baseline.c_str(),
                  f.baseline_measured.empty() ? "-" : f.baseline_measured.c_str(),
                  f.ratio.empty() ? "-" : f.ratio.c_str(), has_target ? f.target.c_str() : "-",
                  !has_target ? ""
                  : f.met     ? " met"
                              : " MISSED");
    }
  }
  return 0;
}
