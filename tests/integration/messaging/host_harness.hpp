// Harness for driving real entre-host and entre-impair processes from a test.
//
// HostProcess speaks the entre-host line protocol (docs/host.md): it waits for "ready", keeps the
// identity and contact code printed at start, sorts every later line into command responses (in
// order: entre-host answers one command at a time) and events (message/state/presence/
// not-added/events-dropped), and wraps the commands the tests use. Protocol problems (a timeout, an
// unexpected answer, the process gone) are thrown as HarnessError, which gtest reports as a
// failure of the test; the RAII members still clean up.
#pragma once

#include "process_harness.hpp"

#include <cmath>
#include <fstream>
#include <set>

namespace entre::integ {

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

// A node profile whose transports are `transports` ([[plugins]] entries in TOML) in the order
// `order` (plugin ids); `transport_keys`: more lines for its [transport] table.
inline NodeFiles write_node_files_with(const std::filesystem::path& dir, const std::string& name,
                                       uint16_t port, const std::string& plugin_dir,
                                       const std::string& transports,
                                       const std::vector<std::string>& order,
                                       const std::string& transport_keys = {}) {
  const NodeFiles f = node_files(dir, name, port);
  std::string order_list;
  for (const auto& id : order) {
    order_list += (order_list.empty() ? "\"" : ", \"") + id + "\"";
  }
  std::ofstream profile(f.profile);
  profile << "# " << name << ": written by an integration test\n"
          << "[node]\n"
          << "name = \"" << name << "\"\n"
          << "data_dir = \"" << f.data_dir.string() << "\"\n\n"
          << "[log]\nlevel = \"info\"\n\n"
          << "[loader]\nsearch_paths = [\"" << plugin_dir << "\"]\n\n"
          << transports << "\n"
          << "[[plugins]]\nid = \"entre.crypto.sodium\"\n\n"
          << "[[plugins]]\nid = \"entre.storage.sqlite\"\n\n"
          << "[transport]\norder = [" << order_list << "]\n"
          << transport_keys << "\n"
          << "[crypto]\nsuite = \"entre.crypto.sodium\"\nkdf = \"interactive\"\n\n"
          << "[storage]\nplugin = \"entre.storage.sqlite\"\n";
  std::ofstream pass(f.passphrase);
  pass << "correct horse battery staple for " << name << "\n";
  if (!profile || !pass) {
    throw HarnessError("cannot write the files of node " + name + " in " + dir.string());
  }
  return f;
}

inline NodeFiles write_node_files(const std::filesystem::path& dir, const std::string& name,
                                  uint16_t port, const std::string& plugin_dir) {
  return write_node_files_with(dir, name, port, plugin_dir,
                               "[[plugins]]\nid = \"entre.transport.udp\"\n"
                               "  [plugins.config]\n  bind = \"127.0.0.1:" +
                                   std::to_string(port) + "\"\n  max_payload_bytes = 1200\n",
                               {"entre.transport.udp"});
}

// A 48 kHz mono 16-bit WAV file: `seconds` of a `hz` tone at amplitude `level` (0: silence).
inline void write_tone_wav(const std::filesystem::path& path, double seconds, double hz,
                           int level) {
  std::vector<int16_t> pcm(static_cast<std::size_t>(seconds * 48000));
  for (std::size_t i = 0; i < pcm.size(); ++i) {
    pcm[i] = static_cast<int16_t>(level * std::sin(2 * M_PI * hz * static_cast<double>(i) / 48000));
  }
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  out.write("RIFF", 4);
  u32(static_cast<uint32_t>(36 + pcm.size() * 2));
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1); // PCM
  u16(1); // mono
  u32(48000);
  u32(96000);
  u16(2);
  u16(16);
  out.write("data", 4);
  u32(static_cast<uint32_t>(pcm.size() * 2));
  out.write(reinterpret_cast<const char*>(pcm.data()),
            static_cast<std::streamsize>(pcm.size() * 2));
  if (!out) {
    throw HarnessError("cannot write " + path.string());
  }
}

// Lines to append to a node profile (write_node_files) for calls: codec-opus and audio-file
// playing `input` (looped) and recording into `output`.
inline std::string call_plugins_toml(const std::filesystem::path& input,
                                     const std::filesystem::path& output) {
  return "\n[[plugins]]\nid = \"entre.codec.opus\"\n\n[[plugins]]\nid = \"entre.audio.file\"\n"
         "  [plugins.config]\n  input = \"" +
         input.string() + "\"\n  output = \"" + output.string() +
         "\"\n  loop = true\n\n[codec]\npreferred = [\"entre.codec.opus\"]\n\n"
         "[audio]\nplugin = \"entre.audio.file\"\n";
}

struct HistoryEntry {
  uint64_t order = 0;
  bool outgoing = false;
  std::string state;
  std::string id;
  std::string path; // "-" when none was recorded
  std::string text;
};

using Counters = std::map<std::string, uint64_t>;

// Events one entre-host process printed.
struct EventLog {
  std::map<std::string, int> message_texts; // text -> "message" events carrying it
  uint64_t messages = 0;
  std::map<std::string, std::string> states; // message id -> last state event
  uint64_t events_dropped = 0;
  std::map<std::string, bool> online;     // contact id -> last presence
  std::set<std::string> not_added;        // contacts whose node has not added this one
  std::vector<std::string> plugin_errors; // "<plugin id> <message>", in order
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
  // `extra`: more arguments for entre-host (e.g. {"--control", path}).
  explicit HostProcess(const NodeFiles& files, std::vector<std::string> prefix = {},
                       const std::vector<std::string>& extra = {})
      : files_(files) {
    std::vector<std::string> argv = std::move(prefix);
    for (std::string arg :
         {std::string(ENTRE_HOST), std::string("--profile"), files.profile.string(),
          std::string("--passphrase-file"), files.passphrase.string()}) {
      argv.push_back(std::move(arg));
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
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
      // history <order> in|out <state> <message id> <path or -> <text>
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
      e.path = field();
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
    } else if (starts_with(line, "not-added ")) {
      events_.not_added.insert(line.substr(10));
    } else if (starts_with(line, "events-dropped ")) {
      events_.events_dropped += std::stoull(line.substr(15));
    } else if (starts_with(line, "plugin-error ")) {
      events_.plugin_errors.push_back(line.substr(13));
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
