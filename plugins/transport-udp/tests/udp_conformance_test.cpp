// The transport conformance suite on the real transport-udp plugin file, loaded through the
// kernel's loader, on real loopback sockets (IPv4 and IPv6, default and smallest payload).
#include "conformance/transport_conformance.hpp"
#include "loader/loader.hpp"
#include "node/runtime.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>
#include <string>

namespace entre {
namespace {

struct UdpConfig {
  const char* name;
  const char* toml; // the plugin's config table
};

// Names the configuration in test names (CTest lists them).
void PrintTo(const UdpConfig& config, std::ostream* out) { *out << config.name; }

class UdpConformanceTest : public ::testing::TestWithParam<UdpConfig> {};

TEST_P(UdpConformanceTest, PassesTheTransportConformanceSuite) {
  PluginLoader loader({});
  const LoadOutcome outcome =
      loader.load("entre.transport.udp", std::filesystem::path(ENTRE_UDP_PLUGIN));
  ASSERT_TRUE(outcome.library) << outcome.failure->str();
  // Two loop threads, as a node has: deliveries and sends really run concurrently.
  Runtime runtime(2, 1);
  runtime.start();
  std::vector<ConformanceCheck> checks;
  {
    PluginTransportFactory factory(outcome.library, runtime, GetParam().toml);
    checks = run_transport_conformance(factory);
  }
  runtime.stop();
  EXPECT_EQ(checks.size(), 12u);
  for (const ConformanceCheck& check : checks) {
    EXPECT_TRUE(check.passed) << check.name << ": " << check.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, UdpConformanceTest,
    ::testing::Values(
        UdpConfig{"Ipv4", "bind = \"127.0.0.1:0\""}, UdpConfig{"Ipv6", "bind = \"[::1]:0\""},
        UdpConfig{"SmallestPayload", "bind = \"127.0.0.1:0\"\nmax_payload_bytes = 117"},
        UdpConfig{"LargestPayload", "bind = \"127.0.0.1:0\"\nmax_payload_bytes = 65507"}),
    [](const ::testing::TestParamInfo<UdpConfig>& info) { return std::string(info.param.name); });

TEST(UdpConformanceFactoryTest, ABadConfigFailsEveryCheckWithTheReason) {
  PluginLoader loader({});
  const LoadOutcome outcome =
      loader.load("entre.transport.udp", std::filesystem::path(ENTRE_UDP_PLUGIN));
  ASSERT_TRUE(outcome.library) << outcome.failure->str();
  Runtime runtime(1, 1);
  runtime.start();
  std::vector<ConformanceCheck> checks;
  {
    PluginTransportFactory factory(outcome.library, runtime, "bind = \"nonsense\"");
    checks = run_transport_conformance(factory);
  }
  runtime.stop();
  ASSERT_FALSE(checks.empty());
  for (const ConformanceCheck& check : checks) {
    EXPECT_FALSE(check.passed) << check.name;
    EXPECT_NE(check.detail.find("bind"), std::string::npos) << check.detail;
  }
}

} // namespace
} // namespace entre
