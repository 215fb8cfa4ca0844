// Harness for driving real entre-host and entre-impair processes from a test.
//
// ChildProcess spawns a program with its standard input and output on pipes (standard error goes
// to a file, appended across restarts) and reads its output on a thread of its own, line by line,
// for as long as the child lives, so the pipe never fills. The destructor kills the child with
// SIGKILL if it still runs and reaps it: a test that fails half way leaves nothing behind.
//
// HostProcess speaks the entre-host line protocol (docs/host.md): it waits for "ready", keeps the
// identity and contact code printed at start, sorts every later line into command responses (in
// order: entre-host answers one command at a time) and events (message/state/presence/
// events-dropped), and wraps the commands the tests use. Protocol problems (a timeout, an
// unexpected answer, the process gone) are thrown as HarnessError, which gtest reports as a
// failure of the test; the RAII members still clean up.
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
    const std::string data = line + "\n";
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(stdin_fd_, data.data() + done, data.size() - done);
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

// The files of one node: its profile, passphrase, data directory and log (standard error).
struct NodeFiles {
  std::string name;
  uint16_t port = 0;
  std::filesystem::path profile;
  std::filesystem::path passphrase;
  std::filesystem::path data_dir;
  std::filesystem::path log;

  [[nodiscard]] std::filesystem::path sqlite_file() const {
    // storage-sqlite's default "path" (entre.db) inside the plugin's private directory, which the
    // kernel puts at <data_dir>/plugins/<plugin id>.
    return data_dir / "plugins" / "entre.storage.sqlite" / "entre.db";
  }
};

// Where a node's files go under `dir` (nothing written yet).
inline NodeFiles node_files(const std::filesystem::path& dir, const std::string& name,
                            uint16_t port) {
  NodeFiles f;
  f.name = name;
  f.port = port;
  f.profile = dir / (name + ".toml");
  f.passphrase = dir / (name + ".pass");
  f.data_dir = dir / ("data-" + name);
  f.log = dir / (name + ".log");
  return f;
}

inline NodeFiles write_node_files(const std::filesystem::path& dir, const std::string& name,
                                  uint16_t port, const std::string& plugin_dir) {
  const NodeFiles f = node_files(dir, name, port);
  std::ofstream profile(f.profile);
  profile << "# " << name << ": written by the messaging integration test\n"
          << "[node]\n"
          << "name = \"" << name << "\"\n"
          << "data_dir = \"" << f.data_dir.string() << "\"\n\n"
          << "[log]\nlevel = \"info\"\n\n"
          << "[loader]\nsearch_paths = [\"" << plugin_dir << "\"]\n\n"
          << "[[plugins]]\nid = \"entre.transport.udp\"\n"
          << "  [plugins.config]\n  bind = \"127.0.0.1:" << port << "\"\n"
          << "  max_payload_bytes = 1200\n\n"
          << "[[plugins]]\nid = \"entre.crypto.sodium\"\n\n"
          << "[[plugins]]\nid = \"entre.storage.sqlite\"\n\n"
          << "[transport]\norder = [\"entre.transport.udp\"]\n\n"
          << "[crypto]\nsuite = \"entre.crypto.sodium\"\nkdf = \"interactive\"\n\n"
          << "[storage]\nplugin = \"entre.storage.sqlite\"\n";
  std::ofstream pass(f.passphrase);
  pass << "correct horse battery staple for " << name << "\n";
  if (!profile || !pass) {
    throw HarnessError("cannot write the files of node " + name + " in " + dir.string());
  }
  return f;
}

struct HistoryEntry {
  uint64_t order = 0;
  bool outgoing = false;
  std::string state;
  std::string id;
  std::string text;
};

using Counters = std::map<std::string, uint64_t>;

// Events one entre-host process printed.
struct EventLog {
  std::map<std::string, int> message_texts; // text -> "message" events carrying it
  uint64_t messages = 0;
  std::map<std::string, std::string> states; // message id -> last state event
  uint64_t events_dropped = 0;
  std::map<std::string, bool> online; // contact id -> last presence
  struct Met {
    std::string safety_number; // groups joined by '-'
    std::string code;
  };
  std::map<std::string, Met> met; // meeting mode: id -> what was announced
};

