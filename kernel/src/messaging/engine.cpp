// The messaging engine: construction, identity, contacts, and the driver (frames in, timers,
// flush). Links are in engine_links.cpp, sessions and messages in engine_messages.cpp.
#include "messaging/engine_internal.hpp"

#include <algorithm>
#include <cstring>

namespace entre {

using namespace engine_detail;

const char* message_state_name(MessageState state) {
  switch (state) {
  case MessageState::kQueued:
    return "queued";
  case MessageState::kSent:
    return "sent";
  case MessageState::kDelivered:
    return "delivered";
  case MessageState::kRead:
    return "read";
  }
  return "unknown";
}

Engine::Engine(sdk::CryptoSuite& crypto, sdk::Storage& storage, EngineOutput& output,
               EngineClock clock, EngineConfig config)
    : crypto_(crypto), storage_(storage), out_(output), clock_(std::move(clock)), config_(config) {}

Engine::~Engine() {
  links_.clear();
  contacts_.clear();
  if (in_txn_) {
    (void)storage_.rollback();
  }
  wire::wipe(identity_secret_);
  wire::wipe(storage_key_);
}

std::size_t Engine::add_transport(sdk::Transport* transport, std::string plugin_id,
                                  sdk::Discovery* discovery, sdk::RelayedTransport* relayed) {
  TransportSlot slot;
  slot.transport = transport;
  slot.discovery = discovery;
  slot.relayed = relayed;
  slot.plugin_id = std::move(plugin_id);
  const sdk::TransportInfo info = transport->info();
  slot.scheme.assign(info.scheme, ::strnlen(info.scheme, sizeof info.scheme));
  slot.max_payload = info.max_payload_bytes;
  slot.local_only = (info.flags & sdk::kTransportLocalOnly) != 0;
  transports_.push_back(std::move(slot));
  return transports_.size() - 1;
}

std::size_t Engine::outbox_size() const {
  std::size_t n = 0;
  for (const auto& [k, c] : contacts_) {
    n += c->outbox.size();
  }
  return n;
}

ReliableLinkStats Engine::link_stats() const {
  ReliableLinkStats sum;
  for (const auto& [i, l] : links_) {
    if (!l->rel) {
      continue;
    }
    const ReliableLinkStats& s = l->rel->stats();
    sum.packets_sent += s.packets_sent;
    sum.packets_received += s.packets_received;
    sum.retransmissions += s.retransmissions;
    sum.timeouts += s.timeouts;
    sum.duplicates_dropped += s.duplicates_dropped;
    sum.out_of_window_dropped += s.out_of_window_dropped;
    sum.malformed_dropped += s.malformed_dropped;
    sum.messages_delivered += s.messages_delivered;
    sum.window_packets = std::max(sum.window_packets, s.window_packets);
    sum.srtt_ms = std::max(sum.srtt_ms, s.srtt_ms);
  }
  return sum;
}

// ---- Storage helpers ----------------------------------------------------------------------------

bool Engine::txn() {
  if (in_txn_) {
    return !batch_failed_;
  }
  const sdk::Status st = storage_.begin();
  if (!st.is_ok()) {
    storage_failed("begin", st);
    return false;
  }
  in_txn_ = true;
  return true;
}

void Engine::storage_failed(const char* what, const sdk::Status& st) {
  ++counters_.storage_failures;
  batch_failed_ = true;
  out_.log(3, std::string("storage: ") + what + ": " + std::string(st.text()));
}

std::vector<uint8_t> Engine::seal(std::string_view label, std::span<const uint8_t> ad,
                                  std::span<const uint8_t> plain) {
  std::vector<uint8_t> full_ad(label.begin(), label.end());
  full_ad.insert(full_ad.end(), ad.begin(), ad.end());
  std::vector<uint8_t> out;
  sdk::VectorSink sink(out);
  const sdk::Status st = crypto_.seal_at_rest(bv(storage_key_), bv(full_ad), bv(plain), sink);
  if (!st.is_ok()) {
    out.clear();
    out_.log(3, std::string("seal at rest failed: ") + std::string(st.text()));
  }
  return out;
}

std::optional<std::vector<uint8_t>>
Engine::open(std::string_view label, std::span<const uint8_t> ad, std::span<const uint8_t> sealed) {
  std::vector<uint8_t> full_ad(label.begin(), label.end());
  full_ad.insert(full_ad.end(), ad.begin(), ad.end());
  std::vector<uint8_t> out;
  sdk::VectorSink sink(out);
  const sdk::Status st = crypto_.open_at_rest(bv(storage_key_), bv(full_ad), bv(sealed), sink);
  if (!st.is_ok()) {
    return std::nullopt;
  }
  return out;
}

// ---- Identity -----------------------------------------------------------------------------------

bool Engine::has_identity() {
  std::vector<uint8_t> v;
  sdk::VectorSink sink(v);
  return storage_.get_setting(sdk::StringView(kSettingIdentity), sink).is_ok();
}

sdk::KdfCost Engine::identity_kdf() {
  std::vector<uint8_t> kdf;
  sdk::VectorSink sink(kdf);
  if (storage_.get_setting(sdk::StringView(kSettingKdf), sink).is_ok()) {
    if (const std::optional<sdk::KdfCost> stored = wire::decode_kdf(kdf)) {
      return *stored;
    }
  }
  return config_.kdf;
}

ApiStatus Engine::create_identity(const std::string& passphrase) {
  if (unlocked_ || has_identity()) {
    return ApiStatus::fail(sdk::StatusCode::kAlreadyExists,
                           "an identity exists already: unlock it instead");
  }
  if (passphrase.empty()) {
    return ApiStatus::fail(sdk::StatusCode::kInvalidArgument, "the passphrase is empty");
  }
  std::vector<uint8_t> salt(crypto_.storage_salt_bytes());
  crypto_.random_bytes(sdk::MutableByteView(salt.data(), salt.size()));
  std::array<uint8_t, sdk::kStorageKeyBytes> key{};
  sdk::Status st = crypto_.derive_storage_key(sdk::StringView(passphrase), bv(salt), config_.kdf,
                                              sdk::MutableByteView(key.data(), key.size()));
  if (!st.is_ok()) {
    return ApiStatus::fail(st.code, "key derivation failed: " + std::string(st.text()));
  }
  std::vector<uint8_t> secret;
  sdk::VectorSink secret_sink(secret);
  Key pub{};
  st = crypto_.generate_identity(secret_sink, sdk::MutableByteView(pub.data(), pub.size()));
  if (!st.is_ok()) {
    wire::wipe(key);
    return ApiStatus::fail(st.code, "identity generation failed: " + std::string(st.text()));
  }
  storage_key_ = key;
  wire::wipe(key);
  const std::vector<uint8_t> sealed = seal("identity", {}, secret);
  std::vector<uint8_t> kdf = wire::encode_kdf(config_.kdf);
  const bool ok = !sealed.empty() && txn() &&
                  storage_.put_setting(sdk::StringView(kSettingSalt), bv(salt)).is_ok() &&
                  storage_.put_setting(sdk::StringView(kSettingKdf), bv(kdf)).is_ok() &&
                  storage_.put_setting(sdk::StringView(kSettingIdentity), bv(sealed)).is_ok();
  if (!ok) {
    wire::wipe(secret);
    wire::wipe(storage_key_);
    batch_failed_ = true;
    return ApiStatus::fail(sdk::StatusCode::kIoError, "the identity could not be stored");
  }
  identity_secret_ = std::move(secret);
  my_key_ = pub;
  unlocked_ = true;
  out_.log(1, "identity created: " + wire::hex(my_key_));
  start_discovery();
  return ApiStatus::of({});
}

ApiStatus Engine::unlock(const std::string& passphrase) {
  if (unlocked_) {
    return ApiStatus::of({});
  }
  std::vector<uint8_t> salt;
  std::vector<uint8_t> kdf;
  std::vector<uint8_t> sealed;
  sdk::VectorSink salt_sink(salt);
  sdk::VectorSink kdf_sink(kdf);
  sdk::VectorSink sealed_sink(sealed);
  if (!storage_.get_setting(sdk::StringView(kSettingIdentity), sealed_sink).is_ok() ||
      !storage_.get_setting(sdk::StringView(kSettingSalt), salt_sink).is_ok() ||
      !storage_.get_setting(sdk::StringView(kSettingKdf), kdf_sink).is_ok()) {
    return ApiStatus::fail(sdk::StatusCode::kNotFound, "there is no identity: create one first");
  }
  const std::optional<sdk::KdfCost> cost = wire::decode_kdf(kdf);
  if (!cost) {
    return ApiStatus::fail(sdk::StatusCode::kCorrupt, "the stored key derivation settings are "
                                                      "malformed");
  }
  sdk::Status st = crypto_.derive_storage_key(sdk::StringView(passphrase), bv(salt), *cost,
                                              sdk::MutableByteView(storage_key_.data(), 32));
  if (!st.is_ok()) {
    return ApiStatus::fail(st.code, "key derivation failed: " + std::string(st.text()));
  }
  std::optional<std::vector<uint8_t>> secret = open("identity", {}, sealed);
  if (!secret) {
    wire::wipe(storage_key_);
    return ApiStatus::fail(sdk::StatusCode::kAuthFailed, "wrong passphrase");
  }
  st = crypto_.identity_public(bv(*secret), sdk::MutableByteView(my_key_.data(), my_key_.size()));
  if (!st.is_ok()) {
    wire::wipe(*secret);
    wire::wipe(storage_key_);
    return ApiStatus::fail(sdk::StatusCode::kCorrupt,
                           "the stored identity is unusable: " + std::string(st.text()));
  }
  identity_secret_ = std::move(*secret);
  unlocked_ = true;
  {
    std::vector<uint8_t> stored;
    sdk::VectorSink sink(stored);
    if (storage_.get_setting(sdk::StringView(kSettingDisplayName), sink).is_ok()) {
      if (auto name = open(kDisplayNameLabel, {}, stored); name && !name->empty()) {
        config_.meeting_name.assign(name->begin(), name->end());
      }
    }
  }
  load_contacts();
  load_outbox();
  const uint64_t now = clock_.mono_ms();
  for (auto& [key, c] : contacts_) {
    if (!endpoints_of(*c).empty() && !c->blocked()) {
      reconnects_.insert({now, key});
      c->reconnect_at = now;
    }
  }
  out_.log(1, "identity unlocked: " + wire::hex(my_key_) + ", " + std::to_string(contacts_.size()) +
                  " contact(s), " + std::to_string(outbox_size()) + " message(s) in the outbox");
  start_discovery();
  return ApiStatus::of({});
}

std::string Engine::my_id() const { return unlocked_ ? wire::hex(my_key_) : std::string(); }

ApiStatus Engine::set_display_name(const std::string& name) {
  if (!unlocked_) {
    return ApiStatus::fail(sdk::StatusCode::kClosed, "the identity is locked");
  }
  if (name.empty() || name.size() > 64 || std::any_of(name.begin(), name.end(), [](char ch) {
        return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
      })) {
    return ApiStatus::fail(sdk::StatusCode::kInvalidArgument,
                           "a name has 1 to 64 bytes and no control characters");
  }
  const std::vector<uint8_t> sealed = seal(
      kDisplayNameLabel, {}, std::span(reinterpret_cast<const uint8_t*>(name.data()), name.size()));
  if (sealed.empty() || !txn() ||
      !storage_.put_setting(sdk::StringView(kSettingDisplayName), bv(sealed)).is_ok()) {
    batch_failed_ = true;
    return ApiStatus::fail(sdk::StatusCode::kIoError, "the name could not be stored");
  }
  config_.meeting_name = name;
  return ApiStatus::of({});
}

ApiResult<std::string> Engine::contact_code(const std::vector<std::string>& hints) {
  if (!unlocked_) {
    return ApiResult<std::string>::fail(sdk::StatusCode::kClosed, "the identity is locked");
  }
  std::vector<std::string> all = hints;
  if (all.empty()) {
    // Every transport's endpoints in the profile's order, as many as a code carries, each one
    // that follows the endpoint rules of transport.hpp.
    std::string left_out;
    for (const auto& t : transports_) {
      std::string text;
      sdk::StringSink sink(text, 4096);
      if (!t.transport->local_endpoints(sink).is_ok()) {
        continue;
      }
      for (auto& e : wire::split_lines(text)) {
        if (all.size() < sdk::kMaxEndpointHints && wire::exchangeable_endpoint(e)) {
          all.push_back(std::move(e));
        } else {
          left_out += (left_out.empty() ? "" : ", ") + wire::printable(e);
        }
      }
    }
    if (!left_out.empty()) {
      out_.log(2, "contact code: left out endpoint(s) " + left_out + " (a code carries up to " +
                      std::to_string(sdk::kMaxEndpointHints) + " endpoints of 1 to " +
                      std::to_string(sdk::kMaxEndpointBytes) +
                      " bytes of printable ASCII without spaces)");
    }
  }
  std::string code;
  sdk::StringSink sink(code, 8192);
  const sdk::Status st =
      crypto_.encode_contact_code(bv(my_key_), sdk::StringView(wire::join_lines(all)), sink);
  if (!st.is_ok()) {
    return ApiResult<std::string>::fail(st.code, std::string(st.text()));
  }
  return ApiResult<std::string>::of(code);
}

// ---- Contacts -----------------------------------------------------------------------------------

void Engine::load_contacts() {
  auto v = contact_visitor([this](const sdk::ContactRecord& r) {
    if (r.public_key.size != sdk::kPublicKeyBytes) {
      return true;
    }
    auto c = std::make_unique<Contact>();
    std::memcpy(c->key.data(), r.public_key.data, c->key.size());
    c->hex = wire::hex(c->key);
    c->name = std::string(r.display_name.str());
    c->flags = r.flags;
    c->added_ms = r.added_ms;
    c->hints = wire::split_lines(std::string_view(
        reinterpret_cast<const char*>(r.endpoint_hints.data), r.endpoint_hints.size));
    c->backoff_ms = config_.reconnect_min_ms;
    const Key k = c->key;
    contacts_[k] = std::move(c);
    return true;
  });
  const sdk::Status st = storage_.list_contacts(v);
  if (!st.is_ok()) {
    out_.log(3, "storage: cannot list contacts: " + std::string(st.text()));
  }
}

void Engine::load_outbox() {
  for (auto& [k, c] : contacts_) {
    c->outbox.clear();
    c->pump_from = 0;
  }
  struct Entry {
    MessageId id;
    Key key;
    std::vector<uint8_t> sealed;
  };
  std::vector<Entry> entries;
  auto v = outbox_visitor([&](const sdk::OutboxRecord& r) {
    if (r.contact_key.size != sdk::kPublicKeyBytes) {
      return true;
    }
    Entry e;
    std::memcpy(e.id.data(), r.id, e.id.size());
    std::memcpy(e.key.data(), r.contact_key.data, e.key.size());
    e.sealed.assign(r.sealed_frame.data, r.sealed_frame.data + r.sealed_frame.size);
    entries.push_back(std::move(e));
    return true;
  });
  if (!storage_.outbox_list(v).is_ok()) {
    out_.log(3, "storage: cannot list the outbox");
    return;
  }
  for (auto& e : entries) {
    Contact* c = find_contact(e.key);
    if (c == nullptr) {
      continue;
    }
    OutItem item;
    item.id = e.id;
    if (!e.sealed.empty()) {
      auto env = open("outbox", e.id, e.sealed);
      if (!env) {
        out_.log(3, "outbox entry " + wire::hex(e.id) + " does not open; it is re-encrypted");
      } else {
        item.envelope = std::move(*env);
      }
    }
    auto mv = message_visitor([&](const sdk::MessageRecord& r) {
      item.order = r.order;
      item.state = r.state;
      return true;
    });
    (void)storage_.get_message(e.id.data(), mv);
    c->outbox.push_back(std::move(item));
  }
}

Engine::Contact* Engine::find_contact(const Key& key) {
  auto it = contacts_.find(key);
  return it == contacts_.end() ? nullptr : it->second.get();
}

Engine::Contact* Engine::find_contact(const std::string& id, ApiError& error) {
  if (!unlocked_) {
    error = {sdk::StatusCode::kClosed, "the identity is locked"};
    return nullptr;
  }
  Key key{};
  if (!wire::unhex(id, key)) {
    error = {sdk::StatusCode::kInvalidArgument,
             "'" + id.substr(0, 80) + "' is not a contact id (64 hex characters)"};
    return nullptr;
  }
  Contact* c = find_contact(key);
  if (c == nullptr) {
    error = {sdk::StatusCode::kNotFound, "no contact " + id};
  }
  return c;
}

ContactInfo Engine::info_of(const Contact& c) {
  ContactInfo info;
  info.id = c.hex;
  info.name = c.name;
  info.verified = (c.flags & kFlagVerified) != 0;
  info.blocked = c.blocked();
  info.online = c.online;
  info.not_added = c.not_added;
  info.path = c.path;
  if (auto it = links_.find(c.best); it != links_.end() && it->second->rel) {
    const ReliableLinkStats& st = it->second->rel->stats();
    // The pings' round trip: the reliable link's srtt includes the peer's ack delay (it serves
    // the retransmission timer), which is not the path's.
    info.rtt_ms = it->second->rtt_ms;
    info.loss = st.packets_sent == 0 ? 0.0
                                     : static_cast<double>(st.retransmissions) /
                                           static_cast<double>(st.packets_sent);
  }
  info.added_ms = c.added_ms;
  info.endpoints = c.hints;
  const auto unread = storage_.unread_count(bv(c.key), static_cast<uint32_t>(MessageState::kRead));
  info.unread = unread.is_ok() ? unread.value : 0;
  return info;
}

bool Engine::put_contact(const Contact& c) {
  const std::string hints = wire::join_lines(c.hints);
  sdk::ContactRecord r{bv(c.key), sdk::StringView(c.name), c.flags, c.added_ms, bv(hints)};
  if (!txn()) {
    return false;
  }
  const sdk::Status st = storage_.put_contact(r);
  if (!st.is_ok()) {
    storage_failed("put_contact", st);
    return false;
  }
  return true;
}

ApiResult<ContactInfo> Engine::add_contact(const std::string& code, const std::string& name) {
  using R = ApiResult<ContactInfo>;
  if (!unlocked_) {
    return R::fail(sdk::StatusCode::kClosed, "the identity is locked");
  }
  if (name.size() > kMaxDisplayNameBytes) {
    return R::fail(sdk::StatusCode::kOutOfRange, "the name is longer than 256 bytes");
  }
  Key key{};
  std::string hints;
  sdk::StringSink hint_sink(hints, 8192);
  const sdk::Status st = crypto_.parse_contact_code(
      sdk::StringView(code), sdk::MutableByteView(key.data(), key.size()), hint_sink);
  if (!st.is_ok()) {
    return R::fail(st.code, "not a valid contact code: " + std::string(st.text()));
  }
  if (key == my_key_) {
    return R::fail(sdk::StatusCode::kInvalidArgument, "that is your own contact code");
  }
  for (const std::string& hint : wire::split_lines(hints)) {
    if (!in_scope(hint)) {
      ++counters_.scope_refusals;
      return R::fail(sdk::StatusCode::kPermissionDenied,
                     "the network scope is private, and the contact code names " + hint +
                         ", which is not a private, link-local or loopback address (nor an "
                         "endpoint of a transport local to this machine): ask for a code made on "
                         "the local network, or use a profile with network_scope \"any\"");
    }
  }
  if (Contact* existing = find_contact(key)) {
    return R::fail(sdk::StatusCode::kAlreadyExists,
                   "already a contact" + (existing->name.empty() ? "" : ": " + existing->name));
  }
  auto c = std::make_unique<Contact>();
  c->key = key;
  c->hex = wire::hex(key);
  c->name = name;
  c->added_ms = clock_.wall_ms();
  c->hints = wire::split_lines(hints);
  c->backoff_ms = config_.reconnect_min_ms;
  if (!put_contact(*c)) {
    return R::fail(sdk::StatusCode::kIoError, "the contact could not be stored");
  }
  Contact& ref = *c;
  contacts_[key] = std::move(c);
  discovery_contact(ref);
  connect(ref);
  return R::of(info_of(ref));
}

std::vector<ContactInfo> Engine::contacts() {
  std::vector<ContactInfo> out;
  if (!unlocked_) {
    return out;
  }
  out.reserve(contacts_.size());
  for (const auto& [k, c] : contacts_) {
    out.push_back(info_of(*c));
  }
  return out;
}

ApiResult<ContactInfo> Engine::contact(const std::string& id) {
  ApiError e;
  Contact* c = find_contact(id, e);
  if (c == nullptr) {
    return ApiResult<ContactInfo>{std::nullopt, e};
  }
  return ApiResult<ContactInfo>::of(info_of(*c));
}

ApiStatus Engine::rename_contact(const std::string& id, const std::string& name) {
  ApiError e;
  Contact* c = find_contact(id, e);
  if (c == nullptr) {
    return ApiStatus{std::nullopt, e};
  }
  if (name.size() > kMaxDisplayNameBytes) {
    return ApiStatus::fail(sdk::StatusCode::kOutOfRange, "the name is longer than 256 bytes");
  }
  c->name = name;
  if (!put_contact(*c)) {
    return ApiStatus::fail(sdk::StatusCode::kIoError, "the contact could not be stored");
  }
  return ApiStatus::of({});
}

ApiStatus Engine::remove_contact(const std::string& id) {
  ApiError e;
  Contact* c = find_contact(id, e);
  if (c == nullptr) {
    return ApiStatus{std::nullopt, e};
  }
  if (!txn()) {
    return ApiStatus::fail(sdk::StatusCode::kIoError, "storage is unavailable");
  }
  const sdk::Status st = storage_.remove_contact(bv(c->key));
  if (!st.is_ok()) {
    storage_failed("remove_contact", st);
    return ApiStatus{std::nullopt, api_error(st, "remove")};
  }
  for (uint32_t index : std::vector<uint32_t>(c->links)) {
    destroy_link(index, "contact removed");
  }
  for (auto it = links_.begin(); it != links_.end();) {
    it = it->second->key == c->key ? links_.erase(it) : std::next(it);
  }
  const Key key = c->key;
  std::erase_if(reconnects_, [&](const auto& p) { return p.second == key; });
  (void)storage_.remove_setting(sdk::StringView(std::string(kReadPrefix) + c->hex));
  contacts_.erase(key);
  if (beacons_) {
    beacons_->remove_contact(key);
  }
  return ApiStatus::of({});
}

ApiStatus Engine::set_blocked(const std::string& id, bool blocked) {
  ApiError e;
  Contact* c = find_contact(id, e);
  if (c == nullptr) {
    return ApiStatus{std::nullopt, e};
  }
  c->flags = blocked ? (c->flags | kFlagBlocked) : (c->flags & ~kFlagBlocked);
  if (!put_contact(*c)) {
    return ApiStatus::fail(sdk::StatusCode::kIoError, "the contact could not be stored");
  }
  discovery_contact(*c);
  if (blocked) {
    for (uint32_t index : std::vector<uint32_t>(c->links)) {
      destroy_link(index, "contact blocked");
    }
    const Key key = c->key;
    std::erase_if(reconnects_, [&](const auto& p) { return p.second == key; });
  } else {
    connect(*c);
  }
  return ApiStatus::of({});
}

ApiStatus Engine::set_verified(const std::string& id, bool verified) {
  ApiError e;
  Contact* c = find_contact(id, e);
  if (c == nullptr) {
    return ApiStatus{std::nullopt, e};
  }
  c->flags = verified ? (c->flags | kFlagVerified) : (c->flags & ~kFlagVerified);
  if (!put_contact(*c)) {
    return ApiStatus::fail(sdk::StatusCode::kIoError, "the contact could not be stored");
  }
  return ApiStatus::of({});
}

ApiResult<std::string> Engine::safety_number(const std::string& id) {
  ApiError e;
  Contact* c = find_contact(id, e);
  if (c == nullptr) {
    return ApiResult<std::string>{std::nullopt, e};
  }
  std::string text;
  sdk::StringSink sink(text, 1024);
  const sdk::Status st = crypto_.safety_number(bv(my_key_), bv(c->key), sink);
  if (!st.is_ok()) {
    return ApiResult<std::string>::fail(st.code, std::string(st.text()));
  }
  return ApiResult<std::string>::of(text);
}

// ---- Driver -------------------------------------------------------------------------------------

void Engine::on_frame(std::size_t transport, std::string_view endpoint,
                      std::span<const uint8_t> frame) {
  ++counters_.frames_received;
  if (frame.empty() || transport >= transports_.size()) {
    ++counters_.frames_dropped;
    return;
  }
  if (!in_scope(endpoint)) {
    ++counters_.scope_refusals;
    ++counters_.frames_dropped;
    return;
  }
  switch (frame[0]) {
  case wire::kFrameHs1:
    if (frame.size() > kMaxHandshakeFrameBytes) {
      ++counters_.frames_dropped;
      return;
    }
    handle_hs1(transport, endpoint, frame);
    break;
  case wire::kFrameHs2:
  case wire::kFrameRefused:
    if (frame.size() > kMaxHandshakeFrameBytes) {
      ++counters_.frames_dropped;
      return;
    }
    handle_hs2(frame);
    break;
  case wire::kFrameSealed:
    handle_sealed(transport, endpoint, frame);
    break;
  default:
    ++counters_.frames_dropped;
    break;
  }
}

void Engine::handle_sealed(std::size_t transport, std::string_view endpoint,
                           std::span<const uint8_t> f) {
  auto parsed = wire::parse_sealed(f);
  auto it = parsed ? links_.find(parsed->receiver) : links_.end();
  if (it == links_.end() || it->second->rx == nullptr) {
    ++counters_.frames_dropped;
    return;
  }
  Link& l = *it->second;
  std::vector<uint8_t> packet;
  sdk::VectorSink sink(packet);
  const sdk::Status st = l.rx->open(parsed->counter, bv(f.first(wire::kSealedHeaderBytes)),
                                    bv(parsed->ciphertext), sink);
  if (!st.is_ok() || packet.empty()) {
    ++counters_.frames_dropped;
    return;
  }
  const uint64_t now = clock_.mono_ms();
  if (packet[0] == wire::kGoodbye) {
    // Sealed under this link's keys, so only the contact can have sent it (and the replay window
    // refused a copy): it is leaving.
    destroy_link(l.index, "the contact said goodbye");
    return;
  }
  l.last_rx_ms = now;
  if (l.transport == transport && l.endpoint != endpoint) {
    out_.log(1, "link to " + wire::hex(l.key).substr(0, 16) + " moved from " + l.endpoint + " to " +
                    std::string(endpoint));
    l.endpoint = std::string(endpoint);
    if (Contact* c = find_contact(l.key); c != nullptr && c->best == l.index) {
      c->path = path_of(l);
      held_events_.push_back(ContactPresenceChanged{c->hex, true, c->path});
    }
  }
  if (!l.confirmed) {
    confirm_link(l);
  } else if (Contact* c = find_contact(l.key); c != nullptr && c->best != l.index) {
    auto best = links_.find(c->best);
    if (best == links_.end() || stalled(*best->second, now)) {
      choose_best(*c);
    }
  }
  switch (packet[0]) {
  case wire::kPing: {
    auto nonce = wire::parse_ping(packet);
    if (nonce) {
      const std::vector<uint8_t> pong = wire::ping(wire::kPong, *nonce);
      send_link_packet(l, pong);
    }
    break;
  }
  case wire::kPong: {
    auto sent = wire::parse_ping(packet);
    if (sent && *sent <= now && now - *sent < 600000) {
      // Samples are few (a probe per keepalive_ms, and when a link comes up): weigh each one more
      // than RFC 6298's 1/8, so that a changed path shows within a few probes.
      const uint32_t sample = std::max<uint32_t>(1, static_cast<uint32_t>(now - *sent));
      l.rtt_ms = l.rtt_ms == 0 ? sample : (l.rtt_ms * 3 + sample) / 4;
    }
    break;
  }
  default:
    l.rel->on_packet(packet, now);
    break;
  }
}

void Engine::link_timers(Link& l, uint64_t now) {
  if (l.state == Link::State::kHandshake) {
    if (now - l.created_ms >= config_.handshake_timeout_ms) {
      destroy_link(l.index, "handshake timed out");
      return;
    }
    if (now >= l.hs_next_ms) {
      held_.push_back({l.transport, l.endpoint, l.hs_frame});
      l.hs_interval_ms = std::min<uint32_t>(l.hs_interval_ms * 2, 8000);
      l.hs_next_ms = now + l.hs_interval_ms;
    }
    return;
  }
  if (!l.confirmed && now - l.created_ms >= config_.handshake_timeout_ms) {
    destroy_link(l.index, "never confirmed");
    return;
  }
  if (now - l.last_rx_ms >= config_.link_timeout_ms) {
    destroy_link(l.index, "timed out");
    return;
  }
  if (auto due = l.rel->next_timer_ms(); due && *due <= now) {
    l.rel->on_timer(now);
  }
  if (now - l.last_tx_ms >= config_.keepalive_ms || now - l.last_ping_ms >= probe_interval(l)) {
    send_ping(l, now); // a keepalive on an idle link, a round-trip probe on a busy one
  }
  if (Contact* c = find_contact(l.key); c != nullptr && c->best == l.index) {
    if (c->links.size() > 1 && stalled(l, now)) {
      // Silent while carrying data: ask the other links whether they are alive, and fail over
      // to one that answers.
      for (uint32_t index : c->links) {
        Link& other = *links_.at(index);
        if (index != l.index && other.confirmed && now - other.last_tx_ms >= 1000) {
          send_ping(other, now);
        }
      }
      choose_best(*c);
    }
    if (c->best == l.index && !c->outbox.empty() && l.rel->idle() &&
        now - c->progress_ms >= config_.resend_ms) {
      // The link carried everything but no end-to-end ack came back (it may have been lost
      // with another link): send the unacknowledged messages again.
      for (OutItem& item : c->outbox) {
        item.handed_to = 0;
      }
      c->pump_from = 0;
      c->progress_ms = now;
    }
    if (c->best == l.index) {
      pump_outbox(*c); // sends what a full buffer held back
    }
  }
}

void Engine::on_timer() {
  const uint64_t now = clock_.mono_ms();
  discovery_timers(now);
  direct_timers(now);
  std::vector<uint32_t> indices;
  indices.reserve(links_.size());
  for (const auto& [i, l] : links_) {
    indices.push_back(i);
  }
  for (uint32_t index : indices) {
    auto it = links_.find(index);
    if (it != links_.end()) {
      link_timers(*it->second, now);
    }
  }
  while (!reconnects_.empty() && reconnects_.begin()->first <= now) {
    const Key key = reconnects_.begin()->second;
    reconnects_.erase(reconnects_.begin());
    Contact* c = find_contact(key);
    if (c == nullptr) {
      continue;
    }
    c->reconnect_at = 0;
    const bool busy = std::any_of(c->links.begin(), c->links.end(), [&](uint32_t index) {
      const Link& l = *links_.at(index);
      return l.confirmed || l.state == Link::State::kHandshake;
    });
    if (!busy) {
      connect(*c);
    }
  }
}

std::optional<uint64_t> Engine::next_timer_ms() const {
  std::optional<uint64_t> next;
  auto consider = [&](uint64_t t) {
    if (!next || t < *next) {
      next = t;
    }
  };
  for (const auto& [i, l] : links_) {
    if (l->state == Link::State::kHandshake) {
      consider(std::min(l->hs_next_ms, l->created_ms + config_.handshake_timeout_ms));
      continue;
    }
    if (!l->confirmed) {
      consider(l->created_ms + config_.handshake_timeout_ms);
    }
    consider(l->last_rx_ms + config_.link_timeout_ms);
    if (l->rel && !l->rel->idle() && l->last_rx_ms + config_.stall_ms > clock_.mono_ms()) {
      consider(l->last_rx_ms + config_.stall_ms);
    }
    consider(std::min(l->last_tx_ms + config_.keepalive_ms, l->last_ping_ms + probe_interval(*l)));
    if (auto due = l->rel->next_timer_ms()) {
      consider(*due);
    }
    if (l->rel->idle() && l->confirmed) {
      auto it = contacts_.find(l->key);
      if (it != contacts_.end() && it->second->best == l->index && !it->second->outbox.empty()) {
        consider(it->second->progress_ms + config_.resend_ms);
      }
    }
  }
  if (beacons_) {
    for (const TransportSlot& t : transports_) {
      if (t.discovery != nullptr) {
        consider(t.next_beacon_ms);
      }
    }
    if (meeting_until_ms_ != 0) {
      consider(meeting_until_ms_);
    }
    if (beacons_->queued() > 0) {
      consider(clock_.mono_ms()); // the next slice of pairwise keys, after what is waiting
    }
  }
  if (!reconnects_.empty()) {
    consider(reconnects_.begin()->first);
  }
  if (next_direct_ms_ != 0) {
    consider(next_direct_ms_);
  }
  return next;
}

bool Engine::flush() {
  for (const Key& key : acks_due_) {
    Contact* c = find_contact(key);
    if (c == nullptr || c->acks.empty()) {
      continue;
    }
    if (c->best != 0) {
      Link& l = *links_.at(c->best);
      for (std::size_t at = 0; at < c->acks.size(); at += config_.max_ack_ids) {
        const std::size_t n = std::min<std::size_t>(config_.max_ack_ids, c->acks.size() - at);
        send_envelope(l, wire::ack(std::span(c->acks).subspan(at, n)));
      }
    }
    c->acks.clear();
  }
  acks_due_.clear();
  for (const Key& key : dirty_sessions_) {
    Contact* c = find_contact(key);
    if (c != nullptr && c->session && c->session->dirty) {
      store_session(*c, *c->session);
    }
  }
  dirty_sessions_.clear();
  // The envelopes of this turn go out now, as few packets as they fit in.
  for (const uint32_t index : unflushed_) {
    if (auto it = links_.find(index); it != links_.end() && it->second->rel) {
      it->second->rel->flush(clock_.mono_ms());
    }
  }
  unflushed_.clear();
  bool ok = true;
  if (in_txn_) {
    if (!batch_failed_) {
      const sdk::Status st = storage_.commit();
      if (!st.is_ok()) {
        storage_failed("commit", st);
      }
    }
    if (batch_failed_) {
      (void)storage_.rollback();
    }
    in_txn_ = false;
  }
  if (batch_failed_) {
    ok = false;
    batch_failed_ = false;
    held_.clear();
    held_events_.clear();
    // Memory may be ahead of storage now: start again from what storage holds.
    links_.clear();
    for (auto& [k, c] : contacts_) {
      c->links.clear();
      c->best = 0;
      if (c->online) {
        c->online = false;
        c->path.clear();
        out_.event(ContactPresenceChanged{c->hex, false, {}});
      }
      drop_session(*c);
      c->session_absent = false;
      c->acks.clear();
      if (!endpoints_of(*c).empty() && !c->blocked()) {
        reconnects_.insert({clock_.mono_ms() + config_.reconnect_min_ms, k});
      }
    }
    if (unlocked_) {
      load_outbox();
    }
    return ok;
  }
  for (auto& h : held_) {
    if (!in_scope(h.endpoint)) {
      ++counters_.scope_refusals; // the last guard: nothing leaves for an address out of scope
      continue;
    }
    out_.send_frame(h.transport, h.endpoint, std::move(h.frame));
  }
  held_.clear();
  for (auto& e : held_events_) {
    out_.event(std::move(e));
  }
  held_events_.clear();
  while (sessions_loaded_ > config_.max_sessions_cached) {
    Contact* oldest = nullptr;
    for (auto& [k, c] : contacts_) {
      if (c->session && !c->session->dirty &&
          (oldest == nullptr || c->session->used < oldest->session->used)) {
        oldest = c.get();
      }
    }
    if (oldest == nullptr) {
      break;
    }
    drop_session(*oldest);
  }
  return ok;
}

} // namespace entre
