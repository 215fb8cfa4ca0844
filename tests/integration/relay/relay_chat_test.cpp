// Two real entre-host processes whose only transport is transport-tcp-relay, through a real
// entre-relay process on loopback: they chat, every message arrives exactly once, each says which
// relay it came through, and nothing the relay saw or wrote contains a word of what they said.
#include "../messaging/host_harness.hpp"
#include "../messaging/relay_harness.hpp"

#include <functional>
#include <random>
#include <set>

namespace entre::integ {
namespace {

#define FIGURES std::cout << "[  figures ] "

std::string random_hex(std::mt19937_64& rng, std::size_t bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    const auto b = static_cast<uint8_t>(rng());
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

class RelayChat : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("entre-relay-chat-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
    }
  }

  NodeFiles relay_node(const std::string& name, const std::string& relay_address) {
    return write_node_files_with(dir_, name, 0, ENTRE_PLUGIN_DIR,
                                 "[[plugins]]\nid = \"entre.transport.tcp-relay\"\n"
                                 "  [plugins.config]\n  relays = [\"" +
                                     relay_address + "\"]\n  reconnect_min_ms = 50\n",
                                 {"entre.transport.tcp-relay"});
  }

  // transport-udp first (preferred), then the relay; keepalives rare enough that none falls in
  // the test's windows.
  NodeFiles dual_node(const std::string& name, const std::string& relay_address) {
    return write_node_files_with(
        dir_, name, 0, ENTRE_PLUGIN_DIR,
        "[[plugins]]\nid = \"entre.transport.udp\"\n  [plugins.config]\n  bind = "
        "\"127.0.0.1:0\"\n\n[[plugins]]\nid = \"entre.transport.tcp-relay\"\n"
        "  [plugins.config]\n  relays = [\"" +
            relay_address + "\"]\n  reconnect_min_ms = 50\n  keepalive_ms = 600000\n",
        {"entre.transport.udp", "entre.transport.tcp-relay"},
        "keepalive_ms = 600000\nlink_timeout_ms = 1800000\n");
  }

