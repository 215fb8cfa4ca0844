// The node's messenger thread: owns the Engine and is the only thread that touches it, the crypto
// suite's identity and the storage plugin. Everything else reaches the engine by posting a task.
//
// Each turn of the loop takes every queued task (frames from transports, API calls), runs them,
// runs the engine's timers when due, and calls Engine::flush() once: one storage transaction per
// turn, however many inputs it covered. API calls get their result only after that flush, so a call
// that returned ok is durable. Frames produced by a turn go to the transports in one post to the
// event loop (transports are only called there).
#pragma once

#include "calls/call_service.hpp"
#include "messaging/engine.hpp"

#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

namespace entre {

class MessengerThread final : public EngineOutput {
 public:
  using EventSink = std::function<void(Event)>;
  using LogSink = std::function<void(int, const std::string&)>;

  static constexpr std::size_t kMaxQueuedFrames = 65536;

  MessengerThread(sdk::CryptoSuite& crypto, sdk::Storage& storage, boost::asio::io_context& io,
                  EngineConfig config, EventSink events, LogSink log);
  ~MessengerThread();
  MessengerThread(const MessengerThread&) = delete;
  MessengerThread& operator=(const MessengerThread&) = delete;

  // Before start() only.
  std::size_t add_transport(sdk::Transport* transport, const std::string& plugin_id,
                            sdk::Discovery* discovery = nullptr,
                            sdk::RelayedTransport* relayed = nullptr);
  void enable_discovery(sdk::PairwiseKeys* pairwise) { engine_->enable_discovery(pairwise); }
  void enable_message_paths(sdk::MessagePaths* paths) { engine_->enable_message_paths(paths); }
  // The call service, driven on this thread (its signals, timers and API calls). Before start().
  void set_calls(calls::CallService* calls) { calls_ = calls; }
  void start();
  void stop();

  // From any thread: a frame a transport received (copied). Dropped and counted when the queue is
  // full.
  void post_frame(std::size_t transport, std::string_view endpoint, std::span<const uint8_t> frame);
  // From any thread: a beacon a discovery transport received (copied); dropped and counted as
  // frames are.
  void post_discovered(std::size_t transport, std::string_view endpoint,
                       std::span<const uint8_t> beacon);

  // Runs `fn` on the messenger thread, flushes, and returns its result; when the flush fails the
  // result is replaced by `on_failure`. Runs inline when the thread is not running.
  template <typename T> T call(std::function<T(Engine&)> fn, T on_failure) {
    auto promise = std::make_shared<std::promise<T>>();
    auto result = std::make_shared<std::optional<T>>();
    Task task;
    task.run = [fn = std::move(fn), result](Engine& e) { result->emplace(fn(e)); };
    task.done = [promise, result, on_failure](bool ok) {
      promise->set_value(ok && result->has_value() ? std::move(**result) : on_failure);
    };
    auto future = promise->get_future();
    submit(std::move(task));
    return future.get();
  }

  // From any thread: sends a frame on a transport from the event loop, bypassing the engine (a
  // call's media frames).
  void send_direct(std::size_t transport, const std::string& endpoint, std::vector<uint8_t> frame);

  [[nodiscard]] uint64_t frames_dropped_queue_full() const { return queue_drops_.load(); }

  struct OutFrame {
    std::size_t transport;
    std::string endpoint;
    std::vector<uint8_t> frame;
  };
  // The node is stopping: the engine says goodbye on every link (Engine::say_goodbye), and the
  // frames of that turn come back unsent, for send_now() on the event loop before the transports
  // stop (a post to the loop could run after them).
  [[nodiscard]] std::vector<OutFrame> farewell();
  // On an event-loop thread: hands `frames` to their transports.
  void send_now(const std::vector<OutFrame>& frames);

 private:
  struct Task {
    std::function<void(Engine&)> run;
    std::function<void(bool)> done; // may be empty
  };

  void submit(Task task);
  void post_bounded(Task task);
  void loop();
  void turn(std::deque<Task>& tasks);

  void send_frame(std::size_t transport, const std::string& endpoint,
                  std::vector<uint8_t> frame) override;
  void send_beacon(std::size_t transport, std::vector<uint8_t> beacon) override;
  void event(Event event) override;
  void log(int level, const std::string& message) override;
  void call_signal(const std::string& contact, std::vector<uint8_t> signal) override;
  [[nodiscard]] std::optional<uint64_t> next_due() const;

  boost::asio::io_context& io_;
  EventSink events_;
  LogSink log_;
  std::vector<sdk::Transport*> transports_;
  std::vector<sdk::Discovery*> discoveries_;
  std::vector<OutFrame> beacons_out_; // endpoint unused
  std::unique_ptr<Engine> engine_;
  std::vector<OutFrame> out_;
  calls::CallService* calls_ = nullptr;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> signals_; // received this turn

  std::mutex inline_mu_; // serialises callers that run tasks inline (thread not running)
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  std::size_t queued_frames_ = 0;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<uint64_t> queue_drops_{0};
};

} // namespace entre
