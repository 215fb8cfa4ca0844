// entre-relay: the relay server for transport-tcp-relay (docs/deploying-a-relay.md).
//
//   entre-relay --profile configs/relay.toml [--stats FILE] [--tap FILE]
//   entre-relay --profile configs/relay.toml --print-key
//
// Reads the profile's [relay] and [log] tables, loads the crypto suite plugin ([crypto] suite, else
// entre.crypto.sodium from the plugin search path), creates the static key file on first start
// (mode 0600) and serves until SIGTERM or SIGINT, when it tells every client it is stopping.
// Exit status: 0 after a clean stop, 1 when it cannot start, 2 on a usage error.
#include "loader/loader.hpp"
#include "node/logging.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "profile/config_view.hpp"
#include "profile/profile.hpp"
#include "relay_server.hpp"
#include "relay_wire.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace entre::relay {

namespace {

namespace fs = std::filesystem;
constexpr std::size_t kMaxKeyFileBytes = 4096;

struct SecretFile {
  std::vector<uint8_t> bytes;
  ~SecretFile() {
    if (!bytes.empty()) {
      sodium_memzero(bytes.data(), bytes.size());
    }
  }
};

// Reads the key file, or creates it (0600, never overwriting) with a new identity.
std::string load_or_create_key(sdk::CryptoSuite& suite, const fs::path& file, SecretFile& out,
                               std::array<uint8_t, sdk::kPublicKeyBytes>& public_key,
                               spdlog::logger& logger) {
  std::error_code ec;
  if (fs::exists(file, ec)) {
    const auto size = fs::file_size(file, ec);
    if (ec || size == 0 || size > kMaxKeyFileBytes) {
      return file.string() + ": not a relay key file (" +
             (ec ? ec.message() : std::to_string(size) + " bytes") + ")";
    }
    const auto perms = fs::status(file, ec).permissions();
    if ((perms & (fs::perms::group_all | fs::perms::others_all)) != fs::perms::none) {
      logger.warn("{}: the relay's private key is readable by other users; chmod 600 it",
                  file.string());
    }
    std::ifstream in(file, std::ios::binary);
    out.bytes.resize(size);
    in.read(reinterpret_cast<char*>(out.bytes.data()), static_cast<std::streamsize>(size));
    if (!in) {
      return file.string() + ": cannot read the relay key";
    }
    const sdk::Status st = suite.identity_public(
        sdk::ByteView(out.bytes), sdk::MutableByteView(public_key.data(), public_key.size()));
    if (!st.is_ok()) {
      return file.string() + ": not a key of this crypto suite: " + std::string(st.text());
    }
    return {};
  }
  sdk::VectorSink sink(out.bytes, kMaxKeyFileBytes);
  const sdk::Status st =
      suite.generate_identity(sink, sdk::MutableByteView(public_key.data(), public_key.size()));
  if (!st.is_ok()) {
    return "cannot generate a relay key: " + std::string(st.text());
  }
  fs::create_directories(file.parent_path(), ec);
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return file.string() + ": cannot create the relay key file: " + std::strerror(errno);
  }
  const ssize_t written = ::write(fd, out.bytes.data(), out.bytes.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (written != static_cast<ssize_t>(out.bytes.size()) || !synced) {
    fs::remove(file, ec);
    return file.string() + ": cannot write the relay key file";
  }
  logger.info("created a new relay key in {}", file.string());
  return {};
}

void write_stats(const fs::path& file, const std::string& json) {
  const fs::path partial = file.string() + ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << json << '\n';
  }
  std::error_code ec;
  fs::rename(partial, file, ec);
}

