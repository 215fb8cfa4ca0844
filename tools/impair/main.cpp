// entre-impair: a UDP proxy that loses, duplicates, delays and reorders datagrams between real
// processes, for tests on machines without tc netem.
//
// Usage:
//   entre-impair --listen 127.0.0.1:7500 --forward 127.0.0.1:7400
//                [--loss 0.2] [--duplicate 0.05] [--reorder 0.25] [--reorder-delay-ms 10]
//                [--delay-ms 20] [--jitter-ms 10] [--seed N] [--stats-interval-ms 1000]
//                [--max-clients 256]
//
//   client A --+                        +-- upstream socket A --+
//   client B --+--> [--listen] impair --+-- upstream socket B --+--> [--forward] server
//
// Clients send to the --listen address. The first datagram from a new source address makes it a
// client with its own upstream socket, connected to --forward; the server's replies on that
// socket go back to that client only. Each direction (client->server, server->client) is impaired
// independently with the same settings and its own random stream (see
// kernel/src/sim/impairment.hpp for the model; the same one the scenario network uses). --seed
// makes a run reproducible; without it the seed is random and printed.
//
// Addresses are IP literals (IPv4 "1.2.3.4:5", IPv6 "[::1]:5"); names are never looked up, and
// datagrams go only to --forward and to clients that wrote to --listen. Port 0 for --listen picks
// a free port; the first line printed says which:
//   entre-impair: listening on 127.0.0.1:40123, forwarding to 127.0.0.1:7400, seed 42
// Counters are printed every --stats-interval-ms (0: never) as "stats: ..." lines, and once more
// as "final: ..." lines on SIGINT or SIGTERM, after which it exits with status 0:
//   final: client->server received=2000 sent=1601 dropped=399 duplicated=0 reordered=0 errors=0
//   final: server->client received=1601 sent=1283 dropped=318 duplicated=0 reordered=0 errors=0
//   final: clients=1 refused=0
// Exit status: 0 after a signal, 1 on a socket error at startup, 2 on a usage error.
#include "datagram.hpp"
#include "sim/impairment.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace entre::impair {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr std::size_t kMaxDatagramBytes = 65535;

struct Options {
  std::string listen;
  std::string forward;
  sim::Impairment impairment;
  std::optional<uint64_t> seed;
  uint32_t stats_interval_ms = 0;
  uint32_t max_clients = 256;
};

// "1.2.3.4:5" or "[::1]:5"; IP literals only.
std::optional<udp::endpoint> parse_address(std::string_view text) {
  return plugins::datagram::parse_endpoint(text, "");
}

std::string format_address(const udp::endpoint& endpoint) {
  return plugins::datagram::format_endpoint(endpoint, "");
}

struct Counters {
  uint64_t received = 0;
  uint64_t sent = 0;
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t errors = 0;
};

enum Direction : std::size_t { kToServer = 0, kToClient = 1 };
constexpr std::array<const char*, 2> kDirectionNames = {"client->server", "server->client"};

class Proxy {
 public:
  Proxy(asio::io_context& io, const Options& options, udp::endpoint listen, udp::endpoint forward,
        uint64_t seed)
      : io_(io), options_(options), forward_(forward),
        listen_socket_(io, listen), rng_{std::mt19937_64(seed),
                                         std::mt19937_64(seed ^ 0x9e3779b97f4a7c15ull)},
        rx_(kMaxDatagramBytes) {}

  [[nodiscard]] udp::endpoint local() const { return listen_socket_.local_endpoint(); }

  void start() { receive_from_clients(); }