// One running entre-host process.
class HostProcess {
 public:
  // `prefix`: a command that runs entre-host (e.g. {"/usr/sbin/ip", "netns", "exec", "ns1"}).
  explicit HostProcess(const NodeFiles& files, std::vector<std::string> prefix = {})
      : files_(files) {
    std::vector<std::string> argv = std::move(prefix);
    for (std::string arg :
         {std::string(ENTRE_HOST), std::string("--profile"), files.profile.string(),
          std::string("--passphrase-file"), files.passphrase.string()}) {
      argv.push_back(std::move(arg));
    }
    child_ = std::make_unique<ChildProcess>(
        std::move(argv), files.log, [this](const std::string& line) { on_line(line); },
        [this] {
          std::lock_guard lock(mu_);
          eof_ = true;
          cv_.notify_all();
        });
  }
  ~HostProcess() {
    child_->kill9_and_reap(); // joins the reader too: every line is in
    if (::testing::Test::HasFailure() && !dumped_) {
      dump();
    }
  }
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  [[nodiscard]] const NodeFiles& files() const { return files_; }
  [[nodiscard]] pid_t pid() const { return child_->pid(); }

  // Waits for "entre-host: ready"; throws if the process exits or the timeout passes.
  void wait_ready(std::chrono::milliseconds timeout = kReadyTimeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return ready_ || eof_; })) {
      throw HarnessError(files_.name + ": no 'ready' within " + std::to_string(timeout.count()) +
                         " ms");
    }
    if (!ready_) {
      throw HarnessError(files_.name + ": exited before 'ready'");
    }
  }
  [[nodiscard]] bool ready() {
    std::lock_guard lock(mu_);
    return ready_;
  }
  [[nodiscard]] std::string id() {
    std::lock_guard lock(mu_);
    return id_;
  }
  [[nodiscard]] bool identity_created() {
    std::lock_guard lock(mu_);
    return created_;
  }

  bool write_line(const std::string& line) { return child_->write_line(line); }

  // The next command response; nullopt at the deadline, or once the process is gone and every
  // response it printed was taken.
  std::optional<std::string> next_response(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return !responses_.empty() || eof_; });
    if (responses_.empty()) {
      return std::nullopt;
    }
    std::string r = std::move(responses_.front());
    responses_.pop_front();
    return r;
  }

  // Runs one command and returns its response lines: one line, or up to "end" when `until_end`.
  std::vector<std::string> command(const std::string& line, bool until_end = false) {
    {
      std::lock_guard lock(mu_);
      if (!responses_.empty()) {
        throw HarnessError(files_.name + ": unread response '" + responses_.front() +
                           "' before command '" + line + "'");
      }
    }
    if (!write_line(line)) {
      throw HarnessError(files_.name + ": cannot write '" + line + "': the process is gone");
    }
    std::vector<std::string> out;
    const auto deadline = Clock::now() + kCommandTimeout;
    while (true) {
      auto r = next_response(deadline);
      if (!r) {
        throw HarnessError(files_.name + ": no answer to '" + line.substr(0, 80) + "'");
      }
      out.push_back(*r);
      if (!until_end || *r == "end" || starts_with(*r, "error ")) {
        return out;
      }
    }
  }

  std::string command_one(const std::string& line, std::string_view expect_prefix) {
    auto r = command(line);
    if (!starts_with(r.front(), expect_prefix)) {
      throw HarnessError(files_.name + ": '" + line.substr(0, 80) + "' answered '" + r.front() +
                         "'");
    }
    return r.front().substr(expect_prefix.size());
  }

  std::string code(const std::vector<std::string>& hints = {}) {
    std::string line = "code";
    for (const auto& h : hints) {
      line += " " + h;
    }
    return command_one(line, "code ");
  }

  std::string add(const std::string& code, const std::string& name) {
    return command_one("add " + code + " " + name, "added ");
  }

  std::vector<HistoryEntry> history(const std::string& contact, uint32_t limit = 1000000) {
    const auto lines = command("history " + contact + " " + std::to_string(limit), true);
    if (lines.back() != "end") {
      throw HarnessError(files_.name + ": history failed: " + lines.back());
    }
    std::vector<HistoryEntry> out;
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
      // history <order> in|out <state> <message id> <text>
      const std::string& l = lines[i];
      std::size_t pos = 0;
      auto field = [&]() {
        const std::size_t sp = l.find(' ', pos);
        std::string f = l.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
        pos = sp == std::string::npos ? l.size() : sp + 1;
        return f;
      };
      if (field() != "history") {
        throw HarnessError(files_.name + ": unexpected history line '" + l + "'");
      }
      HistoryEntry e;
      e.order = std::stoull(field());
      e.outgoing = field() == "out";
      e.state = field();
      e.id = field();
      e.text = l.substr(pos);
      out.push_back(std::move(e));
    }
    return out;
  }

  Counters counters() {
    const std::string line = command_one("counters", "counters ");
    Counters c;
    for (const auto& kv : split(line)) {
      const auto eq = kv.find('=');
      if (eq != std::string::npos) {
        c[kv.substr(0, eq)] = std::stoull(kv.substr(eq + 1));
      }
    }
    return c;
  }

  // "contact <id> online <path>|offline ..." per contact: is this one online?
  bool contact_online(const std::string& contact) {
    for (const auto& l : command("contacts", true)) {
      if (starts_with(l, "contact " + contact + " online ")) {
        return true;
      }
    }
    return false;
  }

  EventLog events() {
    std::lock_guard lock(mu_);
    return events_;
  }

  // "quit", then the exit status must be 0 after "stopped cleanly".
  void quit() {
    (void)write_line("quit");
    const auto status = child_->wait_exit(kStopTimeout);
    if (!status) {
      throw HarnessError(files_.name + ": did not stop within " +
                         std::to_string(kStopTimeout.count()) + " s of 'quit'");
    }
    child_->join_reader();
    if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      throw HarnessError(files_.name + ": exit status " + std::to_string(*status) +
                         " after 'quit'");
    }
    std::lock_guard lock(mu_);
    if (!stopped_cleanly_) {
      throw HarnessError(files_.name + ": no 'stopped cleanly' after 'quit'");
    }
  }

  // SIGKILL; returns once the process is reaped and all it printed has been read.
  void kill9() { child_->kill9_and_reap(); }

  [[nodiscard]] bool running() { return child_->running(); }

  void dump(std::size_t lines = 25) {
    dumped_ = true;
    std::string out;
    {
      std::lock_guard lock(mu_);
      for (const auto& l : tail_) {
        out += "    " + l.substr(0, 200) + "\n";
      }
    }
    std::cout << "--- " << files_.name << " (pid " << child_->pid() << ") stdout, last "
              << tail_.size() << " lines:\n"
              << out << "--- " << files_.name << " log " << files_.log.string() << ", last "
              << lines << " lines:\n"
              << tail_lines(read_file(files_.log), lines) << std::flush;
  }

 private:
  void on_line(const std::string& line) {
    std::lock_guard lock(mu_);
    tail_.push_back(line);
    if (tail_.size() > 40) {
      tail_.pop_front();
    }
    if (!ready_) {
      const std::string created = "entre-host: identity created: ";
      const std::string unlocked = "entre-host: identity unlocked: ";
      if (starts_with(line, created)) {
        id_ = line.substr(created.size());
        created_ = true;
      } else if (starts_with(line, unlocked)) {
        id_ = line.substr(unlocked.size());
      } else if (line == "entre-host: ready (Ctrl-C to stop)") {
        ready_ = true;
        cv_.notify_all();
      }
      return;
    }
    if (starts_with(line, "message ")) {
      // message <contact id> <message id> <text>
      const std::size_t a = line.find(' ', 8);
      const std::size_t b = a == std::string::npos ? a : line.find(' ', a + 1);
      if (b != std::string::npos) {
        ++events_.message_texts[line.substr(b + 1)];
      }
      ++events_.messages;
    } else if (starts_with(line, "state ")) {
      const auto f = split(line);
      if (f.size() == 4) {
        events_.states[f[2]] = f[3];
      }
    } else if (starts_with(line, "presence ")) {
      const auto f = split(line);
      if (f.size() >= 3) {
        events_.online[f[1]] = f[2] == "online";
      }
    } else if (starts_with(line, "met ")) {
      // met <id> <safety number> <code> <name>
      const auto f = split(line);
      if (f.size() >= 4) {
        events_.met[f[1]] = {f[2], f[3]};
      }
    } else if (starts_with(line, "events-dropped ")) {
      events_.events_dropped += std::stoull(line.substr(15));
    } else if (starts_with(line, "entre-host: ")) {
      if (line == "entre-host: stopped cleanly") {
        stopped_cleanly_ = true;
      }
    } else {
      responses_.push_back(line);
      cv_.notify_all();
    }
  }

  NodeFiles files_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool created_ = false;
  bool eof_ = false;
  bool stopped_cleanly_ = false;
  bool dumped_ = false;
  std::string id_;
  std::deque<std::string> responses_;
  std::deque<std::string> tail_;
  EventLog events_;
  std::unique_ptr<ChildProcess> child_; // last: destroyed (and its reader joined) first
};

