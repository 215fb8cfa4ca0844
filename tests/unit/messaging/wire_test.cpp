// The endpoints envelope (messaging/wire.hpp, docs/protocol.md "Envelopes"): what endpoints()
// writes, parse_endpoints() reads back, and the bounds hold on both sides.
#include "messaging/wire.hpp"

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

namespace entre::wire {
namespace {

TEST(EndpointsEnvelope, WhatIsWrittenParsesBackInOrder) {
  const std::vector<std::string> list{"udp:203.0.113.5:7400", "udp:[2001:db8::1]:7400",
                                      "lan:[fe80::1%eth0]:7401"};
  const std::vector<uint8_t> envelope = endpoints(list);
  EXPECT_EQ(envelope[0], kEnvEndpoints);
  EXPECT_EQ(envelope[1], 3);
  const auto parsed = parse_endpoints(envelope);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, list);
  const auto none = parse_endpoints(endpoints({}));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// An endpoint the parser would refuse is left out by the writer, as a too long one is, so one bad
// endpoint (a space, a control character, a byte above 0x7e) never costs the contact the others:
// the fuzzer found such a list written into an envelope the peer refused whole.
TEST(EndpointsEnvelope, EndpointsThePeerWouldRefuseAreLeftOut) {
  const std::vector<std::string> list{"udp:192.0.2.1:7400",
                                      "",
                                      std::string(kMaxEndpointBytes + 1, 'x'),
                                      "udp:192.0.2.2 7400",
                                      "udp:192.0.2.3:7400\n",
                                      "lan:[fe80::1%\xc3\xa9th0]:7401",
                                      std::string(kMaxEndpointBytes, 'y'),
                                      "udp:192.0.2.4:7400"};
  const auto parsed = parse_endpoints(endpoints(list));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed,
            (std::vector<std::string>{"udp:192.0.2.1:7400", std::string(kMaxEndpointBytes, 'y'),
                                      "udp:192.0.2.4:7400"}));
}

TEST(EndpointsEnvelope, AtMostEightAreWritten) {
  std::vector<std::string> list;
  for (int i = 0; i < 12; ++i) {
    list.push_back("udp:10.0.0." + std::to_string(i) + ":7400");
  }
  const auto parsed = parse_endpoints(endpoints(list));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, std::vector<std::string>(list.begin(), list.begin() + kMaxEndpointsExchanged));
}

TEST(EndpointsEnvelope, MalformedEnvelopesAreRefused) {
  const std::vector<uint8_t> good = endpoints({"udp:192.0.2.1:7400", "udp:192.0.2.2:7400"});
  for (std::size_t cut = 1; cut < good.size(); ++cut) {
    EXPECT_FALSE(parse_endpoints(std::span(good).first(good.size() - cut))) << cut;
  }
  std::vector<uint8_t> longer = good;
  longer.push_back('x');
  EXPECT_FALSE(parse_endpoints(longer));
  std::vector<uint8_t> type = good;
  type[0] = kEnvCall;
  EXPECT_FALSE(parse_endpoints(type));
  std::vector<uint8_t> nine{kEnvEndpoints, 9};
  for (int i = 0; i < 9; ++i) {
    nine.insert(nine.end(), {1, 'a'});
  }
  EXPECT_FALSE(parse_endpoints(nine));
  EXPECT_FALSE(parse_endpoints(std::vector<uint8_t>{kEnvEndpoints, 1, 0}));       // empty
  EXPECT_FALSE(parse_endpoints(std::vector<uint8_t>{kEnvEndpoints, 1, 1, ' '}));  // a space
  EXPECT_FALSE(parse_endpoints(std::vector<uint8_t>{kEnvEndpoints, 1, 1, 0x7f})); // DEL
  std::vector<uint8_t> long_one{kEnvEndpoints, 1, static_cast<uint8_t>(kMaxEndpointBytes + 1)};
  long_one.insert(long_one.end(), kMaxEndpointBytes + 1, 'x');
  EXPECT_FALSE(parse_endpoints(long_one));
}

} // namespace
} // namespace entre::wire
