#include "lan_transport.hpp"

#include "datagram.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace entre::plugins::lan {

namespace asio = boost::asio;
using asio::ip::udp;
using datagram::config_error;

namespace {

constexpr std::string_view kScheme = "lan";

sdk::Status fail(sdk::StatusCode code, const std::string& text) {
  return sdk::Status::error(code, "lan: " + text);
}

struct Interface {
  std::string name;
  unsigned index = 0;           // for IPv6 multicast
  asio::ip::address_v4 address; // for IPv4 multicast
};

// The interfaces to announce on, for the family of the bind address: the named ones (each must
// be up with an address of that family), or every up multicast interface but loopback.
std::vector<Interface> find_interfaces(const std::vector<std::string>& names, bool v6,
                                       std::string& error) {
  const int family = v6 ? AF_INET6 : AF_INET;
  const std::string family_name = v6 ? "IPv6" : "IPv4";
  std::vector<Interface> all;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    error = "cannot list the network interfaces";
    return {};
  }
  for (const ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != family ||
        (it->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    const bool wanted =
        names.empty() ? (it->ifa_flags & IFF_MULTICAST) != 0 && (it->ifa_flags & IFF_LOOPBACK) == 0
                      : std::find(names.begin(), names.end(), it->ifa_name) != names.end();
    const bool seen = std::any_of(all.begin(), all.end(),
                                  [&](const Interface& i) { return i.name == it->ifa_name; });
    if (wanted && !seen) {
      Interface i{it->ifa_name, ::if_nametoindex(it->ifa_name), {}};
      if (!v6) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
        i.address = asio::ip::address_v4(ntohl(in->sin_addr.s_addr));
      }
      all.push_back(std::move(i));
    }
  }
  ::freeifaddrs(list);
  for (const std::string& name : names) {
    if (std::none_of(all.begin(), all.end(), [&](const Interface& i) { return i.name == name; })) {
      error = "interface '" + name + "' is not up with an " + family_name + " address";
      return {};
    }
  }
  if (all.empty()) {
    error =
        "no up multicast interface with an " + family_name + " address (name one in 'interfaces')";
  }
  return all;
}

// Sets the interface the next multicast datagram of `socket` leaves by.
void send_by(udp::socket& socket, const Interface& i, bool v6, boost::system::error_code& ec) {
  if (v6) {
    socket.set_option(asio::ip::multicast::outbound_interface(i.index), ec);
  } else {
    socket.set_option(asio::ip::multicast::outbound_interface(i.address), ec);
  }
}

} // namespace

// Shared with in-flight handlers, so that a handler completing after stop() (or after the plugin
// object is gone) touches only this state, and sees `stopped`.
struct LanTransport::State : std::enable_shared_from_this<LanTransport::State> {
  explicit State(asio::io_context& io) : unicast(io), group_socket(io) {}

  udp::socket unicast;
  udp::socket group_socket;
  // Guards everything below against stop() racing a delivery on another loop thread; recursive
  // so that a delivery may call send() or stop() on the same transport.
  std::recursive_mutex mu;
  sdk::TransportEvents* events = nullptr;
  bool stopped = true;
  std::vector<Interface> interfaces;
  uint32_t max_payload = 0;
  uint32_t queue_limit = 0;
  std::atomic<uint32_t> in_flight{0};
  uint64_t dropped_oversize = 0;
  uint64_t dropped_not_local = 0;
  uint64_t beacons_dropped_size = 0;
  uint64_t beacons_dropped_rate = 0;
  // Token bucket for received beacons: `rate` per second, bursts up to `rate`.
  double rate = 0;
  double tokens = 0;
  std::chrono::steady_clock::time_point refilled;