// entre-impair in front of one node.
class ImpairProcess {
 public:
  ImpairProcess(const std::filesystem::path& log, uint16_t forward_port, double loss,
                uint64_t seed) {
    child_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{ENTRE_IMPAIR, "--listen", "127.0.0.1:0", "--forward",
                                 "127.0.0.1:" + std::to_string(forward_port), "--loss",
                                 std::to_string(loss), "--seed", std::to_string(seed),
                                 "--stats-interval-ms", "0"},
        log,
        [this](const std::string& line) {
          std::lock_guard lock(mu_);
          lines_.push_back(line);
          cv_.notify_all();
        },
        [this] {
          std::lock_guard lock(mu_);
          eof_ = true;
          cv_.notify_all();
        });
    const std::string marker = "listening on 127.0.0.1:";
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kReadyTimeout, [&] {
      for (const auto& l : lines_) {
        if (const auto at = l.find(marker); at != std::string::npos) {
          port_ = static_cast<uint16_t>(std::stoi(l.substr(at + marker.size())));
          return true;
        }
      }
      return eof_;
    });
    if (port_ == 0) {
      throw HarnessError("entre-impair did not start");
    }
  }

  [[nodiscard]] uint16_t port() const { return port_; }

  struct Direction {
    uint64_t received = 0;
    uint64_t sent = 0;
    uint64_t dropped = 0;
  };
  struct Final {
    Direction to_server; // client->server
    Direction to_client; // server->client
    std::vector<std::string> lines;
  };

  // SIGTERM, then the "final:" lines.
  Final stop() {
    child_->kill(SIGTERM);
    if (!child_->wait_exit(kStopTimeout)) {
      throw HarnessError("entre-impair did not stop on SIGTERM");
    }
    child_->join_reader();
    Final f;
    std::lock_guard lock(mu_);
    for (const auto& l : lines_) {
      if (!starts_with(l, "final: ")) {
        continue;
      }
      f.lines.push_back(l);
      Direction* d = l.find("client->server") != std::string::npos   ? &f.to_server
                     : l.find("server->client") != std::string::npos ? &f.to_client
                                                                     : nullptr;
      if (d == nullptr) {
        continue;
      }
      for (const auto& kv : split(l)) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos) {
          continue;
        }
        const std::string key = kv.substr(0, eq);
        const uint64_t value = std::stoull(kv.substr(eq + 1));
        if (key == "received") {
          d->received = value;
        } else if (key == "sent") {
          d->sent = value;
        } else if (key == "dropped") {
          d->dropped = value;
        }
      }
    }
    return f;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> child_; // last: destroyed first
};

} // namespace entre::integ
