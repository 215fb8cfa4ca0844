// LAN-only chat across three hosts: network namespaces joined by one bridge, created by the test
// (root only; otherwise it says why and skips), with no default route and no other network.
//
//     host a (10.77.0.1)   host b (10.77.0.2)   host c (10.77.0.3)
//          entre-host           entre-host          beacon recorder
//              \___________________|___________________/
//                          bridge (own namespace)
//
// a and b are contacts whose codes name no reachable endpoint, so they can only find each other
// by their beacons (transport-lan, 1 s interval). The test restarts both several times and
// measures from the processes' start to both seeing the other online (median reported, target
// 2 s); then a sends 1,000 messages that must arrive exactly once and in order. Host c is nobody's
// contact: it records every beacon on the group, and must find nothing that ties a beacon of one
// epoch to a beacon of the next (no shared tag, no counter that carries on).
#include "../messaging/host_harness.hpp"
#include "discovery/beacon.hpp"
#include "netns_support.hpp"

#include <entre/sdk/net.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>

namespace entre::integ {
namespace {

constexpr int kHosts = 3;
constexpr const char* kGroup = "239.255.77.77";
constexpr uint16_t kGroupPort = 7402;
constexpr int kRestarts = 5;
constexpr int kMessages = 1000;
// How long a test waits for an outcome (found, linked, delivered) before it fails: generous, for
// a sanitizer build on a machine whose every core is busy. How long it took is a figure.
constexpr auto kOutcomeTimeout = 60s;

// The namespaces and the bridge; everything is deleted again on destruction.
class Topology {
 public:
  Topology() : tag_("entre" + std::to_string(::getpid() % 100000)) {
    const std::string ip = ip_tool();
    ok_ = !ip.empty() && run(ip + " netns add " + bridge_ns()) &&
          run(ip + " -n " + bridge_ns() + " link add br0 type bridge mcast_snooping 0") &&
          run(ip + " -n " + bridge_ns() + " link set br0 up");
    for (int i = 0; ok_ && i < kHosts; ++i) {
      const std::string host = ns(i);
      const std::string v = tag_ + "v" + std::to_string(i);
      const std::string p = tag_ + "p" + std::to_string(i);
      ok_ = run(ip + " netns add " + host) &&
            run(ip + " link add " + v + " type veth peer name " + p) &&
            run(ip + " link set " + v + " netns " + host) &&
            run(ip + " link set " + p + " netns " + bridge_ns()) &&
            run(ip + " -n " + bridge_ns() + " link set " + p + " master br0") &&
            run(ip + " -n " + bridge_ns() + " link set " + p + " up") &&
            run(ip + " -n " + host + " link set " + v + " name lan0") &&
            // IPv6 link-local addresses usable at once (no duplicate address detection wait).
            run(ip + " netns exec " + host +
                " sh -c 'echo 0 > /proc/sys/net/ipv6/conf/lan0/accept_dad'") &&
            run(ip + " -n " + host + " addr add " + address(i) + "/24 dev lan0") &&
            run(ip + " -n " + host + " link set lan0 up") &&
            run(ip + " -n " + host + " link set lo up");
    }
  }
  ~Topology() {
    const std::string ip = ip_tool();
    for (int i = 0; i < kHosts; ++i) {
      run(ip + " netns del " + ns(i) + " 2>/dev/null");
    }
    run(ip + " netns del " + bridge_ns() + " 2>/dev/null");
  }
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::string ns(int i) const { return tag_ + "-h" + std::to_string(i); }
  [[nodiscard]] std::string bridge_ns() const { return tag_ + "-br"; }
  [[nodiscard]] static std::string address(int i) { return "10.77.0." + std::to_string(i + 1); }

 private:
  static bool run(const std::string& command) { return std::system(command.c_str()) == 0; }
  std::string tag_;
  bool ok_ = false;
};

// Host c: joins the group in its namespace and keeps every datagram (a thread of this process
// moved into the namespace).
class BeaconRecorder {
 public:
  struct Heard {
    std::string from;
    std::vector<uint8_t> bytes;
  };

