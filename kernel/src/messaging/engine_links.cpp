// The messaging engine: links (one per transport and endpoint of a contact), their Noise IK
// handshakes, confirmation, session agreement and choice of the best link.
#include "messaging/engine_internal.hpp"
#include "peers/channel.hpp"

#include <algorithm>
#include <cstring>

namespace entre {

using namespace engine_detail;

// ---- Links --------------------------------------------------------------------------------------

void Engine::connect(Contact& c) {
  const std::vector<std::string> endpoints = endpoints_of(c);
  if (!unlocked_ || c.blocked() || endpoints.empty()) {
    return;
  }
  const uint64_t now = clock_.mono_ms();
  std::size_t pending = 0;
  for (const auto& [i, l] : links_) {
    pending += l->state == Link::State::kHandshake ? 1 : 0;
  }
  for (const std::string& hint : endpoints) {
    const std::size_t colon = hint.find(':');
    const std::string_view scheme = std::string_view(hint).substr(0, colon);
    for (std::size_t t = 0; t < transports_.size(); ++t) {
      if (transports_[t].scheme != scheme) {
        continue;
      }
      const bool exists = std::any_of(c.links.begin(), c.links.end(), [&](uint32_t index) {
        const Link& l = *links_.at(index);
        return l.transport == t && l.endpoint == hint;
      });
      if (exists || pending >= config_.max_pending_handshakes) {
        continue;
      }
      Link* l = new_link(t, hint, c.key, true);
      if (l == nullptr) {
        continue;
      }
      ++pending;
      sdk::HandshakeParams params{sdk::HandshakePattern::kIK,
                                  sdk::HandshakeRole::kInitiator,
                                  bv(identity_secret_),
                                  bv(c.key),
                                  bv(kPrologue),
                                  {}};
      sdk::Status st = crypto_.create_handshake(params, &l->hs);
      std::vector<uint8_t> payload;
      if (SessionSlot* s = session_of(c)) {
        payload.assign(s->sid.begin(), s->sid.end());
        l->local_sid = s->sid;
      }
      std::vector<uint8_t> noise;
      sdk::VectorSink sink(noise);
      if (st.is_ok()) {
        st = l->hs->write_message(bv(payload), sink);
      }
      if (!st.is_ok()) {
        out_.log(3, "handshake to " + c.hex + " failed to start: " + std::string(st.text()));
        destroy_link(l->index, "handshake failed");
        continue;
      }
      l->hs_frame = wire::hs1(l->index, noise);
      l->hs_interval_ms = config_.handshake_retry_ms;
      l->hs_next_ms = now + l->hs_interval_ms;
      held_.push_back({t, hint, l->hs_frame});
    }
  }
  std::erase_if(reconnects_, [&](const auto& p) { return p.second == c.key; });
  c.reconnect_at = now + c.backoff_ms;
  reconnects_.insert({c.reconnect_at, c.key});
  c.backoff_ms =
      std::min(config_.reconnect_max_ms, std::max(config_.reconnect_min_ms, c.backoff_ms * 2));
}

Engine::Link* Engine::new_link(std::size_t transport, std::string endpoint, const Key& key,
                               bool initiator) {
  uint32_t index = 0;
  do {
    crypto_.random_bytes(sdk::MutableByteView(reinterpret_cast<uint8_t*>(&index), sizeof index));
  } while (index == 0 || links_.count(index) != 0);
  auto l = std::make_unique<Link>();
  l->index = index;
  l->transport = transport;
  l->endpoint = std::move(endpoint);
  l->key = key;
  l->initiator = initiator;
  l->created_ms = clock_.mono_ms();
  l->last_rx_ms = l->created_ms;
  l->last_tx_ms = l->created_ms;
  l->last_ping_ms = l->created_ms;
  l->generation = next_generation_++;
  Link* raw = l.get();
  links_[index] = std::move(l);
  if (Contact* c = find_contact(key)) {
    c->links.push_back(index);
  }
  return raw;
}

std::string Engine::path_of(const Link& l) const {
  if (sdk::RelayedTransport* relayed = transports_[l.transport].relayed; relayed != nullptr) {
    std::string text;
    sdk::StringSink sink(text, 256);
    if (relayed->describe_path(sdk::StringView(l.endpoint), sink).is_ok() && !text.empty()) {
      return text;
    }
  }
  return l.endpoint;
}

void Engine::destroy_link(uint32_t index, const char* why) {
  auto it = links_.find(index);
  if (it == links_.end()) {
    return;
  }
  Link& l = *it->second;
  if (l.confirmed) {
    out_.log(1, "link " + transports_[l.transport].scheme + " to " +
                    wire::hex(l.key).substr(0, 16) + " at " + l.endpoint + " closed: " + why);
  }
  Contact* c = find_contact(l.key);
  auto dead = std::move(it->second);
  links_.erase(it);
  if (c == nullptr) {
    return;
  }
  std::erase(c->links, index);
  if (c->best == index) {
    c->best = 0;
  }
  choose_best(*c);
  if (c->links.empty() && !endpoints_of(*c).empty() && !c->blocked()) {
    const uint64_t at = clock_.mono_ms() + config_.reconnect_min_ms;
    if (at < c->reconnect_at || c->reconnect_at == 0) {
      std::erase_if(reconnects_, [&](const auto& p) { return p.second == c->key; });
      c->reconnect_at = at;
      reconnects_.insert({at, c->key});
    }
  }
}

bool Engine::stalled(const Link& l, uint64_t now) const {
  return l.rel && !l.rel->idle() && now - l.last_rx_ms >= config_.stall_ms;
}

void Engine::choose_best(Contact& c) {
  const uint64_t now = clock_.mono_ms();
  auto it = links_.find(c.best);
  const Link* current = it == links_.end() ? nullptr : it->second.get();
  // While the link in use is stalled, only a link heard from within the stall time may replace
  // it (the others are pinged, and come into question when they answer).
  const bool failing = current != nullptr && stalled(*current, now);
  uint32_t best = 0;
  const Link* bl = nullptr;
  for (uint32_t index : c.links) {
    const Link& l = *links_.at(index);
    if (!l.confirmed || stalled(l, now) || (failing && now - l.last_rx_ms >= config_.stall_ms)) {
      continue;
    }
    const bool better =
        bl == nullptr || l.transport < bl->transport ||
        (l.transport == bl->transport &&
         (l.rtt_ms < bl->rtt_ms || (l.rtt_ms == bl->rtt_ms && l.generation > bl->generation)));
    if (better) {
      bl = &l;
      best = index;
    }
  }
  if (bl == nullptr && current != nullptr && current->confirmed) {
    bl = current; // nothing better: stay
    best = c.best;
  }
  if (bl == nullptr) {
    for (uint32_t index : c.links) {
      const Link& l = *links_.at(index);
      if (l.confirmed && (bl == nullptr || l.last_rx_ms > bl->last_rx_ms)) {
        bl = &l;
        best = index;
      }
    }
  }
  const bool changed = best != c.best;
  c.best = best;
  const bool online = best != 0;
  const std::string path = bl == nullptr ? std::string() : path_of(*bl);
  if (online != c.online || path != c.path) {
    c.online = online;
    c.path = path;
    held_events_.push_back(ContactPresenceChanged{c.hex, online, path});
  }
  if (changed && online) {
    c.hello_requested = false;
    pump_outbox(c);
  }
}

void Engine::handle_hs1(std::size_t transport, std::string_view endpoint,
                        std::span<const uint8_t> f) {
  auto parsed = wire::parse_hs1(f);
  if (!parsed || !unlocked_) {
    ++counters_.frames_dropped;
    return;
  }
  for (auto& [i, l] : links_) {
    if (!l->initiator && l->hs1_seen.size() == f.size() &&
        std::equal(f.begin(), f.end(), l->hs1_seen.begin())) {
      held_.push_back({transport, std::string(endpoint), l->hs_frame});
      return;
    }
  }
  sdk::Handshake* hs = nullptr;
  sdk::HandshakeParams params{sdk::HandshakePattern::kIK,
                              sdk::HandshakeRole::kResponder,
                              bv(identity_secret_),
                              {},
                              bv(kPrologue),
                              {}};
  std::vector<uint8_t> payload;
  sdk::VectorSink sink(payload, 64);
  sdk::Status st = crypto_.create_handshake(params, &hs);
  if (st.is_ok()) {
    st = hs->read_message(bv(parsed->noise), sink);
  }
  Key key{};
  if (st.is_ok()) {
    st = hs->remote_public(sdk::MutableByteView(key.data(), key.size()));
  }
  Contact* c = st.is_ok() ? find_contact(key) : nullptr;
  const uint64_t now = clock_.mono_ms();
  bool refuse = c == nullptr || c->blocked() ||
                (payload.size() != 0 && payload.size() != wire::kSessionIdBytes);
  if (!refuse) {
    // Both sides dialled at once: the side with the smaller key keeps its own handshake, and
    // sends it again now, since the peer is evidently there to answer it (it may have ignored it
    // before, while it was locked or not yet running).
    for (uint32_t index : c->links) {
      Link& l = *links_.at(index);
      if (l.initiator && l.state == Link::State::kHandshake && my_key_ < key &&
          now - l.created_ms < config_.handshake_timeout_ms) {
        refuse = true;
        held_.push_back({l.transport, l.endpoint, l.hs_frame});
        l.hs_interval_ms = config_.handshake_retry_ms;
        l.hs_next_ms = now + l.hs_interval_ms;
      }
    }
  }
  if (refuse) {
    if (st.is_ok() && c == nullptr) {
      // It knows this node's key (the message opened), and this node has not added it: say so,
      // so that its messages do not wait in silence. Blocked contacts get silence.
      send_refusal(*hs, key, parsed->sender, transport, endpoint);
    }
    if (hs != nullptr) {
      hs->destroy();
    }
    ++counters_.handshakes_refused;
    ++counters_.frames_dropped;
    return;
  }
  std::vector<uint32_t> unconfirmed;
  for (uint32_t index : std::vector<uint32_t>(c->links)) {
    const Link& l = *links_.at(index);
    if (l.initiator && l.state == Link::State::kHandshake) {
      destroy_link(index, "the peer dialled too");
    } else if (!l.confirmed) {
      unconfirmed.push_back(index);
    }
  }
  while (unconfirmed.size() >= kMaxUnconfirmedPerContact) {
    destroy_link(unconfirmed.front(), "too many unconfirmed handshakes");
    unconfirmed.erase(unconfirmed.begin());
  }
  Link* l = new_link(transport, std::string(endpoint), key, false);
  l->hs = hs;
  l->remote_index = parsed->sender;
  l->hs1_seen.assign(f.begin(), f.end());
  if (payload.size() == wire::kSessionIdBytes) {
    std::array<uint8_t, wire::kSessionIdBytes> sid{};
    std::copy(payload.begin(), payload.end(), sid.begin());
    l->remote_sid = sid;
  }
  std::vector<uint8_t> mine;
  if (SessionSlot* s = session_of(*c)) {
    mine.assign(s->sid.begin(), s->sid.end());
    l->local_sid = s->sid;
  }
  std::vector<uint8_t> noise;
  sdk::VectorSink nsink(noise);
  st = hs->write_message(bv(mine), nsink);
  if (!st.is_ok() || !complete_handshake(*l)) {
    destroy_link(l->index, "handshake failed");
    ++counters_.handshakes_refused;
    return;
  }
  l->hs_frame = wire::hs2(l->remote_index, l->index, noise);
  held_.push_back({transport, std::string(endpoint), l->hs_frame});
}

void Engine::send_refusal(sdk::Handshake& hs, const Key& key, uint32_t initiator_index,
                          std::size_t transport, std::string_view endpoint) {
  const uint64_t now = clock_.mono_ms();
  if (const auto it = refused_at_.find(key);
      it != refused_at_.end() && now - it->second < kRefusalIntervalMs) {
    return;
  }
  if (now / 1000 != refusal_second_) {
    refusal_second_ = now / 1000;
    refusals_this_second_ = 0;
  }
  if (refusals_this_second_ >= kMaxRefusalsPerSecond) {
    return;
  }
  if (refused_at_.size() >= kMaxRefusalsKept && refused_at_.count(key) == 0) {
    refused_at_.erase(
        std::min_element(refused_at_.begin(), refused_at_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  std::vector<uint8_t> noise;
  sdk::VectorSink sink(noise);
  if (!hs.write_message({}, sink).is_ok()) {
    return;
  }
  ++refusals_this_second_;
  refused_at_[key] = now;
  held_.push_back({transport, std::string(endpoint), wire::hs2(initiator_index, 0, noise, true)});
}

void Engine::handle_refused(Link& l) {
  Contact* c = find_contact(l.key);
  destroy_link(l.index, "the contact has not added this node");
  if (c == nullptr) {
    return;
  }
  if (!c->not_added) {
    c->not_added = true;
    out_.log(1, "contact " + c->hex.substr(0, 16) + " has not added this node");
    held_events_.push_back(ContactNotAdded{c->hex});
  }
  // Ask again on the ordinary backoff: the other side usually adds this node moments later, and
  // may have no way to dial it (a code without a reachable endpoint, a NAT). Its refusals are
  // rate-limited on its side; the attempts between get silence.
  if (c->links.empty()) {
    std::erase_if(reconnects_, [&](const auto& p) { return p.second == c->key; });
    c->reconnect_at = clock_.mono_ms() + std::max(config_.reconnect_min_ms, c->backoff_ms);
    reconnects_.insert({c->reconnect_at, c->key});
    c->backoff_ms =
        std::min(config_.reconnect_max_ms, std::max(config_.reconnect_min_ms, c->backoff_ms * 2));
  }
}

void Engine::handle_hs2(std::span<const uint8_t> f) {
  auto parsed = wire::parse_hs2(f);
  auto it = parsed ? links_.find(parsed->receiver) : links_.end();
  if (it == links_.end() || !it->second->initiator ||
      it->second->state != Link::State::kHandshake) {
    ++counters_.frames_dropped;
    return;
  }
  Link& l = *it->second;
  std::vector<uint8_t> payload;
  sdk::VectorSink sink(payload, 64);
  const sdk::Status st = l.hs->read_message(bv(parsed->noise), sink);
  if (!st.is_ok()) {
    ++counters_.frames_dropped;
    if (l.hs->status() == sdk::HandshakeStatus::kFailed) {
      destroy_link(l.index, "handshake failed");
    }
    return;
  }
  if (parsed->refused) {
    // Noise message 2 opened: only the holder of the contact's key can have written it.
    handle_refused(l);
    return;
  }
  if (payload.size() == wire::kSessionIdBytes) {
    std::array<uint8_t, wire::kSessionIdBytes> sid{};
    std::copy(payload.begin(), payload.end(), sid.begin());
    l.remote_sid = sid;
  }
  l.remote_index = parsed->sender;
  if (!complete_handshake(l)) {
    destroy_link(l.index, "handshake failed");
    return;
  }
  confirm_link(l);
  // The responder takes the link into use when it hears from us over it.
  send_ping(l, clock_.mono_ms());
}

bool Engine::complete_handshake(Link& l) {
  if (l.hs->status() != sdk::HandshakeStatus::kComplete) {
    return false;
  }
  std::array<uint8_t, sdk::kHandshakeHashMaxBytes> hash{};
  uint64_t hash_size = 0;
  if (!l.hs->handshake_hash(sdk::MutableByteView(hash.data(), hash.size()), &hash_size).is_ok() ||
      hash_size < wire::kSessionIdBytes) {
    return false;
  }
  std::copy_n(hash.begin(), wire::kSessionIdBytes, l.hash_sid.begin());
  if (!l.hs->split(&l.split).is_ok() || l.split == nullptr) {
    return false;
  }
  if (!link_ciphers(crypto_, *l.split, kLinkKeyLabel, l.initiator, &l.tx, &l.rx).is_ok()) {
    return false;
  }
  l.hs->destroy();
  l.hs = nullptr;
  l.state = Link::State::kUp;
  ++counters_.handshakes_completed;
  ReliableLinkConfig rc = config_.link;
  const uint32_t max_payload = transports_[l.transport].max_payload;
  rc.max_packet_bytes =
      max_payload > wire::kSealedOverhead + wire::kMinLinkPacketBytes
          ? std::min<uint32_t>(rc.max_packet_bytes, max_payload - wire::kSealedOverhead)
          : wire::kMinLinkPacketBytes;
  const uint32_t index = l.index;
  l.rel = std::make_unique<ReliableLink>(
      rc,
      [this, index](std::span<const uint8_t> packet) {
        auto it = links_.find(index);
        if (it != links_.end()) {
          send_link_packet(*it->second, packet);
        }
      },
      [this, index](std::vector<uint8_t> message) { on_link_message(index, std::move(message)); });
  return true;
}

void Engine::confirm_link(Link& l) {
  l.confirmed = true;
  Contact* c = find_contact(l.key);
  if (c == nullptr) {
    return;
  }
  apply_session_decision(l);
  for (uint32_t index : std::vector<uint32_t>(c->links)) {
    const Link& other = *links_.at(index);
    if (index != l.index && other.transport == l.transport && other.endpoint == l.endpoint &&
        other.generation < l.generation) {
      destroy_link(index, "superseded by a new handshake");
    }
  }
  if (!l.initiator) {
    send_ping(l, clock_.mono_ms()); // the initiator's ping measured its round trip; this is ours
  }
  c->backoff_ms = config_.reconnect_min_ms;
  c->not_added = false;
  std::erase_if(reconnects_, [&](const auto& p) { return p.second == c->key; });
  c->reconnect_at = 0;
  out_.log(1, "link " + transports_[l.transport].scheme + " to " + c->hex.substr(0, 16) + " at " +
                  l.endpoint + " is up");
  const uint32_t before = c->best;
  choose_best(*c);
  if (c->best == before && c->best == l.index) {
    pump_outbox(*c);
  }
  send_read_receipt(*c);
  if (transports_[l.transport].relayed != nullptr) {
    send_endpoints(l);
    if (next_direct_ms_ == 0) {
      next_direct_ms_ = clock_.mono_ms() + kDirectRetryMs;
    }
  }
}

void Engine::apply_session_decision(Link& l) {
  if (l.decided) {
    return;
  }
  l.decided = true;
  Contact* c = find_contact(l.key);
  if (c == nullptr) {
    return;
  }
  const bool keep = l.local_sid && l.remote_sid && *l.local_sid == *l.remote_sid;
  if (keep) {
    l.split->destroy();
    l.split = nullptr;
    return;
  }
  // Handshakes that ran at the same time (one per path) with the same inputs all call for a new
  // session; both sides keep the one with the smallest id, whatever order they complete in.
  if (c->session && c->session->from_handshake && c->session->origin_local == l.local_sid &&
      c->session->origin_remote == l.remote_sid && c->session->sid < l.hash_sid) {
    l.split->destroy();
    l.split = nullptr;
    return;
  }
  out_.log(1, "new session with " + c->hex.substr(0, 16));
  if (txn()) {
    (void)storage_.remove_session(bv(c->key));
  }
  install_session(*c, l.split, l.hash_sid);
  l.split = nullptr;
  c->session->from_handshake = true;
  c->session->origin_local = l.local_sid;
  c->session->origin_remote = l.remote_sid;
  c->hello_requested = false;
  for (OutItem& item : c->outbox) {
    item.envelope.clear();
  }
  c->pump_from = 0;
  if (l.initiator) {
    send_hello(*c, l);
  }
  encrypt_pending(*c, true);
}

void Engine::send_hello(Contact& c, Link& l) {
  SessionSlot* s = session_of(c);
  if (s == nullptr) {
    return;
  }
  std::vector<uint8_t> env{wire::kEnvHello};
  std::vector<uint8_t> ct;
  sdk::VectorSink sink(ct);
  if (!s->session->encrypt(sdk::ByteView(env.data(), 1), {}, sink).is_ok()) {
    return;
  }
  s->dirty = true;
  dirty_sessions_.insert(c.key);
  env.insert(env.end(), ct.begin(), ct.end());
  send_envelope(l, std::move(env));
}

void Engine::send_ping(Link& l, uint64_t now) {
  l.last_ping_ms = now;
  send_link_packet(l, wire::ping(wire::kPing, now));
}

uint64_t Engine::probe_interval(const Link& l) const {
  return l.rtt_ms == 0 ? std::min<uint64_t>(1000, config_.keepalive_ms) : config_.keepalive_ms;
}

void Engine::say_goodbye() {
  const std::vector<uint8_t> goodbye{wire::kGoodbye};
  for (auto& [index, l] : links_) {
    if (l->state == Link::State::kUp) {
      send_link_packet(*l, goodbye);
    }
  }
}

void Engine::send_link_packet(Link& l, std::span<const uint8_t> packet) {
  if (l.tx == nullptr) {
    return;
  }
  std::vector<uint8_t> frame = wire::sealed_header(l.remote_index, l.tx_counter);
  const std::size_t header = frame.size();
  sdk::VectorSink sink(frame);
  const sdk::Status st =
      l.tx->seal(l.tx_counter, sdk::ByteView(frame.data(), header), bv(packet), sink);
  if (!st.is_ok()) {
    out_.log(3, "link seal failed: " + std::string(st.text()));
    return;
  }
  ++l.tx_counter;
  l.last_tx_ms = clock_.mono_ms();
  held_.push_back({l.transport, l.endpoint, std::move(frame)});
}

} // namespace entre
