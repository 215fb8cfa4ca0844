#include "calls/call_machine.hpp"

#include <algorithm>

namespace entre::calls {

const char* call_state_name(CallState state) {
  switch (state) {
  case CallState::kCalling:
    return "calling";
  case CallState::kRinging:
    return "ringing";
  case CallState::kIncoming:
    return "incoming";
  case CallState::kActive:
    return "active";
  case CallState::kEnded:
    return "ended";
  }
  return "unknown";
}

const char* call_end_name(CallEnd end) {
  switch (end) {
  case CallEnd::kNone:
    return "none";
  case CallEnd::kHungUpHere:
    return "hung up here";
  case CallEnd::kHungUpThere:
    return "hung up by the peer";
  case CallEnd::kDeclinedHere:
    return "declined here";
  case CallEnd::kDeclinedThere:
    return "declined by the peer";
  case CallEnd::kBusy:
    return "busy";
  case CallEnd::kNoAnswer:
    return "no answer";
  case CallEnd::kUnreachable:
    return "unreachable";
  case CallEnd::kNoCommonCodec:
    return "no codec in common";
  }
  return "unknown";
}

CallSignal CallMachine::signal(SignalType type) const {
  CallSignal s;
  s.type = type;
  s.call_id = call_id_;
  return s;
}

CallMachine CallMachine::outgoing(uint64_t call_id, std::vector<std::string> codecs,
                                  uint8_t frame_ms, int64_t now_ms, const CallTimeouts& timeouts,
                                  std::vector<CallSignal>& send) {
  CallMachine m;
  m.call_id_ = call_id;
  m.outgoing_ = true;
  m.state_ = CallState::kCalling;
  m.offer_ = std::move(codecs);
  m.frame_ms_ = frame_ms;
  m.timeouts_ = timeouts;
  m.started_ms_ = m.state_since_ms_ = now_ms;
  CallSignal invite = m.signal(SignalType::kInvite);
  invite.frame_ms = frame_ms;
  invite.codecs = m.offer_;
  send.push_back(std::move(invite));
  return m;
}

CallMachine CallMachine::incoming(const CallSignal& invite,
                                  const std::vector<std::string>& local_codecs, int64_t now_ms,
                                  const CallTimeouts& timeouts, std::vector<CallSignal>& send) {
  CallMachine m;
  m.call_id_ = invite.call_id;
  m.outgoing_ = false;
  m.timeouts_ = timeouts;
  m.frame_ms_ = invite.frame_ms;
  m.started_ms_ = m.state_since_ms_ = now_ms;
  for (const auto& offered : invite.codecs) {
    if (std::find(local_codecs.begin(), local_codecs.end(), offered) != local_codecs.end()) {
      m.codec_ = offered;
      break;
    }
  }
  if (m.codec_.empty()) {
    CallSignal reject = m.signal(SignalType::kReject);
    reject.reason = RejectReason::kNoCommonCodec;
    send.push_back(reject);
    m.finish(CallEnd::kNoCommonCodec);
    return m;
  }
  m.state_ = CallState::kIncoming;
  send.push_back(m.signal(SignalType::kRinging));
  return m;
}

void CallMachine::finish(CallEnd why) {
  state_ = CallState::kEnded;
  end_ = why;
}

void CallMachine::on_signal(const CallSignal& s, int64_t now_ms, std::vector<CallSignal>& send) {
  if (state_ == CallState::kEnded || s.call_id != call_id_) {
    return;
  }
  switch (s.type) {
  case SignalType::kRinging:
    if (state_ == CallState::kCalling) {
      state_ = CallState::kRinging;
      state_since_ms_ = now_ms;
    }
    break;
  case SignalType::kAccept:
    if (outgoing_ && (state_ == CallState::kCalling || state_ == CallState::kRinging)) {
      const std::string chosen = s.codecs.empty() ? std::string() : s.codecs.front();
      if (std::find(offer_.begin(), offer_.end(), chosen) == offer_.end()) {
        // The peer chose something never offered: end the call rather than guess.
        send.push_back(signal(SignalType::kHangup));
        finish(CallEnd::kNoCommonCodec);
        return;
      }
      codec_ = chosen;
      sample_rate_ = s.sample_rate;
      salt_ = s.salt;
      state_ = CallState::kActive;
      active_since_ms_ = state_since_ms_ = now_ms;
    }
    break;
  case SignalType::kReject:
    finish(s.reason == RejectReason::kNoCommonCodec ? CallEnd::kNoCommonCodec
                                                    : CallEnd::kDeclinedThere);
    break;
  case SignalType::kBusy:
    if (outgoing_ && state_ != CallState::kActive) {
      finish(CallEnd::kBusy);
    }
    break;
  case SignalType::kHangup:
    finish(state_ == CallState::kActive ? CallEnd::kHungUpThere
           : outgoing_                  ? CallEnd::kDeclinedThere
                                        : CallEnd::kHungUpThere);
    break;
  case SignalType::kReport:
    break; // the call service's business
  case SignalType::kInvite:
    break; // a repeated invite of this call: already answered with ringing
  }
}

bool CallMachine::answer(int64_t now_ms, uint32_t sample_rate, const std::array<uint8_t, 16>& salt,
                         std::vector<CallSignal>& send) {
  if (outgoing_ || state_ != CallState::kIncoming) {
    return false;
  }
  sample_rate_ = sample_rate;
  salt_ = salt;
  CallSignal accept = signal(SignalType::kAccept);
  accept.codecs = {codec_};
  accept.sample_rate = sample_rate;
  accept.salt = salt;
  send.push_back(std::move(accept));
  state_ = CallState::kActive;
  active_since_ms_ = state_since_ms_ = now_ms;
  return true;
}

void CallMachine::hang_up(int64_t, std::vector<CallSignal>& send) {
  if (state_ == CallState::kEnded) {
    return;
  }
  if (state_ == CallState::kIncoming) {
    CallSignal reject = signal(SignalType::kReject);
    reject.reason = RejectReason::kDeclined;
    send.push_back(reject);
    finish(CallEnd::kDeclinedHere);
    return;
  }
  send.push_back(signal(SignalType::kHangup));
  finish(CallEnd::kHungUpHere);
}

std::optional<int64_t> CallMachine::deadline() const {
  switch (state_) {
  case CallState::kCalling:
    return state_since_ms_ + timeouts_.reach_ms;
  case CallState::kRinging:
  case CallState::kIncoming:
    return state_since_ms_ + timeouts_.ring_ms;
  case CallState::kActive:
  case CallState::kEnded:
    return std::nullopt;
  }
  return std::nullopt;
}

void CallMachine::on_timer(int64_t now_ms, std::vector<CallSignal>& send) {
  const auto due = deadline();
  if (!due || now_ms < *due) {
    return;
  }
  if (outgoing_) {
    send.push_back(signal(SignalType::kHangup));
  } else {
    CallSignal reject = signal(SignalType::kReject);
    reject.reason = RejectReason::kDeclined;
    send.push_back(reject);
  }
  finish(state_ == CallState::kCalling ? CallEnd::kUnreachable : CallEnd::kNoAnswer);
}

} // namespace entre::calls
