// Network-scope helpers (SDK 1.1) for transports and the kernel: which addresses stay on the local
// network. Header-only, no allocation, no name lookups.
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace entre::sdk {

[[nodiscard]] inline bool port_digits(std::string_view port) {
  if (port.empty() || port.size() > 5) {
    return false;
  }
  for (const char ch : port) {
    if (ch < '0' || ch > '9') {
      return false;
    }
  }
  return true;
}

// The host part of an endpoint "scheme:host:port" or "scheme:[v6]:port" (brackets removed), or of
// "host:port"; nullopt when it has no port separator.
[[nodiscard]] inline std::optional<std::string_view> endpoint_host(std::string_view endpoint) {
  std::string_view rest = endpoint;
  if (!rest.empty() && rest.front() != '[') {
    const auto first = rest.find(':');
    if (first == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view after = rest.substr(first + 1);
    if (!after.empty() && (after.front() == '[' || after.find(':') != std::string_view::npos)) {
      rest = after; // "scheme:" came first
    }
  }
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':' ||
        !port_digits(rest.substr(close + 2))) {
      return std::nullopt;
    }
    return rest.substr(1, close - 1);
  }
  const auto last = rest.rfind(':');
  if (last == std::string_view::npos || rest.find(':') != last || last == 0 ||
      !port_digits(rest.substr(last + 1))) {
    return std::nullopt;
  }
  return rest.substr(0, last);
}

// True for IP literals that stay on the local network: IPv4 10/8, 172.16/12, 192.168/16,
// 169.254/16 (link-local), 127/8, link-local multicast 224.0.0/24 (never forwarded) and
// administratively scoped multicast 239/8; IPv6 fc00::/7,
// fe80::/10 (with or without a zone such as "%eth0"), ::1, multicast of scope 1 to 5, and
// IPv4-mapped addresses by their IPv4 rule.
// Anything else, including host names, is false.
[[nodiscard]] inline bool is_local_network(std::string_view ip_literal) {
  if (ip_literal.size() >= 64) {
    return false;
  }
  // An IPv6 zone ("fe80::1%eth0") only says which link: judge the address.
  const auto zone = ip_literal.find('%');
  const bool zoned = zone != std::string_view::npos;
  const std::string text(ip_literal.substr(0, zone));
  in_addr v4{};
  if (!zoned && ::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    const uint32_t a = ntohl(v4.s_addr);
    auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
    return in(0x0a000000u, 8) || in(0xac100000u, 12) || in(0xc0a80000u, 16) ||
           in(0xa9fe0000u, 16) || in(0x7f000000u, 8) || in(0xef000000u, 8) || in(0xe0000000u, 24);
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) {
    return false;
  }
  if (zoned) {
    return v6.s6_addr[0] == 0xfe && (v6.s6_addr[1] & 0xc0) == 0x80; // zones are for link-local
  }
  const uint8_t* b = v6.s6_addr;
  bool mapped = b[10] == 0xff && b[11] == 0xff;
  for (int i = 0; i < 10 && mapped; ++i) {
    mapped = b[i] == 0;
  }
  if (mapped) {
    char dotted[INET_ADDRSTRLEN];
    in_addr inner{};
    std::memcpy(&inner, b + 12, 4);
    return ::inet_ntop(AF_INET, &inner, dotted, sizeof dotted) != nullptr &&
           is_local_network(dotted);
  }
  if (b[0] == 0xff) {
    const int scope = b[1] & 0x0f;
    return scope >= 1 && scope <= 5;
  }
  bool loopback = b[15] == 1;
  for (int i = 0; i < 15 && loopback; ++i) {
    loopback = b[i] == 0;
  }
  return loopback || (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

} // namespace entre::sdk
