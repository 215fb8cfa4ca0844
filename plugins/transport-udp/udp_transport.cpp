#include "udp_transport.hpp"

#include "datagram.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace entre::plugins::udp {

namespace asio = boost::asio;
using asio::ip::udp;
using datagram::config_error;

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

  void receive() {
    datagram::Receiver::start(
        shared_from_this(), socket, max_payload, mu,
        [this](const udp::endpoint& from, const uint8_t* data, std::optional<std::size_t> n) {
          if (stopped) {
            return false;
          }
          if (!n) {
            dropped_oversize.fetch_add(1, std::memory_order_relaxed);
          } else {
            const std::string text = format_endpoint(from);
            events->on_frame(sdk::StringView(text), sdk::ByteView(data, *n));
          }
          return true;
        });
  }
};

std::optional<udp::endpoint> parse_endpoint(std::string_view text, bool with_scheme) {
  return datagram::parse_endpoint(text, with_scheme ? "udp" : "");
}

std::string format_endpoint(const udp::endpoint& endpoint) {
  return datagram::format_endpoint(endpoint, "udp");
}

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
  try {
    host_.log(sdk::LogLevel::kDebug, "udp: stopped; dropped " +
                                         std::to_string(state_->dropped_oversize.load()) +
                                         " oversized datagram(s)");
  } catch (...) {
  }
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
  return datagram::send_counted(state_, state_->socket, state_->in_flight, state_->queue_limit, *to,
                                frame, "udp");
}

sdk::Status UdpTransport::local_endpoints(sdk::ByteSink& out) const noexcept {
  try {
    std::lock_guard lock(state_->mu);
    const std::string text =
        datagram::local_endpoints_text(state_->socket, config_.bind, "udp", false);
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
