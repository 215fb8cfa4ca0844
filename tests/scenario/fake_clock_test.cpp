// The fake clock: time moves only when the test moves it, timers run in order.
#include "sim/fake_clock.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace entre::sim {
namespace {

TEST(FakeClockTest, TimeMovesOnlyWhenTold) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.now_ms(), 1000u);
  clock.advance(5);
  EXPECT_EQ(clock.now_ms(), 1005u);
  clock.run_until(1002); // never backwards
  EXPECT_EQ(clock.now_ms(), 1005u);
  clock.run_for(10);
  EXPECT_EQ(clock.now_ms(), 1015u);
}

TEST(FakeClockTest, TimersRunInTimeOrderAndTiesInInsertionOrder) {
  FakeClock clock;
  std::vector<std::string> ran;
  clock.schedule(30, [&] { ran.push_back("c@" + std::to_string(clock.now_ms())); });
  clock.schedule(10, [&] { ran.push_back("a1@" + std::to_string(clock.now_ms())); });
  clock.schedule(20, [&] { ran.push_back("b@" + std::to_string(clock.now_ms())); });
  clock.schedule(10, [&] { ran.push_back("a2@" + std::to_string(clock.now_ms())); });
  EXPECT_EQ(clock.pending(), 4u);
  EXPECT_EQ(clock.next_due_ms(), 10u);
  EXPECT_EQ(clock.run_until(20), 3u);
  EXPECT_EQ(ran, (std::vector<std::string>{"a1@10", "a2@10", "b@20"}));
  EXPECT_EQ(clock.now_ms(), 20u);
  clock.run_until_idle();
  EXPECT_EQ(ran.back(), "c@30");
  EXPECT_EQ(clock.pending(), 0u);
  EXPECT_FALSE(clock.next_due_ms().has_value());
}

TEST(FakeClockTest, CancelledTimersDoNotRun) {
  FakeClock clock;
  int runs = 0;
  const auto id = clock.schedule_in(5, [&] { ++runs; });
  clock.schedule_in(6, [&] { ++runs; });
  EXPECT_TRUE(clock.cancel(id));
  EXPECT_FALSE(clock.cancel(id));
  clock.run_for(10);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(clock.cancel(FakeClock::TimerId{6, 12345}));
}

TEST(FakeClockTest, CallbacksMayScheduleAndCancelIncludingForNow) {
  FakeClock clock;
  std::vector<int> ran;
  FakeClock::TimerId doomed{};
  clock.schedule(10, [&] {
    ran.push_back(1);
    clock.schedule(clock.now_ms(), [&] { ran.push_back(3); }); // same ms, after those queued
    clock.schedule(5, [&] { ran.push_back(4); });              // in the past: now
    clock.cancel(doomed);
  });
  clock.schedule(10, [&] { ran.push_back(2); });
  doomed = clock.schedule(15, [&] { ran.push_back(99); });
  clock.run_until(10);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3, 4}));
  clock.run_until_idle();
  EXPECT_EQ(ran.size(), 4u);
}

TEST(FakeClockTest, RunUntilIdleFollowsChainsAndStopsAtItsLimit) {
  FakeClock clock;
  int ticks = 0;
  std::function<void()> tick = [&] {
    ++ticks;
    clock.schedule_in(100, tick); // re-arms forever
  };
  clock.schedule_in(100, tick);
  EXPECT_EQ(clock.run_until_idle(50), 50u);
  EXPECT_EQ(ticks, 50);
  EXPECT_EQ(clock.now_ms(), 5000u);
  EXPECT_EQ(clock.pending(), 1u);
}

TEST(FakeClockTest, NowInsideACallbackIsItsDueTime) {
  FakeClock clock;
  std::vector<uint64_t> seen;
  for (uint64_t at : {7u, 3u, 11u}) {
    clock.schedule(at, [&] { seen.push_back(clock.now_ms()); });
  }
  clock.advance(100);
  EXPECT_EQ(seen, (std::vector<uint64_t>{3, 7, 11}));
  EXPECT_EQ(clock.now_ms(), 100u);
}

} // namespace
} // namespace entre::sim
