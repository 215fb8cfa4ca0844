// A program on a pseudo-terminal, driven as a person at a keyboard would: keys in, screen text
// out. The text is what the terminal would show, with control sequences and carriage returns
// removed, so a test can wait for what a person would read.
#pragma once

#include "../messaging/process_harness.hpp"

#include <poll.h>
#include <pty.h>
#include <termios.h>

namespace entre::integ {

class PtySession {
 public:
  // Starts `args` on a new terminal with `env` added to (or replacing in) this environment; an
  // entry "NAME=" with nothing after '=' removes NAME.
  PtySession(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    winsize size{};
    size.ws_row = 50;
    size.ws_col = 250;
    pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ < 0) {
      throw HarnessError(std::string("forkpty: ") + std::strerror(errno));
    }
    if (pid_ == 0) {
      for (const auto& e : env) {
        const auto eq = e.find('=');
        if (eq + 1 == e.size()) {
          ::unsetenv(e.substr(0, eq).c_str());
        } else {
          ::setenv(e.substr(0, eq).c_str(), e.substr(eq + 1).c_str(), 1);
        }
      }
      std::vector<std::string> strings = args;
      std::vector<char*> argv;
      for (auto& s : strings) {
        argv.push_back(s.data());
      }
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    reader_ = std::thread([this] { read_loop(); });
  }
  ~PtySession() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    ::close(master_);
    if (reader_.joinable()) {
      reader_.join();
    }
    if (::testing::Test::HasFailure()) {
      std::cout << "--- terminal of pid " << pid_ << ":\n" << screen() << "\n---\n";
    }
  }
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  // Keys, as typed.
  void type(const std::string& keys) {
    std::size_t done = 0;
    while (done < keys.size()) {
      const ssize_t n = ::write(master_, keys.data() + done, keys.size() - done);
      if (n <= 0) {
        throw HarnessError("cannot type into the terminal: the program is gone");
      }
      done += static_cast<std::size_t>(n);
    }
  }

  // Waits until `text` shows after what earlier expect() calls consumed; returns the screen text
  // from there to the end of `text`.
  std::string expect(const std::string& text, std::chrono::milliseconds timeout = kCommandTimeout) {
    std::unique_lock lock(mu_);
    std::size_t at = std::string::npos;
    cv_.wait_for(lock, timeout, [&] {
      at = screen_.find(text, mark_);
      return at != std::string::npos || eof_;
    });
    at = screen_.find(text, mark_);
    if (at == std::string::npos) {
      throw HarnessError(
          "the terminal never showed '" + text + "'; it shows (last 3000 bytes):\n" +
          screen_.substr(screen_.size() - std::min<std::size_t>(screen_.size(), 3000)));
    }
    std::string seen = screen_.substr(mark_, at + text.size() - mark_);
    mark_ = at + text.size();
    return seen;
  }

  // The rest of the line after the last expect() (waits for its end).
  std::string rest_of_line() {
    std::string line = expect("\n");
    line.pop_back();
    return line;
  }

  [[nodiscard]] std::string screen() {
    std::lock_guard lock(mu_);
    return screen_;
  }

  // The exit status, or nullopt if the program is still running at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = kStopTimeout) {
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    while (true) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (Clock::now() > deadline) {
        return std::nullopt;
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  void read_loop() {
    std::string pending; // an escape sequence cut by a read
    char buf[4096];
    while (true) {
      const ssize_t n = ::read(master_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      pending.append(buf, static_cast<std::size_t>(n));
      std::string clean;
      std::size_t i = 0;
      while (i < pending.size()) {
        const char c = pending[i];
        if (c == '\x1b') {
          if (i + 1 >= pending.size()) {
            break; // wait for the rest
          }
          if (pending[i + 1] == '[') {
            std::size_t j = i + 2;
            while (j < pending.size() && (pending[j] < 0x40 || pending[j] > 0x7e)) {
              ++j;
            }
            if (j >= pending.size()) {
              break;
            }
            i = j + 1;
          } else {
            i += 2;
          }
          continue;
        }
        if (c != '\r' && c != '\a' && c != '\b') {
          clean += c;
        }
        ++i;
      }
      pending.erase(0, i);
      std::lock_guard lock(mu_);
      screen_ += clean;
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    eof_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  int master_ = -1;
  bool reaped_ = false;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string screen_;
  std::size_t mark_ = 0;
  bool eof_ = false;
};

} // namespace entre::integ
