// entre-impair as a real process between real sockets:
//
//   client socket(s) --> [127.0.0.1:P] entre-impair --> [127.0.0.1:E] echo server (this test)
//                    <--                             <--
//
// The echo server sends every datagram back to where it came from, so each datagram crosses the
// proxy twice: impairments apply once per direction.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace entre {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return done();
    }
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// Waits until `count()` stays the same for `quiet` (what was on its way has arrived), at most
// 30 s: how long the datagrams took depends on how busy the machine is, what arrives does not.
void wait_quiet(const std::function<std::size_t()>& count, std::chrono::milliseconds quiet = 1s) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::size_t last = count();
  auto same_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - same_since < quiet &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
    if (const std::size_t now = count(); now != last) {
      last = now;
      same_since = std::chrono::steady_clock::now();
    }
  }
}

// entre-impair as a child process, its stdout and stderr in a file.
class ImpairProcess {
 public:
  explicit ImpairProcess(const std::vector<std::string>& args) {
    static std::atomic<int> counter{0};
    out_ = std::filesystem::temp_directory_path() /
           ("entre-impair-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
            ".out");
    std::vector<std::string> argv_strings = {ENTRE_IMPAIR};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) {
      argv.push_back(s.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
    }
  }
  ~ImpairProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ignored;
    std::filesystem::remove(out_, ignored);
  }
  ImpairProcess(const ImpairProcess&) = delete;
  ImpairProcess& operator=(const ImpairProcess&) = delete;

  [[nodiscard]] bool spawned() const { return pid_ > 0; }

  [[nodiscard]] std::string output() const {
    std::ifstream in(out_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // The port from "listening on 127.0.0.1:PORT,", once printed.
  [[nodiscard]] std::optional<uint16_t> wait_listening() const {
    std::optional<uint16_t> port;
    (void)wait_for(
        [&] {
          const std::string text = output();
          const std::string marker = "listening on 127.0.0.1:";
          const auto at = text.find(marker);
          if (at == std::string::npos || text.find(',', at) == std::string::npos) {
            return false;
          }
          port = static_cast<uint16_t>(std::stoi(text.substr(at + marker.size())));
          return true;
        },
        10s);
    return port;
  }

  // Sends `signal` (if given), waits for the exit and returns the exit status, -1 if killed
  // by a signal or still running after the timeout.
  int finish(std::optional<int> signal = std::nullopt) {
    if (pid_ <= 0) {
      return -1;
    }
    if (signal) {
      ::kill(pid_, *signal);
    }
    int status = 0;
    const bool exited = wait_for(
        [&] {
          const pid_t done = ::waitpid(pid_, &status, WNOHANG);
          return done == pid_;
        },
        10s);
    if (!exited) {
      return -1;
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_;
};

// The key=value counters of the output's last line that starts with `line_start`.
std::map<std::string, uint64_t> counters(const std::string& output, const std::string& line_start) {
  std::map<std::string, uint64_t> values;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(line_start, 0) != 0) {
      continue;
    }
    values.clear();
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      const auto eq = word.find('=');
      if (eq != std::string::npos) {
        values[word.substr(0, eq)] = std::stoull(word.substr(eq + 1));
      }
    }
  }
  return values;
}

// A datagram whose bytes follow from (client id, sequence number), sizes 8..1200.
Bytes datagram(uint32_t client, uint32_t seq) {
  const std::size_t size = 8 + (seq * 97u) % 1193u;
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<uint8_t>(seq * 13u + i * 7u + client);
  }
  for (int k = 0; k < 4; ++k) {
    bytes[static_cast<std::size_t>(k)] = static_cast<uint8_t>(seq >> (8 * k));
    bytes[static_cast<std::size_t>(4 + k)] = static_cast<uint8_t>(client >> (8 * k));
  }
  return bytes;
}

uint32_t field(const Bytes& bytes, std::size_t offset) {
  uint32_t value = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    value |= uint32_t{bytes[offset + k]} << (8 * k);
  }
  return value;
}

struct Arrival {
  Bytes bytes;
  std::chrono::steady_clock::time_point at;
};

