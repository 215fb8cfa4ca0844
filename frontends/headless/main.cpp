// entre-host: runs an Entre node from a profile, without a window.
//
//   entre-host --profile FILE          compose the node, print what it loaded, unlock (or create)
//                                      the identity, run until SIGINT, SIGTERM or "quit"
//   entre-host --profile FILE --check  validate the profile and exit
//
// The passphrase comes from --passphrase-file or the ENTRE_PASSPHRASE environment variable; without
// one the node runs with messaging locked. While it runs, entre-host reads one command per line
// from standard input and prints one line per result and per event (docs/host.md):
//   code [HINT...] | contacts | add CODE [NAME] | send CONTACT TEXT | history CONTACT [LIMIT] |
//   read CONTACT | counters | quit
//
// Exit status: 0 clean exit or valid profile; 1 the node could not start (a required plugin or
// transport failed, or the passphrase is wrong); 2 usage error or invalid profile.
#include <entre/node.hpp>

#include "profile/profile.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <pthread.h>
#include <unistd.h>

namespace {

constexpr int kExitOk = 0;
constexpr int kExitNodeFailed = 1;
constexpr int kExitUsage = 2;

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

void print_plugins(const entre::Node& node) {
  std::cout << "plugins:\n";
  for (const auto& p : node.plugins()) {
    std::cout << "  " << (p.loaded ? "loaded " : "FAILED ") << p.id;
    if (p.loaded) {
      std::cout << ' ' << p.version << " (" << p.kind << ") " << p.file.string();
    } else {
      std::cout << (p.required ? " (required)" : " (optional)") << ": " << p.error;
    }
    std::cout << '\n';
  }
}

std::mutex g_out_mu;
std::mutex g_node_mu; // held while a command runs, and by the shutdown
bool g_node_gone = false;

void say(const std::string& line) {
  std::lock_guard lock(g_out_mu);
  std::cout << line << '\n' << std::flush;
}

// One line of text: newlines and other control characters are shown escaped.
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      out += text[i] == 'n' ? '\n' : text[i];
    } else {
      out += text[i];
    }
  }
  return out;
}

// A contact by id, or by a name that exactly one contact has.
std::optional<std::string> resolve(entre::Node& node, const std::string& who, std::string& error) {
  std::vector<std::string> matches;
  for (const auto& c : node.contacts()) {
    if (c.id == who) {
      return c.id;
    }
    if (c.name == who) {
      matches.push_back(c.id);
    }
  }
  if (matches.size() == 1) {
    return matches.front();
  }
  error = matches.empty() ? "no contact '" + who + "' (use its id or name; 'contacts' lists them)"
                          : "more than one contact is called '" + who + "': use its id";
  return std::nullopt;
}

std::string describe_event(const entre::Event& event) {
  if (const auto* m = std::get_if<entre::MessageReceived>(&event)) {
    return "message " + m->message.contact + " " + m->message.id + " " + one_line(m->message.text);
  }
  if (const auto* s = std::get_if<entre::MessageStateChanged>(&event)) {
    return std::string("state ") + s->contact + " " + s->id + " " +
           entre::message_state_name(s->state);
  }
  if (const auto* p = std::get_if<entre::ContactPresenceChanged>(&event)) {
    return "presence " + p->contact + (p->online ? " online " + p->path : " offline");
  }
  if (const auto* d = std::get_if<entre::EventsDropped>(&event)) {
    return "events-dropped " + std::to_string(d->count);
  }
  if (const auto* m = std::get_if<entre::PeerMet>(&event)) {
    std::string safety = m->safety_number;
    std::replace(safety.begin(), safety.end(), ' ', '-');
    return "met " + m->id + " " + safety + " " + m->code + " " + one_line(m->name);
  }
  return {};
}

