#include "udp_transport.hpp"

#include "datagram.hpp"
#include "relay_wire.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace entre::plugins::udp {

namespace asio = boost::asio;
using asio::ip::udp;
using datagram::config_error;

// Shared with in-flight handlers, so that a handler completing after stop() (or after the plugin
// object is gone) touches only this state, and sees `stopped`.
// One reflector: where it is, the request in flight, and the address it last saw this socket at.
struct Reflector {
  std::string host;
  std::string port;
  relay_wire::ReflectNonce nonce{};
  std::optional<udp::endpoint> asked; // where the request in flight went
  std::string seen;                   // "udp:<address>:<port>", empty until answered
};

struct UdpTransport::State : std::enable_shared_from_this<UdpTransport::State> {
  explicit State(asio::io_context& io) : socket(io), timer(io), resolver(io) {}

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
  std::vector<Reflector> reflectors;
  uint32_t reflect_interval_ms = 0;
  asio::steady_timer timer;
  udp::resolver resolver;
  std::mt19937_64 rng{std::random_device{}()};
  sdk::Host* host = nullptr;

  // Asks every reflector again, then again after the interval.
  void reflect_round() {
    for (std::size_t i = 0; i < reflectors.size(); ++i) {
      Reflector& r = reflectors[i];
      for (auto& b : r.nonce) {
        b = static_cast<uint8_t>(rng());
      }
      boost::system::error_code ec;
      const auto literal = asio::ip::make_address(r.host, ec);
      if (!ec) {
        ask(i, udp::endpoint(literal, static_cast<uint16_t>(std::stoi(r.port))));
        continue;
      }
      resolver.async_resolve(
          r.host, r.port,
          [self = shared_from_this(), i](const boost::system::error_code& rec,
                                         const udp::resolver::results_type& results) {
            std::lock_guard lock(self->mu);
            if (self->stopped || rec) {
              return;
            }
            for (const auto& entry : results) {
              if (entry.endpoint().protocol() == self->socket.local_endpoint().protocol()) {
                self->ask(i, entry.endpoint());
                return;
              }
            }
          });
    }
    timer.expires_after(std::chrono::milliseconds(reflect_interval_ms));
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      std::lock_guard lock(self->mu);
      if (!ec && !self->stopped) {
        self->reflect_round();
      }
    });
  }

  void ask(std::size_t i, const udp::endpoint& to) {
    boost::system::error_code ec;
    if (to.protocol() != socket.local_endpoint(ec).protocol()) {
      return;
    }
    reflectors[i].asked = to;
    const auto request = relay_wire::reflect_request(reflectors[i].nonce);
    (void)datagram::send_counted(shared_from_this(), socket, in_flight, queue_limit, to,
                                 sdk::ByteView(request), "udp");
  }

  // A datagram that looks like a reflector's answer: kept if it answers a request in flight.
  void on_reflection(const udp::endpoint& from, std::span<const uint8_t> datagram) {
    for (Reflector& r : reflectors) {
      if (!r.asked || *r.asked != from) {
        continue;
      }
      const auto seen = relay_wire::parse_reflect_response(datagram, r.nonce);
      if (!seen) {
        continue;
      }
      asio::ip::address address;
      if (seen->v6) {
        asio::ip::address_v6::bytes_type b{};
        std::copy_n(seen->address.begin(), b.size(), b.begin());
        address = asio::ip::address_v6(b);
      } else {
        asio::ip::address_v4::bytes_type b{};
        std::copy_n(seen->address.begin(), b.size(), b.begin());
        address = asio::ip::address_v4(b);
      }
      const std::string text = format_endpoint(udp::endpoint(address, seen->port));
      if (text != r.seen && host != nullptr) {
        host->log(sdk::LogLevel::kInfo, sdk::StringView("udp: reflector " + r.host + ":" + r.port +
                                                        " sees this node at " + text));
      }
      r.seen = text;
      r.asked.reset();
      return;
    }
  }

  void receive() {
    datagram::Receiver::start(
        shared_from_this(), socket, max_payload, mu,
        [this](const udp::endpoint& from, const uint8_t* data, std::optional<std::size_t> n) {
          if (stopped) {
            return false;
          }
          if (!n) {
            dropped_oversize.fetch_add(1, std::memory_order_relaxed);
          } else if (!reflectors.empty() &&
                     relay_wire::looks_like_reflect_response(std::span<const uint8_t>(data, *n))) {
            on_reflection(from, std::span<const uint8_t>(data, *n));
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
  if (payload.value < sdk::kTransportMinPayloadBytes || payload.value > 65507) {
    return config_error(config, "max_payload_bytes",
                        "must be between " + std::to_string(sdk::kTransportMinPayloadBytes) +
                            " and 65507");
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
  if (config.has("reflectors")) {
    auto n = config.get_array_size("reflectors");
    if (!n.is_ok()) {
      return n.status;
    }
    for (uint64_t i = 0; i < n.value; ++i) {
      auto item = config.get_string_at("reflectors", i);
      if (!item.is_ok()) {
        return item.status;
      }
      const std::string text(item.value.str());
      const auto colon = text.rfind(':');
      const std::string port = colon == std::string::npos ? "" : text.substr(colon + 1);
      const bool port_ok =
          !port.empty() && port.size() <= 5 &&
          std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
          std::stoi(port) >= 1 && std::stoi(port) <= 65535;
      if (colon == std::string::npos || colon == 0 || !port_ok) {
        return config_error(config, "reflectors",
                            "entry " + std::to_string(i + 1) + ": expected <host>:<port>, found '" +
                                text + "'");
      }
      out.reflectors.push_back(text);
    }
  }
  auto interval = config.get_int_or("reflect_interval_ms", 25000);
  if (!interval.is_ok()) {
    return interval.status;
  }
  if (interval.value < 1000 || interval.value > 3600000) {
    return config_error(config, "reflect_interval_ms", "must be between 1000 and 3600000");
  }
  out.reflect_interval_ms = static_cast<uint32_t>(interval.value);
  return sdk::Status::ok();
}

UdpTransport::UdpTransport(sdk::Host& host, const UdpConfig& config)
    : host_(host), config_(config), state_(std::make_shared<State>(host.io_context())) {
  state_->max_payload = config.max_payload_bytes;
  state_->queue_limit = config.send_queue_frames;
  state_->host = &host;
  state_->reflect_interval_ms = config.reflect_interval_ms;
  for (const std::string& r : config.reflectors) {
    const auto colon = r.rfind(':');
    std::string host_part = r.substr(0, colon);
    if (host_part.size() > 2 && host_part.front() == '[' && host_part.back() == ']') {
      host_part = host_part.substr(1, host_part.size() - 2);
    }
    state_->reflectors.push_back(Reflector{host_part, r.substr(colon + 1), {}, {}, {}});
  }
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
  if (!state_->reflectors.empty()) {
    state_->reflect_round();
  }
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
  state_->timer.cancel();
  state_->resolver.cancel();
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
    std::string text = datagram::local_endpoints_text(state_->socket, config_.bind, "udp", false);
    for (const Reflector& r : state_->reflectors) {
      if (!r.seen.empty() && ("\n" + text + "\n").find("\n" + r.seen + "\n") == std::string::npos) {
        text = r.seen + (text.empty() ? "" : "\n") + text;
      }
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
