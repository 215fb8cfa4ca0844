// LAN discovery through whole nodes (entre::Node from profiles, the real transport-lan,
// crypto-sodium and storage-sqlite plugin files) on the loopback interface: contacts whose codes
// name no reachable endpoint find each other by their beacons alone and chat exactly once; a node
// that is nobody's contact recognises no beacon; a node with the private network scope refuses a
// contact code that names a public address.
#include <entre/node.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace entre {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How long a test waits for an outcome (found, linked, delivered) before it fails: generous, for
// a sanitizer build on a machine whose every core is busy. A wait for something that must not
// happen is short: it can only miss a fault, not invent one.
constexpr auto kOutcomeTimeout = 60s;

uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::udp::socket s(io, {boost::asio::ip::udp::v4(), 0});
  return s.local_endpoint().port();
}

class LanNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("entre-lan-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    group_port_ = free_port();
  }
  void TearDown() override {
    nodes_.clear();
    std::filesystem::remove_all(dir_);
  }

  // `udp_port` > 0: transport-udp too, after transport-lan in the preference order (a stand-in for
  // any less preferred path, such as a relay).
  std::filesystem::path profile(const std::string& name, const std::string& scope = "any",
                                const std::string& discovery = "", uint16_t udp_port = 0,
                                uint32_t beacon_ms = 200) {
    const auto file = dir_ / (name + ".toml");
    std::ofstream out(file);
    out << "[node]\nname = \"" << name << "\"\ndata_dir = \"" << (dir_ / name).string()
        << "\"\nnetwork_scope = \"" << scope << "\"\n\n"
        << "[loader]\nsearch_paths = [\"" << ENTRE_PLUGIN_DIR << "\"]\n\n"
        << "[[plugins]]\nid = \"entre.transport.lan\"\n  [plugins.config]\n"
        << "  bind = \"127.0.0.1:0\"\n  interfaces = [\"lo\"]\n"
        << "  group = \"239.255.77.77:" << group_port_ << "\"\n  beacon_interval_ms = " << beacon_ms
        << "\n\n"
        << (udp_port == 0 ? std::string()
                          : "[[plugins]]\nid = \"entre.transport.udp\"\n  [plugins.config]\n"
                            "  bind = \"127.0.0.1:" +
                                std::to_string(udp_port) + "\"\n\n")
        << "[[plugins]]\nid = \"entre.crypto.sodium\"\n\n"
        << "[[plugins]]\nid = \"entre.storage.sqlite\"\n\n"
        << "[transport]\norder = [\"entre.transport.lan\""
        << (udp_port == 0 ? "" : ", \"entre.transport.udp\"") << "]\n\n"
        << "[discovery]\nepoch_seconds = 10\n"
        << discovery << "\n"
        << "[crypto]\nsuite = \"entre.crypto.sodium\"\nkdf = \"interactive\"\n\n"
        << "[storage]\nplugin = \"entre.storage.sqlite\"\n";
    return file;
  }

  Node& start(const std::string& name, const std::string& scope = "any",
              const std::string& discovery = "", uint16_t udp_port = 0, uint32_t beacon_ms = 200) {
    NodeCreateResult created = Node::create(profile(name, scope, discovery, udp_port, beacon_ms));
    EXPECT_TRUE(created.node) << (created.errors.empty() ? "" : created.errors.front());
    if (!created.node) {
      throw std::runtime_error("no node");
    }
    const auto errors = created.node->start();
    EXPECT_TRUE(errors.empty()) << errors.front();
    EXPECT_TRUE(created.node->create_identity("lan test").ok());
    nodes_[name] = std::move(created.node);
    return *nodes_[name];
  }

  // A contact code that names only an endpoint nothing listens on: the peer must be found by
  // its beacons.
  static std::string code_without_reach(Node& n) {
    auto code = n.contact_code({"lan:127.0.0.1:9"});
    EXPECT_TRUE(code.ok());
    return *code.value;
  }

  static bool online(Node& n, const std::string& id) {
    const auto c = n.contact(id);
    return c.ok() && c.value->online;
  }

  std::filesystem::path dir_;
  uint16_t group_port_ = 0;
  std::map<std::string, std::unique_ptr<Node>> nodes_;
};

