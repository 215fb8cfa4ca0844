#include "messaging/engine.hpp"

#include "messaging/wire.hpp"

#include <algorithm>
#include <cstring>

namespace entre {

namespace {

constexpr uint32_t kFlagVerified = 1u << 0;
constexpr uint32_t kFlagBlocked = 1u << 1;

constexpr std::string_view kPrologue = "entre link v1";
constexpr std::string_view kLinkKeyLabel = "entre link key v1";
constexpr std::string_view kSettingSalt = "identity.salt";
constexpr std::string_view kSettingKdf = "identity.kdf";
constexpr std::string_view kSettingIdentity = "identity.sealed";
constexpr std::string_view kReadPrefix = "read.";
constexpr std::size_t kMaxHandshakeFrameBytes = 1024;
constexpr std::size_t kMaxUnconfirmedPerContact = 4;
constexpr std::size_t kMessageIdTimeBytes = 6;

sdk::ByteView bv(std::span<const uint8_t> s) { return sdk::ByteView(s.data(), s.size()); }
sdk::ByteView bv(std::string_view s) {
  return sdk::ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

template <typename Record, typename Base, typename Fn> class Visitor final : public Base {
 public:
  explicit Visitor(Fn fn) : fn_(std::move(fn)) {}
  bool visit(const Record& r) noexcept override {
    try {
      return fn_(r);
    } catch (...) {
      return false;
    }
  }

 private:
  Fn fn_;
};

template <typename Fn> auto contact_visitor(Fn fn) {
  return Visitor<sdk::ContactRecord, sdk::ContactVisitor, Fn>(std::move(fn));
}
template <typename Fn> auto message_visitor(Fn fn) {
  return Visitor<sdk::MessageRecord, sdk::MessageVisitor, Fn>(std::move(fn));
}
template <typename Fn> auto outbox_visitor(Fn fn) {
  return Visitor<sdk::OutboxRecord, sdk::OutboxVisitor, Fn>(std::move(fn));
}

ApiError api_error(const sdk::Status& st, std::string_view what) {
  return ApiError{st.code, std::string(what) + ": " + std::string(st.text())};
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    if (end > start) {
      out.emplace_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    out += (out.empty() ? "" : "\n") + l;
  }
  return out;
}

} // namespace

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

struct Engine::SessionSlot {
  using Sid = std::array<uint8_t, wire::kSessionIdBytes>;
  sdk::Session* session = nullptr;
  Sid sid{};
  bool dirty = false;
  uint64_t used = 0;
  // When this session came from a handshake in this run: the session ids that handshake exchanged.
  bool from_handshake = false;
  std::optional<Sid> origin_local;
  std::optional<Sid> origin_remote;
  ~SessionSlot() {
    if (session != nullptr) {
      session->destroy();
    }
  }
};

struct Engine::Contact {
  Key key{};
  std::string hex;
  std::string name;
  uint32_t flags = 0;
  int64_t added_ms = 0;
  std::vector<std::string> hints;
  std::deque<OutItem> outbox;
  std::vector<uint32_t> links;
  uint32_t best = 0; // link index, 0: none
  bool online = false;
  std::string path;
  uint32_t backoff_ms = 0;
  uint64_t reconnect_at = 0;
  std::unique_ptr<SessionSlot> session;
  bool session_absent = false; // storage has none (checked)
  std::vector<MessageId> acks;
  bool hello_requested = false;
  uint64_t progress_ms = 0; // the last end-to-end ack, or the last hand-over to a link
  // Every outbox item before pump_from has been handed to the link of generation pump_generation.
  uint64_t pump_generation = 0;
  std::size_t pump_from = 0;
  [[nodiscard]] bool blocked() const { return (flags & kFlagBlocked) != 0; }
};

struct Engine::Link {
  enum class State { kHandshake, kUp };
  uint32_t index = 0;
  uint32_t remote_index = 0;
  std::size_t transport = 0;
  std::string endpoint;
  Key key{};
  bool initiator = false;
  State state = State::kHandshake;
  bool confirmed = false;
  sdk::Handshake* hs = nullptr;
  std::vector<uint8_t> hs_frame; // initiator: hs1 to resend; responder: hs2 to resend
  std::vector<uint8_t> hs1_seen; // responder: the hs1 it answered
  uint64_t created_ms = 0;
  uint64_t hs_next_ms = 0;
  uint32_t hs_interval_ms = 0;
  sdk::MediaCipher* tx = nullptr;
  sdk::MediaCipher* rx = nullptr;
  uint64_t tx_counter = 1;
  std::unique_ptr<ReliableLink> rel;
  uint64_t last_rx_ms = 0;
  uint64_t last_tx_ms = 0;
  uint64_t generation = 0;
  uint32_t rtt_ms = 0;
  std::optional<std::array<uint8_t, wire::kSessionIdBytes>> local_sid;
  std::optional<std::array<uint8_t, wire::kSessionIdBytes>> remote_sid;
  std::array<uint8_t, wire::kSessionIdBytes> hash_sid{};
  sdk::Session* split = nullptr;
  bool decided = false;

