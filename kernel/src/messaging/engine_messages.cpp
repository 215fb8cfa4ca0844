// The messaging engine: ratchet sessions, sending and receiving messages, the outbox and the
// envelopes (message, ack, read, hello) carried by the reliable link.
#include "messaging/engine_internal.hpp"

#include <algorithm>
#include <cstring>

namespace entre {

using namespace engine_detail;

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
    handle_ack(*c, l, env);
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
  case wire::kEnvEndpoints:
    handle_endpoints(*c, env);
    break;
  case wire::kEnvCall:
    handle_call(*c, env);
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
  const std::string path = path_of(l);
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

void Engine::handle_ack(Contact& c, const Link& l, std::span<const uint8_t> env) {
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
      if (paths_ != nullptr) {
        const std::string path = path_of(l);
        const sdk::Status ps = paths_->set_message_path(id.data(), sdk::StringView(path));
        if (!ps.is_ok() && ps.code != sdk::StatusCode::kNotFound) {
          storage_failed("set_message_path", ps);
          return;
        }
      }
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

} // namespace entre