TEST_F(LanNodes, ContactsFindEachOtherByBeaconsAloneAndChatExactlyOnce) {
  Node& a = start("alice");
  Node& b = start("bob");
  Node& stranger = start("stranger");
  const auto t0 = Clock::now();
  ASSERT_TRUE(a.add_contact(code_without_reach(b), "bob").ok());
  ASSERT_TRUE(b.add_contact(code_without_reach(a), "alice").ok());
  const std::string a_id = a.my_id();
  const std::string b_id = b.my_id();
  while (!(online(a, b_id) && online(b, a_id)) && Clock::now() - t0 < kOutcomeTimeout) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(online(a, b_id) && online(b, a_id)) << "the contacts never found each other";
  const double found_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::cout << "[ FIGURES  ] found each other and linked " << found_ms
            << " ms after adding the codes (beacon interval 200 ms)" << std::endl;
  EXPECT_EQ(a.contact(b_id).value->path.rfind("lan:127.0.0.1:", 0), 0u)
      << a.contact(b_id).value->path;

  constexpr int kMessages = 300;
  std::vector<std::string> texts;
  for (int i = 0; i < kMessages; ++i) {
    texts.push_back("lan message " + std::to_string(i));
  }
  for (int i = 0; i < kMessages; i += 50) {
    ASSERT_TRUE(a.send_batch(b_id, {texts.begin() + i, texts.begin() + i + 50}).ok());
  }
  std::vector<std::string> got;
  const auto deadline = Clock::now() + kOutcomeTimeout;
  while (static_cast<int>(got.size()) < kMessages && Clock::now() < deadline) {
    if (auto e = b.wait_event(100ms)) {
      if (auto* m = std::get_if<MessageReceived>(&*e)) {
        got.push_back(m->message.text);
      }
    }
  }
  std::this_thread::sleep_for(300ms); // a duplicate would arrive by now
  while (auto e = b.poll_event()) {
    if (auto* m = std::get_if<MessageReceived>(&*e)) {
      got.push_back(m->message.text);
    }
  }
  EXPECT_EQ(got, texts) << "every message once, in order";

  const NodeCounters ca = a.counters();
  const NodeCounters cs = stranger.counters();
  EXPECT_GT(ca.beacons_sent, 0u);
  EXPECT_GT(ca.beacons_recognised, 0u);
  EXPECT_GT(cs.beacons_sent, 0u);
  EXPECT_EQ(cs.beacons_recognised, 0u) << "a stranger recognised a beacon";
  EXPECT_TRUE(stranger.contacts().empty());
}

TEST_F(LanNodes, APrivateScopeRefusesACodeThatNamesAPublicAddress) {
  Node& lan = start("lan-desk", "private");
  Node& other = start("elsewhere");
  const auto code = other.contact_code({"udp:203.0.113.5:7400"});
  ASSERT_TRUE(code.ok());
  const auto added = lan.add_contact(*code.value, "far");
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error.code, sdk::StatusCode::kPermissionDenied);
  EXPECT_NE(added.error.message.find("udp:203.0.113.5:7400"), std::string::npos)
      << added.error.message;
  EXPECT_NE(added.error.message.find("private"), std::string::npos) << added.error.message;
  EXPECT_TRUE(lan.contacts().empty());
  EXPECT_EQ(lan.counters().scope_refusals, 1u);
  // A code made on the local network is taken.
  EXPECT_TRUE(lan.add_contact(*other.contact_code({"lan:192.168.1.20:7401"}).value, "near").ok());
}

// The PeerMet events `n` reports within `timeout`, by id.
std::map<std::string, PeerMet> wait_met(Node& n, std::size_t count,
                                        std::chrono::milliseconds timeout) {
  std::map<std::string, PeerMet> met;
  const auto deadline = Clock::now() + timeout;
  while (met.size() < count && Clock::now() < deadline) {
    if (auto e = n.wait_event(50ms)) {
      if (auto* m = std::get_if<PeerMet>(&*e)) {
        met[m->id] = *m;
      }
    }
  }
  return met;
}

TEST_F(LanNodes, InMeetingModeTwoStrangersBecomeContactsWithTheSameSafetyNumber) {
  Node& a = start("alice");
  Node& b = start("bob");
  Node& shy = start("shy"); // not in meeting mode: sees nothing, is seen by nobody
  ASSERT_TRUE(a.open_meeting(60s).ok());
  ASSERT_TRUE(b.open_meeting(60s).ok());
  const auto a_met = wait_met(a, 1, kOutcomeTimeout);
  const auto b_met = wait_met(b, 1, kOutcomeTimeout);
  ASSERT_EQ(a_met.size(), 1u);
  ASSERT_EQ(b_met.size(), 1u);
  const PeerMet& a_saw = a_met.begin()->second;
  const PeerMet& b_saw = b_met.begin()->second;
  EXPECT_EQ(a_saw.id, b.my_id());
  EXPECT_EQ(b_saw.id, a.my_id());
  EXPECT_EQ(a_saw.name, "bob");
  EXPECT_EQ(b_saw.name, "alice");
  EXPECT_FALSE(a_saw.safety_number.empty());
  EXPECT_EQ(a_saw.safety_number, b_saw.safety_number) << "both screens show the same number";
  EXPECT_TRUE(wait_met(shy, 1, 500ms).empty());
  // Compared: each adds the other's code, and they chat.
  ASSERT_TRUE(a.add_contact(a_saw.code, a_saw.name).ok());
  ASSERT_TRUE(b.add_contact(b_saw.code, b_saw.name).ok());
  const auto number = a.safety_number(b.my_id());
  ASSERT_TRUE(number.ok());
  EXPECT_EQ(a_saw.safety_number, *number.value) << "the number is the contact's";
  const auto t0 = Clock::now();
  while (!(online(a, b.my_id()) && online(b, a.my_id())) && Clock::now() - t0 < kOutcomeTimeout) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(online(a, b.my_id()) && online(b, a.my_id()));
  ASSERT_TRUE(a.close_meeting().ok());
  ASSERT_TRUE(a.send(b.my_id(), "nice to meet you").ok());
  bool got = false;
  const auto deadline = Clock::now() + kOutcomeTimeout;
  while (!got && Clock::now() < deadline) {
    if (auto e = b.wait_event(50ms)) {
      if (auto* m = std::get_if<MessageReceived>(&*e)) {
        got = m->message.text == "nice to meet you";
      }
    }
  }
  EXPECT_TRUE(got);
}

