// transport-tcp-relay against a real entre-relay process on loopback: the real plugin files
// (this transport and crypto-sodium for the identities) loaded through the kernel's loader, the
// kernel's own IdentityProof, real TCP. Raw clients built from the relay protocol play the
// attacker: a replayed handshake, an oversized frame, a silent connection, a handshake flood.
#include "../../../tests/integration/messaging/relay_harness.hpp"
#include "conformance/transport_conformance.hpp"
#include "loader/loader.hpp"
#include "node/identity_proof.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "profile/config_view.hpp"
#include "relay_wire.hpp"
#include "sync_client.hpp"

#include <entre/sdk/crypto.hpp>
#include <entre/sdk/relay.hpp>
#include <entre/sdk/transport.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <gtest/gtest.h>

namespace entre {
namespace {

using namespace std::chrono_literals;
namespace wire = plugins::relay_wire;
using integ::RelayProcess;
using integ::RelayStats;

struct Heard {
  std::string from;
  std::vector<uint8_t> bytes;
};

class Inbox final : public sdk::TransportEvents {
 public:
  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    std::lock_guard lock(mu_);
    frames_.push_back({std::string(endpoint.str()), {frame.data, frame.data + frame.size}});
    cv_.notify_all();
  }
  void on_link(sdk::StringView endpoint, sdk::LinkState state) noexcept override {
    std::lock_guard lock(mu_);
    links_.emplace_back(std::string(endpoint.str()), state == sdk::LinkState::kUp);
    cv_.notify_all();
  }
  void on_discovered(sdk::StringView, sdk::ByteView) noexcept override {}

  // Deadlines generous enough for a sanitizer build on a machine whose every core is busy.
  bool wait_frames(std::size_t n, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; });
  }
  // Waits for the n-th "up" report of `endpoint`.
  bool wait_up(const std::string& endpoint, std::size_t n = 1,
               std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return static_cast<std::size_t>(
                 std::count(links_.begin(), links_.end(), std::pair(endpoint, true))) >= n;
    });
  }
  bool wait_down(const std::string& endpoint, std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      return std::count(links_.begin(), links_.end(), std::pair(endpoint, false)) > 0;
    });
  }
  std::vector<Heard> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Heard> frames_;
  std::vector<std::pair<std::string, bool>> links_;
};

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

class RelayTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("entre-relay-transport-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    sodium_ = loader_.load("entre.crypto.sodium", std::filesystem::path(ENTRE_SODIUM_PLUGIN));
    ASSERT_TRUE(sodium_.library) << sodium_.failure->str();
    relay_plugin_ =
        loader_.load("entre.transport.tcp-relay", std::filesystem::path(ENTRE_RELAY_PLUGIN));
    ASSERT_TRUE(relay_plugin_.library) << relay_plugin_.failure->str();
    suite_host_ = std::make_unique<PluginHost>(
        "entre.crypto.sodium", std::make_unique<TomlConfigView>(nullptr, "sodium.toml", 0), dir_,
        runtime_, spdlog::default_logger());
    sdk::Plugin* root = nullptr;
    ASSERT_TRUE(sodium_.library->factory()(*suite_host_, &root).is_ok());
    suite_root_ = PluginPtr<sdk::Plugin>(root, sodium_.library);
    suite_ = sdk::query<sdk::CryptoSuite>(*suite_root_, sdk::InterfaceId::kCryptoSuiteV1);
    ASSERT_NE(suite_, nullptr);
    runtime_.start();
  }

  void TearDown() override {
    runtime_.run_on_loop([&] {
      for (auto& c : clients_) {
        c.transport->stop();
        c.relayed->attach(nullptr);
      }
    });
    runtime_.stop();
    clients_.clear();
    suite_root_.reset();
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
    }
  }

  void start_relay(const std::string& limits = {}, uint16_t port = 0) {
    files_ = integ::write_relay_files(
        dir_, "relay", std::filesystem::path(ENTRE_SODIUM_PLUGIN).parent_path().string(), port,
        limits);
    key_hex_ = integ::relay_key(files_);
    ASSERT_TRUE(wire::parse_hex_key(key_hex_, relay_key_));
    relay_ = std::make_unique<RelayProcess>(files_, true);
  }

  [[nodiscard]] std::string relay_address() const {
    return key_hex_ + "@127.0.0.1:" + std::to_string(relay_->port());
  }

  struct Client {
    std::unique_ptr<Inbox> inbox;
    std::unique_ptr<KernelIdentityProof> proof;
    std::unique_ptr<PluginHost> host;
    PluginPtr<sdk::Plugin> root;
    sdk::Transport* transport = nullptr;
    sdk::RelayedTransport* relayed = nullptr;
    wire::Key key{};
    std::string endpoint; // how peers reach it
  };

  std::unique_ptr<KernelIdentityProof> new_identity(wire::Key& key) {
    std::vector<uint8_t> secret;
    sdk::VectorSink sink(secret, 4096);
    EXPECT_TRUE(
        suite_->generate_identity(sink, sdk::MutableByteView(key.data(), key.size())).is_ok());
    auto proof = std::make_unique<KernelIdentityProof>(*suite_);
    proof->set(secret, key);
    return proof;
  }

  // A started, attached client whose home relay is the test's relay; waits until it is linked.
  Client& client(const std::string& extra_config = {}, bool wait = true) {
    Client c;
    c.inbox = std::make_unique<Inbox>();
    c.proof = new_identity(c.key);
    auto table = std::make_shared<toml::table>(toml::parse(
        "relays = [\"" + relay_address() + "\"]\nreconnect_min_ms = 50\n" + extra_config));
    c.host = std::make_unique<PluginHost>("entre.transport.tcp-relay",
                                          std::make_unique<TomlConfigView>(table, "relay.toml", 0),
                                          dir_, runtime_, spdlog::default_logger());
    sdk::Plugin* root = nullptr;
    const sdk::Status made = relay_plugin_.library->factory()(*c.host, &root);
    EXPECT_TRUE(made.is_ok()) << made.text();
    c.root = PluginPtr<sdk::Plugin>(root, relay_plugin_.library);
    c.transport = sdk::query<sdk::Transport>(*c.root, sdk::InterfaceId::kTransportV1);
    c.relayed = sdk::query<sdk::RelayedTransport>(*c.root, sdk::InterfaceId::kRelayedTransportV1);
    EXPECT_NE(c.relayed, nullptr);
    runtime_.run_on_loop([&] {
      EXPECT_TRUE(c.transport->start(*c.inbox).is_ok());
      c.relayed->attach(c.proof.get());
      c.endpoint = first_local_endpoint(*c.transport);
    });
    EXPECT_EQ(c.endpoint, "relay:" + relay_address() + "/" + wire::hex(c.key));
    clients_.push_back(std::move(c));
    Client& added = clients_.back();
    if (wait) {
      EXPECT_TRUE(added.inbox->wait_up(added.endpoint)) << "client did not link to the relay";
    }
    return added;
  }

  sdk::Status send(Client& from, const std::string& to, const std::vector<uint8_t>& frame) {
    sdk::Status st;
    runtime_.run_on_loop(
        [&] { st = from.transport->send(sdk::StringView(to), sdk::ByteView(frame)); });
    return st;
  }

  std::filesystem::path dir_;
  PluginLoader loader_{{}};
  LoadOutcome sodium_;
  LoadOutcome relay_plugin_;
  Runtime runtime_{2, 1};
  std::unique_ptr<PluginHost> suite_host_;
  PluginPtr<sdk::Plugin> suite_root_;
  sdk::CryptoSuite* suite_ = nullptr;
  integ::RelayFiles files_;
  std::string key_hex_;
  wire::Key relay_key_{};
  std::unique_ptr<RelayProcess> relay_;
  std::deque<Client> clients_;
  boost::asio::io_context io_; // for the raw clients' sockets
};

TEST_F(RelayTransportTest, FramesFlowBothWaysBetweenTwoClientsThroughTheRelay) {
  start_relay();
  Client& a = client();
  Client& b = client();
  ASSERT_TRUE(send(a, b.endpoint, bytes_of("hello b")).is_ok());
  ASSERT_TRUE(b.inbox->wait_frames(1));
  const Heard got = b.inbox->frames().at(0);
  EXPECT_EQ(got.bytes, bytes_of("hello b"));
  EXPECT_EQ(got.from, a.endpoint) << "the sender is named by its relay and key";
  ASSERT_TRUE(send(b, got.from, bytes_of("hello a")).is_ok());
  ASSERT_TRUE(a.inbox->wait_frames(1));
  EXPECT_EQ(a.inbox->frames().at(0).bytes, bytes_of("hello a"));

  std::string path;
  sdk::StringSink sink(path);
  ASSERT_TRUE(a.relayed->describe_path(sdk::StringView(b.endpoint), sink).is_ok());
  EXPECT_EQ(path, "relay:127.0.0.1:" + std::to_string(relay_->port()));
  EXPECT_EQ(path.find(key_hex_), std::string::npos) << "a path names no key";
  EXPECT_TRUE(relay_->wait_stats(
      [](RelayStats& s) { return s["frames_forwarded"] == 2 && s["clients_online"] == 2; }));
}

