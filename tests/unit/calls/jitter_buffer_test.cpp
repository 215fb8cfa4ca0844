// The jitter buffer against simulated networks: a sender emits one packet per 20 ms frame, the
// network delays each by its own amount (and loses, reorders or repeats some), and the audio
// clock asks for a frame every 20 ms. Each test checks what a listener would notice.
#include "calls/jitter_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>

namespace entre::calls {
namespace {

constexpr int64_t kFrameMs = 20;

struct Arrival {
  int64_t at_ms;
  uint64_t seq;
};

struct Outcome {
  std::vector<uint64_t> played;     // seqs in the order they played
  std::vector<int64_t> delay_ms;    // for each played frame: play time - send time
  std::vector<int64_t> delay_at_ms; // when
  uint64_t lost_ticks = 0;          // concealed ticks before the last frame of the stream played
  std::map<uint64_t, std::vector<uint8_t>> fec_next; // lost seq -> the next packet offered
};

std::vector<uint8_t> payload(uint64_t seq) {
  return {static_cast<uint8_t>(seq), static_cast<uint8_t>(seq >> 8), 0xab};
}

uint64_t seq_of(std::span<const uint8_t> p) { return p[0] | (uint64_t{p[1]} << 8); }

// Plays `frames` frames: packet n is sent at n*20 ms and arrives `delay(n)` later (or never, for
// a negative delay); the audio clock ticks every 20 ms from 5 ms on, for `frames` + 50 ticks.
Outcome simulate(JitterBuffer& jb, uint64_t frames, const std::function<int64_t(uint64_t)>& delay,
                 const std::vector<uint64_t>& repeat = {}) {
  std::vector<Arrival> arrivals;
  for (uint64_t n = 0; n < frames; ++n) {
    const int64_t d = delay(n);
    if (d >= 0) {
      arrivals.push_back({static_cast<int64_t>(n) * kFrameMs + d, n});
    }
  }
  for (uint64_t n : repeat) {
    arrivals.push_back({static_cast<int64_t>(n) * kFrameMs + delay(n) + 7, n});
  }
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.at_ms < b.at_ms; });
  Outcome out;
  std::size_t next = 0;
  for (uint64_t tick = 0; tick < frames + 50; ++tick) {
    const int64_t now = 5 + static_cast<int64_t>(tick) * kFrameMs;
    while (next < arrivals.size() && arrivals[next].at_ms <= now) {
      const auto p = payload(arrivals[next].seq);
      (void)jb.insert(arrivals[next].seq, arrivals[next].at_ms, p);
      ++next;
    }
    const auto playout = jb.pop();
    if (playout.kind == JitterBuffer::Playout::Kind::kFrame) {
      const uint64_t seq = seq_of(playout.packet);
      out.played.push_back(seq);
      out.delay_ms.push_back(now - static_cast<int64_t>(seq) * kFrameMs);
      out.delay_at_ms.push_back(now);
    } else if (playout.kind == JitterBuffer::Playout::Kind::kLost &&
               (out.played.empty() || out.played.back() + 1 < frames)) {
      ++out.lost_ticks;
    }
  }
  return out;
}

double mean_delay_between(const Outcome& o, int64_t from_ms, int64_t to_ms) {
  double sum = 0;
  int n = 0;
  for (std::size_t i = 0; i < o.delay_ms.size(); ++i) {
    if (o.delay_at_ms[i] >= from_ms && o.delay_at_ms[i] < to_ms) {
      sum += static_cast<double>(o.delay_ms[i]);
      ++n;
    }
  }
  return n == 0 ? 0 : sum / n;
}

TEST(JitterBuffer, ASteadyStreamPlaysEveryFrameInOrderWithLittleDelay) {
  JitterBuffer jb({});
  const Outcome o = simulate(jb, 500, [](uint64_t) { return 30; });
  ASSERT_EQ(o.played.size(), 500u);
  for (uint64_t i = 0; i < 500; ++i) {
    ASSERT_EQ(o.played[i], i);
  }
  EXPECT_EQ(o.lost_ticks, 0u);
  EXPECT_EQ(jb.stats().late, 0u);
  EXPECT_EQ(jb.stats().target_delay_ms, 20u);
  EXPECT_LE(*std::max_element(o.delay_ms.begin(), o.delay_ms.end()), 30 + 2 * kFrameMs);
}