  BeaconRecorder(const std::string& ns, const std::string& address) {
    thread_ = std::thread([this, ns, address] { run(ns, address); });
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return ready_; });
  }
  ~BeaconRecorder() {
    stop_ = true;
    thread_.join();
  }
  [[nodiscard]] bool listening() {
    std::lock_guard lock(mu_);
    return listening_;
  }
  std::vector<Heard> heard() {
    std::lock_guard lock(mu_);
    return heard_;
  }

 private:
  void run(const std::string& ns, const std::string& address) {
    const int nsfd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    int fd = -1;
    if (nsfd >= 0 && ::setns(nsfd, CLONE_NEWNET) == 0) {
      fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      const int one = 1;
      (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in at{};
      at.sin_family = AF_INET;
      at.sin_port = htons(kGroupPort);
      ::inet_pton(AF_INET, kGroup, &at.sin_addr);
      ip_mreq join{};
      ::inet_pton(AF_INET, kGroup, &join.imr_multiaddr);
      ::inet_pton(AF_INET, address.c_str(), &join.imr_interface);
      timeval tick{0, 100000};
      (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
          ::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof join) != 0) {
        ::close(fd);
        fd = -1;
      }
    }
    if (nsfd >= 0) {
      ::close(nsfd);
    }
    {
      std::lock_guard lock(mu_);
      listening_ = fd >= 0;
      ready_ = true;
    }
    cv_.notify_all();
    std::vector<uint8_t> buf(2048);
    while (fd >= 0 && !stop_) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n =
          ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n > 0) {
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &from.sin_addr, text, sizeof text);
        std::lock_guard lock(mu_);
        heard_.push_back({text, {buf.begin(), buf.begin() + n}});
      }
    }
    if (fd >= 0) {
      ::close(fd);
    }
  }

  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  bool listening_ = false;
  std::vector<Heard> heard_;
};

// `v6`: IPv6 only, beacons on the link-local group ff02::7e.
NodeFiles write_lan_node(const std::filesystem::path& dir, const std::string& name,
                         bool v6 = false) {
  const NodeFiles f = node_files(dir, name, 7401);
  std::ofstream profile(f.profile);
  profile << "# " << name << ": written by the LAN network-namespace test\n"
          << "[node]\nname = \"" << name << "\"\ndata_dir = \"" << f.data_dir.string() << "\"\n"
          << "network_scope = \"private\"\n\n"
          << "[log]\nlevel = \"info\"\n\n"
          << "[loader]\nsearch_paths = [\"" << ENTRE_PLUGIN_DIR << "\"]\n\n"
          << "[[plugins]]\nid = \"entre.transport.lan\"\n  [plugins.config]\n"
          << (v6 ? "  bind = \"[::]:7401\"\n  group = \"[ff02::7e]:7402\"\n"
                 : "  bind = \"0.0.0.0:7401\"\n  group = \"" + std::string(kGroup) + ":" +
                       std::to_string(kGroupPort) + "\"\n")
          << "  interfaces = [\"lan0\"]\n  beacon_interval_ms = 1000\n\n"
          << "[[plugins]]\nid = \"entre.crypto.sodium\"\n\n"
          << "[[plugins]]\nid = \"entre.storage.sqlite\"\n\n"
          << "[transport]\norder = [\"entre.transport.lan\"]\n\n"
          << "[discovery]\nepoch_seconds = 10\n\n"
          << "[crypto]\nsuite = \"entre.crypto.sodium\"\nkdf = \"interactive\"\n\n"
          << "[storage]\nplugin = \"entre.storage.sqlite\"\n";
  std::ofstream pass(f.passphrase);
  pass << "lan passphrase of " << name << "\n";
  return f;
}

bool eventually_true(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                     std::chrono::milliseconds step = 20ms) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(step);
  }
  return done();
}

// Runs `body` on a thread of this process moved into network namespace `ns`.
void in_namespace(const std::string& ns, const std::function<void()>& body) {
  const int nsfd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd >= 0 && ::setns(nsfd, CLONE_NEWNET) == 0) {
    body();
  }
  if (nsfd >= 0) {
    ::close(nsfd);
  }
}

