// Restrictive networks, built by the test out of network namespaces (root; otherwise it says why
// and skips), with real entre-relay and entre-host processes:
//
//                     bridge "internet" 10.77.0.0/24
//        |               |                 |                 |               |
//     relay (.1)     nat-a (.2)        nat-b (.3)        host c (.4)     host d (.5)
//                        |                 |
//                 host a (10.78.1.2)  host b (10.78.2.2)
//
// - host c's UDP is blocked by the test's own nftables rules: it chats with d through the relay;
// - hosts a and b sit each behind its own NAT (nftables masquerade on nat-a and nat-b): they link
//   through the relay, learn their public UDP addresses from its reflector, exchange them end to
//   end and punch a direct path; the relay then forwards nothing more;
// - c and d (relay only) keep a stream of 10 messages a second going while the relay is killed
//   and restarted 20 times: nothing lost, nothing duplicated, order kept; the time each client
//   took to link again is reported as figures, not asserted (a client may also see two restarts
//   close together as one outage).
//
// Every wait is for an outcome, with a deadline generous enough for a sanitizer build on a
// machine whose every core is busy.
#include "../messaging/host_harness.hpp"
#include "../messaging/relay_harness.hpp"
#include "netns_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <regex>

namespace entre::integ {
namespace {

#define FIGURES std::cout << "[  figures ] "

constexpr uint16_t kRelayPort = 443;
constexpr uint16_t kReflectPort = 3478;
constexpr uint16_t kUdpPort = 7400;
const std::string kRelayAddress = "10.77.0.1";

// Namespaces on one bridge, some behind a NAT of their own; all deleted on destruction.
class Lab {
 public:
  Lab() : tag_("er" + std::to_string(::getpid() % 100000)), ip_(ip_tool()), nft_(nft_tool()) {
    ok_ = add_ns(bridge_ns()) && sh(ip_ + " -n " + bridge_ns() + " link add br0 type bridge") &&
          sh(ip_ + " -n " + bridge_ns() + " link set br0 up");
  }
  ~Lab() {
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      sh(ip_ + " netns del " + *it + " 2>/dev/null");
    }
  }
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::string ns(const std::string& host) const { return tag_ + "-" + host; }
  [[nodiscard]] std::vector<std::string> exec(const std::string& host) const {
    return {ip_, "netns", "exec", ns(host)};
  }

  // A host on the bridge at 10.77.0.<n>.
  bool add_public(const std::string& host, int n) {
    ok_ = ok_ && add_ns(ns(host)) && plug(host, "pub0", "10.77.0." + std::to_string(n) + "/24");
    return ok_;
  }

  // A NAT router on the bridge at 10.77.0.<n>, and behind it `host` at 10.78.<subnet>.2.
  bool add_behind_nat(const std::string& host, const std::string& nat, int n, int subnet) {
    const std::string inside = "10.78." + std::to_string(subnet);
    const std::string v = tag_ + "n" + std::to_string(subnet);
    ok_ = ok_ && add_public(nat, n) && add_ns(ns(host)) &&
          sh(ip_ + " link add " + v + "a type veth peer name " + v + "b") &&
          sh(ip_ + " link set " + v + "a netns " + ns(nat)) &&
          sh(ip_ + " link set " + v + "b netns " + ns(host)) &&
          sh(ip_ + " -n " + ns(nat) + " link set " + v + "a name priv0") &&
          sh(ip_ + " -n " + ns(host) + " link set " + v + "b name lan0") &&
          sh(ip_ + " -n " + ns(nat) + " addr add " + inside + ".1/24 dev priv0") &&
          sh(ip_ + " -n " + ns(nat) + " link set priv0 up") &&
          sh(ip_ + " -n " + ns(host) + " addr add " + inside + ".2/24 dev lan0") &&
          sh(ip_ + " -n " + ns(host) + " link set lan0 up") &&
          sh(ip_ + " -n " + ns(host) + " link set lo up") &&
          sh(ip_ + " -n " + ns(host) + " route add default via " + inside + ".1") &&
          sh(ip_ + " netns exec " + ns(nat) + " sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'") &&
          nft(nat, "add table ip nat") &&
          nft(nat, "add chain ip nat post '{ type nat hook postrouting priority 100; }'") &&
          nft(nat, "add rule ip nat post oifname pub0 masquerade") &&
          // Only answers come in, and an unsolicited packet is dropped before conntrack keeps any
          // state for it (as a home router's stateful firewall does). Linux would otherwise
          // remember it, and the masquerade would then move the host's next outgoing flow to that
          // address to another port: a symmetric NAT, which no hole punching crosses.
          nft(nat, "add table ip guard") &&
          nft(nat, "add chain ip guard pre '{ type filter hook prerouting priority -150; }'") &&
          nft(nat, "add rule ip guard pre iifname pub0 ct state new drop") &&
          nft(nat, "add table inet f") &&
          nft(nat,
              "add chain inet f through '{ type filter hook forward priority 0; policy drop; }'") &&
          nft(nat, "add rule inet f through iifname priv0 accept") &&
          nft(nat, "add rule inet f through ct state established,related accept");
    return ok_;
  }

