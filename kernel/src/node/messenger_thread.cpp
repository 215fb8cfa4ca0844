#include "node/messenger_thread.hpp"

#include <boost/asio/post.hpp>

#include <chrono>

#include <pthread.h>

namespace entre {

namespace {

uint64_t mono_now() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

MessengerThread::MessengerThread(sdk::CryptoSuite& crypto, sdk::Storage& storage,
                                 boost::asio::io_context& io, EngineConfig config, EventSink events,
                                 LogSink log)
    : io_(io), events_(std::move(events)), log_(std::move(log)) {
  engine_ = std::make_unique<Engine>(crypto, storage, *this, EngineClock{mono_now, wall_now},
                                     std::move(config));
}

MessengerThread::~MessengerThread() { stop(); }

std::size_t MessengerThread::add_transport(sdk::Transport* transport, const std::string& plugin_id,
                                           sdk::Discovery* discovery,
                                           sdk::RelayedTransport* relayed) {
  transports_.push_back(transport);
  discoveries_.push_back(discovery);
  return engine_->add_transport(transport, plugin_id, discovery, relayed);
}

void MessengerThread::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "entre-messenger");
    loop();
  });
}

void MessengerThread::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  // Whatever is still queued is answered as failed.
  std::deque<Task> left;
  {
    std::lock_guard lock(mu_);
    left.swap(queue_);
    queued_frames_ = 0;
  }
  for (auto& t : left) {
    if (t.done) {
      t.done(false);
    }
  }
}

void MessengerThread::post_frame(std::size_t transport, std::string_view endpoint,
                                 std::span<const uint8_t> frame) {
  Task task;
  task.run = [transport, endpoint = std::string(endpoint),
              frame = std::vector<uint8_t>(frame.begin(), frame.end())](Engine& e) {
    e.on_frame(transport, endpoint, frame);
  };
  post_bounded(std::move(task));
}

void MessengerThread::post_discovered(std::size_t transport, std::string_view endpoint,
                                      std::span<const uint8_t> beacon) {
  Task task;
  task.run = [transport, endpoint = std::string(endpoint),
              beacon = std::vector<uint8_t>(beacon.begin(), beacon.end())](Engine& e) {
    e.on_discovered(transport, endpoint, beacon);
  };
  post_bounded(std::move(task));
}

void MessengerThread::post_bounded(Task task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queued_frames_ >= kMaxQueuedFrames) {
      queue_drops_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    ++queued_frames_;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void MessengerThread::submit(Task task) {
  {
    std::unique_lock lock(mu_);
    if (thread_.joinable() && !stopping_) {
      queue_.push_back(std::move(task));
      lock.unlock();
      cv_.notify_one();
      return;
    }
  }
  // Not running: run inline on the caller's thread (before start or after stop).
  std::lock_guard inline_lock(inline_mu_);
  std::deque<Task> one;
  one.push_back(std::move(task));
  turn(one);
}

void MessengerThread::loop() {
  std::deque<Task> tasks;
  while (true) {
    {
      std::unique_lock lock(mu_);
      const auto due = next_due();
      auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (due) {
        const uint64_t now = mono_now();
        const auto wait = std::chrono::milliseconds(*due > now ? *due - now : 0);
        cv_.wait_for(lock, wait, ready);
      } else {
        cv_.wait(lock, ready);
      }
      if (stopping_) {
        break;
      }
      tasks.swap(queue_);
      queued_frames_ = 0;
    }
    turn(tasks);
    tasks.clear();
  }
}

std::optional<uint64_t> MessengerThread::next_due() const {
  auto due = engine_->next_timer_ms();
  if (calls_ != nullptr) {
    if (const auto c = calls_->next_timer_ms(); c && (!due || *c < *due)) {
      due = c;
    }
  }
  return due;
}

void MessengerThread::turn(std::deque<Task>& tasks) {
  for (auto& t : tasks) {
    t.run(*engine_);
  }
  if (const auto due = engine_->next_timer_ms(); due && *due <= mono_now()) {
    engine_->on_timer();
  }
  if (calls_ != nullptr) {
    // Signals are handled after the engine returned, so that the call service may send at once.
    for (std::size_t i = 0; i < signals_.size(); ++i) {
      calls_->on_signal(*engine_, signals_[i].first, signals_[i].second);
    }
    signals_.clear();
    if (const auto due = calls_->next_timer_ms(); due && *due <= mono_now()) {
      calls_->on_timer(*engine_);
    }
  }
  const bool ok = engine_->flush();
  if (!out_.empty() || !beacons_out_.empty()) {
    auto frames = std::make_shared<std::vector<OutFrame>>(std::move(out_));
    auto beacons = std::make_shared<std::vector<OutFrame>>(std::move(beacons_out_));
    out_.clear();
    beacons_out_.clear();
    boost::asio::post(io_, [this, frames, beacons] {
      send_now(*frames);
      for (auto& b : *beacons) {
        (void)discoveries_[b.transport]->send_beacon(sdk::ByteView(b.frame));
      }
    });
  }
  for (auto& t : tasks) {
    if (t.done) {
      t.done(ok);
    }
  }
}

void MessengerThread::send_frame(std::size_t transport, const std::string& endpoint,
                                 std::vector<uint8_t> frame) {
  out_.push_back({transport, endpoint, std::move(frame)});
}

void MessengerThread::send_beacon(std::size_t transport, std::vector<uint8_t> beacon) {
  if (transport < discoveries_.size() && discoveries_[transport] != nullptr) {
    beacons_out_.push_back({transport, {}, std::move(beacon)});
  }
}

void MessengerThread::call_signal(const std::string& contact, std::vector<uint8_t> signal) {
  if (calls_ != nullptr && signals_.size() < 256) {
    signals_.emplace_back(contact, std::move(signal));
  }
}

void MessengerThread::send_direct(std::size_t transport, const std::string& endpoint,
                                  std::vector<uint8_t> frame) {
  if (transport >= transports_.size()) {
    return;
  }
  boost::asio::post(io_, [this, transport, endpoint, frame = std::move(frame)] {
    (void)transports_[transport]->send(sdk::StringView(endpoint), sdk::ByteView(frame));
  });
}

std::vector<MessengerThread::OutFrame> MessengerThread::farewell() {
  return call<std::vector<OutFrame>>(
      [this](Engine& e) {
        e.say_goodbye();
        e.flush();
        std::vector<OutFrame> frames = std::move(out_);
        out_.clear();
        return frames;
      },
      {});
}

void MessengerThread::send_now(const std::vector<OutFrame>& frames) {
  for (const auto& f : frames) {
    (void)transports_[f.transport]->send(sdk::StringView(f.endpoint), sdk::ByteView(f.frame));
  }
}

void MessengerThread::event(Event event) { events_(std::move(event)); }

void MessengerThread::log(int level, const std::string& message) { log_(level, message); }

} // namespace entre