  void print_stats(const char* prefix) const {
    for (std::size_t d = 0; d < 2; ++d) {
      const Counters& c = counters_[d];
      std::printf(
          "%s: %s received=%llu sent=%llu dropped=%llu duplicated=%llu reordered=%llu "
          "errors=%llu\n",
          prefix, kDirectionNames[d], static_cast<unsigned long long>(c.received),
          static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.dropped),
          static_cast<unsigned long long>(c.duplicated),
          static_cast<unsigned long long>(c.reordered), static_cast<unsigned long long>(c.errors));
    }
    std::printf("%s: clients=%zu refused=%llu\n", prefix, clients_.size(),
                static_cast<unsigned long long>(refused_));
    std::fflush(stdout);
  }

 private:
  // One client: the address it writes from and the socket that speaks to the server for it.
  struct Client {
    Client(asio::io_context& io, udp::endpoint from) : address(from), upstream(io) {}
    udp::endpoint address;
    udp::socket upstream;
    std::vector<uint8_t> rx = std::vector<uint8_t>(kMaxDatagramBytes);
  };

  void receive_from_clients() {
    listen_socket_.async_receive_from(asio::buffer(rx_), rx_from_,
                                      [this](const boost::system::error_code& ec, std::size_t n) {
                                        if (ec == asio::error::operation_aborted) {
                                          return;
                                        }
                                        if (!ec) {
                                          from_client(n);
                                        } else {
                                          ++counters_[kToServer].errors;
                                        }
                                        receive_from_clients();
                                      });
  }

  void from_client(std::size_t n) {
    auto found = clients_.find(rx_from_);
    if (found == clients_.end()) {
      if (clients_.size() >= options_.max_clients) {
        ++refused_;
        return;
      }
      auto client = std::make_shared<Client>(io_, rx_from_);
      boost::system::error_code ec;
      client->upstream.open(forward_.protocol(), ec);
      if (!ec) {
        client->upstream.connect(forward_, ec);
      }
      if (ec) {
        ++counters_[kToServer].errors;
        return;
      }
      found = clients_.emplace(rx_from_, client).first;
      receive_from_server(client);
    }
    ++counters_[kToServer].received;
    const auto client = found->second;
    relay(kToServer, std::make_shared<const std::vector<uint8_t>>(rx_.begin(), rx_.begin() + n),
          [this, client](const std::shared_ptr<const std::vector<uint8_t>>& data) {
            client->upstream.async_send(
                asio::buffer(*data),
                [this, data](const boost::system::error_code& ec, std::size_t) {
                  ++(ec ? counters_[kToServer].errors : counters_[kToServer].sent);
                });
          });
  }

  void receive_from_server(const std::shared_ptr<Client>& client) {
    client->upstream.async_receive(
        asio::buffer(client->rx),
        [this, client](const boost::system::error_code& ec, std::size_t n) {
          if (ec == asio::error::operation_aborted) {
            return;
          }
          if (!ec) {
            from_server(*client, n);
          } else {
            // e.g. connection refused: the server is not up (yet). Keep listening.
            ++counters_[kToClient].errors;
          }
          receive_from_server(client);
        });
  }

  void from_server(Client& client, std::size_t n) {
    ++counters_[kToClient].received;
    const udp::endpoint to = client.address;
    relay(kToClient,
          std::make_shared<const std::vector<uint8_t>>(client.rx.begin(), client.rx.begin() + n),
          [this, to](const std::shared_ptr<const std::vector<uint8_t>>& data) {
            listen_socket_.async_send_to(
                asio::buffer(*data), to,
                [this, data](const boost::system::error_code& ec, std::size_t) {
                  ++(ec ? counters_[kToClient].errors : counters_[kToClient].sent);
                });
          });
  }

  // Decides the datagram's fate and sends each copy now or after its delay.
  template <typename Send>
  void relay(Direction direction, const std::shared_ptr<const std::vector<uint8_t>>& data,
             const Send& send) {
    Counters& c = counters_[direction];
    const sim::Fate fate = sim::decide_fate(options_.impairment, rng_[direction]);
    if (fate.copies == 0) {
      ++c.dropped;
      return;
    }
    if (fate.copies == 2) {
      ++c.duplicated;
    }
    if (fate.reordered) {
      ++c.reordered;
    }
    for (uint32_t i = 0; i < fate.copies; ++i) {
      if (fate.delay_ms[i] == 0) {
        send(data);
        continue;
      }
      auto timer =
          std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(fate.delay_ms[i]));
      timer->async_wait([timer, data, send](const boost::system::error_code& ec) {
        if (!ec) {
          send(data);
        }
      });
    }
  }

  asio::io_context& io_;
  const Options& options_;
  udp::endpoint forward_;
  udp::socket listen_socket_;
  std::array<std::mt19937_64, 2> rng_;
  std::vector<uint8_t> rx_;
  udp::endpoint rx_from_;
  std::map<udp::endpoint, std::shared_ptr<Client>> clients_;
  std::array<Counters, 2> counters_{};
  uint64_t refused_ = 0;
};