// Runs one command line; returns false on "quit".
bool run_command(entre::Node& node, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  std::string rest;
  std::getline(in >> std::ws, rest);
  auto fail = [](const std::string& why) { say("error " + one_line(why)); };
  if (cmd.empty()) {
    return true;
  }
  if (cmd == "quit" || cmd == "exit") {
    return false;
  }
  if (cmd == "code") {
    std::vector<std::string> hints;
    std::istringstream args(rest);
    for (std::string h; args >> h;) {
      hints.push_back(h);
    }
    auto r = node.contact_code(hints);
    r ? say("code " + *r.value) : fail(r.error.message);
  } else if (cmd == "id") {
    say("id " + node.my_id());
  } else if (cmd == "contacts") {
    for (const auto& c : node.contacts()) {
      const std::string link =
          c.online ? "online " + c.path + " rtt=" + std::to_string(c.rtt_ms) +
                         "ms loss=" + std::to_string(static_cast<int>(c.loss * 100)) + "%"
                   : "offline";
      say("contact " + c.id + " " + link + " unread=" + std::to_string(c.unread) +
          (c.verified ? " verified" : "") + (c.blocked ? " blocked" : "") + " " + one_line(c.name));
    }
    say("end");
  } else if (cmd == "add") {
    std::istringstream args(rest);
    std::string code;
    args >> code;
    std::string name;
    std::getline(args >> std::ws, name);
    auto r = node.add_contact(code, name);
    r ? say("added " + r.value->id) : fail(r.error.message);
  } else if (cmd == "send") {
    std::istringstream args(rest);
    std::string who;
    args >> who;
    std::string text;
    std::getline(args >> std::ws, text);
    std::string error;
    auto id = resolve(node, who, error);
    if (!id) {
      fail(error);
      return true;
    }
    auto r = node.send(*id, unescape(text));
    r ? say("queued " + r.value->id) : fail(r.error.message);
  } else if (cmd == "history") {
    std::istringstream args(rest);
    std::string who;
    uint32_t limit = 50;
    args >> who >> limit;
    std::string error;
    auto id = resolve(node, who, error);
    if (!id) {
      fail(error);
      return true;
    }
    auto r = node.history(*id, 0, limit);
    if (!r) {
      fail(r.error.message);
      return true;
    }
    for (auto it = r.value->rbegin(); it != r.value->rend(); ++it) {
      say("history " + std::to_string(it->order) + " " + (it->outgoing ? "out " : "in ") +
          entre::message_state_name(it->state) + " " + it->id + " " +
          (it->path.empty() ? std::string("-") : it->path) + " " + one_line(it->text));
    }
    say("end");
  } else if (cmd == "read") {
    std::string error;
    auto id = resolve(node, rest, error);
    if (!id) {
      fail(error);
      return true;
    }
    auto r = node.mark_read(*id);
    r ? say("read " + std::to_string(*r.value)) : fail(r.error.message);
  } else if (cmd == "meet") {
    if (rest == "off") {
      const auto r = node.close_meeting();
      r ? say("meeting closed") : fail(r.error.message);
    } else {
      int seconds = 120;
      if (!rest.empty()) {
        try {
          std::size_t used = 0;
          seconds = std::stoi(rest, &used);
          if (used != rest.size() || seconds <= 0) {
            throw std::invalid_argument(rest);
          }
        } catch (const std::exception&) {
          fail("meet takes a number of seconds or 'off', not '" + rest + "'");
          return true;
        }
      }
      const auto r = node.open_meeting(std::chrono::seconds(seconds));
      r ? say("meeting " + std::to_string(std::min(seconds, 900))) : fail(r.error.message);
    }
  } else if (cmd == "counters") {
    const entre::NodeCounters c = node.counters();
    say("counters frames_received=" + std::to_string(c.frames_received) +
        " frames_dropped=" + std::to_string(c.frames_dropped) +
        " handshakes_completed=" + std::to_string(c.handshakes_completed) + " handshakes_refused=" +
        std::to_string(c.handshakes_refused) + " messages_sent=" + std::to_string(c.messages_sent) +
        " messages_received=" + std::to_string(c.messages_received) +
        " duplicates_dropped=" + std::to_string(c.duplicates_dropped) + " decrypt_failures=" +
        std::to_string(c.decrypt_failures) + " beacons_sent=" + std::to_string(c.beacons_sent) +
        " beacons_recognised=" + std::to_string(c.beacons_recognised) + " beacons_refused=" +
        std::to_string(c.beacons_refused) + " scope_refusals=" + std::to_string(c.scope_refusals) +
        " links=" + std::to_string(c.links) + " outbox=" + std::to_string(c.outbox));
  } else {
    fail("unknown command '" + cmd +
         "': code, id, contacts, add, send, history, read, meet, counters, quit");
  }
  return true;
}

