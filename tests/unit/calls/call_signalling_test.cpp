// Call signals (docs/protocol.md) and the call state machine: two machines talking through a
// wire that carries each signal as bytes, as the message channel will, with a clock the test
// moves.
#include "calls/call_machine.hpp"
#include "calls/call_signal.hpp"

#include <gtest/gtest.h>

namespace entre::calls {
namespace {

CallSignal round_trip(const CallSignal& s) {
  CallSignal out;
  std::string error;
  EXPECT_TRUE(parse_signal(encode_signal(s), out, error)) << error;
  return out;
}

std::string error_of(std::vector<uint8_t> bytes) {
  CallSignal out;
  std::string error;
  return parse_signal(bytes, out, error) ? "parsed" : error;
}

TEST(CallSignals, EveryTypeRoundTrips) {
  CallSignal invite;
  invite.type = SignalType::kInvite;
  invite.call_id = 0x0102030405060708;
  invite.frame_ms = 40;
  invite.codecs = {"opus", "pcm16"};
  const CallSignal back = round_trip(invite);
  EXPECT_EQ(back.type, SignalType::kInvite);
  EXPECT_EQ(back.call_id, invite.call_id);
  EXPECT_EQ(back.frame_ms, 40);
  EXPECT_EQ(back.codecs, invite.codecs);
  EXPECT_EQ(encode_signal(invite)[1], 0x08); // little-endian call id

  CallSignal accept;
  accept.type = SignalType::kAccept;
  accept.call_id = 9;
  accept.codecs = {"opus"};
  accept.sample_rate = 48000;
  accept.salt[0] = 0xaa;
  accept.salt[15] = 0x55;
  EXPECT_EQ(round_trip(accept).codecs, accept.codecs);
  EXPECT_EQ(round_trip(accept).sample_rate, 48000u);
  EXPECT_EQ(round_trip(accept).salt, accept.salt);
  CallSignal reject;
  reject.type = SignalType::kReject;
  reject.reason = RejectReason::kNoCommonCodec;
  EXPECT_EQ(round_trip(reject).reason, RejectReason::kNoCommonCodec);
  CallSignal report;
  report.type = SignalType::kReport;
  report.loss_percent = 17;
  EXPECT_EQ(encode_signal(report).size(), 10u);
  EXPECT_EQ(round_trip(report).loss_percent, 17);
  for (SignalType t : {SignalType::kRinging, SignalType::kBusy, SignalType::kHangup}) {
    CallSignal s;
    s.type = t;
    s.call_id = 77;
    EXPECT_EQ(encode_signal(s).size(), 9u);
    EXPECT_EQ(round_trip(s).type, t);
  }
}

TEST(CallSignals, MalformedSignalsAreRefusedWithTheirReason) {
  auto with = [](uint8_t type, const std::vector<uint8_t>& body) {
    std::vector<uint8_t> b(9, 0); // the type, then a call id of 0
    b[0] = type;
    for (uint8_t x : body) {
      b.push_back(x);
    }
    return b;
  };
  EXPECT_EQ(error_of({1, 2, 3}), "call signal shorter than its type and call id");
  EXPECT_EQ(error_of(with(9, {})), "unknown call signal type 9");
  EXPECT_EQ(error_of(with(1, {30, 1, 4, 'o', 'p', 'u', 's'})), "invite with 30 ms frames");
  EXPECT_EQ(error_of(with(1, {20, 0})), "invite offering 0 codecs (1 to 8)");
  EXPECT_EQ(error_of(with(1, {20, 9})), "invite offering 9 codecs (1 to 8)");
  EXPECT_EQ(error_of(with(1, {20, 1, 200, 'o'})), "codec name of 200 bytes");
  EXPECT_EQ(error_of(with(1, {20, 1, 4, 'O', 'p', 'u', 's'})),
            "codec name with a character other than a-z, 0-9 and '-'");
  EXPECT_EQ(error_of(with(1, {20, 2, 1, 'a', 1, 'a'})), "invite offering codec 'a' twice");
  EXPECT_EQ(error_of(with(3, {})), "codec name missing");
  EXPECT_EQ(error_of(with(3, {1, 'a', 0x80, 0xbb, 0})), "accept without a sample rate and salt");
  std::vector<uint8_t> slow{1, 'a', 0x40, 0x1f, 0, 0}; // 8000 Hz
  slow.resize(slow.size() + 16, 0);
  EXPECT_EQ(error_of(with(3, slow)), "parsed");
  slow[2] = 0x3f; // 7999 Hz
  EXPECT_EQ(error_of(with(3, slow)), "accept with a sample rate of 7999 Hz");
  EXPECT_EQ(error_of(with(4, {3})), "reject without a known reason");
  EXPECT_EQ(error_of(with(6, {0})), "1 bytes after the call signal");
  EXPECT_EQ(error_of(with(7, {})), "report without a loss of 0 to 100 percent");
  EXPECT_EQ(error_of(with(7, {101})), "report without a loss of 0 to 100 percent");
  EXPECT_EQ(error_of(with(7, {100, 0})), "1 bytes after the call signal");
  EXPECT_EQ(error_of(with(2, {})), "parsed");
}

// Two sides of one call; `deliver` moves what one side sent to the other, through the bytes.
struct Pair {
  std::vector<std::string> caller_codecs{"opus", "pcm16"};
  std::vector<std::string> callee_codecs{"pcm16", "opus"};
  CallTimeouts timeouts;
  std::vector<CallSignal> to_callee;
  std::vector<CallSignal> to_caller;
  std::optional<CallMachine> caller;
  std::optional<CallMachine> callee;