// A UDP socket on 127.0.0.1 that records what it receives (client) or echoes it back (server).
class Endpoint {
 public:
  Endpoint(asio::io_context& io, bool echo)
      : socket_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), echo_(echo),
        rx_(65536) {
    receive();
  }
  [[nodiscard]] uint16_t port() const { return socket_.local_endpoint().port(); }

  // Runs on the io thread, so the socket is only ever used there.
  void send(const Bytes& bytes, uint16_t port) {
    auto data = std::make_shared<Bytes>(bytes);
    asio::post(socket_.get_executor(), [this, data, port] {
      boost::system::error_code ignored;
      socket_.send_to(asio::buffer(*data), udp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                      0, ignored);
    });
  }
  void close() {
    asio::post(socket_.get_executor(), [this] {
      boost::system::error_code ignored;
      socket_.close(ignored);
    });
  }
  [[nodiscard]] std::vector<Arrival> arrivals() {
    std::lock_guard lock(mu_);
    return arrivals_;
  }
  [[nodiscard]] std::size_t count() {
    std::lock_guard lock(mu_);
    return arrivals_.size();
  }

 private:
  void receive() {
    socket_.async_receive_from(
        asio::buffer(rx_), from_, [this](const boost::system::error_code& ec, std::size_t n) {
          if (ec == asio::error::operation_aborted || !socket_.is_open()) {
            return;
          }
          if (!ec) {
            Bytes bytes(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(n));
            if (echo_) {
              boost::system::error_code ignored;
              socket_.send_to(asio::buffer(bytes), from_, 0, ignored);
            }
            std::lock_guard lock(mu_);
            arrivals_.push_back({std::move(bytes), std::chrono::steady_clock::now()});
          }
          receive();
        });
  }

  udp::socket socket_;
  bool echo_;
  Bytes rx_;
  udp::endpoint from_;
  std::mutex mu_;
  std::vector<Arrival> arrivals_;
};

class ImpairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    echo_ = std::make_unique<Endpoint>(io_, true);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    for (auto& c : clients_) {
      c->close();
    }
    echo_->close();
    guard_.reset();
    thread_.join();
  }

  Endpoint& add_client() {
    clients_.push_back(std::make_unique<Endpoint>(io_, false));
    return *clients_.back();
  }

  std::vector<std::string> args(std::vector<std::string> extra) const {
    std::vector<std::string> all = {"--listen", "127.0.0.1:0", "--forward",
                                    "127.0.0.1:" + std::to_string(echo_->port())};
    all.insert(all.end(), extra.begin(), extra.end());
    return all;
  }

  // Sends `n` datagrams from `client` through the proxy at `port`, `batch` at a time; after each
  // batch waits up to `pause` for the client to have `expect_back(sent)` echoes. Pacing keeps
  // the sockets' receive buffers from overflowing, which would look like loss.
  static void send_paced(Endpoint& client, uint32_t client_id, uint16_t port, uint32_t n,
                         uint32_t batch, const std::function<std::size_t(uint32_t)>& expect_back,
                         std::chrono::milliseconds pause) {
    for (uint32_t sent = 0; sent < n;) {
      const uint32_t end = std::min(sent + batch, n);
      for (; sent < end; ++sent) {
        client.send(datagram(client_id, sent), port);
      }
      (void)wait_for([&] { return client.count() >= expect_back(sent); }, pause);
    }
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  std::unique_ptr<Endpoint> echo_;
  std::vector<std::unique_ptr<Endpoint>> clients_;
  std::thread thread_;
};

TEST_F(ImpairTest, PassesEverythingUnchangedWhenImpairmentsAreZero) {
  ImpairProcess impair(args({"--loss", "0", "--duplicate", "0", "--reorder", "0", "--delay-ms", "0",
                             "--jitter-ms", "0", "--seed", "1"}));
  ASSERT_TRUE(impair.spawned());
  const auto port = impair.wait_listening();
  ASSERT_TRUE(port) << impair.output();
  Endpoint& client = add_client();
  constexpr uint32_t kDatagrams = 2000;
  send_paced(
      client, 1, *port, kDatagrams, 50, [](uint32_t sent) { return sent; }, 2000ms);
  ASSERT_TRUE(wait_for([&] { return client.count() >= kDatagrams; }, 30s)) << client.count();
  std::this_thread::sleep_for(100ms);

  std::set<uint32_t> seen;
  for (const Arrival& a : client.arrivals()) {
    ASSERT_GE(a.bytes.size(), 8u);
    const uint32_t seq = field(a.bytes, 0);
    EXPECT_EQ(a.bytes, datagram(1, seq)) << "datagram " << seq << " changed";
    EXPECT_TRUE(seen.insert(seq).second) << "datagram " << seq << " arrived twice";
  }
  EXPECT_EQ(seen.size(), kDatagrams);

  EXPECT_EQ(impair.finish(SIGTERM), 0) << impair.output();
  const std::string out = impair.output();
  const auto up = counters(out, "final: client->server");
  const auto down = counters(out, "final: server->client");
  EXPECT_EQ(up.at("received"), kDatagrams) << out;
  EXPECT_EQ(up.at("sent"), kDatagrams);
  EXPECT_EQ(up.at("dropped"), 0u);
  EXPECT_EQ(down.at("received"), kDatagrams);
  EXPECT_EQ(down.at("sent"), kDatagrams);
  EXPECT_EQ(counters(out, "final: clients=").at("clients"), 1u);
}

