// The adaptive jitter buffer of one incoming call stream. It takes packets as they arrive (in any
// order, with duplicates and gaps) and gives the audio thread one frame per playout tick: the
// packet to decode, or a lost frame to conceal (with the packet after it, whose in-band FEC may
// rebuild it), or nothing yet (before playout starts).
//
// Delay: each packet's transit offset (arrival time minus its place in the stream) is kept for the
// last kHistory packets. The target delay is the spread between their 95th percentile and their
// minimum, plus one frame, bounded by [min_delay_ms, max_delay_ms]: enough to absorb the jitter
// seen lately, no more. The buffer follows the target by dropping one frame (when more than a
// frame too deep) or holding playout back one tick (when more than a frame too shallow), at most
// once every kAdaptEveryFrames frames, so the change is spread out and stays inaudible.
//
// In-band FEC (config.fec): a lost frame can be rebuilt from the packet after it, so when a
// frame's turn comes and neither it nor the packet after it is here, the buffer holds that frame's
// slot for one tick (the caller conceals, nothing is consumed) instead of giving the frame up.
// The next tick plays the frame if it came late, rebuilds it if the packet after it came, and
// only then conceals it. A busy machine delivers packets in bursts, and without the hold the
// packet carrying a lost frame's FEC came a moment after the frame had been concealed. The hold
// is taken once per run of missing frames, only while the stream was playing (not in a pause
// or a long outage) and only within max_delay_ms; the extra frame of delay it adds stays only
// while the buffer is not deeper than its target allows, so a lossy call keeps just the one
// frame of slack FEC needs.
//
// Not thread-safe: the audio thread owns it (the network thread hands packets over through a
// queue). insert() and pop() never allocate: packets are copied into slots allocated once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace entre::calls {

struct JitterConfig {
  uint32_t frame_ms = 20;
  uint32_t min_delay_ms = 20;
  uint32_t max_delay_ms = 400;
  uint32_t capacity_frames = 64; // packets held at most (beyond: refused as too far ahead), 2..4096
  uint32_t max_packet_bytes = 4000;
  bool fec = false; // packets carry in-band FEC of the frame before them: hold for it (above)
};

struct JitterStats {
  uint64_t received = 0;
  uint64_t played = 0;
  uint64_t concealed = 0; // frames with no packet when their turn came
  uint64_t late = 0;      // packets that came after their turn
  uint64_t duplicates = 0;
  uint64_t too_far = 0; // packets too far ahead of playout (or before its start) to hold
  uint64_t dropped_to_shrink = 0;
  uint64_t held_to_grow = 0;
  uint64_t held_for_fec = 0; // ticks a missing frame waited for the packet after it
  uint32_t target_delay_ms = 0;
  uint32_t buffered_ms = 0; // packets waiting, in time
  double jitter_ms = 0;     // RFC 3550 interarrival jitter estimate
};

class JitterBuffer {
 public:
  static constexpr std::size_t kHistory = 128;
  static constexpr uint32_t kAdaptEveryFrames = 10;

  explicit JitterBuffer(const JitterConfig& config);

  enum class Insert { kStored, kDuplicate, kLate, kTooFar, kTooBig };
  // `seq`: the packet's frame index in the stream (consecutive frames differ by 1).
  Insert insert(uint64_t seq, int64_t arrival_ms, std::span<const uint8_t> packet);

  struct Playout {
    enum class Kind { kWaiting, kFrame, kLost } kind = Kind::kWaiting;
    std::span<const uint8_t> packet; // kFrame: decode this
    std::span<const uint8_t> next;   // kLost: the following packet, if here (for FEC)
    bool held = false;               // kLost: a tick added to the stream; no frame was given up
    uint64_t seq = 0;                // kFrame, kLost: the frame this tick plays (or holds)
  };
  // One playout tick; the spans stay valid until the next insert() or pop().
  Playout pop();

  [[nodiscard]] const JitterStats& stats() const { return stats_; }

 private:
  struct Slot {
    bool full = false;
    uint64_t seq = 0;
    uint32_t size = 0;
  };
  Slot* slot_of(uint64_t seq);
  void note_transit(uint64_t seq, int64_t arrival_ms);
  void update_target();
  [[nodiscard]] uint32_t depth_frames() const;

  JitterConfig config_;
  std::vector<Slot> slots_;
  std::vector<uint8_t> storage_; // capacity_frames * max_packet_bytes
  bool started_ = false;         // playout began
  uint64_t next_ = 0;            // the seq the next pop() plays
  uint64_t highest_ = 0;
  uint64_t first_ = 0; // the first packet's seq: transit times are relative to it
  bool any_ = false;
  std::array<int64_t, kHistory> transit_{};
  std::size_t transit_count_ = 0;
  std::size_t transit_at_ = 0;
  std::array<int64_t, kHistory> sorted_{};
  int64_t last_transit_ = 0;
  uint32_t since_adapt_ = 0;
  bool flowing_ = false;   // the last tick played a packet (decoded or rebuilt from FEC)
  bool held_next_ = false; // next_ has already waited one tick for FEC
  JitterStats stats_;
};

} // namespace entre::calls
