#include "conformance/transport_conformance.hpp"

#include "conformance/scratch_dir.hpp"

#include "loader/loader.hpp"
#include "node/identity_proof.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "profile/config_view.hpp"

#include <entre/sdk/relay.hpp>

#include <sodium.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

namespace entre {

namespace {

using Bytes = std::vector<uint8_t>;

// Waits for something that must happen end as soon as it does; their deadlines are generous
// enough for a sanitizer build on a machine whose every core is busy. Waits for something that
// must not happen (kSettleMs) are short: they can miss a fault, not invent one.
constexpr uint32_t kArrivalTimeoutMs = 10000;
constexpr uint32_t kSettleMs = 150;
constexpr int kDatagramAttempts = 3;
constexpr uint32_t kBurstFrames = 1000;
constexpr uint32_t kBurstBatch = 50;
constexpr uint32_t kBurstMaxLossPercent = 2;
constexpr uint32_t kBurstMaxFrameBytes = 512;
constexpr uint32_t kBurstPaceTimeoutMs = 5000;

// Thrown inside a check to fail it with a reason; never leaves this file.
struct CheckFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void expect(bool condition, const std::string& what) {
  if (!condition) {
    throw CheckFailed(what);
  }
}

std::string describe(const sdk::Status& status) {
  std::string text = sdk::status_code_name(status.code);
  if (!status.text().empty()) {
    text += " (";
    text += status.text();
    text += ")";
  }
  return text;
}

void expect_ok(const sdk::Status& status, const std::string& what) {
  expect(status.is_ok(), what + ": " + describe(status));
}

void expect_code(const sdk::Status& status, sdk::StatusCode code, const std::string& what) {
  expect(status.code == code,
         what + ": expected " + sdk::status_code_name(code) + ", got " + describe(status));
}

// A frame whose bytes follow from its sequence number and size, so any changed byte shows.
Bytes pattern(uint32_t seq, std::size_t size) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<uint8_t>((seq * 131u + i * 29u + (i >> 8)) & 0xffu);
  }
  for (std::size_t k = 0; k < 4 && k < size; ++k) {
    bytes[k] = static_cast<uint8_t>((seq >> (8 * k)) & 0xffu);
  }
  return bytes;
}

uint32_t seq_of(const Bytes& frame) {
  uint32_t seq = 0;
  for (std::size_t k = 0; k < 4 && k < frame.size(); ++k) {
    seq |= uint32_t{frame[k]} << (8 * k);
  }
  return seq;
}

std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out.push_back(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  return out;
}

struct Received {
  std::string from;
  Bytes frame;
};

// The suite's TransportEvents: records frames, and notices callbacks made after stop() returned
// and callbacks made while another one is still running.
class Recorder final : public sdk::TransportEvents {
 public:
  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    enter();
    try {
      std::lock_guard lock(mu_);
      frames_.push_back({std::string(endpoint.str()), Bytes(frame.data, frame.data + frame.size)});
    } catch (...) {
      failed_records_.fetch_add(1);
    }
    leave();
  }
  void on_link(sdk::StringView, sdk::LinkState) noexcept override {
    enter();
    leave();
  }
  void on_discovered(sdk::StringView, sdk::ByteView) noexcept override {
    enter();
    leave();
  }

  // Called on the loop right after the transport's stop() returned.
  void mark_stopped() { stopped_.store(true); }

  [[nodiscard]] std::size_t count() {
    std::lock_guard lock(mu_);
    return frames_.size();
  }
  [[nodiscard]] std::vector<Received> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  [[nodiscard]] uint64_t after_stop() const { return after_stop_.load(); }
  [[nodiscard]] uint64_t concurrent() const { return concurrent_.load(); }
  [[nodiscard]] uint64_t failed_records() const { return failed_records_.load(); }

 private:
  void enter() {
    if (stopped_.load()) {
      after_stop_.fetch_add(1);
    }
    if (inside_.fetch_add(1) != 0) {
      concurrent_.fetch_add(1);
    }
  }
  void leave() { inside_.fetch_sub(1); }

  std::mutex mu_;
  std::vector<Received> frames_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint32_t> inside_{0};
  std::atomic<uint64_t> after_stop_{0};
  std::atomic<uint64_t> concurrent_{0};
  std::atomic<uint64_t> failed_records_{0};
};

