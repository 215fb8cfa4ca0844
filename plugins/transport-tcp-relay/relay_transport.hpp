// transport-tcp-relay: reaches peers through entre-relay servers over TCP (usually port 443),
// for networks that block UDP or put both peers behind NAT. Protocol: plugins/common/relay_wire.hpp
// and docs/protocol.md "Relay".
//
// Endpoints: "relay:<relay key hex>@<host>:<port>/<peer key hex>". The node's own endpoints are
// its home relays with its own key, so a contact code tells a peer which relay to reach it by and
// how to authenticate that relay. A frame to a relay that is not a home relay opens a connection to
// it on demand (at most max_relays connections); such a connection closes after idle_close_ms
// without traffic.
//
// Config keys (the plugin's table in the profile):
//   relays              []        home relays, "<key hex>@<host>:<port>", kept connected
//   max_payload_bytes   16384     largest frame (117..65000; the relay may allow less)
//   send_queue_frames   1024      frames queued per relay while it connects or is slow
//   connect_timeout_ms  10000     resolve + connect + handshake
//   reconnect_min_ms    200       first wait after a lost connection (with jitter), doubling...
//   reconnect_max_ms    30000     ...up to this
//   keepalive_ms        20000     ping interval; a relay silent for two intervals is dead
//   max_relays          8         relay connections at once, home relays included
//   idle_close_ms       300000    an on-demand relay with no traffic this long is closed
//
// The transport needs the node's identity (RelayedTransport::attach) before it can connect.
#pragma once

#include <entre/sdk/plugin.hpp>
#include <entre/sdk/relay.hpp>
#include <entre/sdk/transport.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace entre::plugins::tcp_relay {

struct RelayConfig {
  std::vector<std::string> relays; // validated "<key>@<host>:<port>"
  uint32_t max_payload_bytes = 16384;
  uint32_t send_queue_frames = 1024;
  uint32_t connect_timeout_ms = 10000;
  uint32_t reconnect_min_ms = 200;
  uint32_t reconnect_max_ms = 30000;
  uint32_t keepalive_ms = 20000;
  uint32_t max_relays = 8;
  uint32_t idle_close_ms = 300000;
};

// Reads the plugin's config; on error a Status naming the key and its location.
[[nodiscard]] sdk::Status read_config(const sdk::ConfigView& config, RelayConfig& out);

class RelayTransport final : public sdk::Transport,
                             public sdk::RelayedTransport,
                             public sdk::Plugin {
 public:
  RelayTransport(sdk::Host& host, RelayConfig config);

  [[nodiscard]] sdk::TransportInfo info() const noexcept override;
  sdk::Status start(sdk::TransportEvents& events) noexcept override;
  void stop() noexcept override;
  sdk::Status send(sdk::StringView endpoint, sdk::ByteView frame) noexcept override;
  sdk::Status local_endpoints(sdk::ByteSink& out) const noexcept override;

  void attach(sdk::IdentityProof* proof) noexcept override;
  sdk::Status describe_path(sdk::StringView endpoint, sdk::ByteSink& out) const noexcept override;

  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override;

  struct State;

 private:
  ~RelayTransport() override;

  std::shared_ptr<State> state_;
};

} // namespace entre::plugins::tcp_relay