TEST(JitterBuffer, JitterGrowsTheTargetUntilFewPacketsComeLate) {
  JitterBuffer jb({});
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> jitter(30, 110);
  std::vector<int64_t> delays(3000);
  for (auto& d : delays) {
    d = jitter(rng);
  }
  const Outcome o = simulate(jb, 3000, [&](uint64_t n) { return delays[n]; });
  const JitterStats& s = jb.stats();
  EXPECT_GE(s.target_delay_ms, 60u);
  EXPECT_LE(s.target_delay_ms, 120u);
  EXPECT_LT(static_cast<double>(s.late) / 3000, 0.05) << s.late << " late";
  EXPECT_GT(o.played.size(), 3000u * 93 / 100);
  EXPECT_GT(s.jitter_ms, 10.0);
  for (std::size_t i = 1; i < o.played.size(); ++i) {
    ASSERT_LT(o.played[i - 1], o.played[i]) << "played out of order";
  }
}

TEST(JitterBuffer, WhenTheJitterCalmsTheDelayComesDown) {
  JitterBuffer jb({});
  std::mt19937 rng(11);
  std::uniform_int_distribution<int64_t> jitter(20, 200);
  std::vector<int64_t> delays(3000);
  for (std::size_t n = 0; n < delays.size(); ++n) {
    delays[n] = n < 1000 ? jitter(rng) : 20; // 20 s of jitter, then 40 s of calm
  }
  const Outcome o = simulate(jb, 3000, [&](uint64_t n) { return delays[n]; });
  const double rough = mean_delay_between(o, 15000, 20000);
  const double calm = mean_delay_between(o, 55000, 60000);
  EXPECT_GT(rough, 120);
  EXPECT_LT(calm, 80) << "the delay stayed at " << calm << " ms after the jitter ended";
  EXPECT_GT(jb.stats().dropped_to_shrink, 0u);
}

TEST(JitterBuffer, ReorderedAndRepeatedPacketsPlayOnceInOrder) {
  JitterBuffer jb({});
  // Every pair swapped on the way; some packets arrive twice.
  const Outcome o =
      simulate(jb, 400, [](uint64_t n) { return n % 2 == 0 ? int64_t{45} : int64_t{25}; },
               {10, 11, 200, 399});
  ASSERT_EQ(o.played.size(), 400u);
  for (uint64_t i = 0; i < 400; ++i) {
    ASSERT_EQ(o.played[i], i);
  }
  EXPECT_EQ(jb.stats().duplicates + jb.stats().late, 4u);
}

TEST(JitterBuffer, ALostPacketIsConcealedAndOffersTheNextForFec) {
  JitterBuffer jb({});
  for (uint64_t n = 0; n < 3; ++n) {
    ASSERT_EQ(jb.insert(n, static_cast<int64_t>(n) * kFrameMs, payload(n)),
              JitterBuffer::Insert::kStored);
  }
  ASSERT_EQ(jb.insert(4, 80, payload(4)), JitterBuffer::Insert::kStored); // 3 is lost
  std::vector<JitterBuffer::Playout::Kind> kinds;
  uint64_t fec_seq = 0;
  for (int i = 0; i < 5; ++i) {
    const auto p = jb.pop();
    kinds.push_back(p.kind);
    if (p.kind == JitterBuffer::Playout::Kind::kLost && !p.next.empty()) {
      fec_seq = seq_of(p.next);
    }
  }
  using K = JitterBuffer::Playout::Kind;
  EXPECT_EQ(kinds, (std::vector<K>{K::kFrame, K::kFrame, K::kFrame, K::kLost, K::kFrame}));
  EXPECT_EQ(fec_seq, 4u);
  EXPECT_EQ(jb.stats().concealed, 1u);
  // The lost packet turning up afterwards is late, and not played.
  EXPECT_EQ(jb.insert(3, 200, payload(3)), JitterBuffer::Insert::kLate);
}