// One instance under test with its events. The recorder is declared first so that it outlives
// the transport.
struct Peer {
  Recorder inbox;
  TransportFactory::StartedTransport started;
  sdk::TransportInfo info{};

  [[nodiscard]] sdk::Transport& transport() const { return *started.transport; }
  [[nodiscard]] const std::string& endpoint() const { return started.endpoint; }
  [[nodiscard]] bool reliable() const { return (info.flags & sdk::kTransportReliable) != 0; }
};

// Creates peers for one check, and stops and destroys their transports (in that order, stop on
// the loop) when the check ends, whether it passed or not. The recorders go to `retired`, which
// outlives every check, so that a transport that calls back after stop() (no_callback_after_stop
// fails it) writes to live memory rather than crashing the checker.
class Harness {
 public:
  Harness(TransportFactory& factory, std::vector<std::unique_ptr<Peer>>& retired)
      : factory_(factory), retired_(retired) {}
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;
  ~Harness() {
    for (auto& peer : peers_) {
      stop(*peer);
    }
    for (auto& peer : peers_) {
      peer->started.transport.reset();
      retired_.push_back(std::move(peer));
    }
  }

  Peer& add() {
    auto peer = std::make_unique<Peer>();
    const sdk::Status st = factory_.create_started(peer->inbox, peer->started);
    expect_ok(st, "creating and starting an instance");
    expect(peer->started.transport != nullptr, "the factory returned no instance");
    Peer& ref = *peer;
    peers_.push_back(std::move(peer));
    factory_.run_on_loop([&] { ref.info = ref.transport().info(); });
    return ref;
  }

  sdk::Status send(Peer& from, const std::string& to, const Bytes& frame) {
    sdk::Status st;
    factory_.run_on_loop(
        [&] { st = from.transport().send(sdk::StringView(to), sdk::ByteView(frame)); });
    return st;
  }

  void stop(Peer& peer) {
    factory_.run_on_loop([&] {
      peer.transport().stop();
      peer.inbox.mark_stopped();
    });
  }

  bool wait_for(Recorder& inbox, std::size_t frames, uint32_t timeout_ms = kArrivalTimeoutMs) {
    return factory_.wait_until([&] { return inbox.count() >= frames; }, timeout_ms);
  }
  void settle(uint32_t ms = kSettleMs) {
    (void)factory_.wait_until([] { return false; }, ms);
  }

  // Sends until `to` has received at least `want` frames in total: once for a reliable transport,
  // up to kDatagramAttempts times for a datagram one (loopback may drop one).
  void deliver(Peer& from, Peer& to, const Bytes& frame, std::size_t want,
               const std::string& what) {
    const int attempts = from.reliable() ? 1 : kDatagramAttempts;
    for (int i = 0; i < attempts; ++i) {
      expect_ok(send(from, to.endpoint(), frame), what + ": send");
      if (wait_for(to.inbox, want)) {
        return;
      }
    }
    throw CheckFailed(what + ": nothing arrived within " + std::to_string(kArrivalTimeoutMs) +
                      " ms (" + std::to_string(attempts) + " attempt(s))");
  }

  [[nodiscard]] TransportFactory& factory() { return factory_; }

 private:
  TransportFactory& factory_;
  std::vector<std::unique_ptr<Peer>>& retired_;
  std::vector<std::unique_ptr<Peer>> peers_;
};

void expect_intact(const Received& got, const Bytes& sent, const std::string& what) {
  expect(got.frame.size() == sent.size(), what + ": " + std::to_string(sent.size()) +
                                              " bytes sent, " + std::to_string(got.frame.size()) +
                                              " received");
  expect(got.frame == sent, what + ": the frame's bytes changed in transit");
}

void check_info(Harness& h) {
  Peer& a = h.add();
  const char* end =
      static_cast<const char*>(std::memchr(a.info.scheme, '\0', sizeof a.info.scheme));
  expect(end != nullptr, "scheme is not NUL-terminated within its 16 bytes");
  const std::string_view scheme(a.info.scheme, static_cast<std::size_t>(end - a.info.scheme));
  expect(!scheme.empty(), "scheme is empty");
  for (const char c : scheme) {
    expect(c > 0x20 && c < 0x7f && c != ':', "scheme '" + printable(scheme) +
                                                 "' has a character other than printable ASCII "
                                                 "without ':'");
  }
  expect(a.info.max_payload_bytes >= sdk::kTransportMinPayloadBytes,
         "max_payload_bytes is " + std::to_string(a.info.max_payload_bytes) + ", below " +
             std::to_string(sdk::kTransportMinPayloadBytes));
}