  // Drops every UDP packet to and from `host` (its own firewall).
  bool block_udp(const std::string& host) {
    ok_ = ok_ && nft(host, "add table inet block") &&
          nft(host, "add chain inet block out '{ type filter hook output priority 0; }'") &&
          nft(host, "add chain inet block in '{ type filter hook input priority 0; }'") &&
          nft(host, "add rule inet block out meta l4proto udp counter drop") &&
          nft(host, "add rule inet block in meta l4proto udp counter drop");
    return ok_;
  }

  // The packets `host`'s UDP rules dropped so far, both directions.
  [[nodiscard]] uint64_t udp_dropped(const std::string& host) const {
    const std::string out = tag_ + "-nft.txt";
    if (!sh(ip_ + " netns exec " + ns(host) + " " + nft_ + " list table inet block > /tmp/" +
            out)) {
      return 0;
    }
    const std::string text = read_file("/tmp/" + out);
    std::filesystem::remove("/tmp/" + out);
    uint64_t sum = 0;
    const std::regex packets("packets ([0-9]+)");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), packets);
         it != std::sregex_iterator(); ++it) {
      sum += std::stoull((*it)[1]);
    }
    return sum;
  }

 private:
  bool add_ns(const std::string& name) {
    if (!sh(ip_ + " netns add " + name)) {
      return false;
    }
    made_.push_back(name);
    return sh(ip_ + " -n " + name + " link set lo up");
  }
  bool plug(const std::string& host, const std::string& dev, const std::string& cidr) {
    const std::string v = tag_ + "v" + std::to_string(++veths_);
    return sh(ip_ + " link add " + v + " type veth peer name " + v + "p") &&
           sh(ip_ + " link set " + v + " netns " + ns(host)) &&
           sh(ip_ + " link set " + v + "p netns " + bridge_ns()) &&
           sh(ip_ + " -n " + bridge_ns() + " link set " + v + "p master br0") &&
           sh(ip_ + " -n " + bridge_ns() + " link set " + v + "p up") &&
           sh(ip_ + " -n " + ns(host) + " link set " + v + " name " + dev) &&
           sh(ip_ + " -n " + ns(host) + " addr add " + cidr + " dev " + dev) &&
           sh(ip_ + " -n " + ns(host) + " link set " + dev + " up");
  }
  bool nft(const std::string& host, const std::string& rule) {
    return sh(ip_ + " netns exec " + ns(host) + " " + nft_ + " " + rule);
  }
  [[nodiscard]] std::string bridge_ns() const { return tag_ + "-br"; }

  std::string tag_;
  std::string ip_;
  std::string nft_;
  std::vector<std::string> made_;
  int veths_ = 0;
  bool ok_ = false;
};

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