JitterConfig with_fec() {
  JitterConfig c;
  c.fec = true;
  return c;
}

// Frames 0..2 arrive and play; frame 3 is lost and frame 4 is not here yet at 3's turn.
void play_three(JitterBuffer& jb) {
  for (uint64_t n = 0; n < 3; ++n) {
    ASSERT_EQ(jb.insert(n, static_cast<int64_t>(n) * kFrameMs, payload(n)),
              JitterBuffer::Insert::kStored);
  }
  for (uint64_t n = 0; n < 3; ++n) {
    const auto p = jb.pop();
    ASSERT_EQ(p.kind, JitterBuffer::Playout::Kind::kFrame);
    ASSERT_EQ(p.seq, n);
  }
}

TEST(JitterBuffer, WithFecALostFrameWaitsOneTickForThePacketAfterIt) {
  JitterBuffer jb(with_fec());
  play_three(jb);
  const auto hold = jb.pop(); // 3's turn: neither 3 nor 4 here
  EXPECT_EQ(hold.kind, JitterBuffer::Playout::Kind::kLost);
  EXPECT_TRUE(hold.held);
  EXPECT_EQ(hold.seq, 3u);
  EXPECT_TRUE(hold.next.empty());
  ASSERT_EQ(jb.insert(4, 85, payload(4)), JitterBuffer::Insert::kStored);
  const auto rebuilt = jb.pop(); // 3 rebuilt from 4's FEC
  EXPECT_EQ(rebuilt.kind, JitterBuffer::Playout::Kind::kLost);
  EXPECT_FALSE(rebuilt.held);
  EXPECT_EQ(rebuilt.seq, 3u);
  ASSERT_FALSE(rebuilt.next.empty());
  EXPECT_EQ(seq_of(rebuilt.next), 4u);
  const auto four = jb.pop();
  EXPECT_EQ(four.kind, JitterBuffer::Playout::Kind::kFrame);
  EXPECT_EQ(seq_of(four.packet), 4u);
  EXPECT_EQ(jb.stats().held_for_fec, 1u);
  EXPECT_EQ(jb.stats().concealed, 1u);
}

TEST(JitterBuffer, AFrameThatComesDuringItsHoldIsPlayedNotLost) {
  JitterBuffer jb(with_fec());
  play_three(jb);
  EXPECT_TRUE(jb.pop().held);
  ASSERT_EQ(jb.insert(3, 75, payload(3)), JitterBuffer::Insert::kStored); // late, not lost
  const auto three = jb.pop();
  ASSERT_EQ(three.kind, JitterBuffer::Playout::Kind::kFrame);
  EXPECT_EQ(seq_of(three.packet), 3u);
  EXPECT_EQ(jb.stats().concealed, 0u);
  EXPECT_EQ(jb.stats().late, 0u);
}

TEST(JitterBuffer, WithoutFecALostFrameIsConcealedAtItsTurn) {
  JitterBuffer jb({});
  play_three(jb);
  const auto p = jb.pop();
  EXPECT_EQ(p.kind, JitterBuffer::Playout::Kind::kLost);
  EXPECT_FALSE(p.held);
  EXPECT_EQ(p.seq, 3u);
  EXPECT_EQ(jb.stats().held_for_fec, 0u);
}

TEST(JitterBuffer, APauseOrOutageIsHeldOnceNotAtEveryFrame) {
  JitterBuffer jb(with_fec());
  play_three(jb);
  // The sender goes quiet for 50 frames: one tick of grace, then every tick conceals the next.
  uint64_t held = 0;
  uint64_t last_seq = 2;
  for (int i = 0; i < 50; ++i) {
    const auto p = jb.pop();
    ASSERT_EQ(p.kind, JitterBuffer::Playout::Kind::kLost);
    held += p.held ? 1 : 0;
    if (!p.held) {
      EXPECT_EQ(p.seq, last_seq + 1);
      last_seq = p.seq;
    }
  }
  EXPECT_EQ(held, 1u);
  EXPECT_EQ(jb.stats().held_for_fec, 1u);
  // Two lost in a row: the first waits, and is concealed; the second is rebuilt from the third.
  JitterBuffer burst(with_fec());
  play_three(burst);
  EXPECT_TRUE(burst.pop().held); // 3
  const auto c3 = burst.pop();   // 3 concealed: 4 lost as well
  EXPECT_FALSE(c3.held);
  EXPECT_TRUE(c3.next.empty());
  ASSERT_EQ(burst.insert(5, 110, payload(5)), JitterBuffer::Insert::kStored);
  const auto c4 = burst.pop(); // 4 rebuilt from 5, without waiting
  EXPECT_FALSE(c4.held);
  ASSERT_FALSE(c4.next.empty());
  EXPECT_EQ(seq_of(c4.next), 5u);
}