void check_local_endpoints(Harness& h) {
  Peer& a = h.add();
  const std::string prefix = std::string(a.info.scheme) + ":";
  std::string all;
  sdk::Status st;
  h.factory().run_on_loop([&] {
    sdk::StringSink sink(all);
    st = a.transport().local_endpoints(sink);
  });
  expect_ok(st, "local_endpoints");
  expect(!all.empty(), "local_endpoints gave nothing");
  std::size_t start = 0;
  while (start <= all.size()) {
    const std::size_t newline = all.find('\n', start);
    const std::string line =
        all.substr(start, newline == std::string::npos ? std::string::npos : newline - start);
    if (!line.empty()) {
      expect(line.rfind(prefix, 0) == 0,
             "local endpoint '" + printable(line) + "' does not start with '" + prefix + "'");
      expect(line.size() <= sdk::kMaxEndpointBytes &&
                 std::all_of(line.begin(), line.end(), [](char c) { return c > 0x20 && c < 0x7f; }),
             "local endpoint '" + printable(line.substr(0, 64)) + "' is not 1 to " +
                 std::to_string(sdk::kMaxEndpointBytes) +
                 " bytes of printable ASCII without spaces (transport.hpp, endpoint rules)");
    }
    if (newline == std::string::npos) {
      break;
    }
    start = newline + 1;
  }
  expect(a.endpoint().rfind(prefix, 0) == 0, "the factory's endpoint '" + printable(a.endpoint()) +
                                                 "' does not start with '" + prefix + "'");
}

void check_round_trip(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  const Bytes ping = pattern(1, 32);
  h.deliver(a, b, ping, 1, "A -> B");
  const Received at_b = b.inbox.frames().front();
  expect_intact(at_b, ping, "A -> B");
  expect(at_b.from == a.endpoint(), "B was told the frame came from '" + printable(at_b.from) +
                                        "', A's endpoint is '" + printable(a.endpoint()) + "'");

  const Bytes pong = pattern(2, 40);
  const int attempts = b.reliable() ? 1 : kDatagramAttempts;
  bool arrived = false;
  for (int i = 0; i < attempts && !arrived; ++i) {
    expect_ok(h.send(b, at_b.from, pong), "B replies to the endpoint it was told");
    arrived = h.wait_for(a.inbox, 1);
  }
  expect(arrived, "B's reply to '" + printable(at_b.from) + "' never reached A");
  const Received at_a = a.inbox.frames().front();
  expect_intact(at_a, pong, "B -> A");
  expect(at_a.from == b.endpoint(), "A was told the reply came from '" + printable(at_a.from) +
                                        "', B's endpoint is '" + printable(b.endpoint()) + "'");
}

void check_distinct_senders(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  Peer& c = h.add();
  h.deliver(a, c, pattern(10, 16), 1, "A -> C");
  h.deliver(b, c, pattern(20, 16), 2, "B -> C");
  std::map<uint32_t, std::string> sender_of; // seq -> endpoint C was told
  for (const Received& r : c.inbox.frames()) {
    expect(r.frame.size() == 16, "C received a frame of the wrong size");
    sender_of[seq_of(r.frame)] = r.from;
  }
  expect(sender_of.contains(10) && sender_of.contains(20), "C did not get both frames");
  expect(sender_of[10] != sender_of[20],
         "C was told the same endpoint '" + printable(sender_of[10]) + "' for A and for B");
  for (const auto& [seq, from] : sender_of) {
    Peer& sender = seq == 10 ? a : b;
    const Bytes reply = pattern(seq + 1, 24);
    const int attempts = c.reliable() ? 1 : kDatagramAttempts;
    bool arrived = false;
    for (int i = 0; i < attempts && !arrived; ++i) {
      expect_ok(h.send(c, from, reply), "C replies");
      arrived = h.wait_for(sender.inbox, 1);
    }
    expect(arrived, "C's reply to '" + printable(from) + "' did not reach its sender");
  }
  h.settle();
  for (Peer* p : {&a, &b}) {
    for (const Received& r : p->inbox.frames()) {
      const uint32_t expected = (p == &a ? 10u : 20u) + 1;
      expect(seq_of(r.frame) == expected, "a reply reached the wrong sender");
    }
  }
}