TEST_F(RelayTransportTest, NothingIsReachableBeforeTheIdentityIsAttached) {
  start_relay();
  Client& b = client();
  Inbox inbox;
  auto table = std::make_shared<toml::table>(toml::parse("relays = [\"" + relay_address() + "\"]"));
  PluginHost host("entre.transport.tcp-relay",
                  std::make_unique<TomlConfigView>(table, "relay.toml", 0), dir_, runtime_,
                  spdlog::default_logger());
  sdk::Plugin* root = nullptr;
  ASSERT_TRUE(relay_plugin_.library->factory()(host, &root).is_ok());
  PluginPtr<sdk::Plugin> plugin(root, relay_plugin_.library);
  auto* t = sdk::query<sdk::Transport>(*plugin, sdk::InterfaceId::kTransportV1);
  sdk::Status st;
  std::string endpoints;
  runtime_.run_on_loop([&] {
    ASSERT_TRUE(t->start(inbox).is_ok());
    const auto frame = bytes_of("x");
    st = t->send(sdk::StringView(b.endpoint), sdk::ByteView(frame));
    endpoints = first_local_endpoint(*t);
    t->stop();
  });
  EXPECT_EQ(st.code, sdk::StatusCode::kUnavailable) << st.text();
  EXPECT_TRUE(endpoints.empty());
}

TEST_F(RelayTransportTest, AReplayedHandshakeCannotTakeOverAnotherClientsKey) {
  start_relay();
  Client& a = client();
  Client& b = client();
  // The attacker captured a's handshake message (here: made with a's identity, as a would) and
  // replays it on a connection of its own.
  sdk::Handshake* hs = nullptr;
  const auto prologue = wire::kPrologue;
  ASSERT_TRUE(
      a.proof
          ->begin(sdk::ByteView(relay_key_),
                  sdk::ByteView(reinterpret_cast<const uint8_t*>(prologue.data()), prologue.size()),
                  &hs)
          .is_ok());
  std::vector<uint8_t> msg1;
  sdk::VectorSink sink(msg1, 1024);
  ASSERT_TRUE(hs->write_message(sdk::ByteView(), sink).is_ok());
  hs->destroy();

  relay::SyncClient mallory(io_, relay_->port());
  mallory.write_record(wire::client_hello(msg1));
  const auto reply = mallory.read_record();
  ASSERT_TRUE(reply) << "the relay answers a well-formed hello";
  std::string why;
  const auto hello = wire::parse_clear(*reply, why);
  ASSERT_TRUE(hello) << why;
  EXPECT_EQ(hello->type, wire::Type::kRelayHello);
  // Without a's secrets the attacker cannot key the link: its auth message is forged.
  std::vector<uint8_t> forged(1 + 17, 0x5a);
  forged[0] = 17; // a well-formed sealed record whose tag is wrong
  mallory.write_record(forged);
  const auto refusal = mallory.read_record();
  ASSERT_TRUE(refusal);
  const auto refused = wire::parse_clear(*refusal, why);
  ASSERT_TRUE(refused) << why;
  EXPECT_EQ(refused->type, wire::Type::kRefused);
  EXPECT_EQ(refused->reason, wire::Reason::kAuthFailed);
  EXPECT_TRUE(mallory.closed_within(30s));

  // a still holds its key: frames to it reach it, and only it.
  ASSERT_TRUE(send(b, a.endpoint, bytes_of("still yours")).is_ok());
  ASSERT_TRUE(a.inbox->wait_frames(1));
  EXPECT_EQ(a.inbox->frames().at(0).bytes, bytes_of("still yours"));
  EXPECT_TRUE(relay_->wait_stats([](RelayStats& st) {
    return st["auth_failures"] == 1 && st["clients_online"] == 2 && st["replaced"] == 0;
  })) << "the forged auth failed, and neither real client was displaced";
}

