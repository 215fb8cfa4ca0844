#include "sim/sim_network.hpp"

#include <algorithm>

namespace entre::sim {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

} // namespace

LinkCounters& LinkCounters::operator+=(const LinkCounters& other) {
  sent += other.sent;
  delivered += other.delivered;
  dropped += other.dropped;
  duplicated += other.duplicated;
  reordered += other.reordered;
  return *this;
}

bool is_valid_sim_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxSimNameBytes &&
         std::all_of(name.begin(), name.end(), name_char);
}

std::optional<std::string_view> parse_sim_endpoint(std::string_view endpoint) {
  if (endpoint.size() <= kSimScheme.size() || endpoint.substr(0, kSimScheme.size()) != kSimScheme ||
      endpoint[kSimScheme.size()] != ':') {
    return std::nullopt;
  }
  const std::string_view name = endpoint.substr(kSimScheme.size() + 1);
  if (!is_valid_sim_name(name)) {
    return std::nullopt;
  }
  return name;
}

std::string sim_endpoint(std::string_view name) {
  std::string out(kSimScheme);
  out += ':';
  out += name;
  return out;
}

SimNetwork::SimNetwork(FakeClock& clock, uint64_t seed) : clock_(clock), rng_(seed) {}

SimNetwork::~SimNetwork() = default;

SimNetwork::Link& SimNetwork::link(std::string_view from, std::string_view to) {
  const auto found = links_.find(LinkView(from, to));
  if (found != links_.end()) {
    return found->second;
  }
  Link& l = links_[LinkKey(std::string(from), std::string(to))];
  l.from = from;
  l.to = to;
  l.from_endpoint = sim_endpoint(from);
  return l;
}

const SimNetwork::Link* SimNetwork::find_link(std::string_view from, std::string_view to) const {
  const auto found = links_.find(LinkView(from, to));
  return found == links_.end() ? nullptr : &found->second;
}

void SimNetwork::set_link(std::string_view from, std::string_view to,
                          const LinkSettings& settings) {
  link(from, to).settings = settings;
}

void SimNetwork::set_link_both_ways(std::string_view a, std::string_view b,
                                    const LinkSettings& settings) {
  set_link(a, b, settings);
  set_link(b, a, settings);
}

void SimNetwork::clear_link(std::string_view from, std::string_view to) {
  link(from, to).settings.reset();
}

LinkSettings SimNetwork::link_settings(std::string_view from, std::string_view to) const {
  const Link* l = find_link(from, to);
  return l != nullptr && l->settings ? *l->settings : default_;
}

SimNetwork::PartitionId SimNetwork::partition(const std::vector<std::string>& side_a,
                                              const std::vector<std::string>& side_b) {
  const PartitionId id = next_partition_++;
  Partition& p = partitions_[id];
  p.side_a.insert(side_a.begin(), side_a.end());
  p.side_b.insert(side_b.begin(), side_b.end());
  return id;
}

void SimNetwork::heal(PartitionId id) { partitions_.erase(id); }

bool SimNetwork::partitioned(std::string_view from, std::string_view to) const {
  for (const auto& [id, p] : partitions_) {
    if ((p.side_a.contains(from) && p.side_b.contains(to)) ||
        (p.side_b.contains(from) && p.side_a.contains(to))) {
      return true;
    }
  }
  return false;
}

LinkCounters SimNetwork::counters(std::string_view from, std::string_view to) const {
  const Link* l = find_link(from, to);
  return l == nullptr ? LinkCounters{} : l->counters;
}

LinkCounters SimNetwork::totals() const {
  LinkCounters sum;
  for (const auto& [key, l] : links_) {
    sum += l.counters;
  }
  return sum;
}

bool SimNetwork::attach(std::string_view name, SimNode& node) {
  if (!is_valid_sim_name(name)) {
    return false;
  }
  return nodes_.emplace(std::string(name), &node).second;
}

void SimNetwork::detach(std::string_view name) {
  const auto found = nodes_.find(name);
  if (found != nodes_.end()) {
    nodes_.erase(found);
  }
}

bool SimNetwork::attached(std::string_view name) const { return nodes_.contains(name); }

void SimNetwork::send(std::string_view from, std::string_view to, std::span<const uint8_t> frame) {
  Link& l = link(from, to);
  const LinkSettings settings = l.settings ? *l.settings : default_;
  ++l.counters.sent;
  // Drawn before any early exit, so that a partition does not shift the random sequence of the
  // frames that follow it.
  const Fate fate = decide_fate(settings.impairment, rng_);
  if (partitioned(from, to) || fate.copies == 0) {
    ++l.counters.dropped;
    return;
  }

  const uint64_t now_us = clock_.now_ms() * 1000;
  uint64_t departure_ms = clock_.now_ms();
  if (settings.bandwidth_bytes_per_s > 0) {
    const uint64_t start_us = std::max(now_us, l.busy_until_us);
    if (start_us - now_us > uint64_t{settings.queue_limit_ms} * 1000) {
      ++l.counters.dropped;
      return;
    }
    const uint64_t transmit_us = (frame.size() * 1'000'000 + settings.bandwidth_bytes_per_s - 1) /
                                 settings.bandwidth_bytes_per_s;
    l.busy_until_us = start_us + transmit_us;
    departure_ms = (l.busy_until_us + 999) / 1000;
  }

  if (fate.reordered) {
    ++l.counters.reordered;
  }
  if (fate.copies == 2) {
    ++l.counters.duplicated;
  }
  auto data = std::make_shared<const std::vector<uint8_t>>(frame.begin(), frame.end());
  for (uint32_t i = 0; i < fate.copies; ++i) {
    ++in_flight_;
    clock_.schedule(departure_ms + fate.delay_ms[i],
                    [network = std::weak_ptr<SimNetwork*>(self_), link = &l, data] {
                      if (const auto alive = network.lock()) {
                        (*alive)->deliver(*link, data);
                      }
                    });
  }
}

void SimNetwork::deliver(Link& l, const std::shared_ptr<const std::vector<uint8_t>>& frame) {
  --in_flight_;
  const auto node = nodes_.find(l.to);
  if (node == nodes_.end() || partitioned(l.from, l.to)) {
    ++l.counters.dropped;
    return;
  }
  ++l.counters.delivered;
  node->second->deliver(l.from_endpoint, std::span<const uint8_t>(*frame));
}

} // namespace entre::sim