void check_max_payload(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  const Bytes frame = pattern(7, a.info.max_payload_bytes);
  h.deliver(a, b, frame, 1, "a frame of max_payload_bytes");
  expect_intact(b.inbox.frames().front(), frame, "a frame of max_payload_bytes");
}

void check_oversized(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  const std::size_t max = a.info.max_payload_bytes;
  expect_code(h.send(a, b.endpoint(), Bytes(max + 1, 0x5a)), sdk::StatusCode::kOutOfRange,
              "a frame of max_payload_bytes + 1");
  expect_code(h.send(a, b.endpoint(), Bytes(max + 65536, 0x5a)), sdk::StatusCode::kOutOfRange,
              "a frame of max_payload_bytes + 65536");
  h.settle();
  expect(b.inbox.count() == 0, "a refused frame was delivered anyway");
}

void check_empty_frame(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  constexpr int kSends = 3;
  const sdk::Status first = h.send(a, b.endpoint(), Bytes{});
  for (int i = 1; i < kSends; ++i) {
    const sdk::Status again = h.send(a, b.endpoint(), Bytes{});
    expect(again.code == first.code,
           "an empty frame was first " + describe(first) + ", then " + describe(again));
  }
  if (first.is_ok()) {
    expect(h.wait_for(b.inbox, 1), "empty frames were accepted but none arrived");
  } else {
    expect(first.code == sdk::StatusCode::kInvalidArgument ||
               first.code == sdk::StatusCode::kOutOfRange,
           "an empty frame was refused with " + describe(first) +
               "; expected invalid argument or out of range");
  }
  h.settle();
  const auto frames = b.inbox.frames();
  if (!first.is_ok()) {
    expect(frames.empty(), "refused empty frames were delivered anyway");
  }
  expect(frames.size() <= static_cast<std::size_t>(kSends),
         std::to_string(frames.size()) + " frames arrived for " + std::to_string(kSends) +
             " empty ones sent");
  for (const Received& r : frames) {
    expect(r.frame.empty(),
           "an empty frame arrived with " + std::to_string(r.frame.size()) + " bytes");
  }
}

void check_unparsable_endpoints(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  const std::string scheme(a.info.scheme);
  const std::string other = scheme == "zz-none" ? "zz-other" : "zz-none";
  std::vector<std::string> bad = {
      "",
      ":",
      scheme,
      scheme + ":",
      "nonsense",
      other + ":" + b.endpoint().substr(std::min(b.endpoint().size(), scheme.size() + 1)),
      b.endpoint() + " \x01",
      b.endpoint() + std::string(1, '\0'),
      std::string(1, '\0') + b.endpoint(),
      scheme + ":\xff\xfe\xfd",
      std::string(4096, 'x'),
  };
  for (const std::string& endpoint : bad) {
    expect_code(h.send(a, endpoint, pattern(3, 8)), sdk::StatusCode::kInvalidArgument,
                "endpoint '" + printable(endpoint.substr(0, 64)) + "'");
  }
  h.settle();
  expect(b.inbox.count() == 0, "a frame sent to an unparsable endpoint reached B");
}

std::size_t burst_frame_size(uint32_t seq, uint32_t max_payload) {
  const uint32_t largest = std::min(max_payload, kBurstMaxFrameBytes);
  return 4 + (seq * 37u) % (largest - 4 + 1);
}