// "online <path>" of the first contact, or "" when offline.
std::string contact_path(HostProcess& p) {
  const auto lines = p.command("contacts", true);
  const auto at = lines.at(0).find(" online ");
  if (at == std::string::npos) {
    return {};
  }
  return lines[0].substr(at + 8, lines[0].find(' ', at + 8) - at - 8);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// "min A ms, median B ms, max C ms" of `v`.
std::string spread_ms(const std::vector<double>& v) {
  std::ostringstream out;
  out << "min " << percentile(v, 0) << " ms, median " << percentile(v, 0.5) << " ms, max "
      << percentile(v, 1) << " ms";
  return out.str();
}

class RelayNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string missing = netns_missing(true);
    if (!missing.empty()) {
      if (netns_required()) {
        FAIL() << missing << " (ENTRE_REQUIRE_NETNS=1)";
      }
      GTEST_SKIP() << missing;
    }
    ignore_sigpipe();
    lab_ = std::make_unique<Lab>();
    ASSERT_TRUE(lab_->ok()) << "could not create the namespaces";
    dir_ = std::filesystem::temp_directory_path() /
           ("entre-relay-netns-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(lab_->add_public("relay", 1));
    relay_files_ = write_relay_files(dir_, "relay", ENTRE_PLUGIN_DIR, kRelayPort,
                                     "udp_reflect_port = " + std::to_string(kReflectPort) + "\n",
                                     kRelayAddress);
    relay_key_ = relay_key(relay_files_);
  }
  void TearDown() override {
    relay_.reset();
    if (!dir_.empty() && !HasFailure()) {
      std::filesystem::remove_all(dir_);
    }
    lab_.reset();
  }

  void start_relay() {
    relay_ = std::make_unique<RelayProcess>(relay_files_, false, lab_->exec("relay"));
  }

  [[nodiscard]] std::string relay_address() const {
    return relay_key_ + "@" + kRelayAddress + ":" + std::to_string(kRelayPort);
  }

  // `udp`: transport-udp (preferred, asking the relay's reflector) besides the relay.
  NodeFiles node(const std::string& name, bool udp) {
    std::string transports;
    std::vector<std::string> order;
    if (udp) {
      transports += "[[plugins]]\nid = \"entre.transport.udp\"\n  [plugins.config]\n  bind = "
                    "\"0.0.0.0:" +
                    std::to_string(kUdpPort) + "\"\n  reflectors = [\"" + kRelayAddress + ":" +
                    std::to_string(kReflectPort) + "\"]\n\n";
      order.emplace_back("entre.transport.udp");
    }
    transports += "[[plugins]]\nid = \"entre.transport.tcp-relay\"\n  [plugins.config]\n"
                  "  relays = [\"" +
                  relay_address() + "\"]\n  reconnect_min_ms = 100\n  keepalive_ms = 600000\n";
    order.emplace_back("entre.transport.tcp-relay");
    return write_node_files_with(dir_, name, kUdpPort, ENTRE_PLUGIN_DIR, transports, order,
                                 "keepalive_ms = 600000\nlink_timeout_ms = 1800000\n");
  }

  // Starts both, exchanges codes (`relay_only`: codes that name only the relay) and waits until
  // both see the other online.
  void link(HostProcess& x, HostProcess& y, bool relay_only) {
    x.wait_ready();
    y.wait_ready();
    auto code = [&](HostProcess& p) {
      return relay_only ? p.code({"relay:" + relay_address() + "/" + p.id()}) : p.code();
    };
    ASSERT_EQ(x.add(code(y), "y"), y.id());
    ASSERT_EQ(y.add(code(x), "x"), x.id());
    ASSERT_TRUE(
        eventually([&] { return x.contact_online(y.id()) && y.contact_online(x.id()); }, 60s))
        << "the two never linked";
  }

  std::unique_ptr<Lab> lab_;
  std::filesystem::path dir_;
  RelayFiles relay_files_;
  std::string relay_key_;
  std::unique_ptr<RelayProcess> relay_;
};

std::vector<HistoryEntry> incoming(HostProcess& p, const std::string& contact) {
  std::vector<HistoryEntry> out;
  for (auto& e : p.history(contact)) {
    if (!e.outgoing) {
      out.push_back(std::move(e));
    }
  }
  return out;
}