  void start(int64_t now) {
    caller = CallMachine::outgoing(42, caller_codecs, 20, now, timeouts, to_callee);
  }
  void deliver(int64_t now) {
    for (bool again = true; again;) {
      again = false;
      auto a = std::exchange(to_callee, {});
      for (const auto& s : a) {
        const CallSignal wire = round_trip(s);
        if (wire.type == SignalType::kInvite && !callee) {
          callee = CallMachine::incoming(wire, callee_codecs, now, timeouts, to_caller);
        } else if (callee) {
          callee->on_signal(wire, now, to_caller);
        }
        again = true;
      }
      auto b = std::exchange(to_caller, {});
      for (const auto& s : b) {
        caller->on_signal(round_trip(s), now, to_callee);
        again = true;
      }
    }
  }
};

TEST(CallMachine, AnsweredCallAgreesOnTheCallersPreferredCodecAndEndsOnHangup) {
  Pair p;
  p.start(0);
  EXPECT_EQ(p.caller->state(), CallState::kCalling);
  p.deliver(50);
  EXPECT_EQ(p.caller->state(), CallState::kRinging);
  EXPECT_EQ(p.callee->state(), CallState::kIncoming);
  EXPECT_EQ(p.callee->codec(), "opus"); // the caller's first choice, though the callee prefers pcm
  const std::array<uint8_t, 16> salt{1, 2, 3};
  EXPECT_FALSE(p.caller->answer(60, 48000, salt, p.to_callee)) << "a caller cannot answer";
  EXPECT_TRUE(p.callee->answer(3000, 48000, salt, p.to_caller));
  p.deliver(3050);
  EXPECT_EQ(p.caller->state(), CallState::kActive);
  EXPECT_EQ(p.caller->codec(), "opus");
  EXPECT_EQ(p.caller->sample_rate(), 48000u);
  EXPECT_EQ(p.caller->salt(), salt);
  EXPECT_EQ(p.caller->active_since_ms(), 3050);
  EXPECT_FALSE(p.caller->deadline());
  p.caller->on_timer(1'000'000, p.to_callee); // an active call has no time-out
  EXPECT_EQ(p.caller->state(), CallState::kActive);
  p.callee->hang_up(60000, p.to_caller);
  p.deliver(60050);
  EXPECT_EQ(p.callee->end(), CallEnd::kHungUpHere);
  EXPECT_EQ(p.caller->end(), CallEnd::kHungUpThere);
}

TEST(CallMachine, DeclinedBusyAndIncompatibleCallsEndWithTheirReason) {
  {
    Pair p;
    p.start(0);
    p.deliver(10);
    p.callee->hang_up(2000, p.to_caller); // decline while ringing
    p.deliver(2010);
    EXPECT_EQ(p.callee->end(), CallEnd::kDeclinedHere);
    EXPECT_EQ(p.caller->end(), CallEnd::kDeclinedThere);
  }
  {
    Pair p;
    p.callee_codecs = {"speex"};
    p.start(0);
    p.deliver(10);
    EXPECT_EQ(p.callee->end(), CallEnd::kNoCommonCodec);
    EXPECT_EQ(p.caller->end(), CallEnd::kNoCommonCodec);
  }
  {
    Pair p;
    p.start(0);
    CallSignal busy;
    busy.type = SignalType::kBusy;
    busy.call_id = 42;
    p.caller->on_signal(busy, 20, p.to_callee);
    EXPECT_EQ(p.caller->end(), CallEnd::kBusy);
  }
  {
    Pair p; // the caller gives up while it rings: the callee stops ringing
    p.start(0);
    p.deliver(10);
    p.caller->hang_up(5000, p.to_callee);
    p.deliver(5010);
    EXPECT_EQ(p.caller->end(), CallEnd::kHungUpHere);
    EXPECT_EQ(p.callee->end(), CallEnd::kHungUpThere);
  }
}

TEST(CallMachine, TimeOutsEndCallsNobodyAnswersOrNobodyHears) {
  {
    Pair p; // the invite never arrives
    p.start(0);
    p.to_callee.clear();
    p.caller->on_timer(9999, p.to_callee);
    EXPECT_EQ(p.caller->state(), CallState::kCalling);
    p.caller->on_timer(10000, p.to_callee);
    EXPECT_EQ(p.caller->end(), CallEnd::kUnreachable);
    ASSERT_EQ(p.to_callee.size(), 1u);
    EXPECT_EQ(p.to_callee[0].type, SignalType::kHangup);
  }
  {
    Pair p; // it rings out
    p.start(0);
    p.deliver(100);
    EXPECT_EQ(p.callee->deadline(), 100 + 45000);
    p.callee->on_timer(45100, p.to_caller);
    p.deliver(45110);
    EXPECT_EQ(p.callee->end(), CallEnd::kNoAnswer);
    EXPECT_EQ(p.caller->end(), CallEnd::kDeclinedThere);
  }
}

TEST(CallMachine, SignalsOfOtherCallsAndRepeatsChangeNothing) {
  Pair p;
  p.start(0);
  p.deliver(10);
  CallSignal stray;
  stray.type = SignalType::kHangup;
  stray.call_id = 43;
  p.caller->on_signal(stray, 20, p.to_callee);
  EXPECT_EQ(p.caller->state(), CallState::kRinging);
  CallSignal accept;
  accept.type = SignalType::kAccept;
  accept.call_id = 42;
  accept.codecs = {"g729"}; // never offered
  p.caller->on_signal(accept, 30, p.to_callee);
  EXPECT_EQ(p.caller->end(), CallEnd::kNoCommonCodec);
  ASSERT_FALSE(p.to_callee.empty());
  EXPECT_EQ(p.to_callee.back().type, SignalType::kHangup);
}

} // namespace
} // namespace entre::calls
