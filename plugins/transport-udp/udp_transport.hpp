// transport-udp: datagrams over one UDP socket, IPv4 and IPv6.
//
// Endpoints: "udp:<IPv4>:<port>" or "udp:[<IPv6>]:<port>"; IP literals only (no name lookups on
// the event loop). Config keys (the plugin's table in the profile):
//   bind               "0.0.0.0:7400"  address and port to bind ("[::]:7400" for IPv6)
//   max_payload_bytes  1200            largest frame sent or accepted (117..65507)
//   send_queue_frames  1024            frames queued for sending before send() says kUnavailable
//   reflectors         []              UDP endpoint reflectors ("host:port", e.g. an entre-relay's
//                                      udp_reflect_port): asked from this socket what address
//                                      they see it at, which then joins local_endpoints() (the
//                                      public address behind a NAT)
//   reflect_interval_ms 25000          how often they are asked again (also keeps the NAT's
//                                      mapping open)
// Received datagrams larger than max_payload_bytes are dropped and counted.
#pragma once

#include <entre/sdk/plugin.hpp>
#include <entre/sdk/transport.hpp>

#include <boost/asio/ip/udp.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace entre::plugins::udp {

struct UdpConfig {
  boost::asio::ip::udp::endpoint bind;
  uint32_t max_payload_bytes = 1200;
  uint32_t send_queue_frames = 1024;
  std::vector<std::string> reflectors; // "host:port"
  uint32_t reflect_interval_ms = 25000;
};

// Parses "udp:1.2.3.4:7400" / "udp:[::1]:7400" (with_scheme) or "1.2.3.4:7400".
[[nodiscard]] std::optional<boost::asio::ip::udp::endpoint> parse_endpoint(std::string_view text,
                                                                           bool with_scheme);
[[nodiscard]] std::string format_endpoint(const boost::asio::ip::udp::endpoint& endpoint);

// Reads the plugin's config; on error returns a Status naming the key and its location.
[[nodiscard]] sdk::Status read_config(const sdk::ConfigView& config, UdpConfig& out);

class UdpTransport final : public sdk::Transport, public sdk::Plugin {
 public:
  UdpTransport(sdk::Host& host, const UdpConfig& config);

  [[nodiscard]] sdk::TransportInfo info() const noexcept override;
  sdk::Status start(sdk::TransportEvents& events) noexcept override;
  void stop() noexcept override;
  sdk::Status send(sdk::StringView endpoint, sdk::ByteView frame) noexcept override;
  sdk::Status local_endpoints(sdk::ByteSink& out) const noexcept override;

  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override;

  struct State;

 private:
  ~UdpTransport() override;

  sdk::Host& host_;
  UdpConfig config_;
  std::shared_ptr<State> state_;
};

} // namespace entre::plugins::udp
