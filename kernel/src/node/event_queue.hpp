// A bounded multi-producer queue of events, drained by one consumer.
#pragma once

#include <entre/events.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace entre {

class EventQueue {
 public:
  explicit EventQueue(std::size_t limit) : limit_(limit) {}

  void push(Event event) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= limit_) {
        queue_.pop_front();
        ++dropped_;
      }
      queue_.push_back(std::move(event));
    }
    cv_.notify_one();
  }

  std::optional<Event> pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (timeout.count() > 0) {
      cv_.wait_for(lock, timeout, [this] { return !queue_.empty() || dropped_ > 0; });
    }
    if (dropped_ > 0) {
      Event e = EventsDropped{dropped_};
      dropped_ = 0;
      return e;
    }
    if (queue_.empty()) {
      return std::nullopt;
    }
    Event e = std::move(queue_.front());
    queue_.pop_front();
    return e;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> queue_;
  std::size_t limit_;
  uint64_t dropped_ = 0;
};

} // namespace entre
