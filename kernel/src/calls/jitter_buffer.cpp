#include "calls/jitter_buffer.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace entre::calls {

namespace {

JitterConfig checked(JitterConfig c) {
  c.frame_ms = std::clamp<uint32_t>(c.frame_ms, 1, 1000);
  c.capacity_frames = std::clamp<uint32_t>(c.capacity_frames, 2, 4096);
  c.max_packet_bytes = std::max<uint32_t>(c.max_packet_bytes, 1);
  c.max_delay_ms = std::max(c.max_delay_ms, c.min_delay_ms);
  return c;
}

} // namespace

JitterBuffer::JitterBuffer(const JitterConfig& config)
    : config_(checked(config)), slots_(config_.capacity_frames),
      storage_(std::size_t{config_.capacity_frames} * config_.max_packet_bytes) {
  stats_.target_delay_ms = config_.min_delay_ms;
}

JitterBuffer::Slot* JitterBuffer::slot_of(uint64_t seq) {
  Slot& s = slots_[seq % slots_.size()];
  return s.full && s.seq == seq ? &s : nullptr;
}

JitterBuffer::Insert JitterBuffer::insert(uint64_t seq, int64_t arrival_ms,
                                          std::span<const uint8_t> packet) {
  if (packet.size() > config_.max_packet_bytes || packet.empty()) {
    return Insert::kTooBig;
  }
  if (seq > UINT64_MAX / 2 ||
      (any_ && (seq + (uint64_t{1} << 32) < first_ || seq > first_ + (uint64_t{1} << 32)))) {
    // Sequence numbers wrap nowhere near this in a call; such a packet is garbage.
    ++stats_.too_far;
    return Insert::kTooFar;
  }
  if (started_ && seq < next_) {
    ++stats_.late;
    if (seq + slots_.size() >= next_) {
      note_transit(seq, arrival_ms); // recent late packets show the jitter most of all
      update_target();
    }
    return Insert::kLate;
  }
  // Everything held, from the next to play (or the lowest before playout) to the highest, must fit
  // in the slots, one residue each.
  if (any_ || started_) {
    const uint64_t low = std::min(next_, seq);
    const uint64_t high = std::max(any_ ? highest_ : seq, seq);
    if (high - low >= slots_.size()) {
      ++stats_.too_far;
      return Insert::kTooFar;
    }
  }
  if (slot_of(seq) != nullptr) {
    ++stats_.duplicates;
    return Insert::kDuplicate;
  }
  const std::size_t index = seq % slots_.size();
  Slot& s = slots_[index];
  s.full = true;
  s.seq = seq;
  s.size = static_cast<uint32_t>(packet.size());
  std::memcpy(storage_.data() + index * config_.max_packet_bytes, packet.data(), packet.size());
  if (!any_ || seq > highest_) {
    highest_ = seq;
  }
  if (!any_ && !started_) {
    next_ = seq;
    first_ = seq;
  } else if (!started_ && seq < next_) {
    next_ = seq;
  }
  any_ = true;
  ++stats_.received;
  note_transit(seq, arrival_ms);
  update_target();
  stats_.buffered_ms = depth_frames() * config_.frame_ms;
  return Insert::kStored;
}

void JitterBuffer::note_transit(uint64_t seq, int64_t arrival_ms) {
  // Relative to the first packet: within 2^32 frames of it (checked on insert), so no overflow.
  const auto offset = static_cast<int64_t>(seq) - static_cast<int64_t>(first_);
  const int64_t transit = arrival_ms - offset * static_cast<int64_t>(config_.frame_ms);
  if (transit_count_ > 0) {
    // RFC 3550 section 6.4.1: J += (|D| - J) / 16
    const double d = std::abs(static_cast<double>(transit - last_transit_));
    stats_.jitter_ms += (d - stats_.jitter_ms) / 16.0;
  }
  last_transit_ = transit;
  transit_[transit_at_] = transit;
  transit_at_ = (transit_at_ + 1) % kHistory;
  transit_count_ = std::min(transit_count_ + 1, kHistory);
}

void JitterBuffer::update_target() {
  if (transit_count_ < 2) {
    return;
  }
  std::copy_n(transit_.begin(), transit_count_, sorted_.begin());
  const auto end = sorted_.begin() + static_cast<std::ptrdiff_t>(transit_count_);
  std::sort(sorted_.begin(), end);
  const int64_t low = sorted_[0];
  const int64_t p95 = sorted_[(transit_count_ - 1) * 95 / 100];
  const int64_t spread = std::max<int64_t>(0, p95 - low) + config_.frame_ms;
  stats_.target_delay_ms = static_cast<uint32_t>(std::clamp<int64_t>(
      spread, config_.min_delay_ms, std::max(config_.min_delay_ms, config_.max_delay_ms)));
}

uint32_t JitterBuffer::depth_frames() const {
  if (!any_ || highest_ < next_) {
    return 0;
  }
  return static_cast<uint32_t>(highest_ - next_ + 1);
}

JitterBuffer::Playout JitterBuffer::pop() {
  Playout out;
  const uint32_t target_frames =
      std::max<uint32_t>(1, (stats_.target_delay_ms + config_.frame_ms - 1) / config_.frame_ms);
  if (!started_) {
    if (!any_ || depth_frames() < target_frames) {
      return out; // prebuffering
    }
    started_ = true;
  }
  ++since_adapt_;
  const uint32_t depth = depth_frames();
  if (since_adapt_ >= kAdaptEveryFrames && depth > target_frames + 1) {
    // Too deep: drop the oldest frame (a lost one if there is a gap, else a real one).
    if (Slot* s = slot_of(next_)) {
      s->full = false;
    }
    ++next_;
    held_next_ = false;
    ++stats_.dropped_to_shrink;
    since_adapt_ = 0;
  } else if (since_adapt_ >= kAdaptEveryFrames && depth + 1 < target_frames) {
    // Too shallow: play nothing new this tick (the caller conceals), so the depth grows by one.
    ++stats_.held_to_grow;
    since_adapt_ = 0;
    out.kind = Playout::Kind::kLost;
    out.held = true;
    out.seq = next_;
    stats_.buffered_ms = depth_frames() * config_.frame_ms;
    return out;
  }
  out.seq = next_;
  if (Slot* s = slot_of(next_)) {
    s->full = false;
    out.kind = Playout::Kind::kFrame;
    out.packet = {storage_.data() + (next_ % slots_.size()) * config_.max_packet_bytes, s->size};
    ++stats_.played;
    flowing_ = true;
  } else {
    out.kind = Playout::Kind::kLost;
    Slot* n = slot_of(next_ + 1);
    if (n == nullptr && config_.fec && flowing_ && !held_next_ &&
        (std::max(depth_frames(), target_frames) + 1) * config_.frame_ms <= config_.max_delay_ms) {
      // Hold the slot one tick: the packet with this frame's FEC (or the frame) may yet come.
      held_next_ = true;
      since_adapt_ = 0;
      ++stats_.held_for_fec;
      out.held = true;
      stats_.buffered_ms = depth_frames() * config_.frame_ms;
      return out;
    }
    if (n != nullptr) {
      out.next = {storage_.data() + ((next_ + 1) % slots_.size()) * config_.max_packet_bytes,
                  n->size};
    }
    flowing_ = n != nullptr;
    ++stats_.concealed;
  }
  held_next_ = false;
  ++next_;
  stats_.buffered_ms = depth_frames() * config_.frame_ms;
  return out;
}

} // namespace entre::calls