TEST_F(RelayNetns, AHostWhoseUdpIsBlockedChatsThroughTheRelay) {
  ASSERT_TRUE(lab_->add_public("c", 4) && lab_->add_public("d", 5) && lab_->block_udp("c"));
  start_relay();
  HostProcess c(node("c", true), lab_->exec("c"));
  HostProcess d(node("d", true), lab_->exec("d"));
  link(c, d, false);
  const std::string path = "relay:" + kRelayAddress + ":" + std::to_string(kRelayPort);
  EXPECT_EQ(contact_path(c), path);
  EXPECT_EQ(contact_path(d), path);
  for (int i = 0; i < 50; ++i) {
    c.command_one("send " + d.id() + " from-c-" + std::to_string(i), "queued ");
    d.command_one("send " + c.id() + " from-d-" + std::to_string(i), "queued ");
  }
  ASSERT_TRUE(eventually(
      [&] { return incoming(d, c.id()).size() >= 50 && incoming(c, d.id()).size() >= 50; }, 60s));
  for (HostProcess* p : {&c, &d}) {
    const auto got = incoming(*p, p == &c ? d.id() : c.id());
    ASSERT_EQ(got.size(), 50U);
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].text, std::string(p == &c ? "from-d-" : "from-c-") + std::to_string(i));
      EXPECT_EQ(got[i].path, path);
    }
  }
  const uint64_t dropped = lab_->udp_dropped("c");
  FIGURES << "host c's firewall dropped " << dropped << " UDP packets (its direct attempts)\n";
  EXPECT_GT(dropped, 0U) << "the direct path was tried, and blocked";
}

TEST_F(RelayNetns, TwoHostsBehindNatsPunchADirectPathWithTheRelaysHelp) {
  ASSERT_TRUE(lab_->add_behind_nat("a", "nat-a", 2, 1) && lab_->add_behind_nat("b", "nat-b", 3, 2));
  start_relay();
  HostProcess a(node("a", true), lab_->exec("a"));
  HostProcess b(node("b", true), lab_->exec("b"));
  const auto start = Clock::now();
  link(a, b, /*relay_only=*/true);
  ASSERT_TRUE(eventually(
      [&] {
        return starts_with(contact_path(a), "udp:10.77.0.3:") &&
               starts_with(contact_path(b), "udp:10.77.0.2:");
      },
      60s))
      << "no direct path: a on " << contact_path(a) << ", b on " << contact_path(b);
  FIGURES << "behind two NATs: direct UDP path "
          << std::chrono::duration<double>(Clock::now() - start).count()
          << " s after the codes were added; a reaches b at " << contact_path(a)
          << ", b reaches a at " << contact_path(b) << "\n";
  ASSERT_TRUE(relay_->wait_stats([](RelayStats& s) {
    return s["frames_forwarded"] > 0 && s["reflections"] >= 2;
  })) << "the relay carried the first link and reflected both public addresses";
  const uint64_t before = relay_->settled("frames_forwarded");
  for (int i = 0; i < 100; ++i) {
    a.command_one("send " + b.id() + " nat-a-" + std::to_string(i), "queued ");
    b.command_one("send " + a.id() + " nat-b-" + std::to_string(i), "queued ");
  }
  ASSERT_TRUE(eventually(
      [&] { return incoming(b, a.id()).size() >= 100 && incoming(a, b.id()).size() >= 100; }, 60s));
  for (const auto& e : incoming(b, a.id())) {
    EXPECT_TRUE(starts_with(e.path, "udp:10.77.0.2:")) << e.text << " via " << e.path;
  }
  const uint64_t after = relay_->settled("frames_forwarded");
  FIGURES << "relay-forwarded frames: " << before << " when the direct path came up, " << after
          << " after 200 more messages\n";
  EXPECT_EQ(after, before) << "once direct, the relay forwards nothing";

  // The direct path breaks (host a's firewall now drops UDP): the relayed link, kept as the
  // fallback, carries on, and nothing is lost or duplicated.
  ASSERT_TRUE(lab_->block_udp("a"));
  const auto broken = Clock::now();
  for (int i = 0; i < 20; ++i) {
    a.command_one("send " + b.id() + " fallback-a-" + std::to_string(i), "queued ");
    b.command_one("send " + a.id() + " fallback-b-" + std::to_string(i), "queued ");
  }
  ASSERT_TRUE(eventually(
      [&] { return incoming(b, a.id()).size() >= 120 && incoming(a, b.id()).size() >= 120; }, 60s))
      << "b has " << incoming(b, a.id()).size() << ", a has " << incoming(a, b.id()).size();
  FIGURES << "direct path blocked: 40 messages delivered through the relayed fallback in "
          << std::chrono::duration<double>(Clock::now() - broken).count() << " s\n";
  std::this_thread::sleep_for(1s);
  for (HostProcess* p : {&a, &b}) {
    const auto got = incoming(*p, p == &a ? b.id() : a.id());
    ASSERT_EQ(got.size(), 120U) << "exactly once";
    const std::string tag = p == &a ? "fallback-b-" : "fallback-a-";
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(got[static_cast<std::size_t>(100 + i)].text, tag + std::to_string(i)) << "in order";
    }
  }
  EXPECT_TRUE(eventually([&] { return starts_with(contact_path(a), "relay:"); }, 60s))
      << contact_path(a);
}