void schedule_stats(asio::steady_timer& timer, const Proxy& proxy, uint32_t interval_ms) {
  timer.expires_after(std::chrono::milliseconds(interval_ms));
  timer.async_wait([&timer, &proxy, interval_ms](const boost::system::error_code& ec) {
    if (ec) {
      return;
    }
    proxy.print_stats("stats");
    schedule_stats(timer, proxy, interval_ms);
  });
}

int run(int argc, char** argv) {
  CLI::App app{"A UDP proxy that loses, duplicates, delays and reorders datagrams, each direction "
               "independently. Prints counters on SIGINT/SIGTERM and exits 0.",
               "entre-impair"};
  Options options;
  sim::Impairment& imp = options.impairment;
  imp.reorder_delay_ms = 10;
  uint64_t seed = 0;
  app.add_option("--listen", options.listen, "Address clients send to, e.g. 127.0.0.1:7500")
      ->required();
  app.add_option("--forward", options.forward, "Server address, e.g. 127.0.0.1:7400")->required();
  app.add_option("--loss", imp.loss, "Probability a datagram is dropped")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--duplicate", imp.duplicate, "Probability a datagram is sent twice")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--reorder", imp.reorder,
                 "Probability a datagram is held back by --reorder-delay-ms so later ones pass it")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--reorder-delay-ms", imp.reorder_delay_ms, "Extra delay of a held-back datagram")
      ->check(CLI::Range(0u, sim::kMaxImpairmentDelayMs));
  app.add_option("--delay-ms", imp.latency_ms, "Fixed delay of every datagram")
      ->check(CLI::Range(0u, sim::kMaxImpairmentDelayMs));
  app.add_option("--jitter-ms", imp.jitter_ms, "Extra delay, uniform in [0, jitter]")
      ->check(CLI::Range(0u, sim::kMaxImpairmentDelayMs));
  auto* seed_option = app.add_option("--seed", seed, "Random seed (default: random, printed)");
  app.add_option("--stats-interval-ms", options.stats_interval_ms,
                 "Print counters this often (0: only at exit)");
  app.add_option("--max-clients", options.max_clients,
                 "Most client addresses served at once; datagrams from more are refused")
      ->check(CLI::Range(1u, 65536u));
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    app.exit(error);
    return kExitUsage;
  }
  if (const std::string problem = sim::check_impairment(imp); !problem.empty()) {
    std::fprintf(stderr, "entre-impair: %s\n", problem.c_str());
    return kExitUsage;
  }
  const auto listen = parse_address(options.listen);
  const auto forward = parse_address(options.forward);
  if (!listen || !forward) {
    std::fprintf(stderr,
                 "entre-impair: --%s: expected an IP address and port such as "
                 "127.0.0.1:7400 or [::1]:7400\n",
                 listen ? "forward" : "listen");
    return kExitUsage;
  }
  options.seed = seed_option->count() > 0 ? std::optional<uint64_t>(seed) : std::nullopt;
  const uint64_t used_seed = options.seed ? *options.seed : std::random_device{}();

  asio::io_context io;
  std::unique_ptr<Proxy> proxy;
  try {
    proxy = std::make_unique<Proxy>(io, options, *listen, *forward, used_seed);
  } catch (const boost::system::system_error& error) {
    std::fprintf(stderr, "entre-impair: cannot listen on %s: %s\n", format_address(*listen).c_str(),
                 error.code().message().c_str());
    return kExitError;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer stats_timer(io);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) {
      return;
    }
    proxy->print_stats("final");
    io.stop();
  });
  if (options.stats_interval_ms > 0) {
    schedule_stats(stats_timer, *proxy, options.stats_interval_ms);
  }
  proxy->start();
  std::printf("entre-impair: listening on %s, forwarding to %s, seed %llu\n",
              format_address(proxy->local()).c_str(), format_address(*forward).c_str(),
              static_cast<unsigned long long>(used_seed));
  std::fflush(stdout);
  io.run();
  return kExitOk;
}

} // namespace
} // namespace entre::impair

int main(int argc, char** argv) {
  try {
    return entre::impair::run(argc, argv);
  } catch (const std::exception& error) {
    (void)std::fprintf(stderr, "entre-impair: %s\n", error.what());
    return entre::impair::kExitError;
  }
}