// Every Ethernet frame seen on host c's interface (the bridge floods broadcasts such as ARP to
// it): IPv4 packets and ARP requests whose address is off the local network are counted.
class WireWatch {
 public:
  explicit WireWatch(const std::string& ns) {
    thread_ = std::thread([this, ns] {
      in_namespace(ns, [this] {
        const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        sockaddr_ll at{};
        at.sll_family = AF_PACKET;
        at.sll_protocol = htons(ETH_P_ALL);
        at.sll_ifindex = static_cast<int>(::if_nametoindex("lan0"));
        timeval tick{0, 100000};
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
        const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) == 0;
        listening_ = ok;
        started_ = true;
        std::vector<uint8_t> frame(4096);
        while (ok && !stop_) {
          const ssize_t n = ::recv(fd, frame.data(), frame.size(), 0);
          if (n > 14) {
            look_at(frame.data(), static_cast<std::size_t>(n));
          }
        }
        if (fd >= 0) {
          ::close(fd);
        }
      });
      started_ = true;
    });
    while (!started_) {
      std::this_thread::sleep_for(1ms);
    }
  }
  ~WireWatch() {
    stop_ = true;
    thread_.join();
  }
  [[nodiscard]] bool listening() const { return listening_; }
  [[nodiscard]] uint64_t frames() const { return frames_; }
  [[nodiscard]] uint64_t off_network() const { return off_network_; }

 private:
  static std::string ipv4(const uint8_t* p) {
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, p, text, sizeof text);
    return text;
  }
  void look_at(const uint8_t* f, std::size_t n) {
    ++frames_;
    const unsigned type = (unsigned{f[12]} << 8) | f[13];
    if (type == 0x0800 && n >= 14 + 20 && !sdk::is_local_network(ipv4(f + 14 + 16))) {
      ++off_network_;
    } else if (type == 0x0806 && n >= 14 + 28 && !sdk::is_local_network(ipv4(f + 14 + 24))) {
      ++off_network_;
    }
  }
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> listening_{false};
  std::atomic<uint64_t> frames_{0};
  std::atomic<uint64_t> off_network_{0};
};

// CPU seconds (user + system) and resident MiB of a process.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto fields = split(stat.substr(stat.rfind(')') + 2));
  return fields.size() > 13 ? (std::stod(fields[11]) + std::stod(fields[12])) /
                                  static_cast<double>(::sysconf(_SC_CLK_TCK))
                            : -1;
}
double rss_mib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (starts_with(line, "VmRSS:")) {
      return std::stod(line.substr(6)) / 1024.0;
    }
  }
  return -1;
}

// Each test gets its own topology and directory; without root or the 'ip' tool it is skipped
// with the reason.
class LanNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string missing = netns_missing(false);
    if (!missing.empty()) {
      if (netns_required()) {
        FAIL() << missing << " (ENTRE_REQUIRE_NETNS=1)";
      }
      GTEST_SKIP() << missing;
    }
    ignore_sigpipe();
    net_ = std::make_unique<Topology>();
    ASSERT_TRUE(net_->ok()) << "could not create the namespaces and the bridge";
    dir_ = std::filesystem::temp_directory_path() /
           ("entre-lan-netns-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty() && !HasFailure()) {
      std::filesystem::remove_all(dir_);
    }
    net_.reset();
  }
  // entre-host in host `i`'s namespace.
  [[nodiscard]] std::vector<std::string> in_host(int i) const {
    return {ip_tool(), "netns", "exec", net_->ns(i)};
  }

  std::unique_ptr<Topology> net_;
  std::filesystem::path dir_;
};

