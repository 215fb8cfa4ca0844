// entre-host: runs an Entre node from a profile, without a window (docs/host.md).
//
//   entre-host --profile FILE [--control SOCKET]   run the node: an interactive prompt when
//                                                  standard input is a terminal, else one command
//                                                  per input line
//   entre-host --profile FILE COMMAND [ARGS...]    run one command and exit (through the running
//                                                  node's --control SOCKET when given)
//   entre-host --profile FILE --check              validate the profile and the plugins'
//                                                  settings (each plugin checks its own, nothing
//                                                  is started) and exit
//
// Exit status: 0 success; 1 the node could not start (a required plugin or transport failed, or
// the passphrase is wrong); 2 usage error or invalid profile; 3 a one-shot command failed; 4 a
// one-shot send stored the message but it was not delivered within --wait.
#include "commands.hpp"
#include "control_server.hpp"
#include "human.hpp"
#include "repl.hpp"

#include <entre/node.hpp>
#include <entre/passphrase.hpp>

#include "profile/profile.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

using entre::host::CommandError;
using entre::host::Commands;
using entre::host::Json;

constexpr int kExitOk = 0;
constexpr int kExitNodeFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCommandFailed = 3;
constexpr int kExitNotDelivered = 4;

struct Options {
  std::string profile;
  std::string passphrase_file;
  std::string control;
  bool check = false;
  bool json = false;
  bool verbose = false;
  int wait_seconds = 30;
  std::vector<std::string> command;
};

// Validates the profile, then loads its plugins and lets each check its own settings, as a node
// would at start, without starting anything.
int check_profile(const std::filesystem::path& path) {
  const entre::ProfileLoadResult result = entre::load_profile_file(path);
  if (!result.profile) {
    for (const auto& e : result.errors) {
      std::cerr << e.str() << '\n';
    }
    std::cerr << "entre-host: " << path.string() << ": " << result.errors.size()
              << (result.errors.size() == 1 ? " error" : " errors") << '\n';
    return kExitUsage;
  }
  const entre::Profile& p = *result.profile;
  const entre::NodeCheckResult checked = entre::Node::check(path);
  for (const auto& plugin : checked.plugins) {
    if (plugin.loaded) {
      std::cout << "plugin " << plugin.id << " " << plugin.version << " (" << plugin.kind
                << "): settings ok\n";
    } else if (!plugin.required) {
      std::cout << "plugin " << plugin.id << " (optional) would be skipped: " << plugin.error
                << '\n';
    }
  }
  if (!checked.errors.empty()) {
    for (const auto& e : checked.errors) {
      std::cerr << e << '\n';
    }
    std::cerr << "entre-host: " << path.string() << ": " << checked.errors.size()
              << (checked.errors.size() == 1 ? " error" : " errors") << '\n';
    return kExitUsage;
  }
  std::cout << "profile " << p.source.string() << ": ok";
  if (p.node) {
    std::cout << " (node '" << p.node->name << "', " << p.plugins.size() << " plugin"
              << (p.plugins.size() == 1 ? "" : "s") << ")";
  } else if (p.relay) {
    std::cout << " (relay on port " << p.relay->port << ")";
  }
  std::cout << '\n';
  return kExitOk;
}

void wipe(std::string& secret) {
  if (!secret.empty()) {
    explicit_bzero(secret.data(), secret.size());
  }
  secret.clear();
}

std::mutex g_out_mu;

void say(const std::string& line) {
  std::lock_guard lock(g_out_mu);
  std::cout << line << '\n' << std::flush;
}

std::optional<std::string> passphrase_from(const std::string& file) {
  if (!file.empty()) {
    std::ifstream in(file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return std::nullopt;
    }
    return line;
  }
  if (const char* env = std::getenv("ENTRE_PASSPHRASE")) {
    return std::string(env);
  }
  return std::nullopt;
}

