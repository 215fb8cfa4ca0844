// SimTransport proves its own conformance: the transport conformance suite passes on it over a
// perfect and over an impaired network, and fails on deliberately broken transports, one broken
// rule at a time (so the suite is known to catch what it claims to).
#include "scenario_support.hpp"

#include "conformance/transport_conformance.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <ostream>

namespace entre::scenario {
namespace {

using sim::FakeClock;
using sim::SimNetwork;
using sim::SimTransport;
using sim::SimTransportFactory;

std::string failures(const std::vector<ConformanceCheck>& checks) {
  std::string out;
  for (const auto& check : checks) {
    if (!check.passed) {
      out += check.name + ": " + check.detail + "\n";
    }
  }
  return out;
}

const ConformanceCheck& find(const std::vector<ConformanceCheck>& checks, const std::string& name) {
  const auto it = std::find_if(checks.begin(), checks.end(),
                               [&](const ConformanceCheck& c) { return c.name == name; });
  if (it == checks.end()) {
    throw std::runtime_error("no check named " + name);
  }
  return *it;
}

TEST(SimTransportConformanceTest, PassesOnAPerfectNetwork) {
  FakeClock clock;
  SimNetwork net(clock, 1);
  SimTransportFactory factory(net);
  const auto checks = run_transport_conformance(factory);
  EXPECT_EQ(checks.size(), 12u);
  EXPECT_EQ(failures(checks), "");
}

TEST(SimTransportConformanceTest, PassesWithLatencyJitterAndALittleLoss) {
  FakeClock clock;
  SimNetwork net(clock, 2);
  net.set_default({.impairment = {.loss = 0.005, .latency_ms = 5, .jitter_ms = 3}});
  SimTransportFactory factory(net);
  EXPECT_EQ(failures(run_transport_conformance(factory)), "");
}

TEST(SimTransportConformanceTest, PassesAtTheSmallestAllowedPayload) {
  FakeClock clock;
  SimNetwork net(clock, 3);
  SimTransportFactory factory(net, sdk::kTransportMinPayloadBytes);
  EXPECT_EQ(failures(run_transport_conformance(factory)), "");
}

TEST(SimTransportConformanceTest, FailsBelowTheSmallestAllowedPayload) {
  FakeClock clock;
  SimNetwork net(clock, 3);
  SimTransportFactory factory(net, sdk::kTransportMinPayloadBytes - 1);
  EXPECT_FALSE(find(run_transport_conformance(factory), "info_is_sane").passed);
}

// Ways to break a transport, one at a time.
enum class Fault {
  kDuplicates,        // reports every frame twice
  kWrongSender,       // reports a made-up sender endpoint
  kCorrupts,          // flips a byte of frames of 100 bytes or more
  kAcceptsOversized,  // says ok to frames over max_payload_bytes (and drops them)
  kKeepsRunning,      // stop() does nothing: callbacks and sends go on
  kLenientEndpoints,  // reports an unparsable endpoint as kNotFound
  kInconsistentEmpty, // refuses every other empty frame
};

// A SimTransport with one fault, sitting between it and the suite.
class FaultyTransport final : public sdk::Transport, public sdk::TransportEvents {
 public:
  FaultyTransport(SimNetwork& net, std::string name, Fault fault)
      : inner_(net, std::move(name)), fault_(fault) {}

  sdk::TransportInfo info() const noexcept override { return inner_.info(); }
  sdk::Status start(sdk::TransportEvents& events) noexcept override {
    outer_ = &events;
    return inner_.start(*this);
  }
  void stop() noexcept override {
    if (fault_ != Fault::kKeepsRunning) {
      inner_.stop();
    }
  }
  sdk::Status send(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    if (fault_ == Fault::kAcceptsOversized && frame.size > inner_.info().max_payload_bytes) {
      return sdk::Status::ok();
    }
    if (fault_ == Fault::kInconsistentEmpty && frame.size == 0 && (++empties_ % 2) == 0) {
      return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "no empty frames today");
    }
    sdk::Status st = inner_.send(endpoint, frame);
    if (fault_ == Fault::kLenientEndpoints && st.code == sdk::StatusCode::kInvalidArgument) {
      st.code = sdk::StatusCode::kNotFound;
    }
    return st;
  }
  sdk::Status local_endpoints(sdk::ByteSink& out) const noexcept override {
    return inner_.local_endpoints(out);
  }

  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    std::vector<uint8_t> bytes(frame.data, frame.data + frame.size);
    if (fault_ == Fault::kCorrupts && bytes.size() >= 100) {
      bytes[50] ^= 0x01;
    }
    const sdk::StringView from = fault_ == Fault::kWrongSender ? "sim:somebody-else" : endpoint;
    outer_->on_frame(from, sdk::ByteView(bytes));
    if (fault_ == Fault::kDuplicates) {
      outer_->on_frame(from, sdk::ByteView(bytes));
    }
  }
  void on_link(sdk::StringView endpoint, sdk::LinkState state) noexcept override {
    outer_->on_link(endpoint, state);
  }
  void on_discovered(sdk::StringView endpoint, sdk::ByteView beacon) noexcept override {
    outer_->on_discovered(endpoint, beacon);
  }