TEST_F(LanNetns, ContactsFindEachOtherChatExactlyOnceAndAStrangerCannotLinkBeacons) {
  Topology& net = *net_;
  const std::filesystem::path& dir = dir_;
  BeaconRecorder recorder(net.ns(2), Topology::address(2));
  ASSERT_TRUE(recorder.listening()) << "host c could not join the group";

  const NodeFiles fa = write_lan_node(dir, "alice");
  const NodeFiles fb = write_lan_node(dir, "bob");
  auto spawn = [&](const NodeFiles& f, int host) {
    auto p = std::make_unique<HostProcess>(f, in_host(host));
    return p;
  };
  auto a = spawn(fa, 0);
  auto b = spawn(fb, 1);
  a->wait_ready();
  b->wait_ready();
  const std::string a_id = a->id();
  const std::string b_id = b->id();
  // Codes that name an address nobody has: only the beacons can bring the two together.
  ASSERT_EQ(a->add(b->code({"lan:10.77.0.99:7401"}), "bob"), b_id);
  ASSERT_EQ(b->add(a->code({"lan:10.77.0.99:7401"}), "alice"), a_id);
  auto both_online = [&] { return a->contact_online(b_id) && b->contact_online(a_id); };
  ASSERT_TRUE(eventually_true(both_online, kOutcomeTimeout)) << "a and b never found each other";

  std::vector<double> found_ms;
  for (int round = 0; round < kRestarts; ++round) {
    a->quit();
    b->quit();
    const auto t0 = Clock::now();
    a = spawn(fa, 0);
    b = spawn(fb, 1);
    a->wait_ready();
    b->wait_ready();
    ASSERT_TRUE(eventually_true(both_online, kOutcomeTimeout)) << "round " << round;
    found_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(found_ms.begin(), found_ms.end());
  const double median = found_ms[found_ms.size() / 2];
  // A figure: it includes starting two processes and unlocking two identities (Argon2id).
  std::cout << "[  figures ] start of both processes to both online (unlock included), "
            << kRestarts << " restarts: median " << median << " ms, min " << found_ms.front()
            << " ms, max " << found_ms.back() << " ms" << std::endl;

  // 1,000 messages a -> b, written ahead of their answers.
  std::vector<std::string> texts;
  for (int i = 0; i < kMessages; ++i) {
    texts.push_back("lan-" + std::to_string(i));
  }
  for (const auto& t : texts) {
    ASSERT_TRUE(a->write_line("send " + b_id + " " + t));
  }
  for (int i = 0; i < kMessages; ++i) {
    const auto r = a->next_response(Clock::now() + kCommandTimeout);
    ASSERT_TRUE(r && starts_with(*r, "queued ")) << (r ? *r : std::string("no answer"));
  }
  std::vector<std::string> got;
  ASSERT_TRUE(eventually_true(
      [&] {
        got.clear();
        for (const auto& e : b->history(a_id)) {
          if (!e.outgoing) {
            got.push_back(e.text);
          }
        }
        return got.size() >= texts.size();
      },
      kOutcomeTimeout, 200ms));
  EXPECT_EQ(got, texts) << "every message exactly once, in order";

  // The stranger needs beacons of two epochs (10 s each).
  auto epochs_heard = [&] {
    std::set<uint64_t> epochs;
    for (const auto& h : recorder.heard()) {
      if (auto p = discovery::parse_beacon(h.bytes)) {
        epochs.insert(p->epoch);
      }
    }
    return epochs;
  };
  ASSERT_TRUE(eventually_true([&] { return epochs_heard().size() >= 2; }, kOutcomeTimeout, 200ms));
  a->quit();
  b->quit();

  // What host c can do with the beacons' bytes: per epoch, the tags and counters it saw.
  const auto heard = recorder.heard();
  std::map<uint64_t, std::set<std::vector<uint8_t>>> tags_by_epoch;
  std::map<std::pair<std::string, uint64_t>, std::vector<uint32_t>> counters;
  std::set<std::size_t> sizes;
  for (const auto& h : heard) {
    const auto p = discovery::parse_beacon(h.bytes);
    ASSERT_TRUE(p) << "host c heard a datagram that is not a beacon";
    sizes.insert(h.bytes.size());
    for (std::size_t at = 0; at < p->entries.size(); at += discovery::kEntryBytes) {
      tags_by_epoch[p->epoch].emplace(p->entries.begin() + static_cast<std::ptrdiff_t>(at),
                                      p->entries.begin() +
                                          static_cast<std::ptrdiff_t>(at + discovery::kTagBytes));
    }
    counters[{h.from, p->epoch}].push_back(p->counter);
  }
  EXPECT_EQ(sizes.size(), 1u) << "beacons of different sizes";
  std::size_t pairs = 0;
  for (auto it = tags_by_epoch.begin(); std::next(it) != tags_by_epoch.end(); ++it) {
    const auto& now = it->second;
    const auto& next = std::next(it)->second;
    for (const auto& tag : now) {
      EXPECT_FALSE(next.contains(tag)) << "a tag of epoch " << it->first << " came back";
    }
    ++pairs;
  }
  EXPECT_GE(pairs, 1u);
  for (const auto& [key, list] : counters) {
    const auto next = counters.find({key.first, key.second + 1});
    if (next != counters.end()) {
      EXPECT_NE(next->second.front(), list.back() + 1)
          << "a counter carried on into the next epoch";
    }
  }
  std::cout << "[  figures ] host c recorded " << heard.size() << " beacons over "
            << tags_by_epoch.size() << " epochs; no tag or counter links two epochs" << std::endl;
}

// Hosts a and b run configs/lan-only.toml unchanged.
TEST_F(LanNetns, AFloodOfBogusBeaconsLeavesTheNodeResponsiveAndNothingGoesOffTheLan) {
  Topology& net = *net_;
  const std::filesystem::path& dir = dir_;
  WireWatch wire(net.ns(2));
  ASSERT_TRUE(wire.listening()) << "host c cannot capture on its interface";

  // Both run the shipped LAN-only profile as it is, each with its own home directory.
  auto shipped = [&](const std::string& name) {
    NodeFiles f = node_files(dir, name, 7401);
    f.profile = std::filesystem::path(ENTRE_SOURCE_DIR) / "configs" / "lan-only.toml";
    f.data_dir = dir / ("home-" + name) / ".local" / "share" / "entre" / "lan-only";
    std::ofstream(f.passphrase) << "lan-only passphrase of " << name << "\n";
    return f;
  };
  const NodeFiles fa = shipped("alice");
  const NodeFiles fb = shipped("bob");
  const std::string home = std::getenv("HOME") != nullptr ? std::getenv("HOME") : "";
  ::setenv("HOME", (dir / "home-alice").c_str(), 1);
  HostProcess a(fa, in_host(0));
  ::setenv("HOME", (dir / "home-bob").c_str(), 1);
  const auto b_started = Clock::now();
  HostProcess b(fb, in_host(1));
  ::setenv("HOME", home.c_str(), 1);
  a.wait_ready();
  b.wait_ready();
  const std::string a_id = a.id();
  const std::string b_id = b.id();
  ASSERT_EQ(a.add(b.code({"lan:10.77.0.99:7401"}), "bob"), b_id);
  ASSERT_EQ(b.add(a.code({"lan:10.77.0.99:7401"}), "alice"), a_id);
  ASSERT_TRUE(eventually_true([&] { return a.contact_online(b_id) && b.contact_online(a_id); },
                              kOutcomeTimeout));

  // The LAN-only node refuses a code that names a public address, and says why.
  const auto refused = a.command("add " + b.code({"udp:198.51.100.7:7400"}) + " far");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_TRUE(starts_with(refused.front(), "error ")) << refused.front();
  EXPECT_NE(refused.front().find("198.51.100.7"), std::string::npos) << refused.front();
  EXPECT_NE(refused.front().find("private"), std::string::npos) << refused.front();

  // Host c floods the group with 10,000 bogus beacons a second for 5 s.
  constexpr int kPerSecond = 10000;
  constexpr int kFloodSeconds = 5;
  std::atomic<uint64_t> flooded{0};
  std::atomic<bool> flooding{true};
  std::thread flooder([&] {
    in_namespace(net.ns(2), [&] {
      const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      in_addr out{};
      ::inet_pton(AF_INET, Topology::address(2).c_str(), &out);
      (void)::setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &out, sizeof out);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(kGroupPort);
      ::inet_pton(AF_INET, kGroup, &to.sin_addr);
      std::mt19937 rng(7);
      std::vector<uint8_t> junk(1100);
      const auto t0 = Clock::now();
      for (int tick = 0; tick < kFloodSeconds * 100; ++tick) {
        for (int i = 0; i < kPerSecond / 100; ++i) {
          const std::size_t n = 15 + rng() % 1000;
          for (std::size_t k = 0; k < n; ++k) {
            junk[k] = static_cast<uint8_t>(rng());
          }
          junk[0] = 1; // version 1, so that some pass the first check
          junk[1] = 0;
          if (::sendto(fd, junk.data(), n, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) > 0) {
            ++flooded;
          }
        }
        std::this_thread::sleep_until(t0 + (tick + 1) * 10ms);
      }
      ::close(fd);
    });
    flooding = false;
  });
  const double cpu0 = cpu_seconds(b.pid());
  const double rss0 = rss_mib(b.pid());
  const auto t0 = Clock::now();
  // Messages keep flowing both ways during the flood.
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    texts.push_back("during-flood-" + std::to_string(i));
    ASSERT_EQ(a.command("send " + b_id + " " + texts.back()).front().substr(0, 7), "queued ");
    if (i % 20 == 0) {
      ASSERT_EQ(b.command("send " + a_id + " reply-" + std::to_string(i)).front().substr(0, 7),
                "queued ");
    }
  }
  std::vector<std::string> got;
  const bool all_in = eventually_true(
      [&] {
        got.clear();
        for (const auto& e : b.history(a_id)) {
          if (!e.outgoing) {
            got.push_back(e.text);
          }
        }
        return got.size() >= texts.size();
      },
      kOutcomeTimeout, 100ms);
  const double delivered_s = std::chrono::duration<double>(Clock::now() - t0).count();
  flooder.join();
  const double flood_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double cpu1 = cpu_seconds(b.pid());
  const double rss1 = rss_mib(b.pid());
  EXPECT_TRUE(all_in);
  EXPECT_EQ(got, texts) << "every message exactly once, in order, during the flood";
  EXPECT_GE(flooded.load(), uint64_t{kPerSecond} * kFloodSeconds * 9 / 10);
  Counters cb = b.counters();
  const double b_up_s = std::chrono::duration<double>(Clock::now() - b_started).count();
  EXPECT_GT(cb["beacons_refused"], 0u);
  // The kernel saw no more beacons than the limit lets through (lan-only.toml keeps the default
  // max_beacons_per_second, 200, with bursts of as many) in the time bob has been up.
  EXPECT_LE(static_cast<double>(cb["beacons_refused"]), 200.0 * (b_up_s + 1))
      << "beacons past the rate limit reached the kernel";
  EXPECT_LT(rss1 - rss0, 16.0) << "resident memory grew under the flood";
  EXPECT_TRUE(b.contact_online(a_id));
  std::cout << "[  figures ] flood: " << flooded.load() << " bogus beacons in " << flood_s
            << " s; 200 messages delivered after " << delivered_s << " s; bob used "
            << 100.0 * (cpu1 - cpu0) / flood_s << "% of one core; RSS " << rss0 << " -> " << rss1
            << " MiB; bob's kernel refused " << cb["beacons_refused"] << " beacons" << std::endl;
  a.quit();
  b.quit();
  // The LAN-only node says at start that it keeps to the local network.
  EXPECT_NE(read_file(fa.log).find("network scope: private"), std::string::npos);
  // transport-lan dropped most of the flood before the kernel, and says how many when it stops.
  const std::string log = read_file(fb.log);
  const auto said = log.find("lan: stopped; dropped ");
  ASSERT_NE(said, std::string::npos);
  // How many it dropped depends on how many the receiving socket took before it overflowed, so
  // on how busy the machine was: a figure, and more than none.
  const uint64_t over_rate = std::stoull(log.substr(said + 22));
  EXPECT_GT(over_rate, 0u) << log.substr(said, 200);
  std::cout << "[  figures ] " << log.substr(said, log.find('\n', said) - said) << std::endl;
  EXPECT_GT(wire.frames(), 0u);
  EXPECT_EQ(wire.off_network(), 0u) << "a packet or an ARP request for an address off the LAN";
  std::cout << "[  figures ] host c saw " << wire.frames()
            << " frames on the LAN, none for an address off it" << std::endl;
}

