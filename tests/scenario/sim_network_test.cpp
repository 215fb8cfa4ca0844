// The scenario network itself: reproducible from a seed, and each impairment measured over
// 100,000 frames against the rate it was set to.
#include "scenario_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

namespace entre::scenario {
namespace {

using sim::FakeClock;
using sim::LinkCounters;
using sim::LinkSettings;
using sim::SimNetwork;

constexpr uint32_t kFrames = 100'000;

// Once nothing is in flight, every frame sent (and every duplicate made) was delivered or dropped.
void expect_balanced(const LinkCounters& c) {
  EXPECT_EQ(c.sent + c.duplicated, c.delivered + c.dropped)
      << "sent " << c.sent << " duplicated " << c.duplicated << " delivered " << c.delivered
      << " dropped " << c.dropped;
}

struct Blast {
  std::vector<Arrival> arrivals; // at b, in arrival order
  LinkCounters counters;         // a -> b
};

// Sends `frames` numbered frames from a to b, one every `spacing_ms` (all at once for 0), over a
// link with `settings`, and runs the clock until everything has arrived or been dropped.
Blast blast(const LinkSettings& settings, uint64_t seed, uint32_t frames = kFrames,
            uint32_t spacing_ms = 0) {
  FakeClock clock;
  SimNetwork net(clock, seed);
  net.set_link("a", "b", settings);
  Peer a(net, "a");
  Peer b(net, "b");
  for (uint32_t i = 0; i < frames; ++i) {
    if (spacing_ms == 0) {
      EXPECT_TRUE(a.send(b, numbered(i)).is_ok());
    } else {
      clock.schedule(uint64_t{i} * spacing_ms, [&a, &b, i] { (void)a.send(b, numbered(i)); });
    }
  }
  clock.run_until_idle();
  EXPECT_EQ(net.in_flight(), 0u);
  Blast out{std::move(b.inbox.arrivals), net.counters("a", "b")};
  expect_balanced(out.counters);
  return out;
}

// A fixed mix of traffic between three nodes over impaired links; returns what arrived where and
// when, as text.
std::vector<std::string> trace_of(uint64_t seed) {
  FakeClock clock;
  SimNetwork net(clock, seed);
  net.set_default({.impairment = {.loss = 0.1,
                                  .duplicate = 0.05,
                                  .reorder = 0.1,
                                  .latency_ms = 15,
                                  .jitter_ms = 10,
                                  .reorder_delay_ms = 8}});
  net.set_link("b", "c", {.impairment = {.latency_ms = 3}, .bandwidth_bytes_per_s = 50'000});
  Peer a(net, "a");
  Peer b(net, "b");
  Peer c(net, "c");
  Peer* peers[] = {&a, &b, &c};
  for (uint32_t i = 0; i < 3000; ++i) {
    Peer& from = *peers[i % 3];
    Peer& to = *peers[(i / 3 + 1 + i % 3) % 3];
    clock.schedule(i / 4, [&from, &to, i] { (void)from.send(to, numbered(i, 16 + i % 200)); });
  }
  clock.run_until_idle();
  std::vector<std::string> trace;
  for (Peer* p : peers) {
    for (const Arrival& r : p->inbox.arrivals) {
      trace.push_back(std::to_string(r.at_ms) + " " + r.from + "->" + p->transport.name() + " #" +
                      std::to_string(number_of(r.frame)) + " " + std::to_string(r.frame.size()));
    }
  }
  return trace;
}

TEST(SimNetworkTest, SameSeedSameDeliveriesAtTheSameTimes) {
  const auto first = trace_of(42);
  const auto second = trace_of(42);
  ASSERT_GT(first.size(), 2000u);
  EXPECT_EQ(first, second);
  EXPECT_NE(first, trace_of(43)) << "a different seed should give a different run";
}

TEST(SimNetworkTest, PerfectLinkDeliversEverythingInOrderAtOnce) {
  const Blast r = blast({}, 1, 1000);
  ASSERT_EQ(r.arrivals.size(), 1000u);
  for (uint32_t i = 0; i < r.arrivals.size(); ++i) {
    EXPECT_EQ(number_of(r.arrivals[i].frame), i);
    EXPECT_EQ(r.arrivals[i].at_ms, 0u);
    EXPECT_EQ(r.arrivals[i].from, "sim:a");
  }
  EXPECT_EQ(r.counters, (LinkCounters{1000, 1000, 0, 0, 0}));
}

TEST(SimNetworkTest, LossRateIsWhatWasSet) {
  const Blast r = blast({.impairment = {.loss = 0.1}}, 7);
  const double rate = static_cast<double>(r.counters.dropped) / kFrames;
  RecordProperty("measured_loss", std::to_string(rate));
  EXPECT_NEAR(rate, 0.1, 0.005);
  EXPECT_EQ(r.arrivals.size(), kFrames - r.counters.dropped);
  std::set<uint32_t> seen;
  for (const Arrival& a : r.arrivals) {
    EXPECT_TRUE(seen.insert(number_of(a.frame)).second) << "loss alone never duplicates";
  }
}

TEST(SimNetworkTest, DuplicateRateIsWhatWasSet) {
  const Blast r = blast({.impairment = {.duplicate = 0.05}}, 8);
  const double rate = static_cast<double>(r.counters.duplicated) / kFrames;
  RecordProperty("measured_duplicate", std::to_string(rate));
  EXPECT_NEAR(rate, 0.05, 0.004);
  std::map<uint32_t, int> copies;
  for (const Arrival& a : r.arrivals) {
    ++copies[number_of(a.frame)];
  }
  EXPECT_EQ(copies.size(), kFrames) << "nothing lost";
  const auto twice = std::count_if(copies.begin(), copies.end(),
                                   [](const auto& entry) { return entry.second == 2; });
  EXPECT_EQ(static_cast<uint64_t>(twice), r.counters.duplicated);
  EXPECT_EQ(r.arrivals.size(), kFrames + r.counters.duplicated);
}

TEST(SimNetworkTest, ReorderHoldsFramesBackSoLaterOnesOvertake) {
  // One frame a millisecond, a held-back frame waits 10 ms more: about ten later frames pass it.
  const Blast r = blast({.impairment = {.reorder = 0.25, .latency_ms = 5, .reorder_delay_ms = 10}},
                        9, kFrames, 1);
  const double rate = static_cast<double>(r.counters.reordered) / kFrames;
  RecordProperty("measured_reorder", std::to_string(rate));
  EXPECT_NEAR(rate, 0.25, 0.007);
  ASSERT_EQ(r.arrivals.size(), kFrames);
  // A frame is overtaken when it arrives after a frame sent later.
  uint64_t overtaken = 0;
  uint32_t highest = 0;
  for (const Arrival& a : r.arrivals) {
    const uint32_t seq = number_of(a.frame);
    if (seq < highest) {
      ++overtaken;
    }
    highest = std::max(highest, seq);
  }
  RecordProperty("overtaken", std::to_string(overtaken));
  EXPECT_NEAR(static_cast<double>(overtaken), static_cast<double>(r.counters.reordered),
              0.01 * kFrames);
  for (const Arrival& a : r.arrivals) {
    const uint64_t delay = a.at_ms - number_of(a.frame);
    EXPECT_TRUE(delay == 5 || delay == 15) << delay;
  }
}

TEST(SimNetworkTest, LatencyAndJitterStayInBoundsAndSpreadEvenly) {
  const Blast r = blast({.impairment = {.latency_ms = 20, .jitter_ms = 10}}, 10);
  ASSERT_EQ(r.arrivals.size(), kFrames);
  std::map<uint64_t, uint32_t> histogram;
  for (const Arrival& a : r.arrivals) {
    ++histogram[a.at_ms]; // all sent at 0, so arrival time is the delay
  }
  EXPECT_EQ(histogram.begin()->first, 20u);
  EXPECT_EQ(histogram.rbegin()->first, 30u);
  EXPECT_EQ(histogram.size(), 11u);
  const double mean = std::accumulate(r.arrivals.begin(), r.arrivals.end(), 0.0,
                                      [](double sum, const Arrival& a) {
                                        return sum + static_cast<double>(a.at_ms);
                                      }) /
                      kFrames;
  RecordProperty("mean_delay_ms", std::to_string(mean));
  EXPECT_NEAR(mean, 25.0, 0.1);
  for (const auto& [delay, count] : histogram) {
    EXPECT_NEAR(count, kFrames / 11.0, kFrames / 11.0 * 0.1) << "delay " << delay;
  }
}

TEST(SimNetworkTest, ImpairmentsCombine) {
  const Blast r = blast({.impairment = {.loss = 0.2, .duplicate = 0.1, .latency_ms = 1}}, 11);
  const double delivered_per_frame = static_cast<double>(r.arrivals.size()) / kFrames;
  EXPECT_NEAR(delivered_per_frame, 0.8 * 1.1, 0.01);
  EXPECT_NEAR(static_cast<double>(r.counters.dropped) / kFrames, 0.2, 0.006);
}

TEST(SimNetworkTest, LinksAreDirectedAndFallBackToTheDefault) {
  FakeClock clock;
  SimNetwork net(clock, 1);
  net.set_default({.impairment = {.latency_ms = 7}});
  net.set_link("a", "b", {.impairment = {.latency_ms = 30}});
  Peer a(net, "a");
  Peer b(net, "b");
  ASSERT_TRUE(a.send(b, numbered(1)).is_ok());
  ASSERT_TRUE(b.send(a, numbered(2)).is_ok());
  clock.run_until_idle();
  ASSERT_EQ(b.inbox.arrivals.size(), 1u);
  ASSERT_EQ(a.inbox.arrivals.size(), 1u);
  EXPECT_EQ(b.inbox.arrivals[0].at_ms, 30u);
  EXPECT_EQ(a.inbox.arrivals[0].at_ms, 7u);
  net.clear_link("a", "b");
  EXPECT_EQ(net.link_settings("a", "b").impairment.latency_ms, 7u);
}

TEST(SimNetworkTest, BandwidthSerialisesFramesAndDropsPastTheQueueLimit) {
  FakeClock clock;
  SimNetwork net(clock, 1);
  // 1000-byte frames on a 100 kB/s link: one every 10 ms; at most 200 ms of queue.
  net.set_link("a", "b",
               {.impairment = {}, .bandwidth_bytes_per_s = 100'000, .queue_limit_ms = 200});
  Peer a(net, "a");
  Peer b(net, "b");
  for (uint32_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(a.send(b, numbered(i, 1000)).is_ok());
  }
  clock.run_until_idle();
  ASSERT_EQ(b.inbox.arrivals.size(), 21u); // waits of 0, 10, ..., 200 ms fit
  for (uint32_t i = 0; i < 21; ++i) {
    EXPECT_EQ(b.inbox.arrivals[i].at_ms, 10u * (i + 1));
  }
  const LinkCounters c = net.counters("a", "b");
  EXPECT_EQ(c.dropped, 29u);
  expect_balanced(c);
}

TEST(SimNetworkTest, PartitionDropsBothWaysIncludingInFlightAndHeals) {
  FakeClock clock;
  SimNetwork net(clock, 1);
  net.set_default({.impairment = {.latency_ms = 50}});
  Peer a(net, "a");
  Peer b(net, "b");
  Peer c(net, "c");
  ASSERT_TRUE(a.send(b, numbered(1)).is_ok()); // in flight when the partition starts
  clock.run_for(10);
  const auto cut = net.partition({"a"}, {"b", "c"});
  EXPECT_TRUE(net.partitioned("a", "b") && net.partitioned("c", "a"));
  EXPECT_FALSE(net.partitioned("b", "c"));
  ASSERT_TRUE(a.send(b, numbered(2)).is_ok());
  ASSERT_TRUE(b.send(a, numbered(3)).is_ok());
  ASSERT_TRUE(c.send(a, numbered(4)).is_ok());
  ASSERT_TRUE(b.send(c, numbered(5)).is_ok()); // same side: unaffected
  clock.run_for(200);
  EXPECT_TRUE(a.inbox.arrivals.empty());
  EXPECT_TRUE(b.inbox.arrivals.empty());
  ASSERT_EQ(c.inbox.arrivals.size(), 1u);
  EXPECT_EQ(net.counters("a", "b").dropped, 2u);
  EXPECT_EQ(net.counters("b", "a").dropped, 1u);

  net.heal(cut);
  EXPECT_FALSE(net.partitioned("a", "b"));
  ASSERT_TRUE(a.send(b, numbered(6)).is_ok());
  ASSERT_TRUE(b.send(a, numbered(7)).is_ok());
  clock.run_until_idle();
  ASSERT_EQ(b.inbox.arrivals.size(), 1u);
  EXPECT_EQ(number_of(b.inbox.arrivals[0].frame), 6u);
  ASSERT_EQ(a.inbox.arrivals.size(), 1u);
  EXPECT_EQ(number_of(a.inbox.arrivals[0].frame), 7u);
  expect_balanced(net.totals());
}

TEST(SimNetworkTest, FramesToAStoppedOrUnknownNodeAreDropped) {
  FakeClock clock;
  SimNetwork net(clock, 1);
  net.set_default({.impairment = {.latency_ms = 5}});
  Peer a(net, "a");
  Peer b(net, "b");
  ASSERT_TRUE(a.send(b, numbered(1)).is_ok());
  b.transport.stop();
  EXPECT_FALSE(net.attached("b"));
  ASSERT_TRUE(a.transport.send("sim:nobody", sdk::ByteView(numbered(2))).is_ok());
  clock.run_until_idle();
  EXPECT_TRUE(b.inbox.arrivals.empty());
  EXPECT_EQ(net.counters("a", "b").dropped, 1u);
  EXPECT_EQ(net.counters("a", "nobody").dropped, 1u);
  expect_balanced(net.totals());
}

TEST(SimNetworkTest, DeliveriesLeftOnTheClockDoNothingOnceTheNetworkIsGone) {
  FakeClock clock;
  bool ran_later = false;
  {
    SimNetwork net(clock, 1);
    net.set_default({.impairment = {.latency_ms = 100}});
    Peer a(net, "a");
    Peer b(net, "b");
    ASSERT_TRUE(a.send(b, numbered(1)).is_ok());
    EXPECT_EQ(net.in_flight(), 1u);
    clock.schedule(200, [&] { ran_later = true; });
  }
  EXPECT_EQ(clock.run_until_idle(), 2u);
  EXPECT_TRUE(ran_later);
}

TEST(SimNetworkTest, EndpointsAreSimColonName) {
  EXPECT_EQ(sim::parse_sim_endpoint("sim:alice"), "alice");
  EXPECT_EQ(sim::parse_sim_endpoint("sim:node-1.b_2"), "node-1.b_2");
  for (const char* bad : {"", "sim", "sim:", "udp:alice", "sim:al ice", "sim:a:b", "SIM:alice",
                          "sim:alice\n", "simalice"}) {
    EXPECT_FALSE(sim::parse_sim_endpoint(bad).has_value()) << bad;
  }
  EXPECT_FALSE(sim::parse_sim_endpoint("sim:" + std::string(65, 'x')).has_value());
  EXPECT_TRUE(sim::parse_sim_endpoint("sim:" + std::string(64, 'x')).has_value());
  EXPECT_EQ(sim::sim_endpoint("bob"), "sim:bob");
}

TEST(SimNetworkTest, ImpairmentSettingsAreChecked) {
  EXPECT_EQ(sim::check_impairment({}), "");
  EXPECT_NE(sim::check_impairment({.loss = 1.5}), "");
  EXPECT_NE(sim::check_impairment({.duplicate = -0.1}), "");
  EXPECT_NE(sim::check_impairment({.reorder = std::nan("")}), "");
  EXPECT_NE(sim::check_impairment({.latency_ms = sim::kMaxImpairmentDelayMs + 1}), "");
}

} // namespace
} // namespace entre::scenario
