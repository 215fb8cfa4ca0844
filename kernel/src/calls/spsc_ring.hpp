// A single-producer, single-consumer ring of fixed-size byte slots, for handing audio and packets
// between a real-time audio thread and another thread without locks or allocation: push() and
// front()/pop() only copy into and read from memory allocated once at construction.
//
// Exactly one thread may push and exactly one (other) thread may read; either may ask for the
// counters. A push into a full ring fails (the caller counts the loss).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace entre::calls {

class SpscRing {
 public:
  struct Item {
    std::span<const uint8_t> data;
    uint64_t tag = 0; // the producer's word (a timestamp, a sequence number)
    int64_t when = 0; // the producer's time stamp, ms
  };

  SpscRing(std::size_t slots, std::size_t slot_bytes)
      : slots_(slots < 2 ? 2 : slots), slot_bytes_(slot_bytes), storage_(slots_ * slot_bytes),
        meta_(slots_) {}

  // Producer. False when the ring is full or `data` is larger than a slot.
  bool push(std::span<const uint8_t> data, uint64_t tag, int64_t when) {
    if (data.size() > slot_bytes_) {
      return false;
    }
    const std::size_t head = head_.load(std::memory_order_relaxed);
    const std::size_t next = (head + 1) % slots_;
    if (next == tail_.load(std::memory_order_acquire)) {
      return false;
    }
    if (!data.empty()) {
      std::memcpy(storage_.data() + head * slot_bytes_, data.data(), data.size());
    }
    meta_[head] = Meta{data.size(), tag, when};
    head_.store(next, std::memory_order_release);
    return true;
  }

  // Consumer: the oldest item, valid until pop(); false when empty.
  bool front(Item& out) const {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) {
      return false;
    }
    const Meta& m = meta_[tail];
    out.data = std::span<const uint8_t>(storage_.data() + tail * slot_bytes_, m.size);
    out.tag = m.tag;
    out.when = m.when;
    return true;
  }
  void pop() {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    tail_.store((tail + 1) % slots_, std::memory_order_release);
  }

  [[nodiscard]] std::size_t slot_bytes() const { return slot_bytes_; }

 private:
  struct Meta {
    std::size_t size = 0;
    uint64_t tag = 0;
    int64_t when = 0;
  };
  std::size_t slots_;
  std::size_t slot_bytes_;
  std::vector<uint8_t> storage_;
  std::vector<Meta> meta_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

} // namespace entre::calls
