// The relay under load, against raw TCP on loopback measured in the same run. entre-relay runs
// as its own process pinned to CPU 0; the load generator (this process) is pinned to CPU 1. The
// baselines are served by a child of this process, also on CPU 0, that echoes what it reads.
//
//   BM_Relay_RawTcpEcho1KiB     baseline: a thread writes 4,096 records of 1 KiB while the
//                               benchmark reads them back from the echo
//   BM_Relay_Forward1KiB        the same through the relay: 4,096 frames of 1 KiB written as
//                               client A and read as client B; A seals them before and B opens
//                               them after the timed part, so the relay's work is what is timed
//   BM_Relay_RawTcpPingPong     baseline: 100 bytes to the echo and back, p50 and p99
//   BM_Relay_RoundTrip          100 bytes A -> relay -> B -> relay -> A, p50 and p99
//   BM_Relay_IdleConnections    N authenticated clients that stay connected: the relay's RSS
//
// The clients speak the relay protocol by hand (tools/relay/sync_client.hpp) with identities and
// ciphers from crypto-sodium, as transport-tcp-relay does.
#include "bench.hpp"
#include "loader/loader.hpp"
#include "node/identity_proof.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "profile/config_view.hpp"
#include "relay_wire.hpp"
#include "sync_client.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef ENTRE_BENCH_RELAY
#error "ENTRE_BENCH_RELAY must name the entre-relay executable"
#endif

extern char** environ;

namespace entre::bench {
namespace {

namespace fs = std::filesystem;
namespace wire = plugins::relay_wire;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kBlock = 4096; // frames per iteration of the throughput benchmarks
constexpr std::size_t kFrameBytes = 1024;
constexpr std::size_t kPingBytes = 100;

[[noreturn]] void fail(const std::string& why) { throw std::runtime_error(why); }

void pin(pid_t pid, int cpu) {
  if (std::thread::hardware_concurrency() < 2) {
    return;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)::sched_setaffinity(pid, sizeof set, &set);
}

void raise_file_limit() {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
}

uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoull(line.substr(6));
    }
  }
  return 0;
}

// The node-side crypto: crypto-sodium loaded through the kernel's loader, and identities.
class Identities {
 public:
  Identities() {
    library_ = loader_.load("entre.crypto.sodium",
                            fs::path(ENTRE_BENCH_PLUGIN_DIR) / "entre-crypto-sodium.so");
    if (!library_.library) {
      fail(library_.failure->str());
    }
    host_ = std::make_unique<PluginHost>(
        "entre.crypto.sodium", std::make_unique<TomlConfigView>(nullptr, "bench.toml", 0),
        fs::temp_directory_path(), runtime_, spdlog::default_logger());
    sdk::Plugin* root = nullptr;
    if (!library_.library->factory()(*host_, &root).is_ok()) {
      fail("crypto-sodium did not start");
    }
    root_ = PluginPtr<sdk::Plugin>(root, library_.library);
    suite_ = sdk::query<sdk::CryptoSuite>(*root_, sdk::InterfaceId::kCryptoSuiteV1);
  }
  std::unique_ptr<KernelIdentityProof> make() {
    std::vector<uint8_t> secret;
    sdk::VectorSink sink(secret, 4096);
    wire::Key key{};
    if (!suite_->generate_identity(sink, sdk::MutableByteView(key.data(), key.size())).is_ok()) {
      fail("generate_identity");
    }
    auto proof = std::make_unique<KernelIdentityProof>(*suite_);
    proof->set(secret, key);
    return proof;
  }

 private:
  PluginLoader loader_{{}};
  LoadOutcome library_;
  Runtime runtime_{1, 1};
  std::unique_ptr<PluginHost> host_;
  PluginPtr<sdk::Plugin> root_;
  sdk::CryptoSuite* suite_ = nullptr;
};

