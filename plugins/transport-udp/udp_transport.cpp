#include "udp_transport.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace entre::plugins::udp {

namespace asio = boost::asio;
using asio::ip::udp;

// Shared with in-flight handlers, so that a handler completing after stop() (or after the plugin
// object is gone) touches only this state, and sees `stopped`.
struct UdpTransport::State : std::enable_shared_from_this<UdpTransport::State> {
  explicit State(asio::io_context& io) : socket(io) {}

  udp::socket socket;
  // Guards events/stopped/socket against stop() racing a delivery on another loop thread;
  // recursive so that a delivery may call send() or stop() on the same transport.
  std::recursive_mutex mu;
  sdk::TransportEvents* events = nullptr;
  bool stopped = true;
  uint32_t max_payload = 0;
  uint32_t queue_limit = 0;
  std::atomic<uint32_t> in_flight{0};
  std::atomic<uint64_t> dropped_oversize{0};
  std::vector<uint8_t> rx;
  udp::endpoint rx_from;

  void receive() {
    auto self = shared_from_this();
    socket.async_receive_from(
        asio::buffer(rx), rx_from, [self](const boost::system::error_code& ec, std::size_t n) {
          if (ec == asio::error::operation_aborted) {
            return;
          }
          {
            std::lock_guard lock(self->mu);
            if (self->stopped) {
              return;
            }
            if (!ec) {
              if (n > self->max_payload) {
                self->dropped_oversize.fetch_add(1, std::memory_order_relaxed);
              } else {
                const std::string from = format_endpoint(self->rx_from);
                self->events->on_frame(sdk::StringView(from), sdk::ByteView(self->rx.data(), n));
              }
            }
          }
          self->receive();
        });
  }
};

std::optional<udp::endpoint> parse_endpoint(std::string_view text, bool with_scheme) {
  if (with_scheme) {
    constexpr std::string_view kScheme = "udp:";
    if (text.substr(0, kScheme.size()) != kScheme) {
      return std::nullopt;
    }
    text.remove_prefix(kScheme.size());
  }
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, err] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (err != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    return std::nullopt;
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return std::nullopt;
  }
  return udp::endpoint(address, static_cast<uint16_t>(port));
}

namespace {

std::vector<boost::asio::ip::address> interface_addresses(bool v6) {
  std::vector<boost::asio::ip::address> found;
  std::vector<boost::asio::ip::address> loopback;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return found;
  }
  for (const ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || (it->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    boost::asio::ip::address address;
    if (!v6 && it->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
      address = boost::asio::ip::address_v4(ntohl(in->sin_addr.s_addr));
    } else if (v6 && it->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(it->ifa_addr);
      boost::asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
      const boost::asio::ip::address_v6 a6(bytes);
      if (a6.is_link_local()) {
        continue; // needs a scope id that means nothing to a peer
      }
      address = a6;
    } else {
      continue;
    }
    (address.is_loopback() ? loopback : found).push_back(address);
  }
  ::freeifaddrs(list);
  found.insert(found.end(), loopback.begin(), loopback.end());
  return found;
}

} // namespace

std::string format_endpoint(const udp::endpoint& endpoint) {
  const auto address = endpoint.address();
  if (address.is_v6()) {
    return "udp:[" + address.to_string() + "]:" + std::to_string(endpoint.port());
  }
  return "udp:" + address.to_string() + ":" + std::to_string(endpoint.port());
}

namespace {

sdk::Status config_error(const sdk::ConfigView& config, const char* key, std::string_view what) {
  std::string text(config.location(key).str());
  text += (text.empty() ? "" : ": ");
  text += key;
  text += ": ";
  text += what;
  return sdk::Status::error(sdk::StatusCode::kInvalidArgument, text);
}

} // namespace

sdk::Status read_config(const sdk::ConfigView& config, UdpConfig& out) {
  auto bind = config.get_string_or("bind", "0.0.0.0:7400");
  if (!bind.is_ok()) {
    return bind.status;
  }
  auto endpoint = parse_endpoint(bind.value.str(), false);
  if (!endpoint) {
    return config_error(config, "bind", "expected an IP address and port such as 0.0.0.0:7400");
  }
  out.bind = *endpoint;
  auto payload = config.get_int_or("max_payload_bytes", 1200);
  if (!payload.is_ok()) {
    return payload.status;
  }
  if (payload.value < 64 || payload.value > 65507) {
    return config_error(config, "max_payload_bytes", "must be between 64 and 65507");
  }
  out.max_payload_bytes = static_cast<uint32_t>(payload.value);
  auto queue = config.get_int_or("send_queue_frames", 1024);
  if (!queue.is_ok()) {
    return queue.status;
  }
  if (queue.value < 1 || queue.value > 1048576) {
    return config_error(config, "send_queue_frames", "must be between 1 and 1048576");
  }
  out.send_queue_frames = static_cast<uint32_t>(queue.value);
  return sdk::Status::ok();
}

