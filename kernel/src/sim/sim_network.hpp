// The scenario network: an in-memory network of named nodes on a FakeClock, with impairments that
// a test sets per directed link, for multi-node tests that read like protocol specifications.
//
//   FakeClock clock;
//   SimNetwork net(clock, /*seed=*/42);
//   net.set_default({.impairment = {.loss = 0.1, .latency_ms = 20}});
//   SimTransport alice(net, "alice"), bob(net, "bob");   // endpoints "sim:alice", "sim:bob"
//   ... start both, alice.send("sim:bob", frame) ...
//   clock.run_for(100);                                   // bob's on_frame runs in here
//
// Contract
// - Nodes are addressed as "sim:<name>"; a name is 1 to 64 characters of [A-Za-z0-9._-]. A node
//   exists while it is attached (SimTransport attaches in start() and detaches in stop()).
// - Each frame sent from A to B meets the settings of the directed link A->B (or the default):
//   partition check, then loss, duplication, reordering, latency and jitter as described in
//   impairment.hpp, then (if bandwidth_bytes_per_s is set) a queue that serialises frames on the
//   link and drops any frame that would wait more than queue_limit_ms. Frames are delivered by
//   clock timers, so on the test's thread, inside the FakeClock's run_* calls.
// - A partition drops every frame between its two sides, both ways, until healed; frames already
//   in flight when it starts are dropped when they arrive. Frames to a node that is not attached
//   when they arrive are dropped.
// - All randomness comes from one std::mt19937_64 seeded by the test, drawn in send order: the same
//   seed and the same sends give the same deliveries at the same times.
// - Counters per directed link always satisfy, once nothing is in flight:
//   sent + duplicated == delivered + dropped.
// - Not thread-safe: like the clock, it belongs to the test's thread.
#pragma once

#include "sim/fake_clock.hpp"
#include "sim/impairment.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace entre::sim {

inline constexpr std::string_view kSimScheme = "sim";
inline constexpr std::size_t kMaxSimNameBytes = 64;

struct LinkSettings {
  Impairment impairment;
  uint64_t bandwidth_bytes_per_s = 0; // 0: unlimited
  uint32_t queue_limit_ms = 1000;     // with a bandwidth: longest wait in the link's queue
};

struct LinkCounters {
  uint64_t sent = 0;       // frames handed to the link
  uint64_t delivered = 0;  // copies handed to the receiving node (duplicates included)
  uint64_t dropped = 0;    // lost, partitioned, queue overflow, or no node to receive
  uint64_t duplicated = 0; // extra copies made
  uint64_t reordered = 0;  // frames held back so later ones overtake them

  LinkCounters& operator+=(const LinkCounters& other);
  bool operator==(const LinkCounters&) const = default;
};

// What a node attached to the network receives; SimTransport implements it.
class SimNode {
 public:
  // `from` is the sender's endpoint ("sim:<name>"); the bytes are valid during the call only.
  virtual void deliver(std::string_view from, std::span<const uint8_t> frame) = 0;

 protected:
  ~SimNode() = default;
};

[[nodiscard]] bool is_valid_sim_name(std::string_view name);
// The name in "sim:<name>", or nullopt if `endpoint` is not a valid sim endpoint.
[[nodiscard]] std::optional<std::string_view> parse_sim_endpoint(std::string_view endpoint);
[[nodiscard]] std::string sim_endpoint(std::string_view name);

class SimNetwork {
 public:
  using PartitionId = uint64_t;

  SimNetwork(FakeClock& clock, uint64_t seed);
  // Deliveries still in flight stay on the clock but do nothing when they run (the clock may
  // outlive the network).
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  [[nodiscard]] FakeClock& clock() { return clock_; }

  // Settings for links that have none of their own.
  void set_default(const LinkSettings& settings) { default_ = settings; }
  [[nodiscard]] const LinkSettings& default_settings() const { return default_; }
  // Settings for the directed link from -> to; set_link_both_ways sets both directions.
  void set_link(std::string_view from, std::string_view to, const LinkSettings& settings);
  void set_link_both_ways(std::string_view a, std::string_view b, const LinkSettings& settings);
  // Back to the default for from -> to (counters are kept).
  void clear_link(std::string_view from, std::string_view to);
  [[nodiscard]] LinkSettings link_settings(std::string_view from, std::string_view to) const;

  // Cuts every link between a node of `side_a` and a node of `side_b`, both ways.
  PartitionId partition(const std::vector<std::string>& side_a,
                        const std::vector<std::string>& side_b);
  void heal(PartitionId id);
  void heal_all() { partitions_.clear(); }
  [[nodiscard]] bool partitioned(std::string_view from, std::string_view to) const;

  [[nodiscard]] LinkCounters counters(std::string_view from, std::string_view to) const;
  [[nodiscard]] LinkCounters totals() const;
  // Copies scheduled for delivery and not yet delivered or dropped.
  [[nodiscard]] uint64_t in_flight() const { return in_flight_; }

  // For SimTransport. attach() returns false if the name is invalid or taken.
  [[nodiscard]] bool attach(std::string_view name, SimNode& node);
  void detach(std::string_view name);
  [[nodiscard]] bool attached(std::string_view name) const;
  // Sends one frame over the link from -> to, applying its settings.
  void send(std::string_view from, std::string_view to, std::span<const uint8_t> frame);

 private:
  struct Link {
    std::string from;
    std::string to;
    std::string from_endpoint; // "sim:<from>", as the receiver is told
    std::optional<LinkSettings> settings;
    LinkCounters counters;
    uint64_t busy_until_us = 0; // when the link's queue drains, with a bandwidth
  };
  struct Partition {
    std::set<std::string, std::less<>> side_a;
    std::set<std::string, std::less<>> side_b;
  };
  using LinkKey = std::pair<std::string, std::string>;
  using LinkView = std::pair<std::string_view, std::string_view>;
  // Orders links by (from, to) and finds them by string views without building strings.
  struct LinkLess {
    using is_transparent = void;
    static LinkView view(const LinkKey& k) { return {k.first, k.second}; }
    static LinkView view(const LinkView& k) { return k; }
    template <typename A, typename B> bool operator()(const A& a, const B& b) const {
      return view(a) < view(b);
    }
  };

  Link& link(std::string_view from, std::string_view to);
  [[nodiscard]] const Link* find_link(std::string_view from, std::string_view to) const;
  void deliver(Link& link, const std::shared_ptr<const std::vector<uint8_t>>& frame);

  FakeClock& clock_;
  std::mt19937_64 rng_;
  LinkSettings default_;
  std::map<LinkKey, Link, LinkLess> links_; // node-based: a Link's address never changes
  std::map<PartitionId, Partition> partitions_;
  PartitionId next_partition_ = 1;
  std::map<std::string, SimNode*, std::less<>> nodes_;
  uint64_t in_flight_ = 0;
  // Deliveries hold a weak reference: once the network is gone they do nothing.
  std::shared_ptr<SimNetwork*> self_ = std::make_shared<SimNetwork*>(this);
};

} // namespace entre::sim