// entre-relay on CPU 0 with limits that do not get in the benchmark's way.
class RelayServerProcess {
 public:
  RelayServerProcess() {
    dir_ = fs::temp_directory_path() / ("entre-bench-relay-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const fs::path profile = dir_ / "relay.toml";
    std::ofstream(profile) << "[loader]\nsearch_paths = [\"" << ENTRE_BENCH_PLUGIN_DIR << "\"]\n"
                           << "[log]\nlevel = \"warn\"\n"
                           << "[relay]\nlisten = \"127.0.0.1\"\nport = 0\n"
                           << "static_key_file = \"" << (dir_ / "relay.key").string() << "\"\n"
                           << "max_connections = 20000\nmax_connections_per_address = 20000\n"
                           << "handshakes_per_second = 100000\nqueue_depth_frames = 65536\n"
                           << "client_rate_bytes_per_second = 1073741824\n"
                           << "client_burst_bytes = 1073741824\nidle_timeout_ms = 3600000\n";
    const std::string print = std::string(ENTRE_BENCH_RELAY) + " --profile " + profile.string() +
                              " --print-key 2>/dev/null";
    FILE* pipe = ::popen(print.c_str(), "r");
    char line[128] = {};
    if (pipe == nullptr || std::fgets(line, sizeof line, pipe) == nullptr ||
        !wire::parse_hex_key(std::string(line).substr(0, 64), key_)) {
      if (pipe != nullptr) {
        ::pclose(pipe);
      }
      fail("entre-relay --print-key failed");
    }
    ::pclose(pipe);
    stats_ = dir_ / "stats.json";
    std::vector<std::string> args = {ENTRE_BENCH_RELAY, "--profile", profile.string(), "--stats",
                                     stats_.string()};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      fail("cannot start entre-relay");
    }
    pin(pid_, 0);
    const auto deadline = Clock::now() + 30s;
    while (port_ == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
      try {
        std::ifstream in(stats_);
        port_ = nlohmann::json::parse(in).at("tcp_port").get<uint16_t>();
      } catch (const std::exception&) {
      }
    }
    if (port_ == 0) {
      fail("entre-relay did not start");
    }
  }
  ~RelayServerProcess() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  RelayServerProcess(const RelayServerProcess&) = delete;
  RelayServerProcess& operator=(const RelayServerProcess&) = delete;

  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] const wire::Key& key() const { return key_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] uint64_t counter(const std::string& name) const {
    try {
      std::ifstream in(stats_);
      return nlohmann::json::parse(in).at(name).get<uint64_t>();
    } catch (const std::exception&) {
      return 0;
    }
  }

 private:
  fs::path dir_;
  fs::path stats_;
  wire::Key key_{};
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// The baseline server: a child process on CPU 0 that echoes every byte of one connection.
// The relay's crypto floor: per record of `kFloorRecord` bytes, what a relay must at least do
// with the link's cipher (open the sealed head with the frame as associated data, seal a new
// head the same way), straight in libsodium, no parsing or routing.
constexpr std::size_t kFloorHead = 1 + wire::kKeyBytes;
constexpr std::size_t kFloorRecord = 2 + 1 + kFloorHead + wire::kSealOverheadBytes + kFrameBytes;
constexpr uint8_t kFloorKey[32] = {7};

// libsodium picks its fastest implementations in sodium_init(); without it the reference ones run
// (twice as slow here), so every benchmark that calls it directly, or forks, calls this first.
void init_sodium() {
  if (sodium_init() < 0) {
    fail("sodium_init failed");
  }
}

void floor_nonce(uint64_t counter, uint8_t nonce[12]) {
  std::memset(nonce, 0, 12);
  std::memcpy(nonce + 4, &counter, 8);
}

// Seals a record of the floor's shape with `counter` into `out`.
void floor_record(uint64_t counter, std::vector<uint8_t>& out) {
  const std::size_t at = out.size();
  out.resize(at + kFloorRecord);
  uint8_t* r = out.data() + at;
  const std::size_t body = kFloorRecord - 2;
  r[0] = static_cast<uint8_t>(body >> 8);
  r[1] = static_cast<uint8_t>(body);
  r[2] = kFloorHead + wire::kSealOverheadBytes;
  uint8_t* frame = r + 3 + kFloorHead + wire::kSealOverheadBytes;
  std::memset(frame, 0x5a, kFrameBytes);
  uint8_t head[kFloorHead] = {0x20};
  uint8_t nonce[12];
  floor_nonce(counter, nonce);
  unsigned long long n = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(r + 3, &n, head, sizeof head, frame, kFrameBytes,
                                            nullptr, nonce, kFloorKey);
}

