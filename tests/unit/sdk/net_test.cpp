// The SDK's network-scope helpers (net.hpp).
#include <entre/sdk/net.hpp>

#include <gtest/gtest.h>

namespace entre::sdk {
namespace {

TEST(EndpointHost, TakesTheHostOutOfEveryEndpointForm) {
  EXPECT_EQ(endpoint_host("udp:192.168.1.5:7400"), "192.168.1.5");
  EXPECT_EQ(endpoint_host("lan:[fe80::1]:7401"), "fe80::1");
  EXPECT_EQ(endpoint_host("relay:relay.example.org:443"), "relay.example.org");
  EXPECT_EQ(endpoint_host("10.0.0.1:1"), "10.0.0.1");
  EXPECT_EQ(endpoint_host("[::1]:5"), "::1");
  EXPECT_EQ(endpoint_host("lan:[fe80::1%lan0]:7401"), "fe80::1%lan0");
  for (const char* bad : {"", "udp", "udp:", "udp:1.2.3.4", "lan:[::1]", "lan:[::1]x5", ":5"}) {
    EXPECT_FALSE(endpoint_host(bad)) << bad;
  }
}

TEST(IsLocalNetwork, KnowsThePrivateAndLinkLocalRanges) {
  for (const char* local : {"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.0.1",
                            "169.254.9.9", "127.0.0.1", "239.255.77.77", "224.0.0.22", "fd00::1",
                            "fe80::1", "::1", "ff02::1", "::ffff:192.168.1.1", "fe80::1%eth0"}) {
    EXPECT_TRUE(is_local_network(local)) << local;
  }
  for (const char* public_address :
       {"8.8.8.8", "172.32.0.1", "172.15.255.255", "100.64.0.1", "192.169.0.1", "224.0.1.1",
        "2001:db8::1", "ff0e::1", "::ffff:8.8.8.8", "relay.example.org", "", "1.2.3",
        "2001:db8::1%eth0", "10.0.0.1%eth0"}) {
    EXPECT_FALSE(is_local_network(public_address)) << public_address;
  }
}

} // namespace
} // namespace entre::sdk
