// entre-relay's server: forwards sealed frames between clients that proved their key, on one
// io_context (one thread), with the limits of the profile's [relay] table. Protocol:
// plugins/common/relay_wire.hpp and docs/protocol.md "Relay".
//
// What it guarantees
// - A client is registered under a key only after a Noise IK handshake with the relay's static key
//   and a first sealed message from it, so only the holder of the key's secret receives frames sent
//   to that key. A second connection that proves the same key replaces the first.
// - Frames go only to registered clients, chosen by key; the relay never connects anywhere.
// - It sees only the frame bytes the clients' kernels already sealed end to end; it logs no frame
//   content and no key below debug level.
// - Limits: connections in total and per address (refused with a reason), handshakes per second
//   (shed with a reason), handshake deadline (slowloris), record and frame size (the connection is
//   closed), a per-client token bucket on forwarded bytes (reading pauses until it refills), the
//   queue towards each client (a client that does not read is dropped), idle time.
//
// Threading: construct, start and destroy it on the thread that runs the io_context (one thread),
// before and after run(); every other call and every handler runs on that thread.
#pragma once

#include "profile/profile.hpp"

#include <entre/sdk/crypto.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <span>
#include <string>

namespace spdlog {
class logger;
}

namespace entre::relay {

struct RelayCounters {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t clients_authenticated = 0;
  uint64_t clients_online = 0;
  uint64_t refused_busy = 0;
  uint64_t refused_handshake_rate = 0;
  uint64_t refused_version = 0;
  uint64_t handshakes_failed = 0;  // a client hello that did not verify
  uint64_t auth_failures = 0;      // a handshake completed, but the auth message did not open
  uint64_t records_unverified = 0; // a later sealed record did not open
  uint64_t handshake_timeouts = 0;
  uint64_t protocol_errors = 0;
  uint64_t frames_too_large = 0;
  uint64_t frames_forwarded = 0;
  uint64_t bytes_forwarded = 0;
  uint64_t frames_unreachable = 0;
  uint64_t rate_limit_pauses = 0;
  uint64_t slow_consumers_dropped = 0;
  uint64_t idle_closed = 0;
  uint64_t replaced = 0;
  uint64_t reflections = 0;
};

class RelayServer {
 public:
  // `secret` is the relay's identity blob (from the suite's generate_identity); copied and wiped on
  // destruction. `tap`, if set, receives every byte the relay reads and writes on its TCP
  // connections and every message it opens, so that a test can show no plaintext passes.
  RelayServer(boost::asio::io_context& io, sdk::CryptoSuite& suite, std::span<const uint8_t> secret,
              const RelaySection& config, std::shared_ptr<spdlog::logger> logger,
              std::ostream* tap = nullptr);
  ~RelayServer();
  RelayServer(const RelayServer&) = delete;
  RelayServer& operator=(const RelayServer&) = delete;

  // Binds and starts accepting; an error text (naming the address) on failure.
  [[nodiscard]] std::string start();
  // Stops accepting, tells every client the relay is stopping and closes every connection.
  void shutdown();
  [[nodiscard]] uint16_t tcp_port() const;
  [[nodiscard]] uint16_t udp_port() const; // 0 when reflection is off
  [[nodiscard]] RelayCounters counters() const;
  [[nodiscard]] std::string counters_json() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

} // namespace entre::relay
