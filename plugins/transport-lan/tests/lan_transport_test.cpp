// transport-lan: the real plugin file, loaded through the kernel's loader, on real sockets. The
// beacons go to a multicast group on the loopback interface (a group port of the test's own, so
// that tests running at once do not hear each other).
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"

#include <entre/sdk/discovery.hpp>
#include <entre/sdk/transport.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace entre {
namespace {

using namespace std::chrono_literals;

struct Heard {
  std::string from;
  std::vector<uint8_t> bytes;
};

class Inbox final : public sdk::TransportEvents {
 public:
  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    add(frames_, endpoint, frame);
  }
  void on_link(sdk::StringView, sdk::LinkState) noexcept override {}
  void on_discovered(sdk::StringView endpoint, sdk::ByteView beacon) noexcept override {
    add(beacons_, endpoint, beacon);
  }

  // The waits are for an outcome, with deadlines generous enough for a sanitizer build on a
  // machine whose every core is busy.
  bool wait_beacons(std::size_t n, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return beacons_.size() >= n; });
  }
  bool wait_frames(std::size_t n, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; });
  }
  std::vector<Heard> beacons() {
    std::lock_guard lock(mu_);
    return beacons_;
  }
  std::vector<Heard> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }

 private:
  void add(std::vector<Heard>& to, sdk::StringView endpoint, sdk::ByteView bytes) {
    std::lock_guard lock(mu_);
    to.push_back({std::string(endpoint.str()), {bytes.data, bytes.data + bytes.size}});
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Heard> frames_;
  std::vector<Heard> beacons_;
};

// A UDP port free right now, for the test's own group.
uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::udp::socket s(io, {boost::asio::ip::udp::v4(), 0});
  return s.local_endpoint().port();
}

class LanTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    outcome_ = loader_.load("entre.transport.lan", std::filesystem::path(ENTRE_LAN_PLUGIN));
    ASSERT_TRUE(outcome_.library) << outcome_.failure->str();
    runtime_.start();
    config_ = "bind = \"127.0.0.1:0\"\ninterfaces = [\"lo\"]\ngroup = \"239.255.77.77:" +
              std::to_string(free_port()) + "\"\n";
  }
  void TearDown() override {
    runtime_.run_on_loop([&] {
      for (auto* t : started_) {
        t->stop();
      }
    });
    runtime_.stop();
    roots_.clear();
    hosts_.clear();
  }

  sdk::Status create(const std::string& config_toml, sdk::Plugin** out) {
    auto table = std::make_shared<toml::table>(toml::parse(config_toml));
    hosts_.push_back(std::make_unique<PluginHost>(
        "entre.transport.lan", std::make_unique<TomlConfigView>(table, "lan.toml", 0),
        std::filesystem::temp_directory_path(), runtime_, spdlog::default_logger()));
    sdk::Plugin* root = nullptr;
    const sdk::Status st = outcome_.library->factory()(*hosts_.back(), &root);
    if (st.is_ok()) {
      roots_.emplace_back(root, outcome_.library);
      *out = root;
    }
    return st;
  }

  struct Started {
    sdk::Transport* transport = nullptr;
    sdk::Discovery* discovery = nullptr;
  };
  Started start(const std::string& config_toml, Inbox& inbox) {
    sdk::Plugin* root = nullptr;
    const sdk::Status created = create(config_toml, &root);
    EXPECT_TRUE(created.is_ok()) << created.text();
    if (root == nullptr) {
      return {};
    }
    Started s{sdk::query<sdk::Transport>(*root, sdk::InterfaceId::kTransportV1),
              sdk::query<sdk::Discovery>(*root, sdk::InterfaceId::kDiscoveryV1)};
    sdk::Status st;
    runtime_.run_on_loop([&] { st = s.transport->start(inbox); });
    EXPECT_TRUE(st.is_ok()) << st.text();
    started_.push_back(s.transport);
    return s;
  }

  sdk::Status beacon(const Started& s, const std::vector<uint8_t>& bytes) {
    sdk::Status st;
    runtime_.run_on_loop([&] { st = s.discovery->send_beacon(sdk::ByteView(bytes)); });
    return st;
  }
  sdk::Status send(const Started& s, const std::string& to, const std::vector<uint8_t>& bytes) {
    sdk::Status st;
    runtime_.run_on_loop(
        [&] { st = s.transport->send(sdk::StringView(to), sdk::ByteView(bytes)); });
    return st;
  }
  static std::string endpoint_of(const Started& s) {
    std::string text;
    sdk::StringSink sink(text);
    EXPECT_TRUE(s.transport->local_endpoints(sink).is_ok());
    return text;
  }

  // Owned here, so that they outlive the transports TearDown stops: a beacon can still arrive
  // after a test's last statement.
  Inbox& new_inbox() { return inboxes_.emplace_back(); }

  std::deque<Inbox> inboxes_;
  PluginLoader loader_{{}};
  LoadOutcome outcome_;
  Runtime runtime_{2, 1};
  std::string config_;
  std::vector<std::unique_ptr<PluginHost>> hosts_;
  std::vector<PluginPtr<sdk::Plugin>> roots_;
  std::vector<sdk::Transport*> started_;
};

TEST_F(LanTransportTest, DeclaresADiscoveryTransportThatStaysOnTheLan) {
  Inbox& inbox = new_inbox();
  const Started s = start(config_, inbox);
  ASSERT_NE(s.discovery, nullptr);
  const sdk::TransportInfo info = s.transport->info();
  EXPECT_STREQ(info.scheme, "lan");
  EXPECT_NE(info.flags & sdk::kTransportDiscovery, 0u);
  EXPECT_NE(info.flags & sdk::kTransportLanOnly, 0u);
  EXPECT_EQ(info.flags & sdk::kTransportReliable, 0u);
  EXPECT_EQ(s.discovery->beacon_interval_ms(), 1000u);
}

