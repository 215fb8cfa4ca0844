// Shared by the network-namespace tests: the tools they need, and whether they may skip.
#pragma once

#include <cstdlib>
#include <string>

#include <unistd.h>

namespace entre::integ {

inline std::string find_tool(std::initializer_list<const char*> candidates) {
  for (const char* p : candidates) {
    if (::access(p, X_OK) == 0) {
      return p;
    }
  }
  return {};
}

inline std::string ip_tool() {
  return find_tool({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
}
inline std::string nft_tool() { return find_tool({"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"}); }

// Where the test command runs as root (CI), ENTRE_REQUIRE_NETNS=1 turns a skip into a failure.
inline bool netns_required() {
  const char* required = std::getenv("ENTRE_REQUIRE_NETNS");
  return required != nullptr && std::string(required) == "1";
}

// Why a test that builds namespaces (and nftables rules, with `nft`) cannot run here; empty when
// it can.
inline std::string netns_missing(bool nft) {
  if (::geteuid() != 0) {
    return "needs root: the test creates network namespaces, a bridge and veth pairs";
  }
  if (ip_tool().empty()) {
    return "needs the 'ip' tool (iproute2) to create network namespaces";
  }
  if (nft && nft_tool().empty()) {
    return "needs the 'nft' tool (nftables) for the test's firewall and NAT rules";
  }
  return {};
}

inline bool sh(const std::string& command) { return std::system(command.c_str()) == 0; }

} // namespace entre::integ
