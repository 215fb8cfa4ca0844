#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "relay_wire.hpp"

#include <entre/sdk/transport.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace entre {
namespace {

using namespace std::chrono_literals;

struct Received {
  std::string from;
  std::vector<uint8_t> frame;
};

class Inbox final : public sdk::TransportEvents {
 public:
  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    std::lock_guard lock(mu_);
    frames_.push_back({std::string(endpoint.str()), {frame.data, frame.data + frame.size}});
    cv_.notify_all();
  }
  void on_link(sdk::StringView, sdk::LinkState) noexcept override {}
  void on_discovered(sdk::StringView, sdk::ByteView) noexcept override {}

  // A generous deadline: a sanitizer build on a machine whose every core is busy.
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; });
  }
  std::vector<Received> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> frames_;
};

class UdpTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    outcome_ = loader_.load("entre.transport.udp", std::filesystem::path(ENTRE_UDP_PLUGIN));
    ASSERT_TRUE(outcome_.library) << outcome_.failure->str();
    runtime_.start();
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

  // Creates an instance from a TOML config table; returns its status and transport.
  sdk::Status create(const std::string& config_toml, sdk::Transport** out) {
    auto table = std::make_shared<toml::table>(toml::parse(config_toml));
    hosts_.push_back(std::make_unique<PluginHost>(
        "entre.transport.udp", std::make_unique<TomlConfigView>(table, "test.toml", 0),
        std::filesystem::temp_directory_path(), runtime_, spdlog::default_logger()));
    sdk::Plugin* root = nullptr;
    sdk::Status st = outcome_.library->factory()(*hosts_.back(), &root);
    if (!st.is_ok()) {
      return st;
    }
    roots_.emplace_back(root, outcome_.library);
    *out = sdk::query<sdk::Transport>(*root, sdk::InterfaceId::kTransportV1);
    return *out != nullptr ? sdk::Status::ok()
                           : sdk::Status::error(sdk::StatusCode::kInternal, "no interface");
  }

  sdk::Transport* start(const std::string& config_toml, Inbox& inbox) {
    sdk::Transport* t = nullptr;
    EXPECT_TRUE(create(config_toml, &t).is_ok());
    if (t == nullptr) {
      return nullptr;
    }
    sdk::Status st;
    runtime_.run_on_loop([&] { st = t->start(inbox); });
    EXPECT_TRUE(st.is_ok()) << st.text();
    started_.push_back(t);
    return t;
  }

  static std::string endpoint_of(sdk::Transport* t) {
    std::string text;
    sdk::StringSink sink(text);
    EXPECT_TRUE(t->local_endpoints(sink).is_ok());
    return text;
  }

  sdk::Status send(sdk::Transport* t, const std::string& to, const std::vector<uint8_t>& bytes) {
    sdk::Status st;
    runtime_.run_on_loop([&] { st = t->send(sdk::StringView(to), sdk::ByteView(bytes)); });
    return st;
  }

  PluginLoader loader_{{}};
  LoadOutcome outcome_;
  Runtime runtime_{2, 1};
  std::vector<std::unique_ptr<PluginHost>> hosts_;
  std::vector<PluginPtr<sdk::Plugin>> roots_;
  std::vector<sdk::Transport*> started_;
  // Outlive the transports, which deliver to them until TearDown stops them.
  Inbox inbox_a;
  Inbox inbox_b;
  Inbox inbox;
};

// Completions run in plugin code on the kernel's loop threads: this also catches a plugin that
// does not share the executable's Asio thread state (it crashes under this traffic).
TEST_F(UdpTransportTest, FramesCrossLoopbackBothWaysWithTheSendersEndpoint) {
  auto* a = start("bind = \"127.0.0.1:0\"", inbox_a);
  auto* b = start("bind = \"127.0.0.1:0\"", inbox_b);
  ASSERT_TRUE(a && b);
  const std::string ea = endpoint_of(a);
  const std::string eb = endpoint_of(b);
  EXPECT_EQ(ea.rfind("udp:127.0.0.1:", 0), 0u) << ea;
  constexpr int kFrames = 200;
  for (int i = 0; i < kFrames; ++i) {
    const auto lo = static_cast<uint8_t>(i & 0xff);
    const auto hi = static_cast<uint8_t>(i >> 8);
    ASSERT_TRUE(send(a, eb, {lo, hi, 1, 2, 3}).is_ok());
    ASSERT_TRUE(send(b, ea, {lo, hi, 42}).is_ok());
  }
  // Loopback does not lose datagrams at this rate, but the kernel may; accept a few losses.
  ASSERT_TRUE(inbox_b.wait_for(kFrames - 5));
  ASSERT_TRUE(inbox_a.wait_for(kFrames - 5));
  std::this_thread::sleep_for(100ms);
  std::set<int> seen_b;
  for (const auto& r : inbox_b.frames()) {
    EXPECT_EQ(r.from, ea);
    ASSERT_EQ(r.frame.size(), 5u);
    seen_b.insert(r.frame[0] | (r.frame[1] << 8));
  }
  std::set<int> seen_a;
  for (const auto& r : inbox_a.frames()) {
    EXPECT_EQ(r.from, eb);
    ASSERT_EQ(r.frame.size(), 3u);
    seen_a.insert(r.frame[0] | (r.frame[1] << 8));
  }
  EXPECT_EQ(seen_b.size(), inbox_b.frames().size()) << "a frame was delivered twice";
  EXPECT_EQ(seen_a.size(), inbox_a.frames().size()) << "a frame was delivered twice";
  EXPECT_GE(seen_b.size(), static_cast<std::size_t>(kFrames - 5));
}