TEST_F(ImpairTest, LosesTheRequestedShareOfDatagramsEachWay) {
  ImpairProcess impair(args({"--loss", "0.2", "--seed", "7"}));
  ASSERT_TRUE(impair.spawned());
  const auto port = impair.wait_listening();
  ASSERT_TRUE(port) << impair.output();
  Endpoint& client = add_client();
  constexpr uint32_t kDatagrams = 2000;
  // How many come back is what is measured, so the sender cannot wait for a count: after each
  // batch of 25 it waits until nothing has moved for 30 ms (the proxy and the echo have caught
  // up), so that what is in flight stays far under the receive buffers however busy the machine
  // is (a datagram the kernel drops for a full buffer would look like loss).
  for (uint32_t sent = 0; sent < kDatagrams;) {
    for (const uint32_t end = std::min(sent + 25, kDatagrams); sent < end; ++sent) {
      client.send(datagram(2, sent), *port);
    }
    wait_quiet([&] { return client.count() + echo_->count(); }, 30ms);
  }
  wait_quiet([&] { return client.count() + echo_->count(); });

  const auto arrivals = client.arrivals();
  std::set<uint32_t> seen;
  for (const Arrival& a : arrivals) {
    const uint32_t seq = field(a.bytes, 0);
    EXPECT_EQ(a.bytes, datagram(2, seq));
    EXPECT_TRUE(seen.insert(seq).second);
  }
  const double observed_loss = 1.0 - static_cast<double>(arrivals.size()) / kDatagrams;
  RecordProperty("observed_round_trip_loss", std::to_string(observed_loss));
  EXPECT_NEAR(observed_loss, 1.0 - 0.8 * 0.8, 0.05);

  EXPECT_EQ(impair.finish(SIGINT), 0) << impair.output();
  const std::string out = impair.output();
  const auto up = counters(out, "final: client->server");
  const auto down = counters(out, "final: server->client");
  ASSERT_EQ(up.at("received"), kDatagrams) << out;
  const double up_loss = static_cast<double>(up.at("dropped")) / kDatagrams;
  const double down_loss =
      static_cast<double>(down.at("dropped")) / static_cast<double>(down.at("received"));
  RecordProperty("proxy_loss_client_to_server", std::to_string(up_loss));
  RecordProperty("proxy_loss_server_to_client", std::to_string(down_loss));
  EXPECT_NEAR(up_loss, 0.2, 0.04);
  EXPECT_NEAR(down_loss, 0.2, 0.04);
  EXPECT_EQ(up.at("sent"), kDatagrams - up.at("dropped"));
  EXPECT_EQ(echo_->count(), up.at("sent"));
  EXPECT_EQ(down.at("received"), echo_->count());
  EXPECT_EQ(arrivals.size(), down.at("sent"));
}

TEST_F(ImpairTest, KeepsClientsApartAndPrintsStatsPeriodically) {
  ImpairProcess impair(args({"--stats-interval-ms", "50"}));
  ASSERT_TRUE(impair.spawned());
  const auto port = impair.wait_listening();
  ASSERT_TRUE(port) << impair.output();
  Endpoint& first = add_client();
  Endpoint& second = add_client();
  for (uint32_t seq = 0; seq < 100; ++seq) {
    first.send(datagram(10, seq), *port);
    second.send(datagram(20, seq), *port);
    if (seq % 20 == 19) {
      (void)wait_for([&] { return first.count() > seq && second.count() > seq; }, 2s);
    }
  }
  ASSERT_TRUE(wait_for([&] { return first.count() >= 100 && second.count() >= 100; }, 30s));
  std::this_thread::sleep_for(150ms);
  for (const Arrival& a : first.arrivals()) {
    EXPECT_EQ(field(a.bytes, 4), 10u) << "the first client got the second one's datagram";
  }
  for (const Arrival& a : second.arrivals()) {
    EXPECT_EQ(field(a.bytes, 4), 20u) << "the second client got the first one's datagram";
  }
  EXPECT_EQ(impair.finish(SIGTERM), 0);
  const std::string out = impair.output();
  EXPECT_NE(out.find("stats: client->server"), std::string::npos) << out;
  EXPECT_EQ(counters(out, "final: clients=").at("clients"), 2u) << out;
}