TEST_F(RelayNetns, RelayKilledAndRestarted20TimesLosesAndDuplicatesNothing) {
  ASSERT_TRUE(lab_->add_public("c", 4) && lab_->add_public("d", 5));
  start_relay();
  HostProcess c(node("c", false), lab_->exec("c"));
  HostProcess d(node("d", false), lab_->exec("d"));
  link(c, d, false);

  std::atomic<bool> streaming{true};
  std::atomic<int> queued{0};
  std::string stream_error;
  std::thread sender([&] {
    try {
      for (int i = 0; streaming.load(); ++i) {
        c.command_one("send " + d.id() + " tick-" + std::to_string(i), "queued ");
        queued.fetch_add(1);
        std::this_thread::sleep_for(100ms);
      }
    } catch (const std::exception& e) {
      stream_error = e.what();
    }
  });
  std::mt19937 rng(std::random_device{}());
  std::vector<double> down_ms;
  for (int round = 0; round < 20; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    const auto killed = Clock::now();
    relay_->kill9();
    relay_.reset();
    start_relay();
    down_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - killed).count());
  }
  std::this_thread::sleep_for(2s);
  streaming = false;
  sender.join();
  ASSERT_TRUE(stream_error.empty()) << stream_error;
  const int sent = queued.load();
  ASSERT_TRUE(eventually(
      [&] { return incoming(d, c.id()).size() >= static_cast<std::size_t>(sent); }, 120s))
      << "only " << incoming(d, c.id()).size() << " of " << sent << " arrived";
  std::this_thread::sleep_for(1s);
  const auto got = incoming(d, c.id());
  ASSERT_EQ(got.size(), static_cast<std::size_t>(sent)) << "nothing lost, nothing duplicated";
  for (int i = 0; i < sent; ++i) {
    EXPECT_EQ(got[static_cast<std::size_t>(i)].text, "tick-" + std::to_string(i)) << "in order";
  }

  // Each client logs how long its link to the relay was down ("linked to relay ... again after
  // N ms"): from the moment it saw the link drop to the relay's welcome. How many outages a
  // client saw depends on the scheduler (a restart that comes before it noticed the last one is
  // one outage to it), so the count and the times are figures; that each client came back after
  // the restarts is what the delivery above proves, and that each logged it is checked.
  std::vector<double> relink_ms;
  for (const NodeFiles* f : {&c.files(), &d.files()}) {
    const std::string log = read_file(f->log);
    const std::regex again("again after ([0-9]+) ms");
    std::size_t relinks = 0;
    for (auto it = std::sregex_iterator(log.begin(), log.end(), again);
         it != std::sregex_iterator(); ++it) {
      relink_ms.push_back(std::stod((*it)[1]));
      ++relinks;
    }
    EXPECT_GT(relinks, 0U) << f->name << " never logged linking to the relay again";
  }
  FIGURES << sent << " messages at 10/s across 20 relay restarts: all delivered once, in order\n";
  FIGURES << "relay down (kill to listening again): " << spread_ms(down_ms) << "\n";
  FIGURES << "client relink (link lost to welcome), " << relink_ms.size()
          << " relinks of 40 possible: " << spread_ms(relink_ms) << "\n";
}

} // namespace
} // namespace entre::integ
