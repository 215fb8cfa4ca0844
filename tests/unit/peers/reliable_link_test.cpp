// ReliableLink against a hostile path: a deterministic in-test channel with latency, jitter, loss,
// duplication and reordering, driven by a fake clock.
#include "peers/reliable_link.hpp"

#include <gtest/gtest.h>

#include <iostream>

#include <map>
#include <random>

namespace entre {
namespace {

struct PathSettings {
  double loss = 0;
  double duplicate = 0;
  double reorder = 0;
  uint64_t latency_ms = 20;
  uint64_t jitter_ms = 0;
};

// Two links joined by a lossy path; time advances only through run().
class Pair {
 public:
  Pair(PathSettings path, uint64_t seed, ReliableLinkConfig config = {})
      : path_(path), rng_(seed),
        a_(
            config, [this](auto p) { carry(p, true); }, [this](auto m) { got_b_to_a.push_back(m); },
            [this](auto d) { datagrams_at_a.push_back(d); }),
        b_(
            config, [this](auto p) { carry(p, false); },
            [this](auto m) { got_a_to_b.push_back(m); },
            [this](auto d) { datagrams_at_b.push_back(d); }) {}

  ReliableLink& a() { return a_; }
  void set_loss(double loss) { path_.loss = loss; }
  ReliableLink& b() { return b_; }
  uint64_t now() const { return now_; }

  // Advances time event by event until both links are idle and nothing is in flight, or `limit`.
  void run(uint64_t limit_ms) {
    while (now_ < limit_ms) {
      std::optional<uint64_t> next;
      if (!in_flight_.empty()) {
        next = in_flight_.begin()->first.first;
      }
      for (ReliableLink* link : {&a_, &b_}) {
        if (auto t = link->next_timer_ms()) {
          next = next ? std::min(*next, *t) : *t;
        }
      }
      if (!next) {
        return;
      }
      now_ = std::max(now_, *next);
      while (!in_flight_.empty() && in_flight_.begin()->first.first <= now_) {
        auto node = in_flight_.extract(in_flight_.begin());
        (node.mapped().to_a ? a_ : b_).on_packet(node.mapped().bytes, now_);
      }
      a_.on_timer(now_);
      b_.on_timer(now_);
    }
  }

  std::vector<std::vector<uint8_t>> got_a_to_b;
  std::vector<std::vector<uint8_t>> got_b_to_a;
  std::vector<std::vector<uint8_t>> datagrams_at_a;
  std::vector<std::vector<uint8_t>> datagrams_at_b;
  uint64_t carried = 0;
  uint64_t lost = 0;

 private:
  struct Packet {
    bool to_a = false;
    std::vector<uint8_t> bytes;
  };

  void carry(std::span<const uint8_t> bytes, bool from_a) {
    ++carried;
    std::uniform_real_distribution<double> u(0, 1);
    if (u(rng_) < path_.loss) {
      ++lost;
      return;
    }
    const int copies = u(rng_) < path_.duplicate ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      uint64_t delay = path_.latency_ms;
      if (path_.jitter_ms > 0) {
        delay += std::uniform_int_distribution<uint64_t>(0, path_.jitter_ms)(rng_);
      }
      if (u(rng_) < path_.reorder) {
        delay += path_.latency_ms; // overtaken by later packets
      }
      in_flight_.emplace(std::make_pair(now_ + delay, order_++),
                         Packet{!from_a, {bytes.begin(), bytes.end()}});
    }
  }

