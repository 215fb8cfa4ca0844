// A client of entre-host's control socket for tests: JSON lines over a Unix-domain socket, read
// with deadlines on the calling thread. Events that arrive while a response is awaited are kept.
#pragma once

#include "../messaging/process_harness.hpp"

#include <nlohmann/json.hpp>

#include <poll.h>
#include <sys/un.h>

namespace entre::integ {

using Json = nlohmann::ordered_json;

class ControlClient {
 public:
  // Connects, retrying until `timeout` (the node may still be starting).
  explicit ControlClient(const std::filesystem::path& path,
                         std::chrono::milliseconds timeout = kReadyTimeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      const std::string p = path.string();
      std::copy(p.begin(), p.end(), addr.sun_path);
      if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        return;
      }
      ::close(fd_);
      fd_ = -1;
      if (Clock::now() > deadline) {
        throw HarnessError("cannot connect to " + p + ": " + std::strerror(errno));
      }
      std::this_thread::sleep_for(50ms);
    }
  }
  ~ControlClient() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  [[nodiscard]] int fd() const { return fd_; }

  // Writes all of `bytes`; false when the node closed the connection.
  bool send_raw(const std::string& bytes) {
    ignore_sigpipe();
    return write_all(fd_, bytes);
  }

  // The next line as JSON; nullopt at the deadline or when the connection ended (closed() says).
  std::optional<Json> next(Clock::time_point deadline) {
    while (true) {
      const std::size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        Json j = Json::parse(line, nullptr, false);
        if (j.is_discarded()) {
          throw HarnessError("the node sent a line that is not JSON: " + line.substr(0, 200));
        }
        return j;
      }
      if (closed_) {
        return std::nullopt;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        return std::nullopt;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) <= 0) {
        continue;
      }
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        closed_ = true;
        continue;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // Sends a request and returns its response (the whole object, "result" or "error").
  Json call(const std::string& method, const Json& params = Json::object()) {
    const int64_t id = next_id_++;
    if (!send_raw(Json{{"id", id}, {"method", method}, {"params", params}}.dump() + "\n")) {
      throw HarnessError("the node closed the control connection before '" + method + "'");
    }
    return response(id);
  }

  Json response(const Json& id) {
    const auto deadline = Clock::now() + kCommandTimeout;
    while (auto j = next(deadline)) {
      if (j->contains("event")) {
        events_.push_back(*j);
        continue;
      }
      if ((*j)["id"] == id) {
        return *j;
      }
      throw HarnessError("response to another request: " + j->dump());
    }
    throw HarnessError("no response to request " + id.dump());
  }

  // The result of a call that must succeed.
  Json result(const std::string& method, const Json& params = Json::object()) {
    Json r = call(method, params);
    if (!r.contains("result")) {
      throw HarnessError(method + " failed: " + r.dump());
    }
    return r["result"];
  }

  // The error code of a call that must fail.
  std::string error(const std::string& method, const Json& params = Json::object()) {
    Json r = call(method, params);
    if (!r.contains("error")) {
      throw HarnessError(method + " succeeded: " + r.dump());
    }
    return r["error"]["code"].get<std::string>();
  }

  // Waits for an event matching `match` (kept events first).
  std::optional<Json> wait_event(const std::function<bool(const Json&)>& match,
                                 std::chrono::milliseconds timeout = kCommandTimeout) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if (match(*it)) {
        Json e = *it;
        events_.erase(it);
        return e;
      }
    }
    const auto deadline = Clock::now() + timeout;
    while (auto j = next(deadline)) {
      if (j->contains("event") && match(*j)) {
        return j;
      }
      if (j->contains("event")) {
        events_.push_back(*j);
      }
    }
    return std::nullopt;
  }

  [[nodiscard]] bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
  int64_t next_id_ = 1;
  std::deque<Json> events_;
};

// Runs a program to its end; its exit status, standard output and standard error.
struct RunResult {
  int status = -1;
  std::string out;
  std::string err;
};

inline RunResult run_program(const std::vector<std::string>& args,
                             const std::filesystem::path& scratch,
                             std::chrono::milliseconds timeout = kReadyTimeout) {
  const auto out_file = scratch / "run.out";
  const auto err_file = scratch / "run.err";
  std::vector<std::string> strings = args;
  std::vector<char*> argv;
  for (auto& s : strings) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw HarnessError("cannot start " + args[0] + ": " + std::strerror(rc));
  }
  RunResult r;
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw HarnessError(args[0] + " did not finish in time");
    }
    std::this_thread::sleep_for(20ms);
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out_file);
  r.err = read_file(err_file);
  return r;
}

} // namespace entre::integ