TEST_F(RelayTransportTest, FramesGoOnlyToTheClientThatProvedTheKey) {
  start_relay();
  Client& a = client();
  Client& b = client();
  Client& m = client();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(send(b, a.endpoint, bytes_of("for a " + std::to_string(i))).is_ok());
  }
  ASSERT_TRUE(a.inbox->wait_frames(10));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(a.inbox->frames().size(), 10U);
  EXPECT_TRUE(m.inbox->frames().empty()) << "a third client sees nothing addressed to a";

  // A frame to a key nobody proved is reported unreachable, and goes nowhere.
  wire::Key nobody{};
  nobody.fill(0x42);
  const std::string to_nobody = "relay:" + relay_address() + "/" + wire::hex(nobody);
  ASSERT_TRUE(send(m, to_nobody, bytes_of("anyone?")).is_ok());
  EXPECT_TRUE(m.inbox->wait_down(to_nobody));
  EXPECT_TRUE(relay_->wait_stats([](RelayStats& s) { return s["frames_unreachable"] == 1; }));
}

TEST_F(RelayTransportTest, ClientsRelinkAfterTheRelayRestartsOnTheSamePort) {
  start_relay();
  Client& a = client();
  Client& b = client();
  const uint16_t port = relay_->port();
  for (int round = 1; round <= 3; ++round) {
    relay_->kill9();
    relay_.reset();
    files_ = integ::write_relay_files(
        dir_, "relay", std::filesystem::path(ENTRE_SODIUM_PLUGIN).parent_path().string(), port);
    relay_ = std::make_unique<RelayProcess>(files_);
    EXPECT_TRUE(a.inbox->wait_up(a.endpoint, static_cast<std::size_t>(round + 1)));
    EXPECT_TRUE(b.inbox->wait_up(b.endpoint, static_cast<std::size_t>(round + 1)));
    ASSERT_TRUE(send(a, b.endpoint, bytes_of("round " + std::to_string(round))).is_ok());
    ASSERT_TRUE(b.inbox->wait_frames(static_cast<std::size_t>(round)));
    EXPECT_EQ(b.inbox->frames().back().bytes, bytes_of("round " + std::to_string(round)));
  }
}

TEST_F(RelayTransportTest, AbuseIsRefusedWhileAnEstablishedPairKeepsChatting) {
  start_relay("handshakes_per_second = 20\nhandshake_timeout_ms = 500\nmax_frame_bytes = 2048\n"
              "client_burst_bytes = 4096\nmax_connections_per_address = 256\n");
  Client& a = client();
  Client& b = client();
  const uint64_t rss_before = relay_->rss_kib();

  // Slowloris: connections that never say hello are closed after the handshake deadline.
  std::vector<std::unique_ptr<relay::SyncClient>> silent;
  for (int i = 0; i < 10; ++i) {
    silent.push_back(std::make_unique<relay::SyncClient>(io_, relay_->port()));
  }
  // A record longer than any hello closes the connection at once.
  relay::SyncClient big(io_, relay_->port());
  big.write_raw(std::vector<uint8_t>{0xff, 0xff});
  EXPECT_TRUE(big.closed_within(30s));
  // So does a frame above max_frame_bytes from an authenticated client.
  wire::Key big_key{};
  auto big_proof = new_identity(big_key);
  relay::SyncClient big_frame(io_, relay_->port());
  std::string why;
  ASSERT_TRUE(big_frame.authenticate(*big_proof, relay_key_, why)) << why;
  big_frame.write_raw(big_frame.sealed(
      wire::encode_frame(wire::Type::kSend, a.key, std::vector<uint8_t>(3000, 7))));
  std::vector<uint8_t> plain;
  const auto closing_message = big_frame.read_message(plain);
  ASSERT_TRUE(closing_message);
  EXPECT_EQ(closing_message->type, wire::Type::kClosing);
  EXPECT_EQ(closing_message->reason, wire::Reason::kFrameTooLarge);
  EXPECT_TRUE(big_frame.closed_within(30s));
  // An empty record is a protocol error, not an oversized frame.
  wire::Key empty_key{};
  auto empty_proof = new_identity(empty_key);
  relay::SyncClient empty(io_, relay_->port());
  ASSERT_TRUE(empty.authenticate(*empty_proof, relay_key_, why)) << why;
  empty.write_raw(std::vector<uint8_t>{0, 0});
  EXPECT_TRUE(empty.closed_within(30s));

  // A handshake flood: well-formed hellos far above the rate; the excess is refused.
  wire::Key flood_key{};
  auto flood_proof = new_identity(flood_key);
  std::vector<std::unique_ptr<relay::SyncClient>> flood;
  int refused = 0;
  const auto flood_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    sdk::Handshake* hs = nullptr;
    const auto prologue = wire::kPrologue;
    ASSERT_TRUE(flood_proof
                    ->begin(sdk::ByteView(relay_key_),
                            sdk::ByteView(reinterpret_cast<const uint8_t*>(prologue.data()),
                                          prologue.size()),
                            &hs)
                    .is_ok());
    std::vector<uint8_t> msg1;
    sdk::VectorSink sink(msg1, 1024);
    ASSERT_TRUE(hs->write_message(sdk::ByteView(), sink).is_ok());
    hs->destroy();
    auto raw = std::make_unique<relay::SyncClient>(io_, relay_->port());
    raw->write_record(wire::client_hello(msg1));
    if (auto r = raw->read_record()) {
      why.clear();
      if (auto rec = wire::parse_clear(*r, why); rec && rec->type == wire::Type::kRefused) {
        EXPECT_EQ(rec->reason, wire::Reason::kHandshakeRate);
        ++refused;
      }
    }
    flood.push_back(std::move(raw));
    // Meanwhile the pair chats.
    if (i % 10 == 0) {
      ASSERT_TRUE(send(a, b.endpoint, bytes_of("during abuse " + std::to_string(i))).is_ok());
    }
  }
  // The bucket holds 20 and refills 20 a second: however slow this machine, no more hellos than
  // that got through.
  const double flood_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - flood_start).count();
  const int accepted = 100 - refused;
  EXPECT_GT(refused, 0);
  EXPECT_LE(accepted, 20 + static_cast<int>(20 * flood_s) + 1)
      << refused << " of 100 hellos refused in " << flood_s << " s";
  ASSERT_TRUE(b.inbox->wait_frames(10)) << "the established pair kept chatting";

  EXPECT_TRUE(relay_->wait_stats([&](RelayStats& s) {
    return s["handshake_timeouts"] >= 10 && s["frames_too_large"] == 1 &&
           s["protocol_errors"] >= 2 &&
           s["refused_handshake_rate"] == static_cast<uint64_t>(refused);
  }));
  EXPECT_TRUE(a.inbox->frames().empty()) << "the oversized frame was not forwarded";
  const uint64_t rss_after = relay_->rss_kib();
  EXPECT_LT(rss_after, rss_before + 16 * 1024)
      << "relay memory grew from " << rss_before << " KiB to " << rss_after << " KiB";
  ASSERT_TRUE(send(b, a.endpoint, bytes_of("after abuse")).is_ok());
  ASSERT_TRUE(a.inbox->wait_frames(1));
}

