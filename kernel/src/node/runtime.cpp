#include "node/runtime.hpp"

#include <pthread.h>

#include <boost/asio/post.hpp>

#include <future>

namespace entre {

namespace {
thread_local const Runtime* tls_loop_owner = nullptr;
}

Runtime::Runtime(uint32_t loop_threads, uint32_t worker_threads)
    : loop_threads_(loop_threads == 0 ? 1 : loop_threads),
      worker_threads_(worker_threads == 0 ? 1 : worker_threads) {}

Runtime::~Runtime() { stop(); }

void Runtime::start() {
  if (running_.exchange(true)) {
    return;
  }
  io_.restart();
  guard_.emplace(io_.get_executor());
  workers_ = std::make_unique<boost::asio::thread_pool>(worker_threads_);
  accepting_blocking_ = true;
  for (uint32_t i = 0; i < loop_threads_; ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "entre-loop");
      tls_loop_owner = this;
      io_.run();
      tls_loop_owner = nullptr;
    });
  }
}

void Runtime::stop() {
  if (!running_.exchange(false)) {
    return;
  }
  accepting_blocking_ = false;
  if (workers_) {
    workers_->join();
  }
  guard_.reset();
  io_.stop();
  for (auto& t : threads_) {
    t.join();
  }
  threads_.clear();
  workers_.reset();
}

bool Runtime::on_loop_thread() const { return tls_loop_owner == this; }

void Runtime::run_on_loop(const std::function<void()>& fn) {
  if (!running_ || on_loop_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  boost::asio::post(io_, [&] {
    fn();
    done.set_value();
  });
  finished.wait();
}

sdk::Status Runtime::post_blocking(sdk::BlockingTask& task) {
  if (!accepting_blocking_ || !workers_) {
    return sdk::Status::error(sdk::StatusCode::kClosed, "the node is not running");
  }
  boost::asio::post(*workers_, [this, &task] {
    task.run();
    boost::asio::post(io_, [&task] { task.done(); });
  });
  return sdk::Status::ok();
}

} // namespace entre
