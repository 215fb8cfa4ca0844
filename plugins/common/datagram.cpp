#include "datagram.hpp"

#include <entre/sdk/net.hpp>

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <boost/asio/ip/address.hpp>

#include <charconv>
#include <cstring>
#include <mutex>

namespace entre::plugins::datagram {

namespace asio = boost::asio;

std::optional<udp::endpoint> parse_endpoint(std::string_view text, std::string_view scheme) {
  if (!scheme.empty()) {
    if (text.size() <= scheme.size() || text.substr(0, scheme.size()) != scheme ||
        text[scheme.size()] != ':') {
      return std::nullopt;
    }
    text.remove_prefix(scheme.size() + 1);
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

std::string format_endpoint(const udp::endpoint& endpoint, std::string_view scheme) {
  const auto address = endpoint.address();
  std::string text(scheme);
  text += scheme.empty() ? "" : ":";
  if (address.is_v6()) {
    return text + "[" + address.to_string() + "]:" + std::to_string(endpoint.port());
  }
  return text + address.to_string() + ":" + std::to_string(endpoint.port());
}

std::vector<asio::ip::address> interface_addresses(bool v6) {
  std::vector<asio::ip::address> found;
  std::vector<asio::ip::address> loopback;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return found;
  }
  for (const ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || (it->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    asio::ip::address address;
    if (!v6 && it->ifa_addr->sa_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
      address = asio::ip::address_v4(ntohl(in->sin_addr.s_addr));
    } else if (v6 && it->ifa_addr->sa_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(it->ifa_addr);
      asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
      const asio::ip::address_v6 a6(bytes);
      if (a6.is_link_local()) {
        continue;
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

sdk::Status config_error(const sdk::ConfigView& config, const char* key, std::string_view what) {
  std::string text(config.location(key).str());
  text += (text.empty() ? "" : ": ");
  text += key;
  text += ": ";
  text += what;
  return sdk::Status::error(sdk::StatusCode::kInvalidArgument, text);
}

bool is_local_network(const asio::ip::address& address) {
  return sdk::is_local_network(address.to_string());
}

std::string local_endpoints_text(const udp::socket& socket, const udp::endpoint& configured,
                                 std::string_view scheme, bool local_only) {
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  const udp::endpoint bound = ec ? configured : local;
  std::string text;
  if (bound.address().is_unspecified()) {
    for (const auto& address : interface_addresses(bound.address().is_v6())) {
      if (!local_only || is_local_network(address)) {
        text += (text.empty() ? "" : "\n") +
                format_endpoint(udp::endpoint(address, bound.port()), scheme);
      }
    }
  }
  return text.empty() ? format_endpoint(bound, scheme) : text;
}

sdk::Status send_counted(const std::shared_ptr<void>& keep_alive, udp::socket& socket,
                         std::atomic<uint32_t>& in_flight, uint32_t limit, const udp::endpoint& to,
                         sdk::ByteView frame, std::string_view scheme) {
  if (in_flight.load() >= limit) {
    return sdk::Status::error(sdk::StatusCode::kUnavailable,
                              std::string(scheme) + ": send queue full");
  }
  try {
    auto buffer = std::make_shared<std::vector<uint8_t>>(frame.data, frame.data + frame.size);
    in_flight.fetch_add(1);
    socket.async_send_to(asio::buffer(*buffer), to,
                         [keep_alive, buffer, &in_flight](const boost::system::error_code&,
                                                          std::size_t) { in_flight.fetch_sub(1); });
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

namespace {

struct ReceiveState {
  std::shared_ptr<void> keep_alive;
  udp::socket* socket;
  std::recursive_mutex* mu;
  std::vector<uint8_t> buffer;
  udp::endpoint from;
  std::size_t max_bytes;
  Receiver::Handle handle;
};

// Called with *rs->mu held, as every operation on the socket is.
void receive_next(const std::shared_ptr<ReceiveState>& rs) {
  rs->socket->async_receive_from(
      asio::buffer(rs->buffer), rs->from, [rs](const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) {
          return;
        }
        std::lock_guard lock(*rs->mu);
        bool more = rs->socket->is_open();
        if (more && !ec) {
          more = rs->handle(rs->from, rs->buffer.data(),
                            n > rs->max_bytes ? std::nullopt : std::optional<std::size_t>(n));
        }
        if (more && rs->socket->is_open()) {
          receive_next(rs);
        }
      });
}

} // namespace

void Receiver::start(std::shared_ptr<void> keep_alive, udp::socket& socket, std::size_t max_bytes,
                     std::recursive_mutex& mu, Handle handle) {
  auto rs = std::make_shared<ReceiveState>();
  rs->keep_alive = std::move(keep_alive);
  rs->socket = &socket;
  rs->mu = &mu;
  rs->buffer.resize(max_bytes + 1);
  rs->max_bytes = max_bytes;
  rs->handle = std::move(handle);
  std::lock_guard lock(mu);
  receive_next(rs);
}

} // namespace entre::plugins::datagram