// Creates or unlocks the identity, saying first what the key derivation costs (the restrictive
// profile's takes seconds and about a GiB of memory) and then how long it took, unless `quiet`.
entre::ApiStatus derive(entre::Node& node, bool create, const std::string& passphrase, bool quiet) {
  if (!quiet) {
    std::cout << "entre-host: deriving the key from the passphrase (" << node.key_derivation().cost
              << ")... " << std::flush;
  }
  const auto started = std::chrono::steady_clock::now();
  entre::ApiStatus st = create ? node.create_identity(passphrase) : node.unlock(passphrase);
  if (!quiet) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    std::cout << "done in " << ms / 1000 << "." << ms % 1000 / 100 << " s" << std::endl;
  }
  return st;
}

// Asks on the terminal: for a new identity until a passphrase passes the rule every frontend
// applies (entre/passphrase.hpp) and is typed twice the same, for an existing one up to three
// times.
entre::ApiStatus unlock_interactively(entre::Node& node, bool existed) {
  const entre::host::EchoOff quiet;
  for (int attempt = 0; attempt < (existed ? 3 : 6); ++attempt) {
    std::string first;
    if (!existed) {
      if (!entre::host::read_secret("Choose a passphrase to seal this node's identity: ", first)) {
        break;
      }
      if (!first.empty()) {
        const entre::PassphraseStrength strength = entre::passphrase_strength(first);
        if (!strength.acceptable) {
          std::cout << strength.text << " Try again.\n";
          wipe(first);
          continue;
        }
        std::cout << "Strength: " << strength.text << '\n';
      }
      std::string again;
      if (!entre::host::read_secret("Repeat it: ", again)) {
        wipe(first);
        break;
      }
      const bool same = first == again;
      wipe(again);
      if (first.empty() || !same) {
        std::cout << (first.empty() ? "A passphrase cannot be empty." : "They differ.")
                  << " Try again.\n";
        wipe(first);
        continue;
      }
      entre::ApiStatus st = derive(node, true, first, false);
      wipe(first);
      return st;
    }
    if (!entre::host::read_secret("Passphrase for '" + node.name() + "': ", first)) {
      break;
    }
    entre::ApiStatus st = derive(node, false, first, false);
    wipe(first);
    if (st || st.error.code != entre::sdk::StatusCode::kAuthFailed || attempt == 2) {
      return st;
    }
    std::cout << "Wrong passphrase. Try again.\n";
  }
  return entre::ApiStatus::fail(entre::sdk::StatusCode::kAuthFailed, "no passphrase given");
}

// Creates or unlocks the identity: from --passphrase-file or ENTRE_PASSPHRASE, else by asking
// when `ask` (a terminal), else leaves messaging locked. False when that failed. A weak
// passphrase from a file or the environment is warned about, not refused (services and scripts
// choose their own).
bool open_identity(entre::Node& node, const Options& o, bool ask, bool quiet) {
  if (!node.messaging_available()) {
    return true;
  }
  const bool existed = node.has_identity();
  std::optional<std::string> passphrase = passphrase_from(o.passphrase_file);
  entre::ApiStatus st;
  if (passphrase) {
    if (const entre::PassphraseStrength strength = entre::passphrase_strength(*passphrase);
        !existed && !strength.acceptable) {
      std::cerr << "entre-host: warning: the passphrase given is weak: " << strength.text
                << " (a person choosing one at the prompt would be refused)\n";
    }
    st = derive(node, !existed, *passphrase, quiet);
    wipe(*passphrase);
  } else if (ask) {
    st = unlock_interactively(node, existed);
  } else {
    std::cout << "entre-host: no passphrase (--passphrase-file or ENTRE_PASSPHRASE): messaging "
                 "stays locked\n";
    return true;
  }
  if (!st) {
    std::cerr << "entre-host: " << st.error.message << '\n';
    return false;
  }
  if (!quiet) {
    std::cout << "entre-host: identity " << (existed ? "unlocked" : "created") << ": "
              << node.my_id() << '\n';
  }
  return true;
}