std::optional<std::string> read_passphrase(const std::string& file) {
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

int run_node(const std::filesystem::path& path, const std::string& passphrase_file) {
  // Block the stop signals in every thread; the main thread waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  entre::NodeCreateResult created = entre::Node::create(path);
  if (!created.node) {
    for (const auto& e : created.errors) {
      std::cerr << "entre-host: " << e << '\n';
    }
    const entre::ProfileLoadResult profile = entre::load_profile_file(path);
    return profile.profile ? kExitNodeFailed : kExitUsage;
  }
  entre::Node& node = *created.node;
  std::cout << "entre-host: node '" << node.name() << "' from " << node.profile_path().string()
            << '\n';
  print_plugins(node);
  const std::vector<std::string> errors = node.start();
  for (const auto& e : errors) {
    std::cerr << "entre-host: " << e << '\n';
  }
  if (!node.running()) {
    return kExitNodeFailed;
  }
  while (auto event = node.poll_event()) {
    if (const auto* t = std::get_if<entre::TransportStateChanged>(&*event); t && t->running) {
      for (const auto& e : t->endpoints) {
        std::cout << "transport " << t->plugin_id << " listening at " << e << '\n';
      }
    }
  }
  if (node.messaging_available()) {
    const std::optional<std::string> passphrase = read_passphrase(passphrase_file);
    if (!passphrase) {
      std::cout << "entre-host: no passphrase (--passphrase-file or ENTRE_PASSPHRASE): messaging "
                   "stays locked"
                << '\n';
    } else {
      const bool existed = node.has_identity();
      const entre::ApiStatus st =
          existed ? node.unlock(*passphrase) : node.create_identity(*passphrase);
      if (!st) {
        std::cerr << "entre-host: " << st.error.message << '\n';
        node.stop();
        return kExitNodeFailed;
      }
      std::cout << "entre-host: identity " << (existed ? "unlocked" : "created") << ": "
                << node.my_id() << '\n';
      if (auto code = node.contact_code()) {
        std::cout << "code " << *code.value << '\n';
      }
    }
  }
  std::cout << "entre-host: ready (Ctrl-C to stop)" << std::endl;

  std::atomic<bool> done{false};
  std::thread events([&] {
    while (!done.load()) {
      if (auto event = node.wait_event(std::chrono::milliseconds(200))) {
        const std::string line = describe_event(*event);
        if (!line.empty()) {
          say(line);
        }
      }
    }
  });
  // Commands from standard input; "quit" or a stop signal ends the node. End of input does not.
  std::thread commands([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::lock_guard lock(g_node_mu);
      if (g_node_gone) {
        return;
      }
      if (!run_command(node, line)) {
        kill(getpid(), SIGTERM);
        return;
      }
    }
  });
  commands.detach(); // may sit in a blocking read; it touches nothing once the signal arrives

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  say(std::string("entre-host: ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
      ", stopping");
  done = true;
  events.join();
  std::lock_guard hold(g_node_mu); // no command runs during or after the shutdown
  g_node_gone = true;
  node.stop();
  created.node.reset();
  std::cout << "entre-host: stopped cleanly" << std::endl;
  return kExitOk;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"entre-host: run an Entre node from a profile, without a window"};
  std::string profile;
  bool check = false;
  std::string passphrase_file;
  app.add_option("-p,--profile", profile, "TOML profile of the node")->required();
  app.add_option("--passphrase-file", passphrase_file,
                 "file whose first line is the identity's passphrase (else ENTRE_PASSPHRASE)");
  app.add_flag("--check", check, "validate the profile and exit (status 2 if invalid)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    return check ? check_profile(profile) : run_node(profile, passphrase_file);
  } catch (const std::exception& e) {
    std::cerr << "entre-host: " << e.what() << '\n';
    return kExitNodeFailed;
  }
}