int run(int argc, char** argv) {
  CLI::App app{"Entre relay: forwards end-to-end encrypted frames between clients that proved "
               "their key, and reflects UDP endpoints for NAT traversal.\nExit status: 0 after a "
               "clean stop, 1 when it cannot start, 2 on a usage error.",
               "entre-relay"};
  std::string profile_file;
  bool print_key = false;
  std::string stats_file;
  std::string tap_file;
  app.add_option("--profile", profile_file, "The relay profile (a [relay] table)")->required();
  app.add_flag("--print-key", print_key,
               "Print the relay's public key (creating the key file if needed) and exit");
  app.add_option("--stats", stats_file,
                 "Rewrite this file with the relay's counters (JSON) every second");
  app.add_option("--tap", tap_file,
                 "Append every byte read and written, and every opened message, to this file "
                 "(for tests and audits; never on a production relay)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  ProfileLoadResult loaded = load_profile_file(profile_file);
  if (!loaded.profile) {
    for (const auto& e : loaded.errors) {
      std::cerr << e.str() << '\n';
    }
    return 1;
  }
  const Profile& profile = *loaded.profile;
  if (!profile.relay) {
    std::cerr << profile.source.string() << ": no [relay] table: entre-relay runs relay profiles "
              << "(a node profile is run by entre-host)\n";
    return 1;
  }
  const RelaySection& cfg = *profile.relay;
  std::string log_error;
  auto logger = make_profile_logger(profile, "entre-relay", log_error);
  if (!logger) {
    std::cerr << log_error << '\n';
    return 1;
  }

  const std::string suite_id =
      profile.crypto.suite.empty() ? "entre.crypto.sodium" : profile.crypto.suite;
  std::optional<fs::path> plugin_file;
  if (const PluginEntry* entry = profile.find_plugin(suite_id); entry != nullptr) {
    plugin_file = entry->file;
  }
  PluginLoader loader(PluginLoader::default_search_paths(profile.search_paths));
  LoadOutcome outcome = loader.load(suite_id, plugin_file);
  if (!outcome.library) {
    logger->error("{}", outcome.failure->str());
    return 1;
  }
  if (outcome.library->manifest().kind != sdk::PluginKind::kCrypto) {
    logger->error("{}: {} is not a crypto suite", outcome.library->file().string(), suite_id);
    return 1;
  }
  Runtime plugin_runtime(1, 1);
  PluginHost host(suite_id, std::make_unique<TomlConfigView>(nullptr, profile.source.string(), 0),
                  cfg.static_key_file.parent_path(), plugin_runtime, logger);
  sdk::Plugin* root = nullptr;
  const sdk::Status made = outcome.library->factory()(host, &root);
  if (!made.is_ok() || root == nullptr) {
    logger->error("{}: {}", outcome.library->file().string(), made.text());
    return 1;
  }
  PluginPtr<sdk::Plugin> plugin(root, outcome.library);
  auto* suite = sdk::query<sdk::CryptoSuite>(*plugin, sdk::InterfaceId::kCryptoSuiteV1);
  if (suite == nullptr) {
    logger->error("{}: offers no crypto suite interface", outcome.library->file().string());
    return 1;
  }

  SecretFile secret;
  std::array<uint8_t, sdk::kPublicKeyBytes> public_key{};
  if (const std::string error =
          load_or_create_key(*suite, cfg.static_key_file, secret, public_key, *logger);
      !error.empty()) {
    logger->error("{}", error);
    return 1;
  }
  const std::string key_hex = plugins::relay_wire::hex(public_key);
  if (print_key) {
    std::cout << key_hex << '\n';
    return 0;
  }

  std::ofstream tap;
  if (!tap_file.empty()) {
    tap.open(tap_file, std::ios::binary | std::ios::app);
    if (!tap) {
      logger->error("{}: cannot open the tap file", tap_file);
      return 1;
    }
    logger->warn("tapping all traffic to {} (tests and audits only)", tap_file);
  }

  // Each connection is a descriptor: take every one the system allows this process.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 &&
      files.rlim_cur < uint64_t{cfg.max_connections} + 64) {
    logger->warn("max_connections is {}, but this process may open only {} descriptors; raise the "
                 "limit (LimitNOFILE= in a systemd unit)",
                 cfg.max_connections, static_cast<uint64_t>(files.rlim_cur));
  }

  int status = 0;
  {
    boost::asio::io_context io(1);
    RelayServer server(io, *suite, secret.bytes, cfg, logger, tap_file.empty() ? nullptr : &tap);
    if (const std::string error = server.start(); !error.empty()) {
      logger->error("{}", error);
      return 1;
    }
    logger->info("entre-relay listening on TCP {}:{}{}; key {}", cfg.listen, server.tcp_port(),
                 server.udp_port() != 0
                     ? ", UDP endpoint reflection on port " + std::to_string(server.udp_port())
                     : std::string(),
                 key_hex);
    logger->info("clients list this relay as \"{}@<this host's name or address>:{}\"", key_hex,
                 server.tcp_port());

    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    boost::asio::steady_timer stats_timer(io);
    bool stopping = false;
    std::function<void()> tick = [&] {
      if (!stats_file.empty()) {
        write_stats(stats_file, server.counters_json());
      }
      if (stopping) {
        return;
      }
      stats_timer.expires_after(std::chrono::seconds(1));
      stats_timer.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) {
          tick();
        }
      });
    };
    tick();
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) {
        return;
      }
      logger->info("signal {}: stopping; telling {} clients", signal,
                   server.counters().clients_online);
      stopping = true;
      stats_timer.cancel();
      server.shutdown();
    });
    io.run();
    if (!stats_file.empty()) {
      write_stats(stats_file, server.counters_json());
    }
    logger->info("entre-relay stopped: {}", server.counters_json());
  }
  tap.flush();
  return status;
}

} // namespace

} // namespace entre::relay

int main(int argc, char** argv) {
  try {
    return entre::relay::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "entre-relay: " << e.what() << '\n';
    return 1;
  }
}
