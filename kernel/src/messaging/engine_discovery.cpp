// The engine's side of LAN discovery (beacons composed and recognised by discovery::BeaconBook)
// and of the private network scope.
#include "messaging/engine.hpp"
#include "messaging/engine_internal.hpp"
#include "messaging/wire.hpp"

#include <entre/sdk/net.hpp>

#include <algorithm>

namespace entre {

using namespace engine_detail;

namespace {

// Pairwise keys derived per turn at unlock (one X25519 each, about 55 us here): a long contact
// list never holds the messenger thread for more than a few milliseconds at a time.
constexpr std::size_t kPairwiseSlice = 64;

} // namespace

bool Engine::in_scope(std::string_view endpoint) const {
  if (!config_.private_scope) {
    return true;
  }
  const std::string_view scheme = endpoint.substr(0, endpoint.find(':'));
  for (const TransportSlot& t : transports_) {
    if (t.local_only && t.scheme == scheme) {
      return true; // the transport says its endpoints never leave the machine
    }
  }
  const auto host = sdk::endpoint_host(endpoint);
  return host && sdk::is_local_network(*host);
}

std::vector<std::string> Engine::endpoints_of(const Contact& c) const {
  std::vector<std::string> all;
  for (const auto* list : {&c.hints, &c.discovered}) {
    for (const std::string& e : *list) {
      if (in_scope(e) && std::find(all.begin(), all.end(), e) == all.end()) {
        all.push_back(e);
      }
    }
  }
  return all;
}

void Engine::start_discovery() {
  beacons_.reset();
  const bool any = std::any_of(transports_.begin(), transports_.end(),
                               [](const TransportSlot& t) { return t.discovery != nullptr; });
  if (!any) {
    return;
  }
  if (pairwise_ == nullptr) {
    out_.log(2, "discovery: the crypto suite has no pairwise keys, so LAN beacons are off");
    return;
  }
  beacons_ = std::make_unique<discovery::BeaconBook>(
      *pairwise_, [this](sdk::MutableByteView out) { crypto_.random_bytes(out); }, identity_secret_,
      my_key_, config_.discovery_epoch_ms, config_.beacon_entries);
  for (const auto& [key, c] : contacts_) {
    if (!c->blocked()) {
      beacons_->queue_contact(key); // derived a slice per turn (discovery_timers)
    }
  }
  const uint64_t now = clock_.mono_ms();
  for (TransportSlot& t : transports_) {
    t.next_beacon_ms = now;
  }
  out_.log(1, "discovery: announcing to " + std::to_string(beacons_->queued()) +
                  " contact(s), tags change every " +
                  std::to_string(config_.discovery_epoch_ms / 1000) + " s");
}

void Engine::discovery_contact(const Contact& c) {
  if (!beacons_) {
    return;
  }
  if (c.blocked() || !contacts_.contains(c.key)) {
    beacons_->remove_contact(c.key);
  } else if (!beacons_->add_contact(c.key)) {
    out_.log(2, "discovery: contact " + c.hex.substr(0, 16) + " has an unusable key");
  }
}

bool Engine::meeting_open() const {
  return meeting_until_ms_ != 0 && clock_.mono_ms() < meeting_until_ms_;
}

ApiStatus Engine::open_meeting(uint32_t duration_ms) {
  if (!unlocked_) {
    return ApiStatus::fail(sdk::StatusCode::kClosed, "the identity is locked");
  }
  if (!config_.allow_meeting) {
    return ApiStatus::fail(sdk::StatusCode::kPermissionDenied,
                           "the profile forbids meeting mode ([discovery] allow_meeting = false)");
  }
  if (!beacons_) {
    return ApiStatus::fail(sdk::StatusCode::kUnavailable,
                           "meeting mode needs a LAN discovery transport (entre.transport.lan) "
                           "and a crypto suite with pairwise keys");
  }
  if (duration_ms == 0) {
    return ApiStatus::fail(sdk::StatusCode::kInvalidArgument, "a meeting lasts at least 1 s");
  }
  const uint32_t ms = std::min(duration_ms, config_.max_meeting_ms);
  const uint64_t now = clock_.mono_ms();
  meeting_until_ms_ = now + ms;
  met_.clear();
  for (TransportSlot& t : transports_) {
    t.next_beacon_ms = now; // announce at once
  }
  out_.log(1, "meeting mode open for " + std::to_string(ms / 1000) +
                  " s: this node's id and name are visible to everyone on the LAN");
  return ApiStatus::of({});
}

ApiStatus Engine::close_meeting() {
  if (meeting_until_ms_ != 0) {
    out_.log(1, "meeting mode closed");
  }
  meeting_until_ms_ = 0;
  met_.clear();
  return ApiStatus::of({});
}

void Engine::read_meeting_beacon(std::string_view endpoint, std::span<const uint8_t> beacon) {
  const auto met = discovery::parse_meeting_beacon(beacon);
  if (!met) {
    ++counters_.beacons_refused;
    return;
  }
  if (!meeting_open() || met->key == my_key_ || find_contact(met->key) != nullptr ||
      met_.contains(met->key)) {
    return;
  }
  std::string code;
  sdk::StringSink code_sink(code, 8192);
  std::string safety;
  sdk::StringSink safety_sink(safety, 1024);
  const std::string hint(endpoint);
  if (!crypto_.encode_contact_code(bv(met->key), sdk::StringView(hint), code_sink).is_ok() ||
      !crypto_.safety_number(bv(my_key_), bv(met->key), safety_sink).is_ok()) {
    ++counters_.beacons_refused;
    return;
  }
  met_.insert(met->key);
  held_events_.push_back(PeerMet{wire::hex(met->key), met->name, code, safety});
}

void Engine::discovery_timers(uint64_t now) {
  if (!beacons_) {
    return;
  }
  if (meeting_until_ms_ != 0 && now >= meeting_until_ms_) {
    (void)close_meeting();
  }
  if (beacons_->queued() > 0) {
    (void)beacons_->derive_queued(kPairwiseSlice);
  }
  for (std::size_t i = 0; i < transports_.size(); ++i) {
    TransportSlot& t = transports_[i];
    if (t.discovery == nullptr || t.next_beacon_ms > now) {
      continue;
    }
    out_.send_beacon(i, beacons_->next_beacon(clock_.wall_ms()));
    ++counters_.beacons_sent;
    if (meeting_open()) {
      out_.send_beacon(i, discovery::make_meeting_beacon(my_key_, config_.meeting_name));
      ++counters_.beacons_sent;
    }
    // The interval, less up to a tenth at random, so that nodes started together drift apart.
    const uint64_t interval = std::max<uint32_t>(t.discovery->beacon_interval_ms(), 100);
    uint16_t jitter = 0;
    crypto_.random_bytes({reinterpret_cast<uint8_t*>(&jitter), sizeof jitter});
    t.next_beacon_ms = now + interval - jitter % (interval / 10 + 1);
  }
}

void Engine::on_discovered(std::size_t transport, std::string_view endpoint,
                           std::span<const uint8_t> beacon) {
  if (!beacons_ || transport >= transports_.size()) {
    return;
  }
  if (!in_scope(endpoint)) {
    ++counters_.scope_refusals;
    return;
  }
  if (discovery::is_meeting_beacon(beacon)) {
    read_meeting_beacon(endpoint, beacon);
    return;
  }
  std::vector<discovery::Key> found;
  const discovery::BeaconVerdict verdict = beacons_->read(beacon, clock_.wall_ms(), found);
  if (verdict != discovery::BeaconVerdict::kRecognised) {
    counters_.beacons_refused += verdict == discovery::BeaconVerdict::kUnrecognised ? 0 : 1;
    return;
  }
  ++counters_.beacons_recognised;
  const std::string scheme = transports_[transport].scheme;
  if (endpoint.substr(0, scheme.size() + 1) != scheme + ":") {
    return;
  }
  for (const discovery::Key& key : found) {
    Contact* c = find_contact(key);
    if (c == nullptr || c->blocked()) {
      continue;
    }
    const std::string where(endpoint);
    if (std::find(c->discovered.begin(), c->discovered.end(), where) == c->discovered.end()) {
      out_.log(1, "discovery: " + c->hex.substr(0, 16) + " is at " + where);
    }
    learn_endpoint(*c, where);
    const bool linked = std::any_of(c->links.begin(), c->links.end(), [&](uint32_t index) {
      const Link& l = *links_.at(index);
      return l.transport == transport && l.endpoint == where;
    });
    if (!linked) {
      connect(*c);
    }
  }
}

} // namespace entre
