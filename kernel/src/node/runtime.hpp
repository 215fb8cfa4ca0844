// The node's runtime: one io_context run by a small pool of loop threads, and a separate pool for
// blocking work (disk, key derivation) so that no loop thread ever blocks.
#pragma once

#include <entre/sdk/host.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace entre {

class Runtime {
 public:
  Runtime(uint32_t loop_threads, uint32_t worker_threads);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  [[nodiscard]] boost::asio::io_context& io() { return io_; }

  void start();
  // Stops accepting blocking work, waits for the worker pool, stops the loop and joins its threads.
  // Handlers still queued are not run; they are destroyed with the io_context.
  void stop();
  [[nodiscard]] bool running() const { return running_.load(); }

  // Runs `fn` on a loop thread and waits for it. Runs it inline when the loop is not running or the
  // caller already is a loop thread.
  void run_on_loop(const std::function<void()>& fn);

  sdk::Status post_blocking(sdk::BlockingTask& task);

 private:
  [[nodiscard]] bool on_loop_thread() const;

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::vector<std::thread> threads_;
  std::unique_ptr<boost::asio::thread_pool> workers_;
  uint32_t loop_threads_;
  uint32_t worker_threads_;
  std::atomic<bool> running_{false};
  std::atomic<bool> accepting_blocking_{false};
};

} // namespace entre
