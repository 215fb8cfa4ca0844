// Child processes for integration tests: ChildProcess spawns a program with its standard input
// and output on pipes (standard error goes to a file, appended across restarts) and reads its
// output on a thread of its own, line by line, for as long as the child lives, so the pipe never
// fills. The destructor kills the child with SIGKILL if it still runs and reaps it: a test that
// fails half way leaves nothing behind. Shared by host_harness.hpp and relay_harness.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace entre::integ {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Generous: these tests also run under ASan on slow CI machines.
inline constexpr auto kCommandTimeout = 60s;
inline constexpr auto kReadyTimeout = 60s;
inline constexpr auto kStopTimeout = 30s;

struct HarnessError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

inline std::vector<std::string> split(const std::string& s, char sep = ' ') {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) {
    out.push_back(cur);
  }
  return out;
}

// Writes to a child's stdin after the child died must fail with EPIPE, not kill the test.
inline void ignore_sigpipe() {
  static const bool once = [] {
    (void)std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)once;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline std::string tail_lines(const std::string& text, std::size_t n) {
  std::size_t pos = text.size();
  std::size_t lines = 0;
  while (pos > 0 && lines <= n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) {
      return text;
    }
    ++lines;
  }
  return text.substr(pos + 1);
}

// UDP ports on 127.0.0.1 that are free now, below the kernel's ephemeral range (32768 and up on
// Linux) so that no socket bound to port 0 takes one while a node is down between restarts.
inline std::vector<uint16_t> free_udp_ports(std::size_t n, uint64_t seed) {
  std::vector<int> held;
  std::vector<uint16_t> ports;
  uint64_t x = seed | 1;
  for (int attempt = 0; attempt < 2000 && ports.size() < n; ++attempt) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const auto port = static_cast<uint16_t>(20000 + x % 12000);
    if (std::find(ports.begin(), ports.end(), port) != ports.end()) {
      continue;
    }
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
      held.push_back(fd);
      ports.push_back(port);
    } else {
      ::close(fd);
    }
  }
  for (int fd : held) {
    ::close(fd);
  }
  if (ports.size() < n) {
    throw HarnessError("no free UDP ports on 127.0.0.1");
  }
  return ports;
}

// Writes all of `data` to `fd` (a pipe or a socket; SIGPIPE is ignored or MSG_NOSIGNAL is not
// needed); false once the other end is gone.
inline bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

class ChildProcess {
 public:
  using LineHandler = std::function<void(const std::string&)>;
  using EofHandler = std::function<void()>;

  ChildProcess(const std::vector<std::string>& args, const std::filesystem::path& stderr_file,
               LineHandler on_line, EofHandler on_eof)
      : on_line_(std::move(on_line)), on_eof_(std::move(on_eof)) {
    ignore_sigpipe();
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    if (::pipe2(in, O_CLOEXEC) != 0) {
      throw HarnessError(std::string("pipe: ") + std::strerror(errno));
    }
    if (::pipe2(out, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      throw HarnessError(std::string("pipe: ") + std::strerror(errno));
    }
    std::vector<std::string> argv_strings = args;
    std::vector<char*> argv;
    for (auto& s : argv_strings) {
      argv.push_back(s.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears close-on-exec on the copies; the originals (all O_CLOEXEC) close at exec, so no
    // other child inherits these pipes and EOF arrives when this child dies.
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_file.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      pid_ = -1;
      throw HarnessError("cannot start " + args[0] + ": " + std::strerror(rc));
    }
    stdin_fd_ = in[1];
    stdout_fd_ = out[0];
    reader_ = std::thread([this] { read_loop(); });
  }

  ~ChildProcess() {
    kill(SIGKILL);
    (void)wait_exit(std::chrono::hours(1));
    if (reader_.joinable()) {
      reader_.join();
    }
    if (stdin_fd_ >= 0) {
      ::close(stdin_fd_);
    }
    if (stdout_fd_ >= 0) {
      ::close(stdout_fd_);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }

  // One line to the child's stdin; false if the child is gone.
  bool write_line(const std::string& line) {
    std::lock_guard lock(write_mu_);
    return write_all(stdin_fd_, line + "\n");
  }

  void kill(int sig) {
    std::lock_guard lock(wait_mu_);
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, sig);
    }
  }

  // The exit status (as from waitpid) once the child exited, or nullopt at the timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      {
        std::lock_guard lock(wait_mu_);
        if (pid_ <= 0) {
          return std::nullopt;
        }
        if (exited_) {
          return status_;
        }
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
          exited_ = true;
          status_ = status;
          return status_;
        }
      }
      if (Clock::now() >= deadline) {
        return std::nullopt;
      }
      std::this_thread::sleep_for(5ms);
    }
  }

  [[nodiscard]] bool running() {
    std::lock_guard lock(wait_mu_);
    if (pid_ <= 0 || exited_) {
      return false;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exited_ = true;
      status_ = status;
      return false;
    }
    return true;
  }

  // Kills with SIGKILL and waits until the child is reaped and its output fully read.
  void kill9_and_reap() {
    kill(SIGKILL);
    (void)wait_exit(std::chrono::hours(1));
    if (reader_.joinable()) {
      reader_.join();
    }
  }

  void join_reader() {
    if (reader_.joinable()) {
      reader_.join();
    }
  }

 private:
  void read_loop() {
    std::string buffer;
    std::vector<char> chunk(1 << 16);
    while (true) {
      const ssize_t n = ::read(stdout_fd_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      buffer.append(chunk.data(), static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t nl = buffer.find('\n'); nl != std::string::npos;
           nl = buffer.find('\n', start)) {
        on_line_(buffer.substr(start, nl - start));
        start = nl + 1;
      }
      buffer.erase(0, start);
    }
    if (!buffer.empty()) {
      on_line_(buffer);
    }
    on_eof_();
  }

  LineHandler on_line_;
  EofHandler on_eof_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::mutex write_mu_;
  std::mutex wait_mu_;
  bool exited_ = false;
  int status_ = 0;
  std::thread reader_;
};

} // namespace entre::integ