  ~Link() {
    if (hs != nullptr) {
      hs->destroy();
    }
    if (tx != nullptr) {
      tx->destroy();
    }
    if (rx != nullptr) {
      rx->destroy();
    }
    if (split != nullptr) {
      split->destroy();
    }
  }
};

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

std::size_t Engine::add_transport(sdk::Transport* transport, std::string plugin_id) {
  TransportSlot slot;
  slot.transport = transport;
  slot.plugin_id = std::move(plugin_id);
  const sdk::TransportInfo info = transport->info();
  slot.scheme.assign(info.scheme, ::strnlen(info.scheme, sizeof info.scheme));
  slot.max_payload = info.max_payload_bytes;
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
  load_contacts();
  load_outbox();
  const uint64_t now = clock_.mono_ms();
  for (auto& [key, c] : contacts_) {
    if (!c->hints.empty() && !c->blocked()) {
      reconnects_.insert({now, key});
      c->reconnect_at = now;
    }
  }
  out_.log(1, "identity unlocked: " + wire::hex(my_key_) + ", " + std::to_string(contacts_.size()) +
                  " contact(s), " + std::to_string(outbox_size()) + " message(s) in the outbox");
  return ApiStatus::of({});
}

std::string Engine::my_id() const { return unlocked_ ? wire::hex(my_key_) : std::string(); }

ApiResult<std::string> Engine::contact_code(const std::vector<std::string>& hints) {
  if (!unlocked_) {
    return ApiResult<std::string>::fail(sdk::StatusCode::kClosed, "the identity is locked");
  }
  std::vector<std::string> all = hints;
  if (all.empty()) {
    for (const auto& t : transports_) {
      std::string text;
      sdk::StringSink sink(text, 4096);
      if (t.transport->local_endpoints(sink).is_ok()) {
        for (auto& e : split_lines(text)) {
          all.push_back(std::move(e));
        }
      }
    }
  }
  std::string code;
  sdk::StringSink sink(code, 8192);
  const sdk::Status st =
      crypto_.encode_contact_code(bv(my_key_), sdk::StringView(join_lines(all)), sink);
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
    c->hints = split_lines(std::string_view(reinterpret_cast<const char*>(r.endpoint_hints.data),
                                            r.endpoint_hints.size));
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
  info.path = c.path;
  if (auto it = links_.find(c.best); it != links_.end() && it->second->rel) {
    const ReliableLinkStats& st = it->second->rel->stats();
    info.rtt_ms = st.srtt_ms != 0 ? st.srtt_ms : it->second->rtt_ms;
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
  const std::string hints = join_lines(c.hints);
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
  if (Contact* existing = find_contact(key)) {
    return R::fail(sdk::StatusCode::kAlreadyExists,
                   "already a contact" + (existing->name.empty() ? "" : ": " + existing->name));
  }
  auto c = std::make_unique<Contact>();
  c->key = key;
  c->hex = wire::hex(key);
  c->name = name;
  c->added_ms = clock_.wall_ms();
  c->hints = split_lines(hints);
  c->backoff_ms = config_.reconnect_min_ms;
  if (!put_contact(*c)) {
    return R::fail(sdk::StatusCode::kIoError, "the contact could not be stored");
  }
  Contact& ref = *c;
  contacts_[key] = std::move(c);
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

// ---- Sessions -----------------------------------------------------------------------------------

Engine::SessionSlot* Engine::session_of(Contact& c) {
  if (c.session) {
    touch_session(c);
    return c.session.get();
  }
  if (c.session_absent) {
    return nullptr;
  }
  std::vector<uint8_t> blob;
  sdk::VectorSink sink(blob);
  const sdk::Status st = storage_.get_session(bv(c.key), sink);
  if (!st.is_ok() || blob.size() <= wire::kSessionIdBytes) {
    c.session_absent = true;
    return nullptr;
  }
  std::span<const uint8_t> sid(blob.data(), wire::kSessionIdBytes);
  auto state = open("session", c.key, std::span(blob).subspan(wire::kSessionIdBytes));
  if (!state) {
    out_.log(3, "the stored session of " + c.hex + " does not open; a new one will be agreed");
    c.session_absent = true;
    return nullptr;
  }
  sdk::Session* s = nullptr;
  const sdk::Status rs = crypto_.restore_session(bv(*state), &s);
  wire::wipe(*state);
  if (!rs.is_ok() || s == nullptr) {
    out_.log(3, "the stored session of " + c.hex + " is unusable: " + std::string(rs.text()));
    c.session_absent = true;
    return nullptr;
  }
  auto slot = std::make_unique<SessionSlot>();
  slot->session = s;
  std::copy(sid.begin(), sid.end(), slot->sid.begin());
  c.session = std::move(slot);
  ++sessions_loaded_;
  touch_session(c);
  return c.session.get();
}

void Engine::touch_session(Contact& c) { c.session->used = ++session_tick_; }

void Engine::store_session(Contact& c, SessionSlot& s) {
  std::vector<uint8_t> state;
  sdk::VectorSink sink(state);
  const sdk::Status st = s.session->serialize(sink);
  if (!st.is_ok()) {
    out_.log(3, "session serialise failed: " + std::string(st.text()));
    batch_failed_ = true;
    return;
  }
  std::vector<uint8_t> blob(s.sid.begin(), s.sid.end());
  const std::vector<uint8_t> sealed = seal("session", c.key, state);
  wire::wipe(state);
  blob.insert(blob.end(), sealed.begin(), sealed.end());
  if (!txn()) {
    return;
  }
  const sdk::Status ps = storage_.put_session(bv(c.key), bv(blob));
  if (!ps.is_ok()) {
    storage_failed("put_session", ps);
    return;
  }
  s.dirty = false;
}

void Engine::drop_session(Contact& c) {
  if (c.session) {
    c.session.reset();
    --sessions_loaded_;
  }
}

void Engine::install_session(Contact& c, sdk::Session* s,
                             const std::array<uint8_t, wire::kSessionIdBytes>& sid) {
  drop_session(c);
  auto slot = std::make_unique<SessionSlot>();
  slot->session = s;
  slot->sid = sid;
  slot->dirty = true;
  c.session = std::move(slot);
  c.session_absent = false;
  ++sessions_loaded_;
  touch_session(c);
  dirty_sessions_.insert(c.key);
}

std::optional<std::vector<uint8_t>> Engine::encrypt_message(Contact& c, const MessageId& id,
                                                            int64_t timestamp_ms,
                                                            const std::string& text) {
  SessionSlot* s = session_of(c);
  if (s == nullptr) {
    return std::nullopt;
  }
  std::vector<uint8_t> env = wire::message_header(id, timestamp_ms);
  const std::size_t header = env.size();
  std::vector<uint8_t> ct;
  sdk::VectorSink sink(ct);
  const sdk::Status st = s->session->encrypt(sdk::ByteView(env.data(), header), bv(text), sink);
  if (!st.is_ok()) {
    if (st.code == sdk::StatusCode::kUnavailable && !c.hello_requested && c.best != 0) {
      c.hello_requested = true;
      send_envelope(*links_.at(c.best), {wire::kEnvHelloRequest});
    }
    return std::nullopt;
  }
  s->dirty = true;
  dirty_sessions_.insert(c.key);
  env.insert(env.end(), ct.begin(), ct.end());
  return env;
}

void Engine::encrypt_pending(Contact& c, bool reencrypt_all) {
  for (OutItem& item : c.outbox) {
    if (!item.envelope.empty() && !reencrypt_all) {
      continue;
    }
    std::optional<std::string> text;
    int64_t ts = 0;
    auto mv = message_visitor([&](const sdk::MessageRecord& r) {
      ts = r.timestamp_ms;
      auto body = open("body", item.id, r.sealed_body.span());
      if (body) {
        text.emplace(body->begin(), body->end());
        wire::wipe(*body);
      }
      return true;
    });
    if (!storage_.get_message(item.id.data(), mv).is_ok() || !text) {
      out_.log(3, "outbox entry " + wire::hex(item.id) + " has no readable message");
      continue;
    }
    auto env = encrypt_message(c, item.id, ts, *text);
    if (!env) {
      return; // the session cannot send yet; the rest waits too, in order
    }
    if (!txn()) {
      return;
    }
    const std::vector<uint8_t> sealed = seal("outbox", item.id, *env);
    sdk::Status st = storage_.outbox_remove(item.id.data());
    if (st.is_ok()) {
      sdk::OutboxRecord rec{};
      std::memcpy(rec.id, item.id.data(), item.id.size());
      rec.contact_key = bv(c.key);
      rec.sealed_frame = bv(sealed);
      rec.queued_ms = clock_.wall_ms();
      st = storage_.outbox_put(rec);
    }
    if (!st.is_ok()) {
      storage_failed("outbox rewrite", st);
      return;
    }
    item.envelope = std::move(*env);
    item.handed_to = 0;
    c.pump_from = 0;
  }
}

// ---- Messages -----------------------------------------------------------------------------------

std::optional<ApiError> Engine::check_text(const std::string& text) {
  if (text.empty()) {
    return ApiError{sdk::StatusCode::kInvalidArgument, "the message is empty"};
  }
  if (text.size() > kMaxMessageTextBytes) {
    return ApiError{sdk::StatusCode::kOutOfRange, "the message has " + std::to_string(text.size()) +
                                                      " bytes; the most is " +
                                                      std::to_string(kMaxMessageTextBytes)};
  }
  return std::nullopt;
}

ApiResult<MessageInfo> Engine::send(const std::string& contact_id, const std::string& text) {
  using R = ApiResult<MessageInfo>;
  ApiError e;
  Contact* c = find_contact(contact_id, e);
  if (c == nullptr) {
    return R{std::nullopt, e};
  }
  if (auto refused = check_text(text)) {
    return R{std::nullopt, std::move(*refused)};
  }
  if (c->blocked()) {
    return R::fail(sdk::StatusCode::kPermissionDenied, "the contact is blocked: unblock it first");
  }
  if (!txn()) {
    return R::fail(sdk::StatusCode::kIoError, "storage is unavailable");
  }
  const int64_t now = clock_.wall_ms();
  const MessageId id = new_message_id(now);
  OutItem item;
  item.id = id;
  // Older messages of this contact that are still waiting for a session keep their place.
  const bool waiting = !c->outbox.empty() && c->outbox.back().envelope.empty();
  if (!waiting) {
    if (auto env = encrypt_message(*c, id, now, text)) {
      item.envelope = std::move(*env);
    }
  }
  // When the link in use takes it in this same turn (the common case), the message is stored
  // as sent at once instead of being raised to sent by a second write.
  bool hand_now = false;
  if (auto it = links_.find(c->best);
      it != links_.end() && it->second->rel && !item.envelope.empty()) {
    const Link& l = *it->second;
    hand_now = c->pump_generation == l.generation && c->pump_from == c->outbox.size() &&
               l.rel->queued_bytes() + item.envelope.size() <= config_.link.send_buffer_bytes;
  }
  const MessageState state = hand_now ? MessageState::kSent : MessageState::kQueued;
  const std::vector<uint8_t> body = seal("body", id, bv(text).span());
  sdk::MessageRecord rec{};
  std::memcpy(rec.id, id.data(), id.size());
  rec.contact_key = bv(c->key);
  rec.direction = sdk::MessageDirection::kOutgoing;
  rec.state = static_cast<uint32_t>(state);
  rec.timestamp_ms = now;
  rec.local_ms = now;
  rec.sealed_body = bv(body);
  const auto inserted = storage_.insert_message(rec);
  if (!inserted.is_ok()) {
    storage_failed("insert_message", inserted.status);
    return R{std::nullopt, api_error(inserted.status, "the message could not be stored")};
  }
  item.order = inserted.value;
  item.state = static_cast<uint32_t>(state);
  if (hand_now) {
    ++counters_.messages_sent;
    held_events_.push_back(MessageStateChanged{c->hex, wire::hex(id), MessageState::kSent});
  }
  const std::vector<uint8_t> sealed =
      item.envelope.empty() ? std::vector<uint8_t>() : seal("outbox", id, item.envelope);
  sdk::OutboxRecord out{};
  std::memcpy(out.id, id.data(), id.size());
  out.contact_key = bv(c->key);
  out.sealed_frame = bv(sealed);
  out.queued_ms = now;
  const sdk::Status st = storage_.outbox_put(out);
  if (!st.is_ok()) {
    storage_failed("outbox_put", st);
    return R{std::nullopt, api_error(st, "the message could not be queued")};
  }
  c->outbox.push_back(std::move(item));
  pump_outbox(*c);
  if (c->links.empty()) {
    connect(*c);
  }
  MessageInfo info;
  info.id = wire::hex(id);
  info.contact = c->hex;
  info.outgoing = true;
  info.state = state;
  info.order = inserted.value;
  info.timestamp_ms = now;
  info.local_ms = now;
  info.text = text;
  return R::of(std::move(info));
}

ApiResult<std::vector<MessageInfo>> Engine::send_batch(const std::string& contact_id,
                                                       const std::vector<std::string>& texts) {
  using R = ApiResult<std::vector<MessageInfo>>;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (auto refused = check_text(texts[i])) {
      refused->message = "text " + std::to_string(i) + ": " + refused->message;
      return R{std::nullopt, std::move(*refused)};
    }
  }
  std::vector<MessageInfo> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) {
    auto r = send(contact_id, text);
    if (!r) {
      batch_failed_ = batch_failed_ || !out.empty(); // undo the ones already stored
      return R{std::nullopt, r.error};
    }
    out.push_back(std::move(*r.value));
  }
  return R::of(std::move(out));
}

ApiResult<std::vector<MessageInfo>> Engine::history(const std::string& contact_id,
                                                    uint64_t before_order, uint32_t limit) {
  using R = ApiResult<std::vector<MessageInfo>>;
  ApiError e;
  Contact* c = find_contact(contact_id, e);
  if (c == nullptr) {
    return R{std::nullopt, e};
  }
  std::vector<MessageInfo> out;
  auto v = message_visitor([&](const sdk::MessageRecord& r) {
    MessageInfo m;
    m.id = wire::hex(std::span<const uint8_t>(r.id, sdk::kMessageIdBytes));
    m.contact = c->hex;
    m.outgoing = r.direction == sdk::MessageDirection::kOutgoing;
    m.state = static_cast<MessageState>(std::clamp<uint32_t>(r.state, 1, 4));
    m.order = r.order;
    m.timestamp_ms = r.timestamp_ms;
    m.local_ms = r.local_ms;
    m.path = std::string(r.path.str());
    auto body =
        open("body", std::span<const uint8_t>(r.id, sdk::kMessageIdBytes), r.sealed_body.span());
    if (body) {
      m.text.assign(body->begin(), body->end());
      wire::wipe(*body);
    } else {
      m.text = "[this message cannot be opened]";
    }
    out.push_back(std::move(m));
    return true;
  });
  const sdk::Status st = storage_.list_messages(
      bv(c->key), before_order == 0 ? sdk::kNewestOrder : before_order, limit, v);
  if (!st.is_ok()) {
    return R{std::nullopt, api_error(st, "history")};
  }
  return R::of(std::move(out));
}

ApiResult<uint64_t> Engine::mark_read(const std::string& contact_id) {
  using R = ApiResult<uint64_t>;
  ApiError e;
  Contact* c = find_contact(contact_id, e);
  if (c == nullptr) {
    return R{std::nullopt, e};
  }
  // The newest incoming message: read receipts name it.
  std::optional<MessageId> newest;
  uint64_t newest_order = 0;
  uint64_t before = sdk::kNewestOrder;
  while (!newest) {
    uint64_t last = 0;
    auto v = message_visitor([&](const sdk::MessageRecord& r) {
      last = r.order;
      if (r.direction == sdk::MessageDirection::kIncoming) {
        MessageId id{};
        std::memcpy(id.data(), r.id, id.size());
        newest = id;
        newest_order = r.order;
        return false;
      }
      return true;
    });
    if (!storage_.list_messages(bv(c->key), before, 256, v).is_ok() || last == 0 || last == 1) {
      break;
    }
    before = last;
  }
  if (!newest) {
    return R::of(0);
  }
  if (!txn()) {
    return R::fail(sdk::StatusCode::kIoError, "storage is unavailable");
  }
  const auto raised =
      storage_.raise_message_states(bv(c->key), sdk::MessageDirection::kIncoming, newest_order,
                                    static_cast<uint32_t>(MessageState::kRead));
  if (!raised.is_ok()) {
    storage_failed("raise_message_states", raised.status);
    return R{std::nullopt, api_error(raised.status, "mark read")};
  }
  if (raised.value > 0) {
    const sdk::Status st =
        storage_.put_setting(sdk::StringView(std::string(kReadPrefix) + c->hex), bv(*newest));
    if (!st.is_ok()) {
      storage_failed("put_setting", st);
      return R{std::nullopt, api_error(st, "mark read")};
    }
    send_read_receipt(*c);
  }
  return R::of(raised.value);
}

void Engine::send_read_receipt(Contact& c) {
  if (c.best == 0) {
    return;
  }
  std::vector<uint8_t> id;
  sdk::VectorSink sink(id);
  if (!storage_.get_setting(sdk::StringView(std::string(kReadPrefix) + c.hex), sink).is_ok() ||
      id.size() != sdk::kMessageIdBytes) {
    return;
  }
  std::vector<uint8_t> env{wire::kEnvRead};
  env.insert(env.end(), id.begin(), id.end());
  send_envelope(*links_.at(c.best), std::move(env));
}

Engine::MessageId Engine::new_message_id(int64_t wall_ms) {
  // 48-bit send time first, so that a node's ids (and so every index keyed by them) grow in
  // order; the time never goes back within a run even if the wall clock does.
  last_id_ms_ =
      std::max<uint64_t>(last_id_ms_, static_cast<uint64_t>(std::max<int64_t>(wall_ms, 0)));
  MessageId id{};
  for (std::size_t i = 0; i < kMessageIdTimeBytes; ++i) {
    id[i] = static_cast<uint8_t>(last_id_ms_ >> (8 * (kMessageIdTimeBytes - 1 - i)));
  }
  crypto_.random_bytes(
      sdk::MutableByteView(id.data() + kMessageIdTimeBytes, id.size() - kMessageIdTimeBytes));
  return id;
}

void Engine::queue_ack(Contact& c, const MessageId& id) {
  c.acks.push_back(id);
  acks_due_.insert(c.key);
}

// ---- Links --------------------------------------------------------------------------------------

void Engine::connect(Contact& c) {
  if (!unlocked_ || c.blocked() || c.hints.empty()) {
    return;
  }
  const uint64_t now = clock_.mono_ms();
  std::size_t pending = 0;
  for (const auto& [i, l] : links_) {
    pending += l->state == Link::State::kHandshake ? 1 : 0;
  }
  for (const std::string& hint : c.hints) {
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
  l->generation = next_generation_++;
  Link* raw = l.get();
  links_[index] = std::move(l);
  if (Contact* c = find_contact(key)) {
    c->links.push_back(index);
  }
  return raw;
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
  if (c->links.empty() && !c->hints.empty() && !c->blocked()) {
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
  const std::string path = bl == nullptr ? std::string() : bl->endpoint;
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
  std::vector<uint8_t> ping = wire::ping(wire::kPing, clock_.mono_ms());
  send_link_packet(l, ping);
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
  std::array<uint8_t, sdk::kMediaKeyBytes> key{};
  sdk::Status st =
      l.split->derive_media_key(bv(kLinkKeyLabel), sdk::MutableByteView(key.data(), key.size()));
  if (st.is_ok()) {
    st = crypto_.create_media_cipher(bv(key), l.initiator ? 0 : 1, &l.tx);
  }
  if (st.is_ok()) {
    st = crypto_.create_media_cipher(bv(key), l.initiator ? 1 : 0, &l.rx);
  }
  wire::wipe(key);
  if (!st.is_ok()) {
    return false;
  }
  l.hs->destroy();
  l.hs = nullptr;
  l.state = Link::State::kUp;
  ++counters_.handshakes_completed;
  ReliableLinkConfig rc = config_.link;
  const uint32_t max_payload = transports_[l.transport].max_payload;
  rc.max_packet_bytes =
      max_payload > wire::kSealedOverhead + 64
          ? std::min<uint32_t>(rc.max_packet_bytes, max_payload - wire::kSealedOverhead)
          : 64;
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
  c->backoff_ms = config_.reconnect_min_ms;
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

void Engine::send_envelope(Link& l, std::vector<uint8_t> envelope) {
  if (!l.rel) {
    return;
  }
  auto err = l.rel->send(envelope, clock_.mono_ms(), false);
  unflushed_.insert(l.index);
  if (err) {
    out_.log(2, "link refused an envelope: " + *err);
  }
}

void Engine::pump_outbox(Contact& c) {
  if (c.best == 0) {
    return;
  }
  Link& l = *links_.at(c.best);
  if (!l.rel) {
    return;
  }
  const uint64_t now = clock_.mono_ms();
  uint64_t newest_sent_order = 0;
  const MessageId* newest_sent = nullptr;
  if (c.pump_generation != l.generation || c.pump_from > c.outbox.size()) {
    c.pump_generation = l.generation;
    c.pump_from = 0;
  }
  for (; c.pump_from < c.outbox.size(); ++c.pump_from) {
    OutItem& item = c.outbox[c.pump_from];
    if (item.envelope.empty()) {
      break; // waiting for a session; later ones wait too, to keep the order
    }
    if (item.handed_to == l.generation) {
      continue;
    }
    unflushed_.insert(l.index);
    if (l.rel->send(item.envelope, now, false)) {
      break; // the link's buffer is full: the rest goes when it drains
    }
    item.handed_to = l.generation;
    c.progress_ms = now;
    if (item.state < static_cast<uint32_t>(MessageState::kSent)) {
      item.state = static_cast<uint32_t>(MessageState::kSent);
      newest_sent_order = item.order;
      newest_sent = &item.id;
      ++counters_.messages_sent;
    }
  }
  if (newest_sent != nullptr && txn()) {
    const auto r = storage_.raise_message_states(bv(c.key), sdk::MessageDirection::kOutgoing,
                                                 newest_sent_order,
                                                 static_cast<uint32_t>(MessageState::kSent));
    if (!r.is_ok()) {
      storage_failed("raise_message_states", r.status);
      return;
    }
    held_events_.push_back(
        MessageStateChanged{c.hex, wire::hex(*newest_sent), MessageState::kSent});
  }
}

void Engine::on_link_message(uint32_t index, std::vector<uint8_t> message) {
  auto it = links_.find(index);
  if (it == links_.end() || message.empty()) {
    return;
  }
  Link& l = *it->second;
  Contact* c = find_contact(l.key);
  if (c == nullptr || c->blocked()) {
    return;
  }
  const std::span<const uint8_t> env(message);
  switch (env[0]) {
  case wire::kEnvMessage:
    handle_message(*c, l, env);
    break;
  case wire::kEnvAck:
    handle_ack(*c, env);
    break;
  case wire::kEnvRead:
    handle_read(*c, env);
    break;
  case wire::kEnvHello:
    handle_hello(*c, env);
    break;
  case wire::kEnvHelloRequest:
    send_hello(*c, l);
    break;
  default:
    ++counters_.frames_dropped;
    break;
  }
}

void Engine::handle_message(Contact& c, Link& l, std::span<const uint8_t> env) {
  auto parsed = wire::parse_message(env);
  if (!parsed) {
    ++counters_.frames_dropped;
    return;
  }
  const MessageId& id = parsed->id;
  bool known = false;
  auto probe = message_visitor([&](const sdk::MessageRecord&) {
    known = true;
    return false;
  });
  (void)storage_.get_message(id.data(), probe);
  if (known) {
    ++counters_.duplicates_dropped;
    queue_ack(c, id);
    return;
  }
  SessionSlot* s = session_of(c);
  if (s == nullptr) {
    ++counters_.decrypt_failures;
    return;
  }
  std::vector<uint8_t> plain;
  sdk::VectorSink sink(plain, kMaxMessageTextBytes);
  const sdk::Status st =
      s->session->decrypt(bv(env.first(wire::kMessageHeaderBytes)), bv(parsed->ciphertext), sink);
  if (!st.is_ok()) {
    ++counters_.decrypt_failures;
    out_.log(2, "a message from " + c.hex.substr(0, 16) +
                    " did not decrypt: " + std::string(st.text()));
    return;
  }
  s->dirty = true;
  dirty_sessions_.insert(c.key);
  if (!txn()) {
    return;
  }
  // The stored message is the dedupe record: its id is what the probe above finds.
  const int64_t now = clock_.wall_ms();
  const std::vector<uint8_t> body = seal("body", id, plain);
  const std::string path = transports_[l.transport].scheme;
  sdk::MessageRecord rec{};
  std::memcpy(rec.id, id.data(), id.size());
  rec.contact_key = bv(c.key);
  rec.direction = sdk::MessageDirection::kIncoming;
  rec.state = static_cast<uint32_t>(MessageState::kDelivered);
  rec.timestamp_ms = parsed->timestamp_ms;
  rec.local_ms = now;
  rec.sealed_body = bv(body);
  rec.path = sdk::StringView(path);
  const auto inserted = storage_.insert_message(rec);
  if (!inserted.is_ok()) {
    storage_failed("insert_message", inserted.status);
    return;
  }
  ++counters_.messages_received;
  queue_ack(c, id);
  MessageInfo m;
  m.id = wire::hex(id);
  m.contact = c.hex;
  m.outgoing = false;
  m.state = MessageState::kDelivered;
  m.order = inserted.value;
  m.timestamp_ms = parsed->timestamp_ms;
  m.local_ms = now;
  m.text.assign(plain.begin(), plain.end());
  m.path = path;
  wire::wipe(plain);
  held_events_.push_back(MessageReceived{std::move(m)});
}

void Engine::handle_ack(Contact& c, std::span<const uint8_t> env) {
  auto ids = wire::parse_ack(env);
  if (!ids) {
    ++counters_.frames_dropped;
    return;
  }
  for (const MessageId& id : *ids) {
    auto it = std::find_if(c.outbox.begin(), c.outbox.end(),
                           [&](const OutItem& item) { return item.id == id; });
    if (it == c.outbox.end() || !txn()) {
      continue;
    }
    const sdk::Status st = storage_.outbox_remove(id.data());
    if (!st.is_ok() && st.code != sdk::StatusCode::kNotFound) {
      storage_failed("outbox_remove", st);
      return;
    }
    if (it->state < static_cast<uint32_t>(MessageState::kDelivered)) {
      const sdk::Status ss =
          storage_.set_message_state(id.data(), static_cast<uint32_t>(MessageState::kDelivered));
      if (!ss.is_ok() && ss.code != sdk::StatusCode::kNotFound) {
        storage_failed("set_message_state", ss);
        return;
      }
      held_events_.push_back(MessageStateChanged{c.hex, wire::hex(id), MessageState::kDelivered});
    }
    if (static_cast<std::size_t>(it - c.outbox.begin()) < c.pump_from) {
      --c.pump_from;
    }
    c.outbox.erase(it);
    c.progress_ms = clock_.mono_ms();
  }
  pump_outbox(c);
}

void Engine::handle_read(Contact& c, std::span<const uint8_t> env) {
  if (env.size() != 1 + sdk::kMessageIdBytes) {
    ++counters_.frames_dropped;
    return;
  }
  MessageId id{};
  std::copy(env.begin() + 1, env.end(), id.begin());
  uint64_t order = 0;
  bool mine = false;
  auto v = message_visitor([&](const sdk::MessageRecord& r) {
    order = r.order;
    mine = r.direction == sdk::MessageDirection::kOutgoing && r.contact_key.size == c.key.size() &&
           std::memcmp(r.contact_key.data, c.key.data(), c.key.size()) == 0;
    return false;
  });
  if (!storage_.get_message(id.data(), v).is_ok() || !mine || !txn()) {
    return;
  }
  const auto r = storage_.raise_message_states(bv(c.key), sdk::MessageDirection::kOutgoing, order,
                                               static_cast<uint32_t>(MessageState::kRead));
  if (!r.is_ok()) {
    storage_failed("raise_message_states", r.status);
    return;
  }
  for (OutItem& item : c.outbox) {
    if (item.order <= order) {
      item.state = static_cast<uint32_t>(MessageState::kRead);
    }
  }
  if (r.value > 0) {
    held_events_.push_back(MessageStateChanged{c.hex, wire::hex(id), MessageState::kRead});
  }
}

void Engine::handle_hello(Contact& c, std::span<const uint8_t> env) {
  SessionSlot* s = session_of(c);
  if (s == nullptr) {
    ++counters_.decrypt_failures;
    return;
  }
  std::vector<uint8_t> plain;
  sdk::VectorSink sink(plain, 64);
  if (!s->session->decrypt(bv(env.first(1)), bv(env.subspan(1)), sink).is_ok()) {
    ++counters_.decrypt_failures;
    return;
  }
  s->dirty = true;
  dirty_sessions_.insert(c.key);
  encrypt_pending(c, false);
  pump_outbox(c);
}

// ---- Driver -------------------------------------------------------------------------------------

void Engine::on_frame(std::size_t transport, std::string_view endpoint,
                      std::span<const uint8_t> frame) {
  ++counters_.frames_received;
  if (frame.empty() || transport >= transports_.size()) {
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
  l.last_rx_ms = now;
  if (l.transport == transport && l.endpoint != endpoint) {
    out_.log(1, "link to " + wire::hex(l.key).substr(0, 16) + " moved from " + l.endpoint + " to " +
                    std::string(endpoint));
    l.endpoint = std::string(endpoint);
    if (Contact* c = find_contact(l.key); c != nullptr && c->best == l.index) {
      c->path = l.endpoint;
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
      const uint32_t sample = static_cast<uint32_t>(now - *sent);
      l.rtt_ms = l.rtt_ms == 0 ? sample : (l.rtt_ms * 7 + sample) / 8;
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
  if (now - l.last_tx_ms >= config_.keepalive_ms) {
    const std::vector<uint8_t> ping = wire::ping(wire::kPing, now);
    send_link_packet(l, ping);
  }
  if (Contact* c = find_contact(l.key); c != nullptr && c->best == l.index) {
    if (c->links.size() > 1 && stalled(l, now)) {
      // Silent while carrying data: ask the other links whether they are alive, and fail over
      // to one that answers.
      for (uint32_t index : c->links) {
        Link& other = *links_.at(index);
        if (index != l.index && other.confirmed && now - other.last_tx_ms >= 1000) {
          send_link_packet(other, wire::ping(wire::kPing, now));
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
    consider(l->last_tx_ms + config_.keepalive_ms);
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
  if (!reconnects_.empty()) {
    consider(reconnects_.begin()->first);
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
      if (!c->hints.empty() && !c->blocked()) {
        reconnects_.insert({clock_.mono_ms() + config_.reconnect_min_ms, k});
      }
    }
    if (unlocked_) {
      load_outbox();
    }
    return ok;
  }
  for (auto& h : held_) {
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