  [[nodiscard]] std::string endpoint() const { return inner_.endpoint(); }

 private:
  SimTransport inner_;
  Fault fault_;
  sdk::TransportEvents* outer_ = nullptr;
  uint64_t empties_ = 0;
};

class FaultyFactory final : public TransportFactory {
 public:
  FaultyFactory(SimNetwork& net, Fault fault) : net_(net), fault_(fault) {}
  sdk::Status create_started(sdk::TransportEvents& events, StartedTransport& out) override {
    auto t = std::make_shared<FaultyTransport>(net_, "faulty-" + std::to_string(++n_), fault_);
    const sdk::Status st = t->start(events);
    if (!st.is_ok()) {
      return st;
    }
    out.endpoint = t->endpoint();
    sdk::Transport* view = t.get();
    out.transport =
        Instance(view, [owner = std::move(t)](sdk::Transport*) mutable { owner.reset(); });
    return st;
  }
  void run_on_loop(const std::function<void()>& fn) override { fn(); }
  bool wait_until(const std::function<bool()>& done, uint32_t timeout_ms) override {
    for (uint32_t i = 0; i < timeout_ms && !done(); ++i) {
      net_.clock().advance(1);
    }
    return done();
  }

 private:
  SimNetwork& net_;
  Fault fault_;
  int n_ = 0;
};

struct FaultCase {
  const char* name;
  Fault fault;
  std::vector<std::string> must_fail;
};

// Names the case in test names (CTest lists them), instead of its bytes.
void PrintTo(const FaultCase& c, std::ostream* out) { *out << c.name; }

class BrokenTransportTest : public ::testing::TestWithParam<FaultCase> {};

TEST_P(BrokenTransportTest, TheSuiteCatchesIt) {
  FakeClock clock;
  SimNetwork net(clock, 5);
  FaultyFactory factory(net, GetParam().fault);
  const auto checks = run_transport_conformance(factory);
  for (const std::string& name : GetParam().must_fail) {
    EXPECT_FALSE(find(checks, name).passed) << name << " should have failed";
  }
  const auto failed = std::count_if(checks.begin(), checks.end(),
                                    [](const ConformanceCheck& c) { return !c.passed; });
  EXPECT_GE(static_cast<std::size_t>(failed), GetParam().must_fail.size());
}

INSTANTIATE_TEST_SUITE_P(
    Faults, BrokenTransportTest,
    ::testing::Values(
        FaultCase{
            "Duplicates", Fault::kDuplicates, {"burst_arrives_without_duplicates_or_corruption"}},
        FaultCase{"WrongSender",
                  Fault::kWrongSender,
                  {"frame_arrives_with_a_replyable_sender", "distinct_senders_are_told_apart"}},
        FaultCase{
            "Corrupts",
            Fault::kCorrupts,
            {"max_payload_frame_arrives_intact", "burst_arrives_without_duplicates_or_corruption"}},
        FaultCase{"AcceptsOversized", Fault::kAcceptsOversized, {"oversized_frame_is_refused"}},
        FaultCase{"KeepsRunning",
                  Fault::kKeepsRunning,
                  {"send_after_stop_is_closed", "no_callback_after_stop", "stop_is_idempotent"}},
        FaultCase{
            "LenientEndpoints", Fault::kLenientEndpoints, {"unparsable_endpoints_are_refused"}},
        FaultCase{"InconsistentEmpty", Fault::kInconsistentEmpty, {"empty_frame_is_consistent"}}),
    [](const ::testing::TestParamInfo<FaultCase>& info) { return std::string(info.param.name); });