// How much start_node prints: nothing (one-shot commands), a few lines (at a terminal), or every
// plugin and endpoint (on a pipe, and at a terminal with --verbose).
enum class Startup { kQuiet, kBrief, kFull };

// Creates and starts the node, and says what it loaded as `startup` asks. A plugin that failed
// is always named.
std::unique_ptr<entre::Node> start_node(const Options& o, Startup startup, Commands** commands_out,
                                        std::unique_ptr<Commands>& commands, int& status) {
  entre::NodeCreateResult created = entre::Node::create(o.profile);
  if (!created.node) {
    for (const auto& e : created.errors) {
      std::cerr << "entre-host: " << e << '\n';
    }
    const entre::ProfileLoadResult profile = entre::load_profile_file(o.profile);
    status = profile.profile ? kExitNodeFailed : kExitUsage;
    return nullptr;
  }
  entre::Node& node = *created.node;
  std::size_t loaded = 0;
  if (startup == Startup::kFull) {
    std::cout << "entre-host: node '" << node.name() << "' from " << node.profile_path().string()
              << "\nplugins:\n";
  }
  for (const auto& p : node.plugins()) {
    loaded += p.loaded ? 1 : 0;
    if (startup == Startup::kQuiet || (startup == Startup::kBrief && p.loaded)) {
      continue;
    }
    std::cout << "  " << (p.loaded ? "loaded " : "FAILED ") << p.id;
    if (p.loaded) {
      std::cout << ' ' << p.version << " (" << p.kind << ") " << p.file.string();
    } else {
      std::cout << (p.required ? " (required)" : " (optional)") << ": " << p.error;
    }
    std::cout << '\n';
  }
  for (const auto& e : node.start()) {
    std::cerr << "entre-host: " << e << '\n';
  }
  if (!node.running()) {
    std::cerr << "entre-host: the node did not start (is another entre-host running with this "
                 "profile? a one-shot command can use its --control socket)\n";
    status = kExitNodeFailed;
    return nullptr;
  }
  commands = std::make_unique<Commands>(node);
  *commands_out = commands.get();
  std::string endpoints;
  while (auto event = node.poll_event()) {
    commands->observe(*event);
    if (const auto* t = std::get_if<entre::TransportStateChanged>(&*event); t && t->running) {
      for (const auto& e : t->endpoints) {
        if (startup == Startup::kFull) {
          std::cout << "transport " << t->plugin_id << " listening at " << e << '\n';
        }
        endpoints += (endpoints.empty() ? "" : ", ") + e;
      }
    }
  }
  if (startup == Startup::kBrief) {
    std::cout << "entre-host: node '" << node.name() << "', " << loaded << " plugins ('plugins' "
              << "lists them, -v at start too)"
              << (endpoints.empty() ? std::string() : ", listening at " + endpoints) << '\n';
  }
  return std::move(created.node);
}

// ---- interactive prompt ----------------------------------------------------------------------

// A log line below warning level ("<time> info  ..."), which the prompt does not show.
bool routine_log_line(const std::string& line) {
  const std::string plain = entre::host::without_colours(line);
  const std::size_t sp = plain.find(' ');
  if (sp == std::string::npos || sp < 10 || !std::isdigit(static_cast<unsigned char>(plain[0]))) {
    return false;
  }
  const std::string rest = plain.substr(sp + 1);
  for (const char* level : {"trace ", "debug ", "info "}) {
    if (rest.rfind(level, 0) == 0) {
      return true;
    }
  }
  return false;
}

