// A manual clock with a timer queue, for scenario tests that must not depend on real time.
//
// Contract
// - Time is a count of milliseconds that only moves when the test moves it: advance(), run_for(),
//   run_until() or run_until_idle(). Nothing runs on its own and there are no threads.
// - Timers run in time order; timers due at the same millisecond run in the order they were
//   scheduled. Inside a callback, now_ms() is the timer's due time.
// - A callback may schedule and cancel timers, including for "now": such a timer runs in the same
//   call, after the timers already due at that time.
// - A time in the past is treated as now. Cancelling a timer that already ran or was cancelled is
//   harmless (returns false).
// - Not thread-safe: one thread (the test's) owns the clock and everything that runs on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

namespace entre::sim {

class FakeClock {
 public:
  // Names one scheduled timer: its due time and a sequence number that orders timers of the same
  // millisecond by insertion.
  struct TimerId {
    uint64_t at_ms = 0;
    uint64_t seq = 0;
    auto operator<=>(const TimerId&) const = default;
  };

  explicit FakeClock(uint64_t start_ms = 0) : now_ms_(start_ms) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  [[nodiscard]] uint64_t now_ms() const { return now_ms_; }

  // Runs `fn` at `at_ms` (or now, if that has passed). Returns an id for cancel().
  TimerId schedule(uint64_t at_ms, std::function<void()> fn);
  TimerId schedule_in(uint64_t delay_ms, std::function<void()> fn) {
    return schedule(now_ms_ + delay_ms, std::move(fn));
  }
  // Returns true if the timer was pending (it will not run).
  bool cancel(TimerId id);

  // Moves time forward by `ms`, running each timer that falls due on the way at its own time.
  void advance(uint64_t ms) { run_until(now_ms_ + ms); }
  void run_for(uint64_t ms) { advance(ms); }
  // Runs every timer due at or before `at_ms` in order, then sets the time to `at_ms` (time never
  // goes back). Returns the number of callbacks run.
  std::size_t run_until(uint64_t at_ms);
  // Runs timers, moving time to each, until none is left or `max_callbacks` have run (a guard
  // against timers that re-arm forever). Returns the number of callbacks run.
  std::size_t run_until_idle(std::size_t max_callbacks = 100'000'000);

  [[nodiscard]] std::size_t pending() const { return timers_.size(); }
  [[nodiscard]] std::optional<uint64_t> next_due_ms() const;

 private:
  // Runs the first timer if it is due at or before `limit_ms`; false if there is none.
  bool run_next(uint64_t limit_ms);

  uint64_t now_ms_;
  uint64_t next_seq_ = 1;
  std::map<TimerId, std::function<void()>> timers_;
};

} // namespace entre::sim