UdpTransport::UdpTransport(sdk::Host& host, const UdpConfig& config)
    : host_(host), config_(config), state_(std::make_shared<State>(host.io_context())) {
  state_->max_payload = config.max_payload_bytes;
  state_->queue_limit = config.send_queue_frames;
  // One byte more than allowed, so that an oversized datagram is seen as such, not truncated.
  state_->rx.resize(std::size_t{config.max_payload_bytes} + 1);
}

UdpTransport::~UdpTransport() { stop(); }

void UdpTransport::destroy() noexcept { delete this; }

sdk::TransportInfo UdpTransport::info() const noexcept {
  sdk::TransportInfo info{};
  std::memcpy(info.scheme, "udp", 4);
  info.flags = 0;
  info.max_payload_bytes = config_.max_payload_bytes;
  return info;
}

sdk::Status UdpTransport::start(sdk::TransportEvents& events) noexcept {
  std::lock_guard lock(state_->mu);
  if (!state_->stopped) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "udp: already started");
  }
  boost::system::error_code ec;
  state_->socket.open(config_.bind.protocol(), ec);
  if (!ec) {
    state_->socket.bind(config_.bind, ec);
  }
  if (ec) {
    boost::system::error_code ignored;
    state_->socket.close(ignored);
    return sdk::Status::error(sdk::StatusCode::kIoError, "udp: cannot bind " +
                                                             format_endpoint(config_.bind) + ": " +
                                                             ec.message());
  }
  state_->events = &events;
  state_->stopped = false;
  state_->receive();
  host_.log(sdk::LogLevel::kDebug,
            "udp: bound " + format_endpoint(state_->socket.local_endpoint(ec)));
  return sdk::Status::ok();
}

void UdpTransport::stop() noexcept {
  std::lock_guard lock(state_->mu);
  if (state_->stopped) {
    return;
  }
  state_->stopped = true;
  state_->events = nullptr;
  boost::system::error_code ignored;
  state_->socket.close(ignored);
}

sdk::Status UdpTransport::send(sdk::StringView endpoint, sdk::ByteView frame) noexcept {
  if (frame.size > config_.max_payload_bytes) {
    return sdk::Status::error(sdk::StatusCode::kOutOfRange, "udp: frame larger than max_payload");
  }
  const auto to = parse_endpoint(endpoint.str(), true);
  if (!to) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                              "udp: cannot parse endpoint '" + std::string(endpoint.str()) + "'");
  }
  if (to->protocol() != config_.bind.protocol()) {
    return sdk::Status::error(sdk::StatusCode::kUnsupported,
                              "udp: endpoint address family differs from the bound socket");
  }
  std::lock_guard lock(state_->mu);
  if (state_->stopped) {
    return sdk::Status::error(sdk::StatusCode::kClosed, "udp: transport is not running");
  }
  if (state_->in_flight.load() >= state_->queue_limit) {
    return sdk::Status::error(sdk::StatusCode::kUnavailable, "udp: send queue full");
  }
  try {
    auto buffer = std::make_shared<std::vector<uint8_t>>(frame.data, frame.data + frame.size);
    state_->in_flight.fetch_add(1);
    auto self = state_;
    state_->socket.async_send_to(asio::buffer(*buffer), *to,
                                 [self, buffer](const boost::system::error_code&, std::size_t) {
                                   self->in_flight.fetch_sub(1);
                                 });
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

sdk::Status UdpTransport::local_endpoints(sdk::ByteSink& out) const noexcept {
  try {
    std::lock_guard lock(state_->mu);
    boost::system::error_code ec;
    const auto local = state_->socket.local_endpoint(ec);
    const udp::endpoint bound = ec ? config_.bind : local;
    std::string text;
    if (bound.address().is_unspecified()) {
      // Bound to every address: name each interface address of the bound family (loopback last),
      // since "0.0.0.0" reaches nobody else.
      for (const auto& address : interface_addresses(bound.address().is_v6())) {
        text += (text.empty() ? "" : "\n") + format_endpoint(udp::endpoint(address, bound.port()));
      }
    }
    if (text.empty()) {
      text = format_endpoint(bound);
    }
    if (!out.append(sdk::StringView(text))) {
      return sdk::Status::error(sdk::StatusCode::kBufferTooSmall, "udp: sink refused endpoint");
    }
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

void* UdpTransport::query_interface(sdk::InterfaceId id) noexcept {
  if (id == sdk::InterfaceId::kTransportV1) {
    return static_cast<sdk::Transport*>(this);
  }
  return nullptr;
}

} // namespace entre::plugins::udp