  std::filesystem::path dir_;
};

// Waits until `p` has `n` incoming messages from `contact`; returns its history.
std::vector<HistoryEntry> wait_incoming(HostProcess& p, const std::string& contact, std::size_t n,
                                        std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<HistoryEntry> h;
  while (Clock::now() < deadline) {
    h = p.history(contact);
    const auto incoming =
        std::count_if(h.begin(), h.end(), [](const HistoryEntry& e) { return !e.outgoing; });
    if (static_cast<std::size_t>(incoming) >= n) {
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  return h;
}

// Polls `plugins` until the relay transport's line satisfies `done`; returns that line.
std::string relay_plugin_line(HostProcess& p, const std::function<bool(const std::string&)>& done,
                              std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string line;
  while (Clock::now() < deadline) {
    for (const auto& l : p.command("plugins", true)) {
      if (l.rfind("plugin entre.transport.tcp-relay ", 0) == 0) {
        line = l;
      }
    }
    if (done(line)) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  return line;
}

// A relay nobody answers at, or one that is not the relay its key names, is reported with its
// address and the reason (a warning, a plugin-error event, the plugin's problem in `plugins` and
// `status`) until the node links; the relay counted failed handshakes and the node said nothing.
TEST_F(RelayChat, ARelayThatCannotBeReachedIsReportedWithItsAddressAndWhy) {
  const uint16_t port = free_udp_ports(1, static_cast<uint64_t>(::getpid()) * 7919)[0];
  const RelayFiles rf = write_relay_files(dir_, "relay", ENTRE_PLUGIN_DIR, port);
  const std::string key = relay_key(rf);
  const std::string place = "127.0.0.1:" + std::to_string(port);

  // Nobody listens at the relay's port yet: refused.
  HostProcess a(relay_node("alice", key + "@" + place));
  a.wait_ready();
  const std::string refused = relay_plugin_line(
      a, [](const std::string& l) { return l.find(" problem ") != std::string::npos; }, 60s);
  EXPECT_NE(refused.find("cannot reach relay " + place + ": cannot connect: Connection refused"),
            std::string::npos)
      << refused;
  EXPECT_NE(a.command_one("status", "status ").find("problems=1"), std::string::npos);
  std::vector<std::string> errors;
  for (const auto until = Clock::now() + 30s; errors.empty() && Clock::now() < until;) {
    errors = a.events().plugin_errors;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(errors.empty()) << "no plugin-error event";
  EXPECT_EQ(errors.front().rfind("entre.transport.tcp-relay ", 0), 0u) << errors.front();
  EXPECT_NE(errors.front().find("cannot reach relay " + place + ": cannot connect"),
            std::string::npos)
      << errors.front();

  // The relay starts there: the node links and the problem is gone.
  RelayProcess relay(rf);
  const std::string linked = relay_plugin_line(
      a, [](const std::string& l) { return l.find(" problem ") == std::string::npos; }, 90s);
  EXPECT_EQ(linked.find(" problem "), std::string::npos) << linked;
  EXPECT_NE(a.command_one("status", "status ").find("problems=0"), std::string::npos);

  // Another key for the same address: the relay refuses the handshake.
  std::string wrong = key;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  HostProcess b(relay_node("bob", wrong + "@" + place));
  b.wait_ready();
  const std::string auth = relay_plugin_line(
      b, [](const std::string& l) { return l.find(" problem ") != std::string::npos; }, 60s);
  EXPECT_NE(auth.find("cannot reach relay " + place + ": authentication failed"), std::string::npos)
      << auth;
  EXPECT_NE(b.command_one("status", "status ").find("problems=1"), std::string::npos);
  a.quit();
  b.quit();
}

TEST_F(RelayChat, TwoNodesChatThroughTheRelayWhichSeesNoPlaintext) {
  const RelayFiles rf = write_relay_files(dir_, "relay", ENTRE_PLUGIN_DIR);
  const std::string key = relay_key(rf);
  RelayProcess relay(rf, /*tap=*/true);
  const std::string address = key + "@127.0.0.1:" + std::to_string(relay.port());

  HostProcess a(relay_node("alice", address));
  HostProcess b(relay_node("bob", address));
  a.wait_ready();
  b.wait_ready();
  const std::string a_code = a.code();
  const std::string b_code = b.code();
  EXPECT_NE(a_code.find("?h=relay:"), std::string::npos)
      << "the contact code names the relay: " << a_code;
  ASSERT_EQ(a.add(b_code, "bob"), b.id());
  ASSERT_EQ(b.add(a_code, "alice"), a.id());

  const auto start = Clock::now();
  while (!(a.contact_online(b.id()) && b.contact_online(a.id())) && Clock::now() - start < 60s) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(a.contact_online(b.id()) && b.contact_online(a.id())) << "no link through the relay";
  const std::string path = "relay:127.0.0.1:" + std::to_string(relay.port());
  const auto contacts = a.command("contacts", true);
  ASSERT_GE(contacts.size(), 2U);
  EXPECT_NE(contacts[0].find("online " + path + " "), std::string::npos) << contacts[0];

  // 1,000 messages, half each way, each carrying a random canary.
  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::string> canaries;
  std::set<std::string> a_sent;
  std::set<std::string> b_sent;
  for (int i = 0; i < 1000; ++i) {
    canaries.push_back("canary" + random_hex(rng, 12));
    HostProcess& from = i % 2 == 0 ? a : b;
    const std::string to = i % 2 == 0 ? b.id() : a.id();
    from.command_one("send " + to + " " + canaries.back(), "queued ");
    (i % 2 == 0 ? a_sent : b_sent).insert(canaries.back());
  }
  const auto at_b = wait_incoming(b, a.id(), 500, 120s);
  const auto at_a = wait_incoming(a, b.id(), 500, 120s);
  FIGURES << "1000 messages through the relay in "
          << std::chrono::duration<double>(Clock::now() - start).count()
          << " s (including linking)\n";
  for (const auto& [history, sent, who] :
       {std::tuple(&at_b, &a_sent, "bob"), std::tuple(&at_a, &b_sent, "alice")}) {
    std::multiset<std::string> got;
    for (const auto& e : *history) {
      if (!e.outgoing) {
        got.insert(e.text);
        EXPECT_EQ(e.path, path) << who << " received " << e.text << " via " << e.path;
      }
    }
    EXPECT_EQ(got.size(), sent->size()) << who << ": every message exactly once";
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), *sent) << who;
  }
  // Outgoing messages record the path their receipt came back on (the last receipts may still
  // be on their way).
  std::ptrdiff_t delivered_via_relay = 0;
  const auto receipts_until = Clock::now() + 60s;
  while (delivered_via_relay < 500 && Clock::now() < receipts_until) {
    const auto a_history = a.history(b.id());
    delivered_via_relay =
        std::count_if(a_history.begin(), a_history.end(),
                      [&](const HistoryEntry& e) { return e.outgoing && e.path == path; });
    if (delivered_via_relay < 500) {
      std::this_thread::sleep_for(200ms);
    }
  }
  EXPECT_EQ(delivered_via_relay, 500);

  a.quit();
  b.quit();
  const auto status = relay.stop();
  ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "entre-relay stops cleanly on SIGTERM";
  const std::string tap = read_file(rf.tap);
  const std::string log = read_file(rf.log);
  const RelayStats stats = relay.stats();
  FIGURES << "relay tap " << tap.size() << " bytes, log " << log.size() << " bytes, "
          << stats.at("frames_forwarded") << " frames forwarded\n";
  EXPECT_GT(tap.size(), 1000U * 40U) << "the tap recorded the traffic";
  EXPECT_GE(stats.at("frames_forwarded"), 1000U);
  std::size_t leaked = 0;
  for (const auto& c : canaries) {
    if (tap.find(c) != std::string::npos || log.find(c) != std::string::npos) {
      ++leaked;
    }
  }
  EXPECT_EQ(leaked, 0U) << "canaries visible to the relay";
}

// The contact codes name only the relay, so the nodes can learn each other's direct endpoints
// only from the endpoints envelope they exchange over the relayed link. They then move to a
// direct UDP link, and the relay stops forwarding anything.
TEST_F(RelayChat, NodesLinkedThroughTheRelayMoveToTheDirectPathItHelpedThemFind) {
  const RelayFiles rf = write_relay_files(dir_, "relay", ENTRE_PLUGIN_DIR);
  const std::string key = relay_key(rf);
  RelayProcess relay(rf);
  const std::string address = key + "@127.0.0.1:" + std::to_string(relay.port());
  HostProcess a(dual_node("alice", address));
  HostProcess b(dual_node("bob", address));
  a.wait_ready();
  b.wait_ready();
  ASSERT_EQ(a.add(b.code({"relay:" + address + "/" + b.id()}), "bob"), b.id());
  ASSERT_EQ(b.add(a.code({"relay:" + address + "/" + a.id()}), "alice"), a.id());

  auto path_of = [](HostProcess& p) {
    const auto lines = p.command("contacts", true);
    const auto at = lines.at(0).find(" online ");
    return at == std::string::npos ? std::string()
                                   : lines[0].substr(at + 8, lines[0].find(' ', at + 8) - at - 8);
  };
  const auto start = Clock::now();
  while (!(starts_with(path_of(a), "udp:") && starts_with(path_of(b), "udp:")) &&
         Clock::now() - start < 60s) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(starts_with(path_of(a), "udp:127.0.0.1:")) << path_of(a);
  ASSERT_TRUE(starts_with(path_of(b), "udp:127.0.0.1:")) << path_of(b);
  FIGURES << "direct path found through the relay in "
          << std::chrono::duration<double>(Clock::now() - start).count() << " s\n";
  ASSERT_TRUE(relay.wait_stats([](RelayStats& s) { return s["frames_forwarded"] > 0; }))
      << "the first link, and the endpoints, went through the relay";
  const uint64_t forwarded_before = relay.settled("frames_forwarded");

  for (int i = 0; i < 100; ++i) {
    a.command_one("send " + b.id() + " direct-a" + std::to_string(i), "queued ");
    b.command_one("send " + a.id() + " direct-b" + std::to_string(i), "queued ");
  }
  const auto at_b = wait_incoming(b, a.id(), 100, 60s);
  const auto at_a = wait_incoming(a, b.id(), 100, 60s);
  for (const auto* h : {&at_a, &at_b}) {
    std::size_t incoming = 0;
    for (const auto& e : *h) {
      if (!e.outgoing) {
        ++incoming;
        EXPECT_TRUE(starts_with(e.path, "udp:127.0.0.1:")) << e.text << " came via " << e.path;
      }
    }
    EXPECT_EQ(incoming, 100U);
  }
  const uint64_t forwarded_after = relay.settled("frames_forwarded");
  FIGURES << "relay-forwarded frames: " << forwarded_before << " before the 200 messages, "
          << forwarded_after << " after\n";
  EXPECT_EQ(forwarded_after, forwarded_before) << "the relay forwarded nothing once direct";
}

} // namespace
} // namespace entre::integ