// Fd 2 into a pipe whose lines go above the prompt (warnings and errors of the log, and anything
// else written there); undone by the destructor.
class StderrCapture {
 public:
  explicit StderrCapture(entre::host::Repl& repl) {
    int fds[2];
    saved_ = ::dup(STDERR_FILENO);
    if (saved_ < 0 || ::pipe2(fds, O_CLOEXEC) != 0) {
      return;
    }
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[1]);
    reader_ = std::thread([&repl, fd = fds[0]] {
      std::string pending;
      char buf[4096];
      while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n <= 0) {
          break;
        }
        pending.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
          const std::string line = pending.substr(0, nl);
          pending.erase(0, nl + 1);
          if (!routine_log_line(line)) {
            repl.print(entre::host::printable(entre::host::without_colours(line), " "));
          }
        }
      }
      if (!pending.empty() && !routine_log_line(pending)) {
        repl.print(entre::host::printable(entre::host::without_colours(pending), " "));
      }
      ::close(fd);
    });
  }
  ~StderrCapture() {
    if (saved_ >= 0) {
      ::dup2(saved_, STDERR_FILENO); // the pipe's last writer goes: the reader sees its end
      ::close(saved_);
    }
    if (reader_.joinable()) {
      reader_.join();
    }
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;

 private:
  int saved_ = -1;
  std::thread reader_;
};

std::vector<std::string> command_words() {
  std::vector<std::string> words{"quit"};
  for (const auto& m : entre::host::methods()) {
    words.push_back(m.name);
  }
  return words;
}

// Runs one text line from a pipe; prints its result (the line format) or error with `out`.
// False on "quit".
bool run_text_line(Commands& commands, const std::string& line,
                   const std::function<void(const std::string&)>& out) {
  const std::string trimmed = line.substr(0, line.find_last_not_of(" \t\r") + 1);
  if (trimmed.empty()) {
    return true;
  }
  if (trimmed == "quit" || trimmed == "exit") {
    return false;
  }
  try {
    const Json call = entre::host::parse_line(trimmed);
    const std::string method = call["method"].get<std::string>();
    for (const auto& l : entre::host::render_lines(method, commands.call(method, call["params"]))) {
      out(l);
    }
  } catch (const CommandError& e) {
    out("error " + entre::host::one_line(e.what()));
  } catch (const std::exception& e) {
    out("error " + entre::host::one_line(std::string("internal: ") + e.what()));
  }
  return true;
}

// A line typed at the prompt: results as a person reads them (HumanView), and 'remove' only once
// confirmed, since it deletes the conversation. Used from the prompt's thread only.
class PromptLines {
 public:
  PromptLines(Commands& commands, entre::host::HumanView& view)
      : commands_(commands), view_(view) {}

  // False on "quit".
  bool run(const std::string& line, const std::function<void(const std::string&)>& out) {
    const std::string trimmed = line.substr(0, line.find_last_not_of(" \t\r") + 1);
    if (!pending_remove_.empty()) {
      const std::string id = std::exchange(pending_remove_, std::string());
      const std::string name = view_.name_of(id);
      if (trimmed != "yes") {
        out("kept " + name);
        return true;
      }
      return attempt(out, [&] {
        (void)commands_.call("remove", Json{{"contact", id}});
        out("removed " + name + " and the conversation");
      });
    }
    if (trimmed.empty()) {
      return true;
    }
    if (trimmed == "quit" || trimmed == "exit") {
      return false;
    }
    return attempt(out, [&] {
      const Json call = entre::host::parse_line(trimmed);
      const std::string method = call["method"].get<std::string>();
      if (method == "remove") {
        pending_remove_ = commands_.resolve(call["params"]["contact"].get<std::string>());
        out("Remove " + view_.name_of(pending_remove_) + " [" + pending_remove_.substr(0, 8) +
            "] and delete your whole conversation? Type 'yes' to remove, anything else keeps it.");
        return;
      }
      for (const auto& l : view_.result(method, commands_.call(method, call["params"]))) {
        out(l);
      }
      if (method == "help" && !call["params"].contains("command")) {
        out("  quit                               stop the node (or Ctrl-D; Ctrl-C too)");
      }
    });
  }