// Opens and reseals, in place, every whole record at the front of `data`; returns the bytes done.
std::size_t floor_work(uint8_t* data, std::size_t size, uint64_t& counter) {
  std::size_t done = 0;
  for (; size - done >= kFloorRecord; done += kFloorRecord) {
    uint8_t* r = data + done;
    uint8_t* frame = r + 3 + kFloorHead + wire::kSealOverheadBytes;
    uint8_t head[kFloorHead];
    uint8_t nonce[12];
    floor_nonce(++counter, nonce);
    unsigned long long n = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(head, &n, nullptr, r + 3,
                                                  kFloorHead + wire::kSealOverheadBytes, frame,
                                                  kFrameBytes, nonce, kFloorKey) != 0) {
      ::_exit(3);
    }
    crypto_aead_chacha20poly1305_ietf_encrypt(r + 3, &n, head, sizeof head, frame, kFrameBytes,
                                              nullptr, nonce, kFloorKey);
  }
  return done;
}

class EchoProcess {
 public:
  // `sealing`: the echo opens and reseals each record's head as the relay must (floor_work).
  explicit EchoProcess(bool sealing = false) {
    init_sodium();
    const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof at;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&at), &len) != 0) {
      fail("echo: cannot listen");
    }
    port_ = ntohs(at.sin_port);
    pid_ = ::fork();
    if (pid_ == 0) {
      pin(0, 0);
      const int fd = ::accept(listener, nullptr, nullptr);
      const int one = 1;
      (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      static uint8_t buffer[256 * 1024];
      std::size_t held = 0;
      uint64_t counter = 0;
      while (true) {
        const ssize_t n = ::read(fd, buffer + held, sizeof buffer - held);
        if (n <= 0) {
          ::_exit(0);
        }
        held += static_cast<std::size_t>(n);
        const std::size_t ready = sealing ? floor_work(buffer, held, counter) : held;
        for (std::size_t done = 0; done < ready;) {
          const ssize_t w = ::write(fd, buffer + done, ready - done);
          if (w <= 0) {
            ::_exit(0);
          }
          done += static_cast<std::size_t>(w);
        }
        std::memmove(buffer, buffer + ready, held - ready);
        held -= ready;
      }
    }
    ::close(listener);
    if (pid_ < 0) {
      fail("echo: fork failed");
    }
  }
  ~EchoProcess() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  EchoProcess(const EchoProcess&) = delete;
  EchoProcess& operator=(const EchoProcess&) = delete;
  [[nodiscard]] uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// The benchmark's end of an echo child: pinned to CPU 1, connected, Nagle off.
struct EchoClient {
  explicit EchoClient(bool sealing) : echo(sealing) {
    pin(0, 1);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), echo.port()});
    socket.set_option(boost::asio::ip::tcp::no_delay(true));
  }
  EchoProcess echo;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket{io};
};

void read_exactly(boost::asio::ip::tcp::socket& s, std::vector<uint8_t>& into, std::size_t n) {
  into.resize(n);
  boost::asio::read(s, boost::asio::buffer(into));
}

// Two authenticated clients of one relay, A and B.
struct Pair {
  Identities ids;
  RelayServerProcess relay;
  boost::asio::io_context io;
  std::unique_ptr<KernelIdentityProof> a_id = ids.make();
  std::unique_ptr<KernelIdentityProof> b_id = ids.make();
  relay::SyncClient a{io, relay.port()};
  relay::SyncClient b{io, relay.port()};
  wire::Key a_key{};
  wire::Key b_key{};

  Pair() {
    init_sodium();
    pin(0, 1);
    std::string why;
    if (!a.authenticate(*a_id, relay.key(), why) || !b.authenticate(*b_id, relay.key(), why)) {
      fail("authenticate: " + why);
    }
    (void)a_id->identity_public(sdk::MutableByteView(a_key.data(), a_key.size()));
    (void)b_id->identity_public(sdk::MutableByteView(b_key.data(), b_key.size()));
  }
};

