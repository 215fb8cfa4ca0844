#include "sim/fake_clock.hpp"

#include <utility>

namespace entre::sim {

FakeClock::TimerId FakeClock::schedule(uint64_t at_ms, std::function<void()> fn) {
  const TimerId id{at_ms < now_ms_ ? now_ms_ : at_ms, next_seq_++};
  timers_.emplace_hint(timers_.end(), id, std::move(fn));
  return id;
}

bool FakeClock::cancel(TimerId id) { return timers_.erase(id) > 0; }

std::optional<uint64_t> FakeClock::next_due_ms() const {
  if (timers_.empty()) {
    return std::nullopt;
  }
  return timers_.begin()->first.at_ms;
}

bool FakeClock::run_next(uint64_t limit_ms) {
  if (timers_.empty() || timers_.begin()->first.at_ms > limit_ms) {
    return false;
  }
  auto node = timers_.extract(timers_.begin());
  now_ms_ = node.key().at_ms;
  // The callback may schedule or cancel timers: it owns its function object from here on.
  std::function<void()> fn = std::move(node.mapped());
  fn();
  return true;
}

std::size_t FakeClock::run_until(uint64_t at_ms) {
  std::size_t ran = 0;
  while (run_next(at_ms)) {
    ++ran;
  }
  if (at_ms > now_ms_) {
    now_ms_ = at_ms;
  }
  return ran;
}

std::size_t FakeClock::run_until_idle(std::size_t max_callbacks) {
  std::size_t ran = 0;
  while (ran < max_callbacks && run_next(UINT64_MAX)) {
    ++ran;
  }
  return ran;
}

} // namespace entre::sim