void check_burst(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  const uint32_t max = a.info.max_payload_bytes;
  uint32_t next = 0;
  uint32_t stalled_ms = 0;
  while (next < kBurstFrames) {
    const uint32_t batch_end = std::min(next + kBurstBatch, kBurstFrames);
    sdk::Status refused;
    h.factory().run_on_loop([&] {
      for (; next < batch_end; ++next) {
        const Bytes frame = pattern(next, burst_frame_size(next, max));
        refused = a.transport().send(sdk::StringView(b.endpoint()), frame);
        if (!refused.is_ok()) {
          break;
        }
      }
    });
    if (!refused.is_ok()) {
      // A full queue is allowed: give it time to drain, then go on from the refused frame.
      expect_code(refused, sdk::StatusCode::kUnavailable, "burst frame " + std::to_string(next));
      expect(++stalled_ms <= 1000, "the send queue stayed full for a second");
      h.settle(1);
      continue;
    }
    stalled_ms = 0;
    // Pace the sender so that at most a batch (plus the frames the check may lose) is in flight:
    // the receiver's socket buffer overflowing on a loaded machine is not what is being measured.
    const std::size_t may_lose = std::size_t{kBurstFrames} * kBurstMaxLossPercent / 100;
    (void)h.wait_for(b.inbox, next > may_lose ? next - may_lose : 0, kBurstPaceTimeoutMs);
  }
  (void)h.wait_for(b.inbox, kBurstFrames);
  h.settle();

  const auto frames = b.inbox.frames();
  const uint32_t b_max = b.info.max_payload_bytes;
  std::set<uint32_t> seen;
  std::vector<uint32_t> order;
  for (const Received& r : frames) {
    expect(r.frame.size() <= b_max, "a frame of " + std::to_string(r.frame.size()) +
                                        " bytes was delivered, over max_payload_bytes");
    expect(r.frame.size() >= 4,
           "a frame arrived cut to " + std::to_string(r.frame.size()) + " bytes");
    const uint32_t seq = seq_of(r.frame);
    expect(seq < kBurstFrames, "a frame arrived with an unknown sequence number (corrupted)");
    expect(r.frame == pattern(seq, burst_frame_size(seq, max)),
           "frame " + std::to_string(seq) + " arrived changed");
    expect(r.from == a.endpoint(),
           "frame " + std::to_string(seq) + " said it came from '" + printable(r.from) + "'");
    expect(seen.insert(seq).second, "frame " + std::to_string(seq) + " arrived twice");
    order.push_back(seq);
  }
  const std::size_t lost = kBurstFrames - seen.size();
  if (a.reliable()) {
    expect(lost == 0, std::to_string(lost) + " frames lost on a reliable transport");
    expect(std::is_sorted(order.begin(), order.end()),
           "a reliable transport delivered frames out of order");
  } else {
    expect(lost * 100 <= std::size_t{kBurstFrames} * kBurstMaxLossPercent,
           std::to_string(lost) + " of " + std::to_string(kBurstFrames) +
               " frames lost, more than " + std::to_string(kBurstMaxLossPercent) + "%");
  }
  expect(b.inbox.concurrent() == 0, "callbacks for one transport ran concurrently");
  expect(b.inbox.failed_records() == 0, "the suite could not record a frame (out of memory?)");
}

void check_send_after_stop(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  h.stop(a);
  expect_code(h.send(a, b.endpoint(), pattern(4, 8)), sdk::StatusCode::kClosed,
              "send after stop()");
}

void check_no_callback_after_stop(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  constexpr uint32_t kFrames = 200;
  const auto burst = [&](uint32_t first) {
    for (uint32_t seq = first; seq < first + kFrames; ++seq) {
      (void)b.transport().send(sdk::StringView(a.endpoint()), pattern(seq, 64));
    }
  };
  h.factory().run_on_loop([&] { burst(0); });
  // A is now busy receiving: stop it with more frames on their way.
  (void)h.wait_for(a.inbox, 1);
  h.factory().run_on_loop([&] {
    burst(kFrames);
    a.transport().stop();
    a.inbox.mark_stopped();
  });
  h.factory().run_on_loop([&] { burst(2 * kFrames); });
  h.settle(2 * kSettleMs);
  expect(a.inbox.after_stop() == 0,
         std::to_string(a.inbox.after_stop()) + " callbacks arrived after stop() returned");
}

void check_stop_idempotent(Harness& h) {
  Peer& a = h.add();
  Peer& b = h.add();
  for (int i = 0; i < 3; ++i) {
    h.stop(a);
  }
  expect_code(h.send(a, b.endpoint(), pattern(5, 8)), sdk::StatusCode::kClosed,
              "send after three stop() calls");
  // B still works after A's repeated stops.
  Peer& c = h.add();
  h.deliver(b, c, pattern(6, 8), 1, "B -> C after A stopped three times");
}

} // namespace

