// The receiving half of a call's audio, without threads or clocks: packets in (with the sender's
// 48 kHz timestamp and the arrival time), one frame of sound out per playout tick. It joins the
// jitter buffer and the decoder: a packet whose turn has come is decoded, a missing one is rebuilt
// from the next packet's in-band FEC when the stream carries it, or else concealed.
//
// MediaSession runs it on the playback callback's thread; tests run it on a simulated clock.
// Not thread-safe. receive() and play() never allocate.
#pragma once

#include "calls/jitter_buffer.hpp"

#include <entre/sdk/codec.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace entre::calls {

struct ReceiverCounters {
  uint64_t played = 0;    // ticks decoded from their own packet
  uint64_t concealed = 0; // ticks with no packet of their own: rebuilt from FEC or concealed
  uint64_t recovered = 0; // of those, rebuilt from the next packet's FEC
  uint64_t untimely = 0;  // packets before the stream's first, or off the frame grid
};

class AudioReceiver {
 public:
  // `decoder` is not owned and must outlive the receiver; it makes frames of `frame_samples`.
  // `timestamp_step`: the sender's timestamp advance per frame (48 kHz units). `config.fec`:
  // the stream carries in-band FEC, so a lost frame is rebuilt from the packet after it.
  AudioReceiver(const JitterConfig& config, sdk::Decoder& decoder, uint32_t frame_samples,
                uint32_t timestamp_step);

  // A packet as it arrived (any order, duplicates and garbage timestamps included).
  void receive(uint32_t timestamp, int64_t arrival_ms, std::span<const uint8_t> packet);

  // One playout tick: writes `samples` samples into `pcm` (one frame; a device asking for more
  // gets silence after it, one asking for fewer gets the frame's start). False when the tick is
  // silence: before playout starts, or the decoder failed.
  bool play(int16_t* pcm, uint32_t samples);

  // The kind of the last tick, for tests and statistics.
  [[nodiscard]] const JitterBuffer::Playout& last() const { return last_; }
  [[nodiscard]] const ReceiverCounters& counters() const { return counters_; }
  [[nodiscard]] const JitterStats& jitter() const { return jitter_.stats(); }

 private:
  JitterBuffer jitter_;
  sdk::Decoder& decoder_;
  uint32_t frame_samples_;
  uint32_t timestamp_step_;
  bool fec_;
  bool have_ts_ = false;
  uint32_t last_ts_ = 0;
  int64_t ext_ts_ = 0;           // last timestamp, unwrapped relative to the first
  std::vector<int16_t> decoded_; // one frame, for devices that ask for fewer samples
  JitterBuffer::Playout last_;
  ReceiverCounters counters_;
};

} // namespace entre::calls