TEST_F(LanNetns, InMeetingModeTwoStrangersBecomeContactsAndTheirSafetyNumbersMatch) {
  const std::filesystem::path& dir = dir_;
  HostProcess a(write_lan_node(dir, "alice"), in_host(0));
  HostProcess b(write_lan_node(dir, "bob"), in_host(1));
  HostProcess c(write_lan_node(dir, "carol"), in_host(2));
  a.wait_ready();
  b.wait_ready();
  c.wait_ready();
  const std::string a_id = a.id();
  const std::string b_id = b.id();
  EXPECT_EQ(a.command("meet 60").front(), "meeting 60");
  EXPECT_EQ(b.command("meet 60").front(), "meeting 60");
  ASSERT_TRUE(eventually_true(
      [&] { return a.events().met.contains(b_id) && b.events().met.contains(a_id); },
      kOutcomeTimeout));
  const EventLog::Met a_saw = a.events().met.at(b_id);
  const EventLog::Met b_saw = b.events().met.at(a_id);
  EXPECT_EQ(a_saw.safety_number, b_saw.safety_number) << "the two screens differ";
  EXPECT_TRUE(c.events().met.empty()) << "carol, not in meeting mode, was told of a meeting";
  EXPECT_EQ(a.add(a_saw.code, "bob"), b_id);
  EXPECT_EQ(b.add(b_saw.code, "alice"), a_id);
  ASSERT_TRUE(eventually_true([&] { return a.contact_online(b_id) && b.contact_online(a_id); },
                              kOutcomeTimeout));
  EXPECT_EQ(a.command("meet off").front(), "meeting closed");
  ASSERT_EQ(a.command("send " + b_id + " hello from the meeting").front().substr(0, 7), "queued ");
  EXPECT_TRUE(
      eventually_true([&] { return b.events().message_texts.contains("hello from the meeting"); },
                      kOutcomeTimeout));
  std::cout << "[  figures ] meeting: both saw safety number " << a_saw.safety_number << std::endl;
  a.quit();
  b.quit();
  c.quit();
}