 private:
  template <typename Fn> bool attempt(const std::function<void(const std::string&)>& out, Fn fn) {
    try {
      fn();
    } catch (const CommandError& e) {
      out("error " + entre::host::one_line(e.what()));
    } catch (const std::exception& e) {
      out("error " + entre::host::one_line(std::string("internal: ") + e.what()));
    }
    return true;
  }

  Commands& commands_;
  entre::host::HumanView& view_;
  std::string pending_remove_; // a contact id waiting for "yes"
};

int run_node(const Options& o) {
  // Block the stop signals in every thread; one thread waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const bool interactive = ::isatty(STDIN_FILENO) == 1;
  int status = kExitOk;
  Commands* commands = nullptr;
  std::unique_ptr<Commands> commands_owner;
  std::unique_ptr<entre::host::Repl> repl;
  std::unique_ptr<PromptLines> prompt_lines;
  // At a terminal the log's routine lines stay off the screen from the start (the plugins'
  // "loaded" lines and the like), and its warnings print above the prompt once it shows.
  std::optional<StderrCapture> capture;
  if (interactive) {
    repl = std::make_unique<entre::host::Repl>(entre::host::ReplHooks{
        [&](const std::string& line) {
          return prompt_lines->run(line, [&](const std::string& l) { repl->print(l); });
        },
        command_words,
        [&](const std::string& command) {
          const auto* spec = entre::host::find_method(command);
          if (command == "help") {
            return command_words();
          }
          return spec != nullptr && spec->contact_first ? commands->contact_names()
                                                        : std::vector<std::string>{};
        }});
    capture.emplace(*repl);
  }
  std::unique_ptr<entre::Node> node_owner =
      start_node(o, interactive && !o.verbose ? Startup::kBrief : Startup::kFull, &commands,
                 commands_owner, status);
  if (!node_owner) {
    return status;
  }
  entre::Node& node = *node_owner;
  if (!open_identity(node, o, interactive, false)) {
    node.stop();
    return kExitNodeFailed;
  }
  const bool unlocked = !node.my_id().empty();
  if (unlocked) {
    if (auto code = node.contact_code()) {
      std::cout << "code " << *code.value << '\n';
    }
  }

  std::function<void(const std::string&)> print = say;
  entre::host::HumanView view(node);
  prompt_lines = std::make_unique<PromptLines>(*commands, view);
  if (interactive) {
    print = [&](const std::string& l) { repl->print(l); };
  }

  entre::host::ControlServer control(*commands, [&](const std::string& note) {
    if (interactive) {
      repl->print("entre-host: " + note);
    } else {
      std::cerr << "entre-host: " << note << std::endl;
    }
  });
  if (!o.control.empty()) {
    const std::string error = control.start(o.control);
    if (!error.empty()) {
      std::cerr << "entre-host: " << error << '\n';
      node.stop();
      return kExitNodeFailed;
    }
    std::cout << "entre-host: control socket " << o.control << '\n';
  }
  if (interactive) {
    std::cout << (unlocked ? "Give the code above to the people you want to talk to; 'add CODE "
                             "NAME' adds theirs.\n"
                           : "")
              << "Type 'help' for the commands, Tab to complete, 'quit' or Ctrl-D to leave.\n";
  }
  std::cout << "entre-host: ready (Ctrl-C to stop)" << std::endl;

  std::atomic<bool> done{false};
  std::thread events([&] {
    while (!done.load()) {
      if (auto event = node.wait_event(std::chrono::milliseconds(200))) {
        commands->observe(*event);
        const Json e = entre::host::event_json(*event);
        if (e.is_null()) {
          continue;
        }
        control.broadcast(e);
        const std::string line = interactive ? view.event(e) : entre::host::event_line(e);
        if (!line.empty()) {
          print(line);
        }
      }
    }
  });

  int signal_number = 0;
  if (interactive) {
    std::atomic<bool> left{false};
    std::atomic<int> caught{0};
    std::thread signals([&] {
      int sig = 0;
      sigwait(&stop_signals, &sig);
      if (!left.load()) {
        caught = sig;
      }
      repl->stop();
    });
    repl->run(node.name() + "> ");
    left = true;
    pthread_kill(signals.native_handle(), SIGTERM); // ends the sigwait if no signal came
    signals.join();
    signal_number = caught.load();
  } else {
    // Commands from standard input; "quit" or a stop signal ends the node. End of input does not.
    // The reader waits on standard input and on a stop pipe, so that it can be joined.
    int stop_pipe[2] = {-1, -1};
    if (::pipe2(stop_pipe, O_CLOEXEC) != 0) {
      std::cerr << "entre-host: cannot create a pipe\n";
    }
    std::thread lines([&] {
      std::string pending;
      char buf[65536];
      for (;;) {
        pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_pipe[0], POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
          if (errno == EINTR) {
            continue;
          }
          return;
        }
        if ((fds[1].revents & POLLIN) != 0) {
          return;
        }
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n <= 0) {
          // End of input: wait for the stop pipe only.
          pollfd stop{stop_pipe[0], POLLIN, 0};
          while (::poll(&stop, 1, -1) < 0 && errno == EINTR) {
          }
          return;
        }
        pending.append(buf, static_cast<std::size_t>(n));
        for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
          const std::string line = pending.substr(0, nl);
          pending.erase(0, nl + 1);
          if (!run_text_line(*commands, line, say)) {
            kill(getpid(), SIGTERM);
            pollfd stop{stop_pipe[0], POLLIN, 0};
            while (::poll(&stop, 1, -1) < 0 && errno == EINTR) {
            }
            return;
          }
        }
      }
    });
    sigwait(&stop_signals, &signal_number);
    const char c = 1;
    [[maybe_unused]] const ssize_t w = ::write(stop_pipe[1], &c, 1);
    lines.join();
    ::close(stop_pipe[0]);
    ::close(stop_pipe[1]);
  }
  say(std::string("entre-host: ") +
      (signal_number == SIGINT    ? "SIGINT"
       : signal_number == SIGTERM ? "SIGTERM"
                                  : "quit") +
      ", stopping");
  commands->close(); // waits for a running command; refuses the rest
  done = true;
  events.join();
  control.stop();
  node.stop();
  node_owner.reset();
  std::cout << "entre-host: stopped cleanly" << std::endl;
  return kExitOk;
}