  PathSettings path_;
  std::mt19937_64 rng_;
  ReliableLink a_;
  ReliableLink b_;
  uint64_t now_ = 0;
  uint64_t order_ = 0;
  std::map<std::pair<uint64_t, uint64_t>, Packet> in_flight_;
};

std::vector<uint8_t> message(uint32_t i, std::size_t size = 100) {
  std::vector<uint8_t> m(size, static_cast<uint8_t>(i * 7));
  for (int k = 0; k < 4; ++k) {
    m[k] = static_cast<uint8_t>(i >> (8 * k));
  }
  return m;
}

void expect_exactly_once_in_order(const std::vector<std::vector<uint8_t>>& got, uint32_t n,
                                  std::size_t size = 100) {
  ASSERT_EQ(got.size(), n);
  for (uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(got[i], message(i, size)) << "message " << i;
  }
}

TEST(ReliableLink, TenThousandMessagesEachWayUnderLossReorderAndDuplication) {
  Pair pair({0.20, 0.05, 0.25, 20, 5}, 42);
  constexpr uint32_t kCount = 10000;
  uint32_t sent_a = 0;
  uint32_t sent_b = 0;
  // Feed in batches, as an outbox would, letting the send buffer bound what is queued.
  while (sent_a < kCount || sent_b < kCount) {
    for (int k = 0; k < 500 && sent_a < kCount; ++k, ++sent_a) {
      ASSERT_FALSE(pair.a().send(message(sent_a), pair.now()));
    }
    for (int k = 0; k < 500 && sent_b < kCount; ++k, ++sent_b) {
      ASSERT_FALSE(pair.b().send(message(sent_b), pair.now()));
    }
    pair.run(pair.now() + 2000);
  }
  pair.run(pair.now() + 600000);
  expect_exactly_once_in_order(pair.got_a_to_b, kCount);
  expect_exactly_once_in_order(pair.got_b_to_a, kCount);
  EXPECT_TRUE(pair.a().idle());
  EXPECT_TRUE(pair.b().idle());
  EXPECT_GT(pair.a().stats().retransmissions, 0u);
  EXPECT_GT(pair.b().stats().duplicates_dropped, 0u);
  // Repair costs about one retransmission per packet lost, not a storm: a hole is resent again
  // only after acks of packets sent after its last transmission (once cost 30x here).
  const uint64_t resent = pair.a().stats().retransmissions + pair.b().stats().retransmissions;
  EXPECT_LT(resent, 3 * pair.lost) << resent << " retransmissions for " << pair.lost << " lost";
  std::cout << resent << " retransmissions for " << pair.lost << " packets lost\n";
}

TEST(ReliableLink, HeldMessagesShareBundlesAndArriveOneByOneUnderLoss) {
  Pair pair({0.20, 0.05, 0.25, 20, 5}, 11);
  constexpr uint32_t kCount = 3000;
  for (uint32_t i = 0; i < kCount; ++i) {
    // Sizes from 1 to 700 bytes: some share a packet, some fill one alone.
    ASSERT_FALSE(pair.a().send(message(i, 4 + (i * 37) % 697), pair.now(), false));
    if (i % 100 == 99) {
      pair.a().flush(pair.now());
      pair.run(pair.now() + 500);
    }
  }
  pair.run(pair.now() + 600000);
  ASSERT_EQ(pair.got_a_to_b.size(), kCount);
  for (uint32_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(pair.got_a_to_b[i], message(i, 4 + (i * 37) % 697)) << "message " << i;
  }
  EXPECT_EQ(pair.b().stats().messages_delivered, kCount);
  EXPECT_TRUE(pair.a().idle());
  // Sent one per packet this would take kCount sequence numbers.
  EXPECT_LT(pair.b().stats().packets_received, kCount * 3 / 4);
}

TEST(ReliableLink, NothingLeavesAHeldSendUntilFlushAndThenInFewPackets) {
  std::vector<std::vector<uint8_t>> packets;
  std::vector<std::vector<uint8_t>> delivered;
  ReliableLink a(
      {}, [&](auto p) { packets.emplace_back(p.begin(), p.end()); }, [](auto) {});
  ReliableLink b(
      {}, [](auto) {}, [&](auto m) { delivered.push_back(m); });
  for (uint32_t i = 0; i < 20; ++i) {
    ASSERT_FALSE(a.send(message(i), 0, false));
  }
  EXPECT_TRUE(packets.empty());
  EXPECT_EQ(a.queued_bytes(), 20u * 100);
  a.flush(0);
  // 20 messages of 100 bytes in packets of at most 1200: two bundles.
  ASSERT_EQ(packets.size(), 2u);
  for (const auto& p : packets) {
    EXPECT_EQ(p[0], ReliableLink::kBundle);
    EXPECT_LE(p.size(), 1200u);
    b.on_packet(p, 0);
  }
  expect_exactly_once_in_order(delivered, 20);
  // A sent packet is never grown: the next message starts a new one.
  ASSERT_FALSE(a.send(message(20), 0));
  ASSERT_EQ(packets.size(), 3u);
  EXPECT_EQ(packets.back()[0], ReliableLink::kData);
}

TEST(ReliableLink, ABundleNeverCountsMoreEntriesThanItsFieldHolds) {
  // With packets large enough for more than 65535 one-byte messages, a bundle closes at 65535
  // entries and the next message starts a new packet.
  ReliableLinkConfig config;
  config.max_packet_bytes = 300000;
  config.send_buffer_bytes = 1u << 20;
  std::vector<std::vector<uint8_t>> packets;
  std::vector<std::vector<uint8_t>> delivered;
  ReliableLink a(
      config, [&](auto p) { packets.emplace_back(p.begin(), p.end()); }, [](auto) {});
  ReliableLink b(
      config, [](auto) {}, [&](auto m) { delivered.push_back(m); });
  constexpr uint32_t kMessages = 65536 + 10;
  for (uint32_t i = 0; i < kMessages; ++i) {
    ASSERT_FALSE(a.send(std::vector<uint8_t>{static_cast<uint8_t>(i)}, 0, false));
  }
  a.flush(0);
  ASSERT_EQ(packets.size(), 2u);
  for (const auto& p : packets) {
    b.on_packet(p, 0);
  }
  ASSERT_EQ(delivered.size(), kMessages);
  EXPECT_EQ(delivered.back(), std::vector<uint8_t>{static_cast<uint8_t>(kMessages - 1)});
  EXPECT_EQ(b.stats().malformed_dropped, 0u);
}

TEST(ReliableLink, DropsMalformedBundlesWithoutAckingThem) {
  std::vector<uint8_t> acks;
  std::vector<std::vector<uint8_t>> delivered;
  ReliableLink link(
      {}, [&](auto p) { acks.push_back(p[0]); }, [&](auto m) { delivered.push_back(m); });
  const uint8_t b = ReliableLink::kBundle;
  const std::vector<std::vector<uint8_t>> bad = {
      {b, 0, 0, 0},                                // truncated header
      {b, 0, 0, 0, 0, 0, 0},                       // no entries
      {b, 0, 0, 0, 0, 0, 1, 0, 0},                 // an empty entry
      {b, 0, 0, 0, 0, 0, 1, 0, 3, 'a', 'b'},       // an entry longer than the packet
      {b, 0, 0, 0, 0, 0, 2, 0, 1, 'a'},            // fewer entries than counted
      {b, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0, 1, 'b'}, // more entries than counted
      {b, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0},         // a byte left over
  };
  for (const auto& p : bad) {
    link.on_packet(p, 0);
  }
  EXPECT_EQ(link.stats().malformed_dropped, bad.size());
  EXPECT_TRUE(delivered.empty());
  EXPECT_TRUE(acks.empty()) << "a malformed bundle must not be acknowledged";
  link.on_packet(std::vector<uint8_t>{b, 0, 0, 0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c'}, 0);
  ASSERT_EQ(delivered.size(), 2u);
  EXPECT_EQ(delivered[0], (std::vector<uint8_t>{'a'}));
  EXPECT_EQ(delivered[1], (std::vector<uint8_t>{'b', 'c'}));
  // The same bundle again is a duplicate: acked again, delivered once.
  link.on_packet(std::vector<uint8_t>{b, 0, 0, 0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c'}, 0);
  EXPECT_EQ(delivered.size(), 2u);
  EXPECT_EQ(link.stats().duplicates_dropped, 1u);
}

TEST(ReliableLink, FragmentsLargeMessagesAndReassemblesThemUnderLoss) {
  Pair pair({0.10, 0.05, 0.20, 10, 3}, 7);
  for (uint32_t i = 0; i < 20; ++i) {
    ASSERT_FALSE(pair.a().send(message(i, 50000 + i * 999), pair.now()));
  }
  pair.run(600000);
  ASSERT_EQ(pair.got_a_to_b.size(), 20u);
  for (uint32_t i = 0; i < 20; ++i) {
    EXPECT_EQ(pair.got_a_to_b[i], message(i, 50000 + i * 999));
  }
}

TEST(ReliableLink, MeasuresRoundTripTime) {
  Pair pair({0, 0, 0, 40, 0}, 1);
  for (uint32_t i = 0; i < 50; ++i) {
    ASSERT_FALSE(pair.a().send(message(i), pair.now()));
    pair.run(pair.now() + 200);
  }
  // The receiver delays acks by up to ack_delay_ms (10).
  EXPECT_GE(pair.a().stats().srtt_ms, 80u);
  EXPECT_LE(pair.a().stats().srtt_ms, 95u);
  EXPECT_EQ(pair.a().stats().retransmissions, 0u);
}

TEST(ReliableLink, RefusesOversizedAndEmptyMessagesWithAClearError) {
  ReliableLinkConfig config;
  config.max_message_bytes = 1000;
  Pair pair({}, 1, config);
  auto error = pair.a().send(std::vector<uint8_t>(1001, 1), 0);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("larger than the maximum of 1000 bytes"), std::string::npos) << *error;
  EXPECT_TRUE(pair.a().send({}, 0));
  EXPECT_FALSE(pair.a().send(std::vector<uint8_t>(1000, 1), 0));
}

TEST(ReliableLink, BoundsItsSendBuffer) {
  ReliableLinkConfig config;
  config.send_buffer_bytes = 10000;
  Pair pair({1.0, 0, 0, 10, 0}, 1, config); // nothing gets through
  int accepted = 0;
  while (!pair.a().send(message(accepted), 0)) {
    ++accepted;
  }
  EXPECT_EQ(accepted, 100);
  auto error = pair.a().send(message(0), 0);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("send buffer is full"), std::string::npos);
}

TEST(ReliableLink, BacksOffOnTimeoutsDuringAPartitionAndRecoversAfter) {
  Pair pair({1.0, 0, 0, 10, 0}, 3);
  ASSERT_FALSE(pair.a().send(message(0), 0));
  pair.run(60000);
  EXPECT_GE(pair.a().stats().timeouts, 4u);
  EXPECT_GT(pair.a().stats().rto_ms, 1000u);
  EXPECT_TRUE(pair.got_a_to_b.empty());
  pair.set_loss(0); // the partition heals: the next retransmission gets through
  pair.run(pair.now() + 120000);
  ASSERT_EQ(pair.got_a_to_b.size(), 1u);
  EXPECT_EQ(pair.got_a_to_b[0], message(0));
  EXPECT_TRUE(pair.a().idle());
}

TEST(ReliableLink, DropsAndCountsMalformedPackets) {
  std::vector<std::vector<uint8_t>> delivered;
  ReliableLink link(
      {}, [](auto) {}, [&](auto m) { delivered.push_back(m); });
  const std::vector<std::vector<uint8_t>> bad = {
      {},
      {0x09},
      {ReliableLink::kData, 0, 0, 0},                           // truncated header
      {ReliableLink::kData, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},      // no payload
      {ReliableLink::kData, 0, 0, 0, 5, 0, 0, 0, 0, 0, 2, 'x'}, // seq outside its message
      {ReliableLink::kData, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'}, // zero fragments
      {ReliableLink::kAck, 0, 0, 0},                            // short ack
      {ReliableLink::kAck, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0}, // acks what was never sent
      {ReliableLink::kAck, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, // sacks what was never sent
  };
  for (const auto& p : bad) {
    link.on_packet(p, 0);
  }
  EXPECT_EQ(link.stats().malformed_dropped, bad.size());
  EXPECT_TRUE(delivered.empty());
  // A good packet still goes through afterwards.
  link.on_packet(std::vector<uint8_t>{ReliableLink::kData, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'o', 'k'},
                 0);
  ASSERT_EQ(delivered.size(), 1u);
  EXPECT_EQ(delivered[0], (std::vector<uint8_t>{'o', 'k'}));
}

TEST(ReliableLink, RefusesPacketsFarBeyondItsReceiveWindow) {
  std::vector<std::vector<uint8_t>> delivered;
  ReliableLink link(
      {}, [](auto) {}, [&](auto m) { delivered.push_back(m); });
  // seq 0x00100000 with first == seq: a million packets ahead.
  link.on_packet(std::vector<uint8_t>{ReliableLink::kData, 0, 0x10, 0, 0, 0, 0x10, 0, 0, 0, 1, 'x'},
                 0);
  EXPECT_EQ(link.stats().out_of_window_dropped, 1u);
  EXPECT_TRUE(delivered.empty());
}

TEST(ReliableLink, CarriesDatagramsOnTheLossyChannelWithoutRetransmission) {
  Pair pair({0.5, 0, 0, 10, 0}, 9);
  for (uint8_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(pair.a().send_datagram(std::vector<uint8_t>{i, 1, 2}));
  }
  EXPECT_FALSE(pair.a().send_datagram(std::vector<uint8_t>(1200, 0)));
  pair.run(10000);
  EXPECT_GT(pair.datagrams_at_b.size(), 60u);
  EXPECT_LT(pair.datagrams_at_b.size(), 140u);
  EXPECT_EQ(pair.a().stats().retransmissions, 0u);
  EXPECT_TRUE(pair.a().idle());
}

TEST(ReliableLink, SequenceNumbersWrapAround) {
  // 70,000 small messages with a tiny window pass seq 65536 and exercise the 32-bit unwrap across
  // a boundary of the low 16 bits; a full 2^32 wrap is covered by the unwrap arithmetic below.
  Pair pair({0.05, 0.01, 0.05, 5, 1}, 11);
  constexpr uint32_t kCount = 70000;
  for (uint32_t i = 0; i < kCount; ++i) {
    ASSERT_FALSE(pair.a().send(message(i, 8), pair.now()));
    if (i % 1000 == 999) {
      pair.run(pair.now() + 5000);
    }
  }
  pair.run(pair.now() + 600000);
  expect_exactly_once_in_order(pair.got_a_to_b, kCount, 8);
}

TEST(ReliableLink, RecoversPromptlyAfterAShortOutage) {
  // Everything outstanding at a timeout is resent as the window reopens, not two packets per
  // (doubling) timeout: 16 messages sent into a 3-second outage arrive soon after it ends.
  Pair pair({1.0, 0, 0, 10, 0}, 5);
  for (uint32_t i = 0; i < 16; ++i) {
    ASSERT_FALSE(pair.a().send(message(i), 0));
  }
  pair.run(3000);
  pair.set_loss(0);
  pair.run(3000 + 10000);
  expect_exactly_once_in_order(pair.got_a_to_b, 16);
  EXPECT_TRUE(pair.a().idle());
}

TEST(ReliableLink, AForgedFragmentCountCannotSwallowRealMessages) {
  Pair pair({}, 6);
  // A forged data packet claiming a 65,535-fragment message at the next sequence number.
  pair.b().on_packet(
      std::vector<uint8_t>{ReliableLink::kData, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 'x'}, 0);
  EXPECT_EQ(pair.b().stats().malformed_dropped, 1u);
  for (uint32_t i = 0; i < 100; ++i) {
    ASSERT_FALSE(pair.a().send(message(i), pair.now()));
  }
  pair.run(60000);
  expect_exactly_once_in_order(pair.got_a_to_b, 100);
}

TEST(ReliableLink, NextTimerIsAlwaysInTheFutureAfterOnTimer) {
  // A partition with a full window in flight: on_timer() may retransmit only part of it, and must
  // still leave no timer in the past (which would be a busy loop for the event loop).
  ReliableLink link(
      {}, [](auto) {}, [](auto) {});
  for (uint32_t i = 0; i < 200; ++i) {
    ASSERT_FALSE(link.send(message(i), 0));
  }
  uint64_t now = 0;
  for (int round = 0; round < 20; ++round) {
    const auto next = link.next_timer_ms();
    ASSERT_TRUE(next);
    ASSERT_GT(*next, now) << "round " << round;
    now = *next;
    link.on_timer(now);
  }
  EXPECT_GE(link.stats().timeouts, 10u);
}

} // namespace
} // namespace entre
