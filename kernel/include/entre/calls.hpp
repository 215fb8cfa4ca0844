// Voice calls in the kernel's public API: the call, its live statistics and its stored record.
//
// Contract
// - Every type here is a plain value: copying or keeping one never touches the node.
// - A node has at most one call at a time. Calls are named by their id: 16 lowercase hex
//   characters, chosen at random by the caller.
// - A call is set up over the contact's encrypted message channel and its audio travels as media
//   frames sealed per frame under a key derived from the contact's session for that call
//   (docs/protocol.md, "Media frames" and "Call signals").
#pragma once

#include <cstdint>
#include <string>

namespace entre {

// caller: kCalling -> kRinging -> kActive -> kEnded; callee: kIncoming -> kActive -> kEnded.
// Any phase may end (declined, busy, no answer, unreachable, hung up, no codec in common).
enum class CallPhase : uint32_t { kCalling = 1, kRinging, kIncoming, kActive, kEnded };

[[nodiscard]] const char* call_phase_name(CallPhase phase);

struct CallInfo {
  std::string id;
  std::string contact; // contact id
  bool outgoing = false;
  CallPhase phase = CallPhase::kCalling;
  std::string end;   // kEnded: why, in words ("hung up here", "busy", "no answer", ...)
  std::string codec; // once agreed: the codec's name ("opus", "pcm16")
  uint32_t sample_rate = 0;
  uint32_t frame_ms = 0;
  bool muted = false;
  int64_t started_ms = 0;  // Unix epoch milliseconds
  int64_t answered_ms = 0; // 0 until active
};

// Live statistics of the active call, sent as CallStatsUpdated about once a second.
// "frames" are media frames of this call; received frames pass the cipher, dropped ones do not.
struct CallStats {
  std::string id;
  std::string contact;
  uint32_t rtt_ms = 0;          // of the link carrying the call (0: not measured yet)
  double loss_percent = 0;      // incoming frames that never came in time, over the last second
  double peer_loss_percent = 0; // what the peer last reported of this node's frames
  double jitter_ms = 0;         // interarrival jitter of incoming frames (RFC 3550 estimate)
  uint32_t buffer_ms = 0;       // the jitter buffer's target delay
  uint32_t bitrate_bps = 0;     // outgoing codec payload, over the last second
  uint64_t frames_sent = 0;
  uint64_t frames_received = 0;
  uint64_t frames_played = 0;
  // Ticks played from concealment or FEC: the packet was missing at its turn (a tick that held a
  // lost frame's place while its FEC could still come counts too).
  uint64_t frames_concealed = 0;
  uint64_t frames_recovered = 0; // of those, rebuilt from the next packet's in-band FEC
  uint64_t frames_late = 0;      // came after their turn to play, or as duplicates: not played
  uint64_t frames_replayed = 0;  // a counter the cipher had seen (or too old for its window)
  uint64_t frames_forged = 0;    // failed authentication: another key, or altered
  uint64_t frames_malformed = 0; // truncated or bad header
  uint64_t frames_foreign = 0;   // name no call in progress
  float input_level = 0;         // peak of the last captured frame, 0..1 (0 while muted)
  float output_level = 0;        // peak of the last played frame, 0..1
  bool muted = false;
};

// A call as stored in the call history.
struct CallRecord {
  std::string id;
  std::string contact;
  bool outgoing = false;
  int64_t started_ms = 0;
  int64_t answered_ms = 0; // 0: never answered
  int64_t ended_ms = 0;
  std::string end; // why it ended, as CallInfo::end
  std::string codec;
};

} // namespace entre
