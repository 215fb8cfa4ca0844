// The life of one call on one side, as a state machine driven by local actions (call, answer,
// hang up), the peer's signals and a clock. It decides what to send and when the call ends, and
// why; it does no I/O, so the call service and the tests drive it the same way.
//
//   caller:  kCalling --ringing--> kRinging --accept--> kActive --hangup--> kEnded
//   callee:  (invite) kIncoming --answer--> kActive
//   either:  reject, busy, hangup, or a time-out end it: no ringing within reach_ms (the peer is
//            unreachable), no answer within ring_ms.
//
// Codec choice: the callee takes the first codec of the caller's offer that it has too (the
// caller's preference wins); with none in common it rejects at once.
#pragma once

#include "calls/call_signal.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace entre::calls {

enum class CallState { kCalling, kRinging, kIncoming, kActive, kEnded };

enum class CallEnd {
  kNone,
  kHungUpHere,
  kHungUpThere,
  kDeclinedHere,
  kDeclinedThere,
  kBusy,
  kNoAnswer,
  kUnreachable,
  kNoCommonCodec,
};

[[nodiscard]] const char* call_state_name(CallState state);
[[nodiscard]] const char* call_end_name(CallEnd end);

struct CallTimeouts {
  int64_t reach_ms = 10000; // the peer's ringing must come by then
  int64_t ring_ms = 45000;  // an answer must come by then
};

class CallMachine {
 public:
  // An outgoing call: `send` receives the invite.
  static CallMachine outgoing(uint64_t call_id, std::vector<std::string> codecs, uint8_t frame_ms,
                              int64_t now_ms, const CallTimeouts& timeouts,
                              std::vector<CallSignal>& send);
  // An incoming call from its invite: `send` receives ringing, or a reject when no codec of the
  // offer is in `local_codecs`.
  static CallMachine incoming(const CallSignal& invite,
                              const std::vector<std::string>& local_codecs, int64_t now_ms,
                              const CallTimeouts& timeouts, std::vector<CallSignal>& send);

  // A signal from the peer for this call (signals of other calls must not come here).
  void on_signal(const CallSignal& signal, int64_t now_ms, std::vector<CallSignal>& send);
  // The user answers (callee, while kIncoming); false otherwise. `sample_rate` and `salt` go in
  // the accept (call_signal.hpp).
  bool answer(int64_t now_ms, uint32_t sample_rate, const std::array<uint8_t, 16>& salt,
              std::vector<CallSignal>& send);
  // The user hangs up or declines, in any state before kEnded.
  void hang_up(int64_t now_ms, std::vector<CallSignal>& send);
  // Time passes: ends the call when a deadline passed, telling the peer (a caller hangs up, a
  // callee that rang out declines).
  void on_timer(int64_t now_ms, std::vector<CallSignal>& send);
  // The next deadline, if any (kCalling, kRinging, kIncoming).
  [[nodiscard]] std::optional<int64_t> deadline() const;

  [[nodiscard]] uint64_t call_id() const { return call_id_; }
  [[nodiscard]] bool outgoing_call() const { return outgoing_; }
  [[nodiscard]] CallState state() const { return state_; }
  [[nodiscard]] CallEnd end() const { return end_; }
  [[nodiscard]] const std::string& codec() const { return codec_; } // once agreed
  [[nodiscard]] uint8_t frame_ms() const { return frame_ms_; }
  // Once active: the accept's sample rate and salt.
  [[nodiscard]] uint32_t sample_rate() const { return sample_rate_; }
  [[nodiscard]] const std::array<uint8_t, 16>& salt() const { return salt_; }
  [[nodiscard]] int64_t started_ms() const { return started_ms_; }
  [[nodiscard]] int64_t active_since_ms() const { return active_since_ms_; }

 private:
  CallMachine() = default;
  void finish(CallEnd why);
  CallSignal signal(SignalType type) const;

  uint64_t call_id_ = 0;
  bool outgoing_ = false;
  CallState state_ = CallState::kEnded;
  CallEnd end_ = CallEnd::kNone;
  std::vector<std::string> offer_;
  std::string codec_;
  uint8_t frame_ms_ = 20;
  uint32_t sample_rate_ = 0;
  std::array<uint8_t, 16> salt_{};
  CallTimeouts timeouts_;
  int64_t started_ms_ = 0;
  int64_t state_since_ms_ = 0;
  int64_t active_since_ms_ = 0;
};

} // namespace entre::calls
