// The engine's side of NAT traversal. A contact reached only through a relay is told this node's
// direct endpoints (those of every transport that is not relayed, including the public address a
// transport learned from a reflector) in an endpoints envelope, sealed end to end by the link.
// Both sides do so when their relayed link is confirmed, and both dial what they were told at
// once, so that each side's first packets open its own NAT for the other's. A direct link that
// comes up is preferred by the profile's transport order; the relayed link stays as a fallback.
#include "messaging/engine.hpp"
#include "messaging/engine_internal.hpp"
#include "messaging/wire.hpp"

#include <algorithm>

namespace entre {

using namespace engine_detail;

std::vector<std::string> Engine::direct_endpoints() const {
  std::vector<std::string> all;
  for (const TransportSlot& t : transports_) {
    if (t.relayed != nullptr) {
      continue;
    }
    std::string text;
    sdk::StringSink sink(text, 8192);
    if (!t.transport->local_endpoints(sink).is_ok()) {
      continue;
    }
    for (std::string& e : wire::split_lines(text)) {
      if (in_scope(e) && std::find(all.begin(), all.end(), e) == all.end()) {
        all.push_back(std::move(e));
      }
    }
  }
  if (all.size() > wire::kMaxEndpointsExchanged) {
    all.resize(wire::kMaxEndpointsExchanged);
  }
  return all;
}

void Engine::send_endpoints(Link& l) {
  const std::vector<std::string> mine = direct_endpoints();
  if (mine.empty() || !l.confirmed) {
    return;
  }
  send_envelope(l, wire::endpoints(mine));
}

void Engine::learn_endpoint(Contact& c, const std::string& endpoint) {
  auto it = std::find(c.discovered.begin(), c.discovered.end(), endpoint);
  if (it != c.discovered.end()) {
    c.discovered.erase(it);
  }
  c.discovered.push_back(endpoint);
  if (c.discovered.size() > kMaxDiscoveredEndpoints) {
    c.discovered.erase(c.discovered.begin());
  }
}

void Engine::handle_endpoints(Contact& c, std::span<const uint8_t> env) {
  const auto told = wire::parse_endpoints(env);
  if (!told) {
    ++counters_.frames_dropped;
    return;
  }
  std::string learned;
  for (const std::string& e : *told) {
    const std::string_view scheme = std::string_view(e).substr(0, e.find(':'));
    const bool direct = std::any_of(transports_.begin(), transports_.end(), [&](const auto& t) {
      return t.relayed == nullptr && t.scheme == scheme;
    });
    if (!direct) {
      continue;
    }
    if (!in_scope(e)) {
      ++counters_.scope_refusals;
      continue;
    }
    if (std::find(c.discovered.begin(), c.discovered.end(), e) == c.discovered.end()) {
      learned += (learned.empty() ? "" : ", ") + e;
    }
    learn_endpoint(c, e);
  }
  if (!learned.empty()) {
    out_.log(1, "contact " + c.hex.substr(0, 16) + " told its direct endpoints " + learned +
                    "; dialling them");
    c.backoff_ms = config_.reconnect_min_ms;
    connect(c);
  }
}

void Engine::direct_timers(uint64_t now) {
  if (next_direct_ms_ == 0 || now < next_direct_ms_) {
    return;
  }
  next_direct_ms_ = now + kDirectRetryMs;
  for (auto& [key, c] : contacts_) {
    auto best = links_.find(c->best);
    if (best == links_.end() || transports_[best->second->transport].relayed == nullptr) {
      continue;
    }
    send_endpoints(*best->second);
    connect(*c);
  }
}

} // namespace entre