TEST_F(ImpairTest, DelaysDuplicatesAndReorders) {
  ImpairProcess impair(args({"--delay-ms", "30", "--duplicate", "0.5", "--reorder", "0.5",
                             "--reorder-delay-ms", "20", "--seed", "3"}));
  ASSERT_TRUE(impair.spawned());
  const auto port = impair.wait_listening();
  ASSERT_TRUE(port) << impair.output();
  Endpoint& client = add_client();
  const auto start = std::chrono::steady_clock::now();
  client.send(datagram(3, 0), *port);
  ASSERT_TRUE(wait_for([&] { return client.count() >= 1; }, 30s));
  const auto round_trip = client.arrivals().front().at - start;
  EXPECT_GE(round_trip, 60ms) << "30 ms each way";

  constexpr uint32_t kDatagrams = 400;
  // Distinct datagrams back so far.
  auto distinct = [&] {
    std::set<uint32_t> seqs;
    for (const Arrival& a : client.arrivals()) {
      seqs.insert(field(a.bytes, 0));
    }
    return seqs.size();
  };
  // 1 ms apart, in batches of 20, each back whole before the next: what is in flight stays far
  // under the receive buffers however busy the machine is (the kernel would drop the excess).
  for (uint32_t seq = 1; seq <= kDatagrams; ++seq) {
    client.send(datagram(3, seq), *port);
    std::this_thread::sleep_for(1ms);
    if (seq % 20 == 0) {
      (void)wait_for([&] { return distinct() >= seq + 1; }, 30s);
    }
  }
  // Held back and delayed datagrams come last: wait until nothing more arrives.
  wait_quiet([&] { return client.count(); });
  std::map<uint32_t, int> copies;
  uint64_t inversions = 0;
  uint32_t highest = 0;
  for (const Arrival& a : client.arrivals()) {
    const uint32_t seq = field(a.bytes, 0);
    EXPECT_EQ(a.bytes, datagram(3, seq));
    if (++copies[seq] == 1 && seq < highest) {
      ++inversions;
    }
    highest = std::max(highest, seq);
  }
  EXPECT_EQ(copies.size(), kDatagrams + 1) << "nothing is lost without --loss";
  const auto duplicated = std::count_if(copies.begin(), copies.end(),
                                        [](const auto& entry) { return entry.second > 1; });
  EXPECT_GT(duplicated, 0);
  EXPECT_GT(inversions, 0u);
  EXPECT_EQ(impair.finish(SIGTERM), 0);
  const auto up = counters(impair.output(), "final: client->server");
  // Duplicates and held-back datagrams at about half the rate each, out of 401.
  EXPECT_NEAR(static_cast<double>(up.at("duplicated")), 200.5, 60.0);
  EXPECT_NEAR(static_cast<double>(up.at("reordered")), 200.5, 60.0);
}

TEST_F(ImpairTest, RefusesBadArgumentsWithStatus2) {
  const std::string forward = "127.0.0.1:" + std::to_string(echo_->port());
  const std::vector<std::vector<std::string>> bad = {
      {"--listen", "127.0.0.1:0", "--forward", forward, "--loss", "1.5"},
      {"--listen", "nonsense", "--forward", forward},
      {"--listen", "127.0.0.1:0", "--forward", "host.example:80"},
      {"--listen", "127.0.0.1:0"},
      {"--listen", "127.0.0.1:0", "--forward", forward, "--jitter-ms", "-3"},
  };
  for (const auto& arguments : bad) {
    ImpairProcess impair(arguments);
    ASSERT_TRUE(impair.spawned());
    EXPECT_EQ(impair.finish(), 2) << arguments[1] << " ... " << impair.output();
  }
}

} // namespace
} // namespace entre
