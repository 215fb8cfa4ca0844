// transport-lan: private discovery on the local network, then unicast UDP between contacts.
//
// Beacons (composed by the kernel, opaque here) go to a multicast group on each configured
// interface, sent from the unicast socket so that their source is the endpoint that takes frames;
// beacons arriving on the group go to TransportEvents::on_discovered, size-bounded and
// rate-limited first. Frames travel as unicast datagrams, and only to addresses that stay on the
// local network (private, link-local, loopback): send() refuses any other with kPermissionDenied.
//
// Endpoints: "lan:<IPv4>:<port>", or on an IPv6 bind "lan:[<IPv6>]:<port>" (link-local ones with
// their zone, "lan:[fe80::1%eth0]:7401"). Config keys (the plugin's table in the profile):
//   bind                    "0.0.0.0:7401"        unicast address and port; its family is the
//                                                 transport's ("[::]:7401" for IPv6)
//   group                   "239.255.77.77:7402"  multicast group and port of the beacons: IPv4
//                                                 239/8, or IPv6 of scope 1 to 5
//                                                 ("[ff02::7e]:7402")
//   interfaces              []                    interface names; empty: every up, multicast
//                                                 interface with an address of that family but
//                                                 loopback
//   beacon_interval_ms      1000                  how often the kernel announces (100..60000)
//   max_beacons_per_second  200                   beacons taken per second, beyond: dropped
//   max_payload_bytes       1200                  largest frame (117..65507)
//   send_queue_frames       1024                  frames in flight before send() says kUnavailable
#pragma once

#include <entre/sdk/discovery.hpp>
#include <entre/sdk/plugin.hpp>
#include <entre/sdk/transport.hpp>

#include <boost/asio/ip/udp.hpp>

#include <memory>
#include <string>
#include <vector>

namespace entre::plugins::lan {

inline constexpr uint32_t kMaxBeaconBytes = 1100;

struct LanConfig {
  boost::asio::ip::udp::endpoint bind;
  boost::asio::ip::udp::endpoint group;
  std::vector<std::string> interfaces;
  uint32_t beacon_interval_ms = 1000;
  uint32_t max_beacons_per_second = 200;
  uint32_t max_payload_bytes = 1200;
  uint32_t send_queue_frames = 1024;
};

// Reads the plugin's config; on error returns a Status naming the key and its location.
[[nodiscard]] sdk::Status read_config(const sdk::ConfigView& config, LanConfig& out);

class LanTransport final : public sdk::Transport, public sdk::Discovery, public sdk::Plugin {
 public:
  LanTransport(sdk::Host& host, LanConfig config);

  [[nodiscard]] sdk::TransportInfo info() const noexcept override;
  sdk::Status start(sdk::TransportEvents& events) noexcept override;
  void stop() noexcept override;
  sdk::Status send(sdk::StringView endpoint, sdk::ByteView frame) noexcept override;
  sdk::Status local_endpoints(sdk::ByteSink& out) const noexcept override;

  [[nodiscard]] uint32_t max_beacon_bytes() const noexcept override { return kMaxBeaconBytes; }
  [[nodiscard]] uint32_t beacon_interval_ms() const noexcept override {
    return config_.beacon_interval_ms;
  }
  sdk::Status send_beacon(sdk::ByteView beacon) noexcept override;

  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override;

  struct State;

 private:
  ~LanTransport() override;
  sdk::Status open_sockets();

  sdk::Host& host_;
  LanConfig config_;
  std::shared_ptr<State> state_;
};

} // namespace entre::plugins::lan
