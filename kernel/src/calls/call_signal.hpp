// Call signals: what two nodes say to set up and end a call, carried end-to-end encrypted over the
// message channel (docs/protocol.md, "Call signals").
//
//   signal  = type (1) || call_id (8, little-endian) || body
//   invite  = 0x01: frame_ms (1) || count (1, 1..8) || count * codec
//   ringing = 0x02: (empty)          accept = 0x03: codec || rate (4, LE) || salt (16)
//   reject  = 0x04: reason (1)       busy   = 0x05: (empty)       hangup = 0x06: (empty)
//   report  = 0x07: loss (1, 0..100)  ; during a call, about once a second: the share of the
//                                     ; peer's frames lost (or late) lately, in percent
//   codec   = length (1, 1..31) || name ([a-z0-9-], the CodecInfo name, e.g. "opus")
//
// accept's rate is the sample rate the callee chose for the codec (8000 to 48000 Hz) and its salt
// 16 random bytes: the call's media key is derived from the call id and the salt together, so a
// call id used again (by a faulty or hostile caller) never brings back a key and its nonces.
// A signal has no other bytes: trailing bytes, an unknown type or reason, a bad name, a frame
// length other than 10, 20, 40 or 60 ms, or a repeated codec is refused with its reason.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace entre::calls {

enum class SignalType : uint8_t {
  kInvite = 1,
  kRinging = 2,
  kAccept = 3,
  kReject = 4,
  kBusy = 5,
  kHangup = 6,
  kReport = 7,
};

enum class RejectReason : uint8_t { kDeclined = 1, kNoCommonCodec = 2 };

inline constexpr std::size_t kMaxOfferedCodecs = 8;
inline constexpr std::size_t kMaxCodecNameBytes = 31;

struct CallSignal {
  SignalType type = SignalType::kHangup;
  uint64_t call_id = 0;
  uint8_t frame_ms = 20;           // invite
  std::vector<std::string> codecs; // invite: offered, most preferred first; accept: the chosen one
  uint32_t sample_rate = 0;        // accept
  std::array<uint8_t, 16> salt{};  // accept
  RejectReason reason = RejectReason::kDeclined; // reject
  uint8_t loss_percent = 0;                      // report
};

[[nodiscard]] std::vector<uint8_t> encode_signal(const CallSignal& signal);
// Parses `bytes`; false with `error` saying what is wrong.
[[nodiscard]] bool parse_signal(std::span<const uint8_t> bytes, CallSignal& out,
                                std::string& error);

} // namespace entre::calls