TEST_F(LanTransportTest, ABeaconReachesTheOtherNodeFromItsUnicastEndpoint) {
  Inbox& a_inbox = new_inbox();
  Inbox& b_inbox = new_inbox();
  const Started a = start(config_, a_inbox);
  const Started b = start(config_, b_inbox);
  const std::vector<uint8_t> bytes{1, 2, 3, 4, 5};
  ASSERT_TRUE(beacon(a, bytes).is_ok());
  ASSERT_TRUE(b_inbox.wait_beacons(1));
  const Heard heard = b_inbox.beacons().front();
  EXPECT_EQ(heard.bytes, bytes);
  EXPECT_EQ(heard.from, endpoint_of(a));
  // The beacon's source takes frames: B answers there.
  ASSERT_TRUE(send(b, heard.from, {9, 9}).is_ok());
  ASSERT_TRUE(a_inbox.wait_frames(1));
  EXPECT_EQ(a_inbox.frames().front().from, endpoint_of(b));
}

TEST_F(LanTransportTest, AnOversizedOrEmptyBeaconIsRefused) {
  Inbox& inbox = new_inbox();
  const Started s = start(config_, inbox);
  EXPECT_EQ(beacon(s, std::vector<uint8_t>(s.discovery->max_beacon_bytes() + 1, 7)).code,
            sdk::StatusCode::kOutOfRange);
  EXPECT_EQ(beacon(s, {}).code, sdk::StatusCode::kOutOfRange);
  EXPECT_TRUE(beacon(s, std::vector<uint8_t>(s.discovery->max_beacon_bytes(), 7)).is_ok());
}

TEST_F(LanTransportTest, BeaconsBeyondTheRateLimitAreDroppedBeforeTheKernel) {
  Inbox& a_inbox = new_inbox();
  Inbox& b_inbox = new_inbox();
  const Started a = start(config_, a_inbox);
  const auto t0 = std::chrono::steady_clock::now();
  (void)start(config_ + "max_beacons_per_second = 5\n", b_inbox);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(beacon(a, {static_cast<uint8_t>(i)}).is_ok());
  }
  ASSERT_TRUE(b_inbox.wait_beacons(5));
  std::this_thread::sleep_for(200ms);
  // A burst of 5 (the bucket, full at start) and at most what 5 per second refill meanwhile:
  // the limit's promise, over however long this took on this machine.
  const std::size_t got = b_inbox.beacons().size();
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LE(static_cast<double>(got), 5 + 5 * elapsed_s)
      << got << " beacons taken in " << elapsed_s << " s";
  EXPECT_LT(got, 200u) << "nothing was dropped";
}

TEST_F(LanTransportTest, FramesToAddressesOffTheLocalNetworkAreRefused) {
  Inbox& inbox = new_inbox();
  const Started s = start(config_, inbox);
  for (const char* to : {"lan:8.8.8.8:7401", "lan:100.64.0.1:7401", "lan:172.32.0.1:7401",
                         "lan:[2001:db8::1]:7401"}) {
    EXPECT_EQ(send(s, to, {1}).code, sdk::StatusCode::kPermissionDenied) << to;
  }
  EXPECT_NE(send(s, "lan:192.168.1.20:7401", {1}).code, sdk::StatusCode::kPermissionDenied);
  EXPECT_NE(send(s, "lan:10.1.2.3:7401", {1}).code, sdk::StatusCode::kPermissionDenied);
}

TEST_F(LanTransportTest, ConfigErrorsNameTheKey) {
  sdk::Plugin* root = nullptr;
  for (const auto& [toml, key] : std::vector<std::pair<std::string, std::string>>{
           {"group = \"224.0.0.1:7402\"", "group"},
           {"group = \"10.0.0.1:7402\"", "group"},
           {"group = \"239.255.77.77\"", "group"},
           {"bind = \"[::]:0\"\ngroup = \"239.255.77.77:7402\"", "group"},
           {"bind = \"[::]:0\"\ngroup = \"[ff0e::7e]:7402\"", "group"},
           {"bind = \"nowhere\"", "bind"},
           {"beacon_interval_ms = 5", "beacon_interval_ms"},
           {"max_beacons_per_second = 0", "max_beacons_per_second"},
           {"interfaces = [\"\"]", "interfaces"}}) {
    const sdk::Status st = create(toml, &root);
    EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument) << toml;
    EXPECT_NE(std::string(st.text()).find("lan.toml"), std::string::npos) << st.text();
    EXPECT_NE(std::string(st.text()).find(key), std::string::npos) << st.text();
  }
}

TEST_F(LanTransportTest, AnUnknownInterfaceFailsTheStartWithItsName) {
  sdk::Plugin* root = nullptr;
  const std::string toml = "bind = \"127.0.0.1:0\"\ninterfaces = [\"nosuch0\"]\n";
  ASSERT_TRUE(create(toml, &root).is_ok());
  auto* t = sdk::query<sdk::Transport>(*root, sdk::InterfaceId::kTransportV1);
  Inbox& inbox = new_inbox();
  sdk::Status st;
  runtime_.run_on_loop([&] { st = t->start(inbox); });
  EXPECT_EQ(st.code, sdk::StatusCode::kIoError);
  EXPECT_NE(std::string(st.text()).find("nosuch0"), std::string::npos) << st.text();
}

} // namespace
} // namespace entre