TEST(JitterBuffer, TheHoldNeverTakesTheDelayPastItsBound) {
  JitterConfig config = with_fec();
  config.min_delay_ms = 20;
  config.max_delay_ms = 20; // one frame: no room for a hold
  JitterBuffer jb(config);
  play_three(jb);
  const auto p = jb.pop();
  EXPECT_EQ(p.kind, JitterBuffer::Playout::Kind::kLost);
  EXPECT_FALSE(p.held);
}

TEST(JitterBuffer, AbsurdPacketsAreRefusedAndTheStreamGoesOn) {
  JitterConfig config;
  config.max_packet_bytes = 100;
  JitterBuffer jb(config);
  ASSERT_EQ(jb.insert(0, 0, payload(0)), JitterBuffer::Insert::kStored);
  EXPECT_EQ(jb.insert(1'000'000'000'000, 1, payload(1)), JitterBuffer::Insert::kTooFar);
  EXPECT_EQ(jb.insert(1, 1, std::vector<uint8_t>(101, 1)), JitterBuffer::Insert::kTooBig);
  EXPECT_EQ(jb.insert(1, 1, std::vector<uint8_t>{}), JitterBuffer::Insert::kTooBig);
  EXPECT_EQ(jb.insert(0, 2, payload(0)), JitterBuffer::Insert::kDuplicate);
  ASSERT_EQ(jb.insert(1, 20, payload(1)), JitterBuffer::Insert::kStored);
  const auto first = jb.pop();
  ASSERT_EQ(first.kind, JitterBuffer::Playout::Kind::kFrame);
  EXPECT_EQ(seq_of(first.packet), 0u);
  EXPECT_EQ(jb.stats().too_far, 1u);
}

TEST(JitterBuffer, ANonsenseConfigurationIsMadeSafe) {
  JitterConfig config;
  config.capacity_frames = 0;
  config.frame_ms = 0;
  config.max_packet_bytes = 0;
  JitterBuffer jb(config);
  EXPECT_EQ(jb.insert(5, 0, payload(5)), JitterBuffer::Insert::kTooBig); // 1-byte packets at most
  EXPECT_EQ(jb.insert(5, 0, std::vector<uint8_t>{1}), JitterBuffer::Insert::kStored);
  // 1 ms frames (the least), 20 ms of minimum delay: it prebuffers.
  EXPECT_EQ(jb.pop().kind, JitterBuffer::Playout::Kind::kWaiting);
  EXPECT_EQ(jb.insert(UINT64_MAX - 1, 0, std::vector<uint8_t>{1}), JitterBuffer::Insert::kTooFar);
}

TEST(JitterBuffer, TheDelayNeverExceedsItsBound) {
  JitterConfig config;
  config.max_delay_ms = 200;
  JitterBuffer jb(config);
  std::mt19937 rng(3);
  std::uniform_int_distribution<int64_t> jitter(0, 2000);
  std::vector<int64_t> delays(2000);
  for (auto& d : delays) {
    d = jitter(rng);
  }
  const Outcome o = simulate(jb, 2000, [&](uint64_t n) { return delays[n]; });
  EXPECT_EQ(jb.stats().target_delay_ms, 200u);
  EXPECT_LE(mean_delay_between(o, 20000, 40000), 2000 + 200.0);
  EXPECT_LE(jb.stats().buffered_ms, 64u * kFrameMs);
}

} // namespace
} // namespace entre::calls