TEST(SimTransportTest, InfoAndEndpoint) {
  FakeClock clock;
  SimNetwork net(clock, 1);
  Peer a(net, "alice", 500);
  ASSERT_TRUE(a.start_status.is_ok());
  EXPECT_STREQ(a.transport.info().scheme, "sim");
  EXPECT_EQ(a.transport.info().flags, 0u);
  EXPECT_EQ(a.transport.info().max_payload_bytes, 500u);
  std::string endpoints;
  sdk::StringSink sink(endpoints);
  ASSERT_TRUE(a.transport.local_endpoints(sink).is_ok());
  EXPECT_EQ(endpoints, "sim:alice");
}

TEST(SimTransportTest, NamesAreUniqueAndValid) {
  FakeClock clock;
  SimNetwork net(clock, 1);
  Peer a(net, "alice");
  ASSERT_TRUE(a.start_status.is_ok());
  Peer twin(net, "alice");
  EXPECT_EQ(twin.start_status.code, sdk::StatusCode::kAlreadyExists);
  Peer bad(net, "no spaces");
  EXPECT_EQ(bad.start_status.code, sdk::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.transport.start(a.inbox).code, sdk::StatusCode::kInvalidArgument);
  // After stop, the name is free again, and the transport can start again.
  a.transport.stop();
  Peer successor(net, "alice");
  EXPECT_TRUE(successor.start_status.is_ok());
}

TEST(SimTransportTest, ReceivedFramesOverItsOwnLimitAreDroppedAndCounted) {
  FakeClock clock;
  SimNetwork net(clock, 1);
  Peer big(net, "big", 1000);
  Peer small(net, "small", 100);
  ASSERT_TRUE(big.send(small, numbered(1, 101)).is_ok());
  ASSERT_TRUE(big.send(small, numbered(2, 100)).is_ok());
  clock.run_until_idle();
  ASSERT_EQ(small.inbox.arrivals.size(), 1u);
  EXPECT_EQ(number_of(small.inbox.arrivals[0].frame), 2u);
  EXPECT_EQ(small.transport.dropped_oversize(), 1u);
}

// How a scenario reads: Alice sends over a link that loses 30% of frames and resends every 100 ms
// until Bob acknowledges; Bob acknowledges every copy. The story completes, and takes the time the
// losses say it should, the same every run.
TEST(SimScenarioTest, ResendUntilAcknowledgedOverALossyLink) {
  FakeClock clock;
  SimNetwork net(clock, 2024);
  net.set_default({.impairment = {.loss = 0.3, .latency_ms = 40, .jitter_ms = 10}});
  Peer alice(net, "alice");
  Peer bob(net, "bob");

  constexpr uint32_t kMessages = 50;
  uint32_t acked = 0;
  std::vector<bool> done(kMessages, false);
  std::function<void(uint32_t)> send_until_acked = [&](uint32_t id) {
    if (done[id]) {
      return;
    }
    (void)alice.send(bob, numbered(id));
    clock.schedule_in(100, [&, id] { send_until_acked(id); });
  };
  for (uint32_t id = 0; id < kMessages; ++id) {
    send_until_acked(id);
  }
  // Bob: acknowledge each frame as it arrives; Alice: mark acknowledged ids done.
  std::size_t bob_seen = 0;
  std::size_t alice_seen = 0;
  while (acked < kMessages && clock.now_ms() < 60'000) {
    clock.run_for(1);
    for (; bob_seen < bob.inbox.arrivals.size(); ++bob_seen) {
      (void)bob.send(alice, bob.inbox.arrivals[bob_seen].frame);
    }
    for (; alice_seen < alice.inbox.arrivals.size(); ++alice_seen) {
      const uint32_t id = number_of(alice.inbox.arrivals[alice_seen].frame);
      if (!done[id]) {
        done[id] = true;
        ++acked;
      }
    }
  }
  EXPECT_EQ(acked, kMessages);
  // A round trip is 80-100 ms and succeeds with probability 0.49: most finish within a few tries.
  EXPECT_GT(clock.now_ms(), 80u);
  EXPECT_LT(clock.now_ms(), 2000u);
  const auto to_bob = net.counters("alice", "bob");
  EXPECT_GT(to_bob.sent, kMessages);
  EXPECT_GT(to_bob.dropped, 0u);
}

} // namespace
} // namespace entre::scenario