TEST_F(LanNetns, OverIPv6LinkLocalContactsFindEachOtherAndChat) {
  const std::filesystem::path& dir = dir_;
  HostProcess a(write_lan_node(dir, "alice6", true), in_host(0));
  HostProcess b(write_lan_node(dir, "bob6", true), in_host(1));
  a.wait_ready();
  b.wait_ready();
  const std::string a_id = a.id();
  const std::string b_id = b.id();
  ASSERT_EQ(a.add(b.code({"lan:[fd00::99]:7401"}), "bob"), b_id);
  ASSERT_EQ(b.add(a.code({"lan:[fd00::99]:7401"}), "alice"), a_id);
  ASSERT_TRUE(eventually_true([&] { return a.contact_online(b_id) && b.contact_online(a_id); },
                              kOutcomeTimeout))
      << "no IPv6 link between a and b";
  std::string path;
  for (const auto& l : a.command("contacts", true)) {
    if (starts_with(l, "contact " + b_id + " online ")) {
      path = split(l)[3];
    }
  }
  EXPECT_EQ(path.rfind("lan:[fe80::", 0), 0u) << "not a link-local path: " << path;
  ASSERT_EQ(a.command("send " + b_id + " over ipv6").front().substr(0, 7), "queued ");
  EXPECT_TRUE(eventually_true([&] { return b.events().message_texts.contains("over ipv6"); },
                              kOutcomeTimeout));
  std::cout << "[  figures ] IPv6: a reaches b at " << path << std::endl;
  a.quit();
  b.quit();
}

} // namespace
} // namespace entre::integ