// Takes the next `n` deliveries at `to`, checking each.
void receive_frames(relay::SyncClient& to, std::size_t n, std::size_t bytes) {
  std::vector<uint8_t> plain;
  for (std::size_t i = 0; i < n; ++i) {
    const auto m = to.read_message(plain);
    if (!m || m->type != wire::Type::kDeliver || m->frame.size() != bytes) {
      fail("a frame did not come through the relay intact");
    }
  }
}

// Runs `write` on a thread of its own while `read` runs here; rethrows the writer's failure.
void stream(const std::function<void()>& write, const std::function<void()>& read) {
  std::string error;
  std::thread writer([&] {
    try {
      write();
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  try {
    read();
  } catch (...) {
    writer.join();
    throw;
  }
  writer.join();
  if (!error.empty()) {
    fail(error);
  }
}

// The timed part of both throughput benchmarks: a thread writes `batch` to `out` while this one
// reads `expect` bytes from `in` (the same socket for the echo; for the relay, the receiving
// client's) and keeps the record bodies.
void write_and_read(int out, int in, const std::vector<uint8_t>& batch, std::size_t expect,
                    std::vector<uint8_t>& back) {
  back.resize(expect);
  stream(
      [&] {
        for (std::size_t done = 0; done < batch.size();) {
          const ssize_t w = ::write(out, batch.data() + done, batch.size() - done);
          if (w <= 0) {
            fail("write failed");
          }
          done += static_cast<std::size_t>(w);
        }
      },
      [&] {
        for (std::size_t done = 0; done < back.size();) {
          const ssize_t r = ::read(in, back.data() + done, back.size() - done);
          if (r <= 0) {
            fail("read failed");
          }
          done += static_cast<std::size_t>(r);
        }
      });
}

void BM_Relay_RawTcpEcho1KiB(benchmark::State& state) {
  try {
    EchoClient client(false);
    auto& s = client.socket;
    std::vector<uint8_t> batch;
    for (std::size_t i = 0; i < kBlock; ++i) {
      wire::append_record(batch, std::vector<uint8_t>(kFrameBytes, 0x5a));
    }
    std::vector<uint8_t> back;
    for (auto _ : state) {
      write_and_read(s.native_handle(), s.native_handle(), batch, batch.size(), back);
    }
    if (back != batch) {
      fail("the echo changed the bytes");
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBlock));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_Relay_RawTcpEcho1KiB)->Unit(benchmark::kMillisecond)->UseRealTime();

// Second baseline, the crypto floor: the same echo, opening and resealing each record's head
// with its 1 KiB frame as associated data (two ChaCha20-Poly1305 calls a frame, as the relay).
void BM_Relay_SealingEcho1KiB(benchmark::State& state) {
  try {
    EchoClient client(true);
    auto& s = client.socket;
    std::vector<uint8_t> batch;
    for (std::size_t i = 0; i < kBlock; ++i) {
      floor_record(i + 1, batch);
    }
    std::vector<uint8_t> back;
    uint64_t next = kBlock;
    for (auto _ : state) {
      write_and_read(s.native_handle(), s.native_handle(), batch, batch.size(), back);
      state.PauseTiming();
      batch.clear();
      for (std::size_t i = 0; i < kBlock; ++i) {
        floor_record(++next, batch);
      }
      state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBlock));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_Relay_SealingEcho1KiB)->Unit(benchmark::kMillisecond)->UseRealTime();

// What a relay link's cipher costs per frame, seal then open with libsodium's ChaCha20-Poly1305:
// arg 0, the 33-byte head alone; 1, the head with the 1 KiB frame as associated data (what
// entre-relay does); 2, the whole 1 KiB frame encrypted (a link that encrypts everything).
void BM_Relay_LinkCipher(benchmark::State& state) {
  init_sodium();
  const int mode = static_cast<int>(state.range(0));
  std::vector<uint8_t> frame(kFrameBytes, 0x5a);
  std::vector<uint8_t> head(kFloorHead, 0x20);
  const std::vector<uint8_t>& plain = mode == 2 ? frame : head;
  const uint8_t* ad = mode == 1 ? frame.data() : nullptr;
  const std::size_t ad_size = mode == 1 ? frame.size() : 0;
  std::vector<uint8_t> sealed(plain.size() + wire::kSealOverheadBytes);
  std::vector<uint8_t> opened(plain.size());
  uint8_t nonce[12];
  uint64_t counter = 0;
  for (auto _ : state) {
    floor_nonce(++counter, nonce);
    unsigned long long n = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(sealed.data(), &n, plain.data(), plain.size(), ad,
                                              ad_size, nullptr, nonce, kFloorKey);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(opened.data(), &n, nullptr, sealed.data(),
                                                  sealed.size(), ad, ad_size, nonce,
                                                  kFloorKey) != 0) {
      state.SkipWithError("a sealed head did not open");
      return;
    }
    benchmark::DoNotOptimize(opened.data());
  }
}
BENCHMARK(BM_Relay_LinkCipher)->Arg(0)->Arg(1)->Arg(2);

// The frames are sealed by A before the timed part and opened by B after it, so that what is
// timed is the relay's forwarding, as the echo's is.
void BM_Relay_Forward1KiB(benchmark::State& state) {
  try {
    Pair p;
    const std::vector<uint8_t> frame(kFrameBytes, 0x5a);
    const auto send = wire::encode_frame(wire::Type::kSend, p.b_key, frame);
    // What B receives per frame: length, head-length, sealed head (type, key, tag), frame.
    const std::size_t delivered = 2 + wire::kSealedFrameOverhead + kFrameBytes;
    std::vector<uint8_t> batch;
    std::vector<uint8_t> back;
    for (auto _ : state) {
      state.PauseTiming();
      batch.clear();
      for (std::size_t i = 0; i < kBlock; ++i) {
        p.a.append_sealed(batch, send);
      }
      state.ResumeTiming();
      write_and_read(p.a.socket().native_handle(), p.b.socket().native_handle(), batch,
                     delivered * kBlock, back);
      state.PauseTiming();
      wire::RecordReader reader(wire::kMaxRecordBytes);
      reader.feed(back);
      for (std::size_t i = 0; i < kBlock; ++i) {
        const auto body = reader.next();
        const auto m = body ? p.b.open_record(*body) : std::nullopt;
        if (!m || m->type != wire::Type::kDeliver || m->frame.size() != kFrameBytes) {
          fail("a frame did not come through the relay intact");
        }
      }
      state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBlock));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_Relay_Forward1KiB)->Unit(benchmark::kMillisecond)->UseRealTime();

// Times `round_trip` once per iteration and reports the p50 and p99 of the samples.
void time_round_trips(benchmark::State& state, const std::function<void()>& round_trip) {
  std::vector<double> samples;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    round_trip();
    samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  state.counters["p50_us"] = percentile(samples, 0.50);
  state.counters["p99_us"] = percentile(samples, 0.99);
}

void BM_Relay_RawTcpPingPong(benchmark::State& state) {
  try {
    EchoClient client(false);
    auto& s = client.socket;
    const std::vector<uint8_t> ping(kPingBytes, 0x11);
    std::vector<uint8_t> back;
    time_round_trips(state, [&] {
      boost::asio::write(s, boost::asio::buffer(ping));
      read_exactly(s, back, ping.size());
    });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_Relay_RawTcpPingPong)->Iterations(5000)->Unit(benchmark::kMicrosecond);

void BM_Relay_RoundTrip(benchmark::State& state) {
  try {
    Pair p;
    const std::vector<uint8_t> payload(kPingBytes, 0x11);
    const auto to_b = wire::encode_frame(wire::Type::kSend, p.b_key, payload);
    const auto to_a = wire::encode_frame(wire::Type::kSend, p.a_key, payload);
    time_round_trips(state, [&] {
      p.a.write_raw(p.a.sealed(to_b));
      receive_frames(p.b, 1, kPingBytes);
      p.b.write_raw(p.b.sealed(to_a));
      receive_frames(p.a, 1, kPingBytes);
    });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_Relay_RoundTrip)->Iterations(5000)->Unit(benchmark::kMicrosecond);

void BM_Relay_IdleConnections(benchmark::State& state) {
  try {
    raise_file_limit();
    const auto n = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
      Identities ids;
      RelayServerProcess relay;
      pin(0, 1);
      std::this_thread::sleep_for(200ms);
      const uint64_t before = rss_kib(relay.pid());
      boost::asio::io_context io;
      std::vector<std::unique_ptr<relay::SyncClient>> clients;
      clients.reserve(n);
      const auto t0 = Clock::now();
      for (std::size_t i = 0; i < n; ++i) {
        auto proof = ids.make();
        auto c = std::make_unique<relay::SyncClient>(io, relay.port());
        std::string why;
        if (!c->authenticate(*proof, relay.key(), why)) {
          fail("client " + std::to_string(i) + ": " + why);
        }
        clients.push_back(std::move(c));
      }
      const double connect_s = std::chrono::duration<double>(Clock::now() - t0).count();
      const auto deadline = Clock::now() + 10s;
      while (relay.counter("clients_online") < n && Clock::now() < deadline) {
        std::this_thread::sleep_for(50ms);
      }
      if (relay.counter("clients_online") < n) {
        fail("the relay does not count every client online");
      }
      const uint64_t after = rss_kib(relay.pid());
      state.counters["clients"] = static_cast<double>(n);
      state.counters["rss_mib"] = static_cast<double>(after) / 1024.0;
      state.counters["idle_rss_mib"] = static_cast<double>(before) / 1024.0;
      state.counters["kib_per_client"] =
          static_cast<double>(after - std::min(after, before)) / static_cast<double>(n);
      state.counters["connect_per_s"] = static_cast<double>(n) / connect_s;
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_Relay_IdleConnections)
    ->Arg(10000)
    ->Iterations(1)
    ->Repetitions(1)
    ->Unit(benchmark::kMillisecond);

// ---- The tables ---------------------------------------------------------------------------------

const int ratios = register_ratios([](const Timings& t) {
  std::vector<Ratio> rows;
  const auto relay = t.find("BM_Relay_Forward1KiB");
  const auto raw = t.find("BM_Relay_RawTcpEcho1KiB");
  if (relay != t.end() && raw != t.end() && relay->second > 0 && raw->second > 0) {
    rows.push_back({"1 KiB frames forwarded by entre-relay (one core)", "raw TCP loopback echo",
                    static_cast<double>(kBlock) / relay->second,
                    static_cast<double>(kBlock) / raw->second, 0.5});
  }
  const auto floor = t.find("BM_Relay_SealingEcho1KiB");
  if (floor != t.end() && raw != t.end() && floor->second > 0 && raw->second > 0) {
    rows.push_back({"crypto floor: echo that opens and reseals each head (1 KiB frames)",
                    "raw TCP loopback echo", static_cast<double>(kBlock) / floor->second,
                    static_cast<double>(kBlock) / raw->second, 0});
  }
  if (relay != t.end() && floor != t.end() && relay->second > 0 && floor->second > 0) {
    rows.push_back({"1 KiB frames forwarded by entre-relay (one core)", "crypto floor",
                    static_cast<double>(kBlock) / relay->second,
                    static_cast<double>(kBlock) / floor->second, 0});
  }
  return rows;
});

const int figures = register_figures([](const Results& r) {
  std::vector<Figure> rows;
  for (const char* q : {"p50", "p99"}) {
    const double relay = r.counter("BM_Relay_RoundTrip", std::string(q) + "_us");
    const double raw = r.counter("BM_Relay_RawTcpPingPong", std::string(q) + "_us");
    if (relay >= 0 && raw > 0) {
      const bool target = std::string(q) == "p50";
      rows.push_back({std::string("round trip through entre-relay ") + q + ", 100 B",
                      fixed(relay, 0, "us"), std::string("raw TCP ping-pong ") + q + ", 100 B",
                      fixed(raw, 1, "us"), fixed(relay / raw, 1, ""), target ? "ratio <= 5" : "-",
                      !target || relay / raw <= 5.0});
    }
  }
  const std::string idle = "BM_Relay_IdleConnections/10000";
  const double rss = r.counter(idle, "rss_mib");
  if (rss >= 0) {
    rows.push_back({"entre-relay RSS with 10,000 idle authenticated clients", fixed(rss, 1, "MiB"),
                    "", "", "", "<= 256 MiB", rss <= 256.0});
    rows.push_back(
        {"per client", fixed(r.counter(idle, "kib_per_client"), 1, "KiB"), "", "", "", "-", true});
  }
  return rows;
});

} // namespace
} // namespace entre::bench