TEST_F(LanNodes, AProfileCanForbidMeetingMode) {
  Node& n = start("locked-down", "private", "allow_meeting = false\n");
  const auto r = n.open_meeting(60s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.code, sdk::StatusCode::kPermissionDenied);
  EXPECT_NE(r.error.message.find("allow_meeting"), std::string::npos) << r.error.message;
}

// Alice opens a meeting for 1 s. Bob, in a fresh meeting of his own each time, listens for her
// until she is no longer heard: her meeting ended without her closing it. (When the timer fires
// depends on the machine's load; that it fires does not.)
TEST_F(LanNodes, AMeetingEndsByItself) {
  Node& a = start("alice");
  Node& b = start("bob");
  ASSERT_TRUE(a.open_meeting(1s).ok());
  const auto opened = Clock::now();
  std::this_thread::sleep_for(1500ms);
  bool still_heard = true;
  while (still_heard && Clock::now() - opened < kOutcomeTimeout) {
    (void)b.close_meeting();
    ASSERT_TRUE(b.open_meeting(60s).ok());
    still_heard = !wait_met(b, 1, 1500ms).empty();
  }
  EXPECT_FALSE(still_heard) << "alice still announced herself "
                            << std::chrono::duration<double>(Clock::now() - opened).count()
                            << " s after opening a meeting of 1 s";
  std::cout << "[ FIGURES  ] alice no longer heard "
            << std::chrono::duration<double>(Clock::now() - opened).count()
            << " s after opening a meeting of 1 s" << std::endl;
}

TEST_F(LanNodes, AContactFoundOnTheLanMovesToItsLanLinkMidStreamAndLosesNothing) {
  // Both nodes also have transport-udp, less preferred; their codes carry only the UDP endpoint,
  // so they link over UDP at once and find each other on the LAN at the next beacon (2 s).
  const uint16_t a_port = free_port();
  const uint16_t b_port = free_port();
  Node& a = start("alice", "any", "", a_port, 2000);
  Node& b = start("bob", "any", "", b_port, 2000);
  const std::string a_id = a.my_id();
  const std::string b_id = b.my_id();
  ASSERT_TRUE(
      a.add_contact(*b.contact_code({"udp:127.0.0.1:" + std::to_string(b_port)}).value, "bob")
          .ok());
  ASSERT_TRUE(
      b.add_contact(*a.contact_code({"udp:127.0.0.1:" + std::to_string(a_port)}).value, "alice")
          .ok());
  const auto t0 = Clock::now();
  while (!(online(a, b_id) && online(b, a_id)) && Clock::now() - t0 < kOutcomeTimeout) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(online(a, b_id));
  EXPECT_EQ(a.contact(b_id).value->path.rfind("udp:", 0), 0u) << a.contact(b_id).value->path;
  // A stream of messages across the switch, one every 10 ms: at least 200 (2 s), on until the
  // path is the LAN link and then 100 more, or for kOutcomeTimeout.
  std::vector<std::string> texts;
  std::set<std::string> paths;
  int after_switch = 0;
  const auto stream_start = Clock::now();
  while (texts.size() < 200 ||
         (after_switch < 100 && Clock::now() - stream_start < kOutcomeTimeout)) {
    texts.push_back("stream-" + std::to_string(texts.size()));
    ASSERT_TRUE(a.send(b_id, texts.back()).ok());
    paths.insert(a.contact(b_id).value->path.substr(0, 4));
    after_switch += paths.contains("lan:") ? 1 : 0;
    std::this_thread::sleep_for(10ms);
  }
  std::cout << "[ FIGURES  ] " << texts.size() << " messages streamed, "
            << texts.size() - after_switch << " of them before the path was the LAN link"
            << std::endl;
  std::vector<std::string> got;
  const auto deadline = Clock::now() + kOutcomeTimeout;
  while (got.size() < texts.size() && Clock::now() < deadline) {
    if (auto e = b.wait_event(100ms)) {
      if (auto* m = std::get_if<MessageReceived>(&*e)) {
        got.push_back(m->message.text);
      }
    }
  }
  std::this_thread::sleep_for(300ms);
  while (auto e = b.poll_event()) {
    if (auto* m = std::get_if<MessageReceived>(&*e)) {
      got.push_back(m->message.text);
    }
  }
  EXPECT_EQ(got, texts) << "every message once, in order, across the switch";
  EXPECT_TRUE(paths.contains("udp:") && paths.contains("lan:"))
      << "the stream did not run over both links";
  EXPECT_EQ(a.contact(b_id).value->path.rfind("lan:", 0), 0u) << "the LAN link is preferred";
}

} // namespace
} // namespace entre