std::string first_local_endpoint(const sdk::Transport& t) {
  std::string all;
  sdk::StringSink sink(all);
  if (!t.local_endpoints(sink).is_ok()) {
    return {};
  }
  return all.substr(0, all.find('\n'));
}

namespace {

// Passes every callback on, and notes when a relayed transport reports a link of its own up.
class LinkWatcher final : public sdk::TransportEvents {
 public:
  explicit LinkWatcher(sdk::TransportEvents& inner) : inner_(inner) {}
  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    inner_.on_frame(endpoint, frame);
  }
  void on_link(sdk::StringView endpoint, sdk::LinkState state) noexcept override {
    if (state == sdk::LinkState::kUp) {
      up_ = true;
    }
    inner_.on_link(endpoint, state);
  }
  void on_discovered(sdk::StringView endpoint, sdk::ByteView beacon) noexcept override {
    inner_.on_discovered(endpoint, beacon);
  }
  [[nodiscard]] bool up() const { return up_.load(); }

 private:
  sdk::TransportEvents& inner_;
  std::atomic<bool> up_{false};
};

// One plugin object and the Host it was created with; the object goes first, after it gave back
// the identity it may hold.
struct PluginInstance {
  std::unique_ptr<KernelIdentityProof> proof;
  std::unique_ptr<LinkWatcher> watcher;
  std::unique_ptr<PluginHost> host;
  PluginPtr<sdk::Plugin> root;
};

} // namespace

std::string expand_transport_config(std::string_view config_toml, uint32_t instance,
                                    const std::filesystem::path& data_dir) {
  static constexpr std::string_view kInstance = "{instance}";
  static constexpr std::string_view kDataDir = "{data_dir}";
  std::string out;
  out.reserve(config_toml.size());
  while (!config_toml.empty()) {
    if (config_toml.starts_with(kInstance)) {
      out += std::to_string(instance);
      config_toml.remove_prefix(kInstance.size());
    } else if (config_toml.starts_with(kDataDir)) {
      out += data_dir.string();
      config_toml.remove_prefix(kDataDir.size());
    } else {
      out.push_back(config_toml.front());
      config_toml.remove_prefix(1);
    }
  }
  return out;
}

PluginTransportFactory::PluginTransportFactory(std::shared_ptr<const LoadedLibrary> library,
                                               Runtime& runtime, std::string config_toml,
                                               std::shared_ptr<spdlog::logger> logger,
                                               sdk::CryptoSuite* identities)
    : library_(std::move(library)), runtime_(runtime), config_toml_(std::move(config_toml)),
      logger_(logger ? std::move(logger) : spdlog::default_logger()), identities_(identities),
      scratch_(std::make_unique<ScratchDirectory>("entre-transport-check")) {}

PluginTransportFactory::~PluginTransportFactory() = default;