TEST_F(RelayTransportTest, ASecondConnectionProvingTheSameKeyReplacesTheFirst) {
  start_relay();
  Client& a = client();
  Client& b = client();
  // a's key proved again on another connection (a second device with the same identity).
  relay::SyncClient again(io_, relay_->port());
  std::string why;
  ASSERT_TRUE(again.authenticate(*a.proof, relay_key_, why)) << why;
  EXPECT_TRUE(a.inbox->wait_down(a.endpoint)) << "the older connection was closed";
  ASSERT_TRUE(relay_->wait_stats([](RelayStats& s) {
    return s["replaced"] == 1 && s["clients_online"] == 2 && s["connections_open"] == 2;
  })) << "one holder per key, counted once";
  // Frames to the key now reach the newer connection.
  ASSERT_TRUE(send(b, a.endpoint, bytes_of("to the newer one")).is_ok());
  std::vector<uint8_t> plain;
  const auto m = again.read_message(plain);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type, wire::Type::kDeliver);
  EXPECT_EQ(m->key, b.key);
  EXPECT_EQ(std::vector<uint8_t>(m->frame.begin(), m->frame.end()), bytes_of("to the newer one"));
  EXPECT_TRUE(a.inbox->frames().empty());
}

TEST_F(RelayTransportTest, AClientThatStopsReadingIsDroppedWhileOthersChat) {
  start_relay("queue_depth_frames = 32\nclient_rate_bytes_per_second = 1073741824\n"
              "client_burst_bytes = 67108864\n");
  Client& a = client();
  Client& b = client("send_queue_frames = 100000\n");
  wire::Key slow_key{};
  auto slow_proof = new_identity(slow_key);
  relay::SyncClient slow(io_, relay_->port());
  std::string why;
  ASSERT_TRUE(slow.authenticate(*slow_proof, relay_key_, why)) << why;
  const std::string to_slow = "relay:" + relay_address() + "/" + wire::hex(slow_key);
  const std::vector<uint8_t> big(16000, 0x33);
  // The slow client never reads: the sockets' buffers fill, then the relay's queue towards it.
  for (int i = 0; i < 4000 && relay_->stats()["slow_consumers_dropped"] == 0; ++i) {
    sdk::Status st = send(b, to_slow, big);
    while (st.code == sdk::StatusCode::kUnavailable) {
      std::this_thread::sleep_for(1ms);
      st = send(b, to_slow, big);
    }
    ASSERT_TRUE(st.is_ok()) << st.text();
  }
  ASSERT_TRUE(relay_->wait_stats([](RelayStats& s) { return s["slow_consumers_dropped"] == 1; }))
      << "the relay dropped the client that did not read";
  ASSERT_TRUE(send(a, b.endpoint, bytes_of("still here")).is_ok());
  ASSERT_TRUE(b.inbox->wait_frames(1));
  EXPECT_EQ(b.inbox->frames().back().bytes, bytes_of("still here"));
}