TEST_F(UdpTransportTest, BoundToEveryAddressItNamesEachInterfaceAddressLoopbackLast) {
  auto* a = start("bind = \"0.0.0.0:0\"", inbox_a);
  auto* b = start("bind = \"127.0.0.1:0\"", inbox_b);
  ASSERT_TRUE(a && b);
  const std::string all = endpoint_of(a);
  EXPECT_EQ(all.find("0.0.0.0"), std::string::npos) << all;
  const std::string port = all.substr(all.rfind(':') + 1);
  const std::string loopback = "udp:127.0.0.1:" + port;
  ASSERT_GE(all.size(), loopback.size());
  EXPECT_EQ(all.substr(all.size() - loopback.size()), loopback) << all;
  // Every endpoint named reaches the transport.
  std::size_t start_at = 0;
  std::size_t count = 0;
  while (start_at < all.size()) {
    std::size_t end = all.find('\n', start_at);
    end = end == std::string::npos ? all.size() : end;
    ASSERT_TRUE(send(b, all.substr(start_at, end - start_at), {1, 2, 3}).is_ok());
    ++count;
    start_at = end + 1;
  }
  EXPECT_TRUE(inbox_a.wait_for(count)) << all;
}

TEST_F(UdpTransportTest, Ipv6LoopbackWorks) {
  auto* a = start("bind = \"[::1]:0\"", inbox_a);
  auto* b = start("bind = \"[::1]:0\"", inbox_b);
  ASSERT_TRUE(a && b);
  const std::string eb = endpoint_of(b);
  EXPECT_EQ(eb.rfind("udp:[::1]:", 0), 0u) << eb;
  ASSERT_TRUE(send(a, eb, {7, 7}).is_ok());
  ASSERT_TRUE(inbox_b.wait_for(1));
}

TEST_F(UdpTransportTest, RefusesOversizedFramesAndBadEndpoints) {
  auto* a = start("bind = \"127.0.0.1:0\"\nmax_payload_bytes = 200", inbox);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->info().max_payload_bytes, 200u);
  EXPECT_STREQ(a->info().scheme, "udp");
  const std::string self = endpoint_of(a);
  EXPECT_EQ(send(a, self, std::vector<uint8_t>(201)).code, sdk::StatusCode::kOutOfRange);
  EXPECT_TRUE(send(a, self, std::vector<uint8_t>(200)).is_ok());
  for (const char* bad :
       {"127.0.0.1:1", "tcp:127.0.0.1:1", "udp:", "udp:127.0.0.1", "udp:127.0.0.1:99999",
        "udp:host.example:80", "udp:[::1:80", "udp:127.0.0.1:8x"}) {
    EXPECT_EQ(send(a, bad, {1}).code, sdk::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(send(a, "udp:[::1]:9", {1}).code, sdk::StatusCode::kUnsupported);
}

TEST_F(UdpTransportTest, DropsReceivedDatagramsLargerThanItsLimit) {
  auto* a = start("bind = \"127.0.0.1:0\"\nmax_payload_bytes = 117", inbox);
  ASSERT_TRUE(a);
  const std::string self = endpoint_of(a);
  const auto port = static_cast<uint16_t>(std::stoi(self.substr(self.rfind(':') + 1)));
  boost::asio::io_context io;
  boost::asio::ip::udp::socket raw(io, boost::asio::ip::udp::v4());
  const boost::asio::ip::udp::endpoint to(boost::asio::ip::make_address("127.0.0.1"), port);
  raw.send_to(boost::asio::buffer(std::vector<uint8_t>(118, 0xaa)), to);
  raw.send_to(boost::asio::buffer(std::vector<uint8_t>(117, 0xbb)), to);
  ASSERT_TRUE(inbox.wait_for(1));
  std::this_thread::sleep_for(100ms);
  const auto frames = inbox.frames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].frame.size(), 117u);
  EXPECT_EQ(frames[0].frame[0], 0xbb);
}