// ---- one-shot commands -----------------------------------------------------------------------

void print_result(const Options& o, const std::string& method, const Json& result) {
  if (o.json) {
    std::cout << result.dump() << '\n';
    return;
  }
  for (const auto& l : entre::host::render_lines(method, result)) {
    std::cout << l << '\n';
  }
}

// Sends one request to a running node's control socket and waits for its response.
int run_through_socket(const Options& o, const std::string& method, const Json& params) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (o.control.size() >= sizeof addr.sun_path) {
    std::cerr << "entre-host: control socket path too long\n";
    return kExitUsage;
  }
  std::copy(o.control.begin(), o.control.end(), addr.sun_path);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::cerr << "entre-host: cannot reach a node at " << o.control << ": " << std::strerror(errno)
              << " (is entre-host running with --control " << o.control << "?)\n";
    if (fd >= 0) {
      ::close(fd);
    }
    return kExitNodeFailed;
  }
  const std::string request = Json{{"id", 1}, {"method", method}, {"params", params}}.dump() + "\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      std::cerr << "entre-host: the node closed the control socket\n";
      ::close(fd);
      return kExitNodeFailed;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string buffer;
  char chunk[65536];
  while (true) {
    for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      const Json reply = Json::parse(buffer.substr(0, nl), nullptr, false);
      buffer.erase(0, nl + 1);
      if (!reply.is_object() || !reply.contains("id") || reply["id"] != 1) {
        continue; // an event
      }
      ::close(fd);
      if (reply.contains("error")) {
        std::cerr << "error " << reply["error"]["message"].get<std::string>() << '\n';
        return kExitCommandFailed;
      }
      print_result(o, method, reply["result"]);
      return kExitOk;
    }
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) {
      std::cerr << "entre-host: the node closed the control socket before answering\n";
      ::close(fd);
      return kExitNodeFailed;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

int run_once(const Options& o) {
  std::string line;
  for (const auto& w : o.command) {
    line += (line.empty() ? "" : " ") + w;
  }
  Json call;
  try {
    call = entre::host::parse_line(line);
  } catch (const CommandError& e) {
    std::cerr << "entre-host: " << e.what() << '\n';
    return kExitUsage;
  }
  const std::string method = call["method"].get<std::string>();
  if (!o.control.empty()) {
    return run_through_socket(o, method, call["params"]);
  }
  int status = kExitOk;
  Commands* commands = nullptr;
  std::unique_ptr<Commands> commands_owner;
  std::unique_ptr<entre::Node> node =
      start_node(o, Startup::kQuiet, &commands, commands_owner, status);
  if (!node) {
    return status;
  }
  if (!open_identity(*node, o, ::isatty(STDIN_FILENO) == 1, true)) {
    return kExitNodeFailed;
  }
  Json result;
  try {
    result = commands->call(method, call["params"]);
  } catch (const CommandError& e) {
    std::cerr << "error " << e.what() << '\n';
    return kExitCommandFailed;
  }
  print_result(o, method, result);
  if (method != "send") {
    return kExitOk;
  }
  // Keep the node up until the message is delivered, or --wait passes.
  const std::string id = result["message"]["id"].get<std::string>();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.wait_seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto event = node->wait_event(std::chrono::milliseconds(100))) {
      const auto* s = std::get_if<entre::MessageStateChanged>(&*event);
      if (s != nullptr && s->id == id && s->state >= entre::MessageState::kDelivered) {
        if (!o.json) {
          std::cout << "delivered " << id << '\n';
        }
        return kExitOk;
      }
    }
  }
  std::cerr << "entre-host: message " << id << " not delivered within " << o.wait_seconds
            << " s; it stays in the outbox and goes out the next time this node runs\n";
  return kExitNotDelivered;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"entre-host: run an Entre node from a profile, without a window"};
  Options o;
  app.add_option("-p,--profile", o.profile, "TOML profile of the node")->required();
  app.add_option("--passphrase-file", o.passphrase_file,
                 "file whose first line is the identity's passphrase (else ENTRE_PASSPHRASE, else "
                 "asked on a terminal)");
  app.add_option("--control", o.control,
                 "Unix socket: serve the JSON control API there (docs/control-api.md); with a "
                 "COMMAND, send it to the node serving there");
  app.add_flag("--check", o.check,
               "validate the profile and every plugin's settings without starting anything, "
               "and exit (status 2 if invalid)");
  app.add_flag("--json", o.json, "one-shot COMMAND: print its result as JSON");
  app.add_flag("-v,--verbose", o.verbose,
               "at a terminal: list every plugin and endpoint at start (as on a pipe)");
  app.add_option("--wait", o.wait_seconds,
                 "one-shot send: seconds to wait for delivery (default 30)")
      ->check(CLI::Range(0, 3600));
  app.prefix_command(); // the first word that is not an option starts a one-shot COMMAND
  app.footer("One-shot: entre-host --profile FILE COMMAND [ARGS...], e.g. 'send alice hello' or "
             "'code'; 'entre-host --profile FILE help' lists the commands (docs/host.md).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  for (const auto& extra : app.remaining()) {
    o.command.push_back(extra);
  }
  try {
    if (o.check) {
      return check_profile(o.profile);
    }
    return o.command.empty() ? run_node(o) : run_once(o);
  } catch (const std::exception& e) {
    std::cerr << "entre-host: " << e.what() << '\n';
    return kExitNodeFailed;
  }
}