TEST_F(RelayTransportTest, ASilentClientIsClosedAtTheIdleTimeoutWhileAPingingOneStays) {
  start_relay("idle_timeout_ms = 3000\n");
  Client& a = client(); // pings every third of the idle timeout the relay announced
  wire::Key quiet_key{};
  auto quiet_proof = new_identity(quiet_key);
  relay::SyncClient quiet(io_, relay_->port());
  std::string why;
  ASSERT_TRUE(quiet.authenticate(*quiet_proof, relay_key_, why)) << why;
  std::vector<uint8_t> plain;
  const auto closing = quiet.read_message(plain); // nothing else is sent to it
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->type, wire::Type::kClosing);
  EXPECT_EQ(closing->reason, wire::Reason::kIdle);
  EXPECT_TRUE(quiet.closed_within(30s));
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(relay_->wait_stats([](RelayStats& st) {
    return st["idle_closed"] == 1 && st["clients_online"] == 1;
  })) << "only the silent client was closed";
  EXPECT_FALSE(a.inbox->wait_down(a.endpoint, 100ms)) << "the pinging client stayed linked";
}

TEST_F(RelayTransportTest, PassesTheTransportConformanceSuite) {
  start_relay("queue_depth_frames = 4096\nclient_rate_bytes_per_second = 1073741824\n"
              "client_burst_bytes = 67108864\nmax_connections_per_address = 1024\n"
              "handshakes_per_second = 1000\n");
  PluginTransportFactory factory(relay_plugin_.library, runtime_,
                                 "relays = [\"" + relay_address() + "\"]\n", nullptr, suite_);
  const auto checks = run_transport_conformance(factory);
  ASSERT_FALSE(checks.empty());
  for (const auto& c : checks) {
    EXPECT_TRUE(c.passed) << c.name << ": " << c.detail;
  }
}

TEST(RelayTransportConfig, BadRelayEntriesAreRefusedWithTheirLocation) {
  PluginLoader loader({});
  auto plugin = loader.load("entre.transport.tcp-relay", std::filesystem::path(ENTRE_RELAY_PLUGIN));
  ASSERT_TRUE(plugin.library);
  Runtime runtime(1, 1);
  for (const auto& [text, expect] : std::vector<std::pair<std::string, std::string>>{
           {"relays = [\"relay.example.org:443\"]", "no '@'"},
           {"relays = [\"abcd@relay.example.org:443\"]", "64 hexadecimal digits"},
           {"relays = [\"" + std::string(64, 'a') + "@relay.example.org\"]", "no port"},
           {"relays = [\"" + std::string(64, 'a') + "@relay.example.org:0\"]", "1 to 65535"},
           {"max_payload_bytes = 70000", "between 117 and 65000"},
           {"reconnect_min_ms = 500\nreconnect_max_ms = 100", "at least reconnect_min_ms"},
           {"relays = [\"" + std::string(64, 'a') + "@" + std::string(70, 'h') + ".example:443\"]",
            "too long for a contact code"},
       }) {
    auto table = std::make_shared<toml::table>(toml::parse(text, std::string_view("node.toml")));
    PluginHost host("entre.transport.tcp-relay",
                    std::make_unique<TomlConfigView>(table, "node.toml", 2),
                    std::filesystem::temp_directory_path(), runtime, spdlog::default_logger());
    sdk::Plugin* root = nullptr;
    const sdk::Status st = plugin.library->factory()(host, &root);
    EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(st.text().find(expect), std::string_view::npos) << st.text();
    EXPECT_NE(st.text().find("node.toml:"), std::string_view::npos) << st.text();
    EXPECT_EQ(root, nullptr);
  }
}

} // namespace
} // namespace entre