TEST_F(UdpTransportTest, ConfigErrorsNameTheKey) {
  sdk::Transport* t = nullptr;
  sdk::Status st = create("bind = \"nonsense\"", &t);
  EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument);
  EXPECT_NE(st.text().find("bind"), std::string_view::npos) << st.text();
  st = create("max_payload_bytes = 70000", &t);
  EXPECT_NE(st.text().find("max_payload_bytes"), std::string_view::npos) << st.text();
  // Below the smallest frame the kernel needs (sdk::kTransportMinPayloadBytes), refused.
  st = create("max_payload_bytes = 116", &t);
  EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument);
  EXPECT_NE(st.text().find("between 117 and 65507"), std::string_view::npos) << st.text();
  st = create("bind = 7400", &t);
  EXPECT_FALSE(st.is_ok());
}

// A reflector played by the test: it answers each request with an address of its choosing (a
// NAT's public side), from its own socket; the transport then names that address among its own.
TEST_F(UdpTransportTest, AReflectorsAnswerJoinsTheLocalEndpointsAndForgeriesDoNot) {
  boost::asio::io_context io;
  boost::asio::ip::udp::socket reflector(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  boost::asio::ip::udp::socket forger(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const uint16_t port = reflector.local_endpoint().port();
  auto* t = start("bind = \"127.0.0.1:0\"\nreflectors = [\"127.0.0.1:" + std::to_string(port) +
                      "\"]\nreflect_interval_ms = 1000\n",
                  inbox);
  ASSERT_TRUE(t);
  std::array<uint8_t, 128> buffer{};
  boost::asio::ip::udp::endpoint from;
  const std::size_t n = reflector.receive_from(boost::asio::buffer(buffer), from);
  const auto nonce =
      plugins::relay_wire::parse_reflect_request(std::span<const uint8_t>(buffer.data(), n));
  ASSERT_TRUE(nonce) << "the transport asks with a well-formed request";
  EXPECT_EQ(from.port(), std::stoi(endpoint_of(t).substr(endpoint_of(t).rfind(':') + 1)))
      << "from the transport's own socket, whose NAT mapping is the one that matters";

  // A forger that is not the reflector, and an answer to another request: both ignored.
  plugins::relay_wire::Reflected fake;
  fake.address = {198, 51, 100, 66};
  fake.port = 6666;
  forger.send_to(boost::asio::buffer(plugins::relay_wire::reflect_response(*nonce, fake)), from);
  plugins::relay_wire::ReflectNonce other = *nonce;
  other[0] ^= 0xff;
  reflector.send_to(boost::asio::buffer(plugins::relay_wire::reflect_response(other, fake)), from);
  // The real answer.
  plugins::relay_wire::Reflected seen;
  seen.address = {203, 0, 113, 9};
  seen.port = 4444;
  reflector.send_to(boost::asio::buffer(plugins::relay_wire::reflect_response(*nonce, seen)), from);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (endpoint_of(t).find("udp:203.0.113.9:4444") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  const std::string endpoints = endpoint_of(t);
  EXPECT_EQ(endpoints.substr(0, endpoints.find('\n')), "udp:203.0.113.9:4444") << endpoints;
  EXPECT_EQ(endpoints.find("198.51.100.66"), std::string::npos) << endpoints;
  EXPECT_TRUE(inbox.frames().empty()) << "reflector answers are not frames for the kernel";
  // It asks again after the interval (which also keeps a NAT mapping open).
  const std::size_t again = reflector.receive_from(boost::asio::buffer(buffer), from);
  EXPECT_TRUE(
      plugins::relay_wire::parse_reflect_request(std::span<const uint8_t>(buffer.data(), again)));
}

TEST_F(UdpTransportTest, BadReflectorEntriesNameTheKey) {
  sdk::Transport* t = nullptr;
  for (const char* config :
       {"reflectors = [\"relay.example.org\"]", "reflectors = [\":3478\"]",
        "reflectors = [\"relay.example.org:99999\"]", "reflect_interval_ms = 10"}) {
    const sdk::Status st = create(config, &t);
    EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument) << config;
    EXPECT_NE(st.text().find("test.toml:"), std::string_view::npos) << st.text();
  }
}

TEST_F(UdpTransportTest, SendAfterStopIsClosed) {
  auto* a = start("bind = \"127.0.0.1:0\"", inbox);
  ASSERT_TRUE(a);
  runtime_.run_on_loop([&] { a->stop(); });
  EXPECT_EQ(send(a, "udp:127.0.0.1:9", {1}).code, sdk::StatusCode::kClosed);
}

} // namespace
} // namespace entre