  bool take_beacon_token() {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - refilled).count();
    refilled = now;
    tokens = std::min(rate, tokens + elapsed * rate);
    if (tokens < 1) {
      return false;
    }
    tokens -= 1;
    return true;
  }

  void receive() {
    auto self = shared_from_this();
    datagram::Receiver::start(
        self, unicast, max_payload, mu,
        [this](const udp::endpoint& from, const uint8_t* data, std::optional<std::size_t> n) {
          if (stopped) {
            return false;
          }
          if (!n) {
            ++dropped_oversize;
          } else if (!datagram::is_local_network(from.address())) {
            ++dropped_not_local;
          } else {
            const std::string text = datagram::format_endpoint(from, kScheme);
            events->on_frame(sdk::StringView(text), sdk::ByteView(data, *n));
          }
          return true;
        });
    datagram::Receiver::start(
        self, group_socket, kMaxBeaconBytes, mu,
        [this](const udp::endpoint& from, const uint8_t* data, std::optional<std::size_t> n) {
          if (stopped) {
            return false;
          }
          if (!n) {
            ++beacons_dropped_size;
          } else if (!datagram::is_local_network(from.address())) {
            ++dropped_not_local;
          } else if (!take_beacon_token()) {
            ++beacons_dropped_rate;
          } else {
            const std::string text = datagram::format_endpoint(from, kScheme);
            events->on_discovered(sdk::StringView(text), sdk::ByteView(data, *n));
          }
          return true;
        });
  }
};

sdk::Status read_config(const sdk::ConfigView& config, LanConfig& out) {
  auto bind = config.get_string_or("bind", "0.0.0.0:7401");
  if (!bind.is_ok()) {
    return bind.status;
  }
  auto endpoint = datagram::parse_endpoint(bind.value.str(), "");
  if (!endpoint) {
    return config_error(config, "bind", "expected an IP address and port such as 0.0.0.0:7401");
  }
  out.bind = *endpoint;
  auto group = config.get_string_or("group", "239.255.77.77:7402");
  if (!group.is_ok()) {
    return group.status;
  }
  auto group_endpoint = datagram::parse_endpoint(group.value.str(), "");
  const bool v6 = out.bind.address().is_v6();
  if (!group_endpoint || group_endpoint->address().is_v6() != v6 ||
      !group_endpoint->address().is_multicast() || group_endpoint->port() == 0) {
    return config_error(config, "group",
                        v6 ? "expected an IPv6 multicast group and port such as [ff02::7e]:7402 "
                             "(the bind address is IPv6)"
                           : "expected an IPv4 multicast group and port such as "
                             "239.255.77.77:7402");
  }
  const bool scoped = v6 ? datagram::is_local_network(group_endpoint->address())
                         : (group_endpoint->address().to_v4().to_uint() >> 24) == 239;
  if (!scoped) {
    return config_error(config, "group",
                        v6 ? "the group must be scoped to the link, admin, site or organisation "
                             "(ff01:: to ff05::...) so that beacons stay on the local network"
                           : "the group must be administratively scoped (239.0.0.0/8) so that "
                             "beacons stay on the local network");
  }
  out.group = *group_endpoint;
  if (config.has("interfaces")) {
    auto count = config.get_array_size("interfaces");
    if (!count.is_ok()) {
      return count.status;
    }
    for (uint64_t i = 0; i < count.value; ++i) {
      auto name = config.get_string_at("interfaces", i);
      if (!name.is_ok()) {
        return name.status;
      }
      if (name.value.size == 0 || name.value.size >= IF_NAMESIZE) {
        return config_error(config, "interfaces", "an interface name has 1 to 15 characters");
      }
      out.interfaces.emplace_back(name.value.str());
    }
  }
  struct Bound {
    const char* key;
    int64_t fallback;
    int64_t low;
    int64_t high;
    uint32_t* into;
  };
  for (const Bound& b :
       {Bound{"beacon_interval_ms", 1000, 100, 60000, &out.beacon_interval_ms},
        Bound{"max_beacons_per_second", 200, 1, 100000, &out.max_beacons_per_second},
        Bound{"max_payload_bytes", 1200, sdk::kTransportMinPayloadBytes, 65507,
              &out.max_payload_bytes},
        Bound{"send_queue_frames", 1024, 1, 1048576, &out.send_queue_frames}}) {
    auto value = config.get_int_or(b.key, b.fallback);
    if (!value.is_ok()) {
      return value.status;
    }
    if (value.value < b.low || value.value > b.high) {
      return config_error(config, b.key,
                          "must be between " + std::to_string(b.low) + " and " +
                              std::to_string(b.high));
    }
    *b.into = static_cast<uint32_t>(value.value);
  }
  return sdk::Status::ok();
}

