// entre-host: runs an Entre node from a profile, without a window.
//
//   entre-host --profile FILE          compose the node, print what it loaded, run until SIGINT or
//                                      SIGTERM, then shut down cleanly
//   entre-host --profile FILE --check  validate the profile and exit
//
// Exit status: 0 clean exit or valid profile; 1 the node could not start (a required plugin or
// transport failed); 2 usage error or invalid profile.
#include <entre/node.hpp>

#include "profile/profile.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>

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

int run_node(const std::filesystem::path& path) {
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
  std::cout << "entre-host: ready (Ctrl-C to stop)" << std::endl;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "entre-host: " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping"
            << std::endl;
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
  app.add_option("-p,--profile", profile, "TOML profile of the node")->required();
  app.add_flag("--check", check, "validate the profile and exit (status 2 if invalid)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  try {
    return check ? check_profile(profile) : run_node(profile);
  } catch (const std::exception& e) {
    std::cerr << "entre-host: " << e.what() << '\n';
    return kExitNodeFailed;
  }
}
