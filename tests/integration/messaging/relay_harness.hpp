// Harness for a real entre-relay process in a test: writes its profile, reads its key with
// --print-key, starts it with a stats file (and optionally a traffic tap), waits until it listens
// and reads its counters. The program's path comes from the ENTRE_RELAY definition.
#pragma once

#include "process_harness.hpp"

#include <nlohmann/json.hpp>

namespace entre::integ {

struct RelayFiles {
  std::filesystem::path profile;
  std::filesystem::path key;
  std::filesystem::path stats;
  std::filesystem::path tap;
  std::filesystem::path log;
  uint16_t port = 0; // 0: any free port (read back from the stats)
  uint16_t reflect_port = 0;
};

// `extra`: more lines for the [relay] table (limits).
inline RelayFiles write_relay_files(const std::filesystem::path& dir, const std::string& name,
                                    const std::string& plugin_dir, uint16_t port = 0,
                                    const std::string& extra = {},
                                    const std::string& listen = "127.0.0.1") {
  RelayFiles f;
  f.profile = dir / (name + ".toml");
  f.key = dir / (name + ".key");
  f.stats = dir / (name + ".stats.json");
  f.tap = dir / (name + ".tap");
  f.log = dir / (name + ".log");
  f.port = port;
  std::ofstream out(f.profile);
  out << "# " << name << ": written by a relay test\n"
      << "[loader]\nsearch_paths = [\"" << plugin_dir << "\"]\n\n"
      << "[relay]\nlisten = \"" << listen << "\"\nport = " << port << "\n"
      << "static_key_file = \"" << f.key.string() << "\"\n"
      << extra << "\n";
  if (!out) {
    throw HarnessError("cannot write " + f.profile.string());
  }
  return f;
}

using RelayStats = std::map<std::string, uint64_t>;

inline std::optional<RelayStats> read_relay_stats(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    return std::nullopt;
  }
  try {
    const auto j = nlohmann::json::parse(in);
    RelayStats s;
    for (const auto& [k, v] : j.items()) {
      s[k] = v.get<uint64_t>();
    }
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The relay's public key (hex), creating the key file if needed.
inline std::string relay_key(const RelayFiles& f) {
  std::mutex mu;
  std::string line;
  {
    ChildProcess child(
        {ENTRE_RELAY, "--profile", f.profile.string(), "--print-key"}, f.log,
        [&](const std::string& l) {
          std::lock_guard lock(mu);
          if (line.empty()) {
            line = l;
          }
        },
        [] {});
    const auto status = child.wait_exit(kCommandTimeout);
    child.join_reader();
    if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      throw HarnessError("entre-relay --print-key failed: " + tail_lines(read_file(f.log), 10));
    }
  }
  std::lock_guard lock(mu);
  if (line.size() != 64) {
    throw HarnessError("entre-relay --print-key printed '" + line + "'");
  }
  return line;
}

class RelayProcess {
 public:
  // `prefix`: a command that runs entre-relay (e.g. ip netns exec).
  explicit RelayProcess(const RelayFiles& files, bool tap = false,
                        std::vector<std::string> prefix = {})
      : files_(files) {
    std::error_code ec;
    std::filesystem::remove(files.stats, ec);
    std::vector<std::string> argv = std::move(prefix);
    for (std::string arg : {std::string(ENTRE_RELAY), std::string("--profile"),
                            files.profile.string(), std::string("--stats"), files.stats.string()}) {
      argv.push_back(std::move(arg));
    }
    if (tap) {
      argv.push_back("--tap");
      argv.push_back(files.tap.string());
    }
    child_ = std::make_unique<ChildProcess>(
        std::move(argv), files.log, [](const std::string&) {}, [] {});
    const auto deadline = Clock::now() + kReadyTimeout;
    while (Clock::now() < deadline) {
      if (auto s = read_relay_stats(files.stats); s && (*s)["tcp_port"] != 0) {
        port_ = static_cast<uint16_t>((*s)["tcp_port"]);
        reflect_port_ = static_cast<uint16_t>((*s)["udp_port"]);
        return;
      }
      if (!child_->running()) {
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    throw HarnessError("entre-relay did not start: " + tail_lines(read_file(files.log), 10));
  }
  ~RelayProcess() {
    if (child_) {
      child_->kill9_and_reap();
    }
  }
  RelayProcess(const RelayProcess&) = delete;
  RelayProcess& operator=(const RelayProcess&) = delete;

  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] uint16_t reflect_port() const { return reflect_port_; }
  [[nodiscard]] pid_t pid() const { return child_->pid(); }

  // The counters of the last second (or the final ones once stopped).
  [[nodiscard]] RelayStats stats() const {
    return read_relay_stats(files_.stats).value_or(RelayStats{});
  }

  // Waits until `pred(stats)` holds; false at the timeout.
  bool wait_stats(const std::function<bool(RelayStats&)>& pred,
                  std::chrono::milliseconds timeout = kReadyTimeout) const {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto s = stats();
      if (pred(s)) {
        return true;
      }
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  // The counter `name` once it has stayed the same for `still` (the stats file is rewritten every
  // second, so three rewrites by default: frames of earlier traffic still on their way have been
  // counted), or its value at the timeout.
  [[nodiscard]] uint64_t settled(const std::string& name,
                                 std::chrono::milliseconds still = std::chrono::seconds(3),
                                 std::chrono::milliseconds timeout = kReadyTimeout) const {
    uint64_t last = stats()[name];
    auto same_since = Clock::now();
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() - same_since < still && Clock::now() < deadline) {
      std::this_thread::sleep_for(250ms);
      const uint64_t now = stats()[name];
      if (now != last) {
        last = now;
        same_since = Clock::now();
      }
    }
    return last;
  }

  // SIGTERM; the exit status, or nullopt when it did not stop.
  std::optional<int> stop() {
    child_->kill(SIGTERM);
    auto status = child_->wait_exit(kStopTimeout);
    child_->join_reader();
    return status;
  }
  void kill9() { child_->kill9_and_reap(); }

  // Resident memory of the relay (from /proc), in KiB.
  [[nodiscard]] uint64_t rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(child_->pid()) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (starts_with(line, "VmRSS:")) {
        return std::stoull(line.substr(6));
      }
    }
    return 0;
  }

 private:
  RelayFiles files_;
  uint16_t port_ = 0;
  uint16_t reflect_port_ = 0;
  std::unique_ptr<ChildProcess> child_;
};

} // namespace entre::integ