sdk::Status PluginTransportFactory::create_started(sdk::TransportEvents& events,
                                                   StartedTransport& out) {
  const uint32_t number = ++instances_;
  std::filesystem::path data_dir;
  try {
    data_dir = scratch_->make_subdirectory("instance-" + std::to_string(number));
  } catch (const std::runtime_error& error) {
    return sdk::Status::error(sdk::StatusCode::kIoError, error.what());
  }
  std::shared_ptr<toml::table> table;
  try {
    table = std::make_shared<toml::table>(toml::parse(
        expand_transport_config(config_toml_, number, data_dir), std::string("conformance.toml")));
  } catch (const toml::parse_error& error) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                              "conformance config: " + std::string(error.description()));
  }
  auto instance = std::make_shared<PluginInstance>();
  instance->host = std::make_unique<PluginHost>(
      library_->manifest().id, std::make_unique<TomlConfigView>(table, "conformance.toml", 0),
      data_dir, runtime_, logger_);
  sdk::Plugin* root = nullptr;
  const sdk::Status made = library_->factory()(*instance->host, &root);
  if (!made.is_ok()) {
    return made;
  }
  if (root == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "the factory returned no object");
  }
  instance->root = PluginPtr<sdk::Plugin>(root, library_);
  auto* transport = sdk::query<sdk::Transport>(*instance->root, sdk::InterfaceId::kTransportV1);
  if (transport == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kUnsupported, "no transport interface v1");
  }
  sdk::RelayedTransport* relayed = nullptr;
  if ((transport->info().flags & sdk::kTransportRelayed) != 0) {
    relayed =
        sdk::query<sdk::RelayedTransport>(*instance->root, sdk::InterfaceId::kRelayedTransportV1);
    if (relayed == nullptr || identities_ == nullptr) {
      return sdk::Status::error(sdk::StatusCode::kUnsupported,
                                relayed == nullptr
                                    ? "relayed transport without the RelayedTransport interface"
                                    : "a relayed transport needs a crypto suite for identities");
    }
    std::vector<uint8_t> secret;
    sdk::VectorSink sink(secret, 4096);
    std::array<uint8_t, sdk::kPublicKeyBytes> user_id{};
    const sdk::Status made_id =
        identities_->generate_identity(sink, sdk::MutableByteView(user_id.data(), user_id.size()));
    if (!made_id.is_ok()) {
      return made_id;
    }
    instance->proof = std::make_unique<KernelIdentityProof>(*identities_);
    instance->proof->set(secret, user_id);
    sodium_memzero(secret.data(), secret.size());
    instance->watcher = std::make_unique<LinkWatcher>(events);
  }
  sdk::Status started;
  std::string endpoint;
  runtime_.run_on_loop([&] {
    started = transport->start(instance->watcher ? *instance->watcher : events);
    if (started.is_ok() && relayed != nullptr) {
      relayed->attach(instance->proof.get());
    }
    if (started.is_ok()) {
      endpoint = first_local_endpoint(*transport);
    }
  });
  if (!started.is_ok()) {
    return started;
  }
  if (relayed != nullptr) {
    LinkWatcher* watcher = instance->watcher.get();
    if (!wait_until([watcher] { return watcher->up(); }, 30000)) {
      runtime_.run_on_loop([&] {
        transport->stop();
        relayed->attach(nullptr);
      });
      return sdk::Status::error(sdk::StatusCode::kUnavailable,
                                "the relayed transport did not link to its relay within 30 s");
    }
  }
  out.endpoint = std::move(endpoint);
  Runtime* runtime = &runtime_;
  out.transport =
      Instance(transport, [owner = std::move(instance), relayed, runtime](sdk::Transport*) mutable {
        if (relayed != nullptr) {
          runtime->run_on_loop([&] { relayed->attach(nullptr); });
        }
        owner.reset();
      });
  return sdk::Status::ok();
}

void PluginTransportFactory::run_on_loop(const std::function<void()>& fn) {
  runtime_.run_on_loop(fn);
}

bool PluginTransportFactory::wait_until(const std::function<bool()>& done, uint32_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return done();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::vector<ConformanceCheck> run_transport_conformance(TransportFactory& factory) {
  using Check = void (*)(Harness&);
  static constexpr std::pair<const char*, Check> kChecks[] = {
      {"info_is_sane", check_info},
      {"local_endpoint_has_the_scheme", check_local_endpoints},
      {"frame_arrives_with_a_replyable_sender", check_round_trip},
      {"distinct_senders_are_told_apart", check_distinct_senders},
      {"max_payload_frame_arrives_intact", check_max_payload},
      {"oversized_frame_is_refused", check_oversized},
      {"empty_frame_is_consistent", check_empty_frame},
      {"unparsable_endpoints_are_refused", check_unparsable_endpoints},
      {"burst_arrives_without_duplicates_or_corruption", check_burst},
      {"send_after_stop_is_closed", check_send_after_stop},
      {"no_callback_after_stop", check_no_callback_after_stop},
      {"stop_is_idempotent", check_stop_idempotent},
  };
  std::vector<std::unique_ptr<Peer>> retired;
  std::vector<ConformanceCheck> results;
  for (const auto& [name, check] : kChecks) {
    ConformanceCheck result{name, false, {}};
    try {
      Harness harness(factory, retired);
      check(harness);
      result.passed = true;
    } catch (const std::exception& e) {
      result.detail = e.what();
    }
    results.push_back(std::move(result));
  }
  return results;
}

} // namespace entre