LanTransport::LanTransport(sdk::Host& host, LanConfig config)
    : host_(host), config_(std::move(config)), state_(std::make_shared<State>(host.io_context())) {
  state_->max_payload = config_.max_payload_bytes;
  state_->queue_limit = config_.send_queue_frames;
  state_->rate = config_.max_beacons_per_second;
}

LanTransport::~LanTransport() { stop(); }

void LanTransport::destroy() noexcept { delete this; }

sdk::TransportInfo LanTransport::info() const noexcept {
  sdk::TransportInfo info{};
  std::memcpy(info.scheme, "lan", 4);
  info.flags = sdk::kTransportLanOnly | sdk::kTransportDiscovery;
  info.max_payload_bytes = config_.max_payload_bytes;
  return info;
}

sdk::Status LanTransport::open_sockets() {
  std::string error;
  const bool v6 = config_.bind.address().is_v6();
  state_->interfaces = find_interfaces(config_.interfaces, v6, error);
  if (state_->interfaces.empty()) {
    return fail(sdk::StatusCode::kIoError, error);
  }
  boost::system::error_code ec;
  udp::socket& u = state_->unicast;
  u.open(config_.bind.protocol(), ec);
  if (!ec) {
    u.bind(config_.bind, ec);
  }
  if (ec) {
    return fail(sdk::StatusCode::kIoError,
                "cannot bind " + datagram::format_endpoint(config_.bind, "") + ": " + ec.message());
  }
  u.set_option(asio::ip::multicast::hops(1), ec);
  u.set_option(asio::ip::multicast::enable_loopback(true), ec);
  u.non_blocking(true, ec);
  udp::socket& g = state_->group_socket;
  g.open(config_.group.protocol(), ec);
  if (!ec) {
    g.set_option(asio::socket_base::reuse_address(true), ec);
  }
  if (!ec) {
    // IPv4: bound to the group itself, so only its datagrams arrive. IPv6: a link-local group
    // cannot be bound without a zone, so the port on every address (membership still filters).
    g.bind(v6 ? udp::endpoint(udp::v6(), config_.group.port()) : config_.group, ec);
  }
  if (ec) {
    return fail(sdk::StatusCode::kIoError, "cannot bind the group " +
                                               datagram::format_endpoint(config_.group, "") + ": " +
                                               ec.message());
  }
  for (const Interface& i : state_->interfaces) {
    if (v6) {
      g.set_option(asio::ip::multicast::join_group(config_.group.address().to_v6(), i.index), ec);
    } else {
      g.set_option(asio::ip::multicast::join_group(config_.group.address().to_v4(), i.address), ec);
    }
    if (ec) {
      return fail(sdk::StatusCode::kIoError,
                  "cannot join the group on " + i.name + ": " + ec.message());
    }
  }
  return sdk::Status::ok();
}

sdk::Status LanTransport::start(sdk::TransportEvents& events) noexcept {
  try {
    std::lock_guard lock(state_->mu);
    if (!state_->stopped) {
      return fail(sdk::StatusCode::kInvalidArgument, "already started");
    }
    const sdk::Status st = open_sockets();
    if (!st.is_ok()) {
      boost::system::error_code ignored;
      state_->unicast.close(ignored);
      state_->group_socket.close(ignored);
      return st;
    }
    state_->events = &events;
    state_->stopped = false;
    state_->tokens = state_->rate;
    state_->refilled = std::chrono::steady_clock::now();
    state_->receive();
    std::string names;
    for (const Interface& i : state_->interfaces) {
      names += (names.empty() ? "" : ", ") + i.name +
               (config_.bind.address().is_v6() ? "" : " (" + i.address.to_string() + ")");
    }
    boost::system::error_code ec;
    host_.log(sdk::LogLevel::kInfo,
              "lan: bound " +
                  datagram::format_endpoint(state_->unicast.local_endpoint(ec), kScheme) +
                  "; beacons on " + datagram::format_endpoint(config_.group, "") + " via " + names +
                  "; frames only to local-network addresses");
    return sdk::Status::ok();
  } catch (const std::exception& e) {
    return fail(sdk::StatusCode::kInternal, e.what());
  }
}

