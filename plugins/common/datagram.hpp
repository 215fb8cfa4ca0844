// Shared by the datagram transports (transport-udp, transport-lan), compiled into each plugin:
// endpoint text, the host's interface addresses, config errors, and the receive loop of a UDP
// socket on the host's io_context.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/host.hpp>
#include <entre/sdk/status.hpp>

#include <boost/asio/ip/udp.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace entre::plugins::datagram {

using boost::asio::ip::udp;

// Parses "<scheme>:1.2.3.4:7400" / "<scheme>:[::1]:7400", or without a prefix when `scheme` is
// empty. IP literals only (no name lookups on the event loop).
[[nodiscard]] std::optional<udp::endpoint> parse_endpoint(std::string_view text,
                                                          std::string_view scheme);
[[nodiscard]] std::string format_endpoint(const udp::endpoint& endpoint, std::string_view scheme);

// Addresses of the host's up interfaces of one family, loopback last; IPv6 link-local addresses
// are left out (a scope id means nothing to a peer).
[[nodiscard]] std::vector<boost::asio::ip::address> interface_addresses(bool v6);

// kInvalidArgument "<file:line>: <key>: <what>".
[[nodiscard]] sdk::Status config_error(const sdk::ConfigView& config, const char* key,
                                       std::string_view what);

// True for addresses that stay on the local network: IPv4 10/8, 172.16/12, 192.168/16,
// 169.254/16 (link-local), 127/8; IPv6 fc00::/7, fe80::/10, ::1; and multicast scoped no wider
// than the organisation (IPv4 224.0.0/24 and 239/8, IPv6 scopes 1 to 5): sdk::is_local_network.
[[nodiscard]] bool is_local_network(const boost::asio::ip::address& address);

// The endpoints at which peers reach `socket` ("<scheme>:addr:port" lines): the bound address, or
// when bound to every address, each interface address of that family (loopback last), only those
// on the local network when `local_only`. `configured` stands in when the socket is not open.
[[nodiscard]] std::string local_endpoints_text(const udp::socket& socket,
                                               const udp::endpoint& configured,
                                               std::string_view scheme, bool local_only);

// Sends `frame` to `to` without blocking, counting it in `in_flight` until the send completes;
// kUnavailable when `limit` sends are already in flight. `keep_alive` owns the socket and the
// counter (held until the completion).
[[nodiscard]] sdk::Status send_counted(const std::shared_ptr<void>& keep_alive, udp::socket& socket,
                                       std::atomic<uint32_t>& in_flight, uint32_t limit,
                                       const udp::endpoint& to, sdk::ByteView frame,
                                       std::string_view scheme);

// Receives on `socket` until it is closed or `handle` returns false. Every operation on the
// socket and every call of `handle` happen with `mu` held, so the owner closes the socket under
// `mu` and no receive races it. The handler gets the sender and the datagram, or a nullopt size
// when the datagram was larger than `max_bytes` (dropped: the buffer holds one byte more than
// allowed so that oversize is seen, never truncated). `keep_alive` (the owner of the socket and
// the mutex) is held by every pending receive.
struct Receiver {
  using Handle = std::function<bool(const udp::endpoint& from, const uint8_t* data,
                                    std::optional<std::size_t> size)>;
  static void start(std::shared_ptr<void> keep_alive, udp::socket& socket, std::size_t max_bytes,
                    std::recursive_mutex& mu, Handle handle);
};

} // namespace entre::plugins::datagram