void LanTransport::stop() noexcept {
  std::lock_guard lock(state_->mu);
  if (state_->stopped) {
    return;
  }
  state_->stopped = true;
  state_->events = nullptr;
  boost::system::error_code ignored;
  state_->unicast.close(ignored);
  state_->group_socket.close(ignored);
  try {
    host_.log(sdk::LogLevel::kInfo,
              "lan: stopped; dropped " + std::to_string(state_->beacons_dropped_rate) +
                  " beacon(s) over the rate limit, " +
                  std::to_string(state_->beacons_dropped_size) + " oversized beacon(s), " +
                  std::to_string(state_->dropped_oversize) + " oversized frame(s), " +
                  std::to_string(state_->dropped_not_local) +
                  " datagram(s) from off the local network");
  } catch (...) {
  }
}

sdk::Status LanTransport::send(sdk::StringView endpoint, sdk::ByteView frame) noexcept {
  if (frame.size > config_.max_payload_bytes) {
    return fail(sdk::StatusCode::kOutOfRange, "frame larger than max_payload");
  }
  const auto to = datagram::parse_endpoint(endpoint.str(), kScheme);
  if (!to) {
    return fail(sdk::StatusCode::kInvalidArgument,
                "cannot parse endpoint '" + std::string(endpoint.str()) + "'");
  }
  if (!datagram::is_local_network(to->address())) {
    return fail(sdk::StatusCode::kPermissionDenied,
                std::string(endpoint.str()) +
                    " is not on the local network (private, link-local or loopback)");
  }
  if (to->protocol() != config_.bind.protocol()) {
    return fail(sdk::StatusCode::kUnsupported,
                "endpoint address family differs from the bound socket");
  }
  std::lock_guard lock(state_->mu);
  if (state_->stopped) {
    return fail(sdk::StatusCode::kClosed, "transport is not running");
  }
  return datagram::send_counted(state_, state_->unicast, state_->in_flight, state_->queue_limit,
                                *to, frame, kScheme);
}

sdk::Status LanTransport::send_beacon(sdk::ByteView beacon) noexcept {
  if (beacon.size == 0 || beacon.size > kMaxBeaconBytes) {
    return fail(sdk::StatusCode::kOutOfRange,
                "a beacon has 1 to " + std::to_string(kMaxBeaconBytes) + " bytes");
  }
  std::lock_guard lock(state_->mu);
  if (state_->stopped) {
    return fail(sdk::StatusCode::kClosed, "transport is not running");
  }
  const bool v6 = config_.bind.address().is_v6();
  std::size_t sent = 0;
  std::string last_error;
  for (const Interface& i : state_->interfaces) {
    boost::system::error_code ec;
    send_by(state_->unicast, i, v6, ec);
    if (!ec) {
      state_->unicast.send_to(asio::buffer(beacon.data, beacon.size), config_.group, 0, ec);
    }
    if (ec) {
      last_error = i.name + ": " + ec.message();
    } else {
      ++sent;
    }
  }
  return sent > 0 ? sdk::Status::ok()
                  : fail(sdk::StatusCode::kUnavailable, "no beacon went out (" + last_error + ")");
}

sdk::Status LanTransport::local_endpoints(sdk::ByteSink& out) const noexcept {
  try {
    std::lock_guard lock(state_->mu);
    const std::string text =
        datagram::local_endpoints_text(state_->unicast, config_.bind, kScheme, true);
    if (!out.append(sdk::StringView(text))) {
      return fail(sdk::StatusCode::kBufferTooSmall, "sink refused endpoint");
    }
  } catch (const std::exception& e) {
    return fail(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

void* LanTransport::query_interface(sdk::InterfaceId id) noexcept {
  switch (id) {
  case sdk::InterfaceId::kTransportV1:
    return static_cast<sdk::Transport*>(this);
  case sdk::InterfaceId::kDiscoveryV1:
    return static_cast<sdk::Discovery*>(this);
  default:
    return nullptr;
  }
}

} // namespace entre::plugins::lan
