#include "memory_storage.hpp"

#include <entre/sdk/storage_checks.hpp>

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>
#include <string_view>
#include <type_traits>

namespace entre::plugins::memory {

namespace {

using sdk::Status;
using sdk::StatusCode;

Status fail(StatusCode code, std::string_view text) { return Status::error(code, text); }

// Runs `body`, turning any exception into a failed Status or Result (see storage_checks.hpp).
// Every write below does its allocations, the undo step last, before it changes anything, so an
// exception leaves the data as it was.
template <typename F> auto guarded(const F& body) noexcept -> decltype(body()) {
  return sdk::guard_exceptions(body, "memory: out of memory");
}

// A map node holding one new entry for `map`. Writes allocate their entries this way before they
// change anything: inserting a node into a map allocates nothing.
template <typename Map, typename Key, typename Value>
typename Map::node_type new_entry(const Map&, Key&& key, Value&& value) {
  Map one;
  one.emplace(std::forward<Key>(key), std::forward<Value>(value));
  return one.extract(one.begin());
}

// Moves an entry (given by iterator or by key, as for std::map::extract), if there is one, from
// `from` to `to`, without allocating.
template <typename Map, typename At> void move_entry(Map& from, const At& at, Map& to) noexcept {
  if (auto entry = from.extract(at)) {
    to.insert(std::move(entry));
  }
}

// ---- Argument checks (the limits of storage.hpp) --------------------------------------------

constexpr sdk::StorageArgChecks kCheck{"memory"};
using sdk::first_error;

std::vector<uint8_t> bytes(sdk::ByteView view) {
  return view.size == 0 ? std::vector<uint8_t>()
                        : std::vector<uint8_t>(view.data, view.data + view.size);
}

std::string text(sdk::StringView view) {
  return view.size == 0 ? std::string() : std::string(view.data, view.size);
}

std::array<uint8_t, sdk::kMessageIdBytes> message_id(const uint8_t* id) {
  std::array<uint8_t, sdk::kMessageIdBytes> out{};
  std::memcpy(out.data(), id, out.size());
  return out;
}

sdk::ByteView view(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }
sdk::StringView view(const std::string& s) { return {s.data(), s.size()}; }

} // namespace

// ---- Opening and transactions -----------------------------------------------------------------

void* MemoryStorage::query_interface(sdk::InterfaceId id) noexcept {
  if (id == sdk::InterfaceId::kMessagePathsV1) {
    return static_cast<sdk::MessagePaths*>(this);
  }
  return id == sdk::InterfaceId::kStorageV1 ? static_cast<sdk::Storage*>(this) : nullptr;
}

Status MemoryStorage::open(sdk::StringView suite_id) noexcept {
  return guarded([&]() -> Status {
    const std::string_view suite = suite_id.data == nullptr ? std::string_view() : suite_id.str();
    if (!sdk::StorageArgChecks::suite_id_well_formed(suite)) {
      return fail(StatusCode::kInvalidArgument,
                  "memory: suite id must be 1 to 32 printable ASCII characters");
    }
    if (suite_id_ && *suite_id_ != suite) {
      return fail(StatusCode::kPermissionDenied, "memory: store belongs to suite '" + *suite_id_ +
                                                     "', not '" + std::string(suite) + "'");
    }
    suite_id_ = std::string(suite);
    return Status::ok();
  });
}

uint32_t MemoryStorage::schema_version() const noexcept {
  return suite_id_ ? kMemorySchemaVersion : 0;
}

Status MemoryStorage::ready() const noexcept {
  return suite_id_ ? Status::ok() : fail(StatusCode::kClosed, "memory: storage is not open");
}

// Runs one write (see guarded()). Outside a transaction its undo step is dropped at once.
template <typename F> auto MemoryStorage::write(const F& body) noexcept -> decltype(body()) {
  auto result = guarded(body);
  if (!in_transaction_) {
    undo_log_.clear();
  }
  return result;
}

// Records the undo step of a write and returns where the write moves the entries it removes or
// replaces. The write's last allocation: after it the write must change the data and succeed.
MemoryStorage::Data& MemoryStorage::log_undo(std::function<void()> undo) {
  static_assert(std::is_nothrow_move_constructible_v<UndoStep>);
  undo_log_.push_back({std::move(undo), {}});
  return undo_log_.back().removed;
}

Status MemoryStorage::begin() noexcept {
  Status st = ready();
  if (!st.is_ok()) {
    return st;
  }
  if (in_transaction_) {
    return fail(StatusCode::kInvalidArgument, "memory: a transaction is already open");
  }
  in_transaction_ = true;
  return Status::ok();
}

Status MemoryStorage::commit() noexcept {
  Status st = ready();
  if (!st.is_ok()) {
    return st;
  }
  if (!in_transaction_) {
    return fail(StatusCode::kInvalidArgument, "memory: commit without begin");
  }
  in_transaction_ = false;
  undo_log_.clear();
  return Status::ok();
}

Status MemoryStorage::rollback() noexcept {
  Status st = ready();
  if (!st.is_ok()) {
    return st;
  }
  if (!in_transaction_) {
    return fail(StatusCode::kInvalidArgument, "memory: rollback without begin");
  }
  // Neither step allocates: erasing, assigning fields and splicing nodes back.
  for (auto step = undo_log_.rbegin(); step != undo_log_.rend(); ++step) {
    if (step->undo) {
      step->undo();
    }
    Data& removed = step->removed;
    data_.settings.merge(removed.settings);
    data_.contacts.merge(removed.contacts);
    data_.messages.merge(removed.messages);
    data_.conversations.merge(removed.conversations);
    data_.outbox.merge(removed.outbox);
    data_.outbox_ids.merge(removed.outbox_ids);
    data_.dedupe.merge(removed.dedupe);
    data_.sessions.merge(removed.sessions);
  }
  in_transaction_ = false;
  undo_log_.clear();
  return Status::ok();
}

// ---- Settings ---------------------------------------------------------------------------------

Status MemoryStorage::put_setting(sdk::StringView key, sdk::ByteView value) noexcept {
  return write([&]() -> Status {
    const Status st =
        first_error(ready(), kCheck.setting_key(key), kCheck.value(value, "setting value"));
    if (!st.is_ok()) {
      return st;
    }
    std::string name = text(key);
    auto entry = new_entry(data_.settings, name, bytes(value));
    Data& removed = log_undo([this, name] { data_.settings.erase(name); });
    move_entry(data_.settings, name, removed.settings);
    data_.settings.insert(std::move(entry));
    return Status::ok();
  });
}

Status MemoryStorage::get_setting(sdk::StringView key, sdk::ByteSink& value_out) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.setting_key(key));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.settings.find(text(key));
    if (found == data_.settings.end()) {
      return fail(StatusCode::kNotFound, "memory: no such setting");
    }
    return value_out.append(view(found->second))
               ? Status::ok()
               : fail(StatusCode::kBufferTooSmall, "memory: the sink refused the setting value");
  });
}

Status MemoryStorage::remove_setting(sdk::StringView key) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.setting_key(key));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.settings.find(text(key));
    if (found == data_.settings.end()) {
      return fail(StatusCode::kNotFound, "memory: no such setting");
    }
    move_entry(data_.settings, found, log_undo().settings);
    return Status::ok();
  });
}

// ---- Contacts ---------------------------------------------------------------------------------

Status MemoryStorage::put_contact(const sdk::ContactRecord& contact) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact.public_key),
                                  kCheck.value(contact.display_name, "display name"),
                                  kCheck.value(contact.endpoint_hints, "endpoint hints"));
    if (!st.is_ok()) {
      return st;
    }
    Bytes key = bytes(contact.public_key);
    Contact stored;
    stored.display_name = text(contact.display_name);
    stored.flags = contact.flags;
    stored.added_ms = contact.added_ms;
    stored.endpoint_hints = bytes(contact.endpoint_hints);
    const auto found = data_.contacts.find(key);
    if (found != data_.contacts.end()) {
      stored.last_order = found->second.last_order;
    }
    auto entry = new_entry(data_.contacts, key, std::move(stored));
    Data& removed = log_undo([this, key] { data_.contacts.erase(key); });
    if (found != data_.contacts.end()) {
      move_entry(data_.contacts, found, removed.contacts);
    }
    data_.contacts.insert(std::move(entry));
    return Status::ok();
  });
}

Status MemoryStorage::get_contact(sdk::ByteView public_key, sdk::ContactVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(public_key));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.contacts.find(bytes(public_key));
    if (found == data_.contacts.end()) {
      return fail(StatusCode::kNotFound, "memory: no such contact");
    }
    const Contact& c = found->second;
    (void)visitor.visit(
        {view(found->first), view(c.display_name), c.flags, c.added_ms, view(c.endpoint_hints)});
    return Status::ok();
  });
}

void MemoryStorage::move_contact_data(const Bytes& key, Data& removed) noexcept {
  const auto conversation = data_.conversations.find(key);
  if (conversation != data_.conversations.end()) {
    for (const auto& entry : conversation->second) {
      move_entry(data_.messages, entry.second, removed.messages);
    }
    move_entry(data_.conversations, conversation, removed.conversations);
  }
  for (auto it = data_.outbox.begin(); it != data_.outbox.end();) {
    if (it->second.contact_key == key) {
      move_entry(data_.outbox_ids, it->second.id, removed.outbox_ids);
      move_entry(data_.outbox, it++, removed.outbox);
    } else {
      ++it;
    }
  }
  auto first = data_.dedupe.lower_bound({key, MessageId{}});
  while (first != data_.dedupe.end() && first->first.first == key) {
    move_entry(data_.dedupe, first++, removed.dedupe);
  }
  move_entry(data_.sessions, key, removed.sessions);
}

Status MemoryStorage::remove_contact(sdk::ByteView public_key) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(public_key));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.contacts.find(bytes(public_key));
    if (found == data_.contacts.end()) {
      return fail(StatusCode::kNotFound, "memory: no such contact");
    }
    Data& removed = log_undo();
    move_contact_data(found->first, removed);
    move_entry(data_.contacts, found, removed.contacts);
    return Status::ok();
  });
}

Status MemoryStorage::list_contacts(sdk::ContactVisitor& visitor) noexcept {
  const Status st = ready();
  if (!st.is_ok()) {
    return st;
  }
  for (const auto& [key, c] : data_.contacts) {
    if (!visitor.visit(
            {view(key), view(c.display_name), c.flags, c.added_ms, view(c.endpoint_hints)})) {
      break;
    }
  }
  return Status::ok();
}

// ---- Messages ---------------------------------------------------------------------------------

Status MemoryStorage::visit_message(const MessageId& id, const Message& message,
                                    sdk::MessageVisitor& visitor, bool* keep_going) const noexcept {
  sdk::MessageRecord record{};
  std::memcpy(record.id, id.data(), id.size());
  record.contact_key = view(message.contact_key);
  record.direction = message.direction;
  record.state = message.state;
  record.order = message.order;
  record.timestamp_ms = message.timestamp_ms;
  record.local_ms = message.local_ms;
  record.sealed_body = view(message.sealed_body);
  record.path = view(message.path);
  const bool more = visitor.visit(record);
  if (keep_going != nullptr) {
    *keep_going = more;
  }
  return Status::ok();
}

sdk::Result<uint64_t> MemoryStorage::insert_message(const sdk::MessageRecord& message) noexcept {
  return write([&]() -> sdk::Result<uint64_t> {
    const Status st = first_error(ready(), kCheck.contact_key(message.contact_key),
                                  kCheck.direction(message.direction),
                                  kCheck.value(message.sealed_body, "message body"),
                                  kCheck.value(message.path, "message path"));
    if (!st.is_ok()) {
      return {st, 0};
    }
    const auto contact = data_.contacts.find(bytes(message.contact_key));
    if (contact == data_.contacts.end()) {
      return sdk::Result<uint64_t>::fail(StatusCode::kNotFound, "memory: no such contact");
    }
    const MessageId id = message_id(message.id);
    if (data_.messages.count(id) != 0) {
      return sdk::Result<uint64_t>::fail(StatusCode::kAlreadyExists,
                                         "memory: a message with this id is stored");
    }
    const uint64_t order = contact->second.last_order + 1;
    Message stored;
    stored.contact_key = contact->first;
    stored.direction = message.direction;
    stored.state = message.state;
    stored.order = order;
    stored.timestamp_ms = message.timestamp_ms;
    stored.local_ms = message.local_ms;
    stored.sealed_body = bytes(message.sealed_body);
    stored.path = text(message.path);
    auto entry = new_entry(data_.messages, id, std::move(stored));
    // The message's place in its conversation, or the conversation if this is its first message.
    Conversation place{{order, id}};
    const auto conversation = data_.conversations.find(contact->first);
    decltype(data_.conversations)::node_type first_message;
    if (conversation == data_.conversations.end()) {
      first_message = new_entry(data_.conversations, contact->first, std::move(place));
    }
    log_undo([this, key = contact->first, id, order] {
      data_.messages.erase(id);
      Conversation& orders = data_.conversations.at(key);
      orders.erase(order);
      if (orders.empty()) {
        data_.conversations.erase(key);
      }
      data_.contacts.at(key).last_order = order - 1;
    });
    data_.messages.insert(std::move(entry));
    if (first_message) {
      data_.conversations.insert(std::move(first_message));
    } else {
      conversation->second.merge(place);
    }
    contact->second.last_order = order;
    return sdk::Result<uint64_t>::of(order);
  });
}

Status MemoryStorage::get_message(const uint8_t* id, sdk::MessageVisitor& visitor) noexcept {
  const Status st = first_error(ready(), kCheck.id(id));
  if (!st.is_ok()) {
    return st;
  }
  const auto found = data_.messages.find(message_id(id));
  if (found == data_.messages.end()) {
    return fail(StatusCode::kNotFound, "memory: no such message");
  }
  return visit_message(found->first, found->second, visitor, nullptr);
}

Status MemoryStorage::set_message_path(const uint8_t* id, sdk::StringView path) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.id(id), kCheck.value(path, "message path"));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.messages.find(message_id(id));
    if (found == data_.messages.end()) {
      return fail(StatusCode::kNotFound, "memory: no such message");
    }
    log_undo([this, id = found->first, previous = found->second.path] {
      data_.messages.at(id).path = previous;
    });
    found->second.path = text(path);
    return Status::ok();
  });
}

Status MemoryStorage::set_message_state(const uint8_t* id, uint32_t state) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.id(id));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.messages.find(message_id(id));
    if (found == data_.messages.end()) {
      return fail(StatusCode::kNotFound, "memory: no such message");
    }
    log_undo([this, id = found->first, previous = found->second.state] {
      data_.messages.at(id).state = previous;
    });
    found->second.state = state;
    return Status::ok();
  });
}

sdk::Result<uint64_t> MemoryStorage::raise_message_states(sdk::ByteView contact_key,
                                                          sdk::MessageDirection direction,
                                                          uint64_t up_to_order,
                                                          uint32_t state) noexcept {
  return write([&]() -> sdk::Result<uint64_t> {
    const Status st =
        first_error(ready(), kCheck.contact_key(contact_key), kCheck.direction(direction));
    if (!st.is_ok()) {
      return {st, 0};
    }
    const auto conversation = data_.conversations.find(bytes(contact_key));
    if (conversation == data_.conversations.end()) {
      return sdk::Result<uint64_t>::of(0);
    }
    std::vector<std::pair<MessageId, uint32_t>> raised; // with the states they had
    const auto end = conversation->second.upper_bound(up_to_order);
    for (auto it = conversation->second.begin(); it != end; ++it) {
      const Message& message = data_.messages.at(it->second);
      if (message.direction == direction && message.state < state) {
        raised.emplace_back(it->second, message.state);
      }
    }
    if (raised.empty()) {
      return sdk::Result<uint64_t>::of(0);
    }
    log_undo([this, raised] {
      for (const auto& [id, previous] : raised) {
        data_.messages.at(id).state = previous;
      }
    });
    for (const auto& entry : raised) {
      data_.messages.at(entry.first).state = state;
    }
    return sdk::Result<uint64_t>::of(raised.size());
  });
}

Status MemoryStorage::list_messages(sdk::ByteView contact_key, uint64_t before_order,
                                    uint32_t limit, sdk::MessageVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    if (!st.is_ok()) {
      return st;
    }
    const auto conversation = data_.conversations.find(bytes(contact_key));
    if (conversation == data_.conversations.end()) {
      return Status::ok();
    }
    const auto& orders = conversation->second;
    uint32_t visited = 0;
    for (auto it = std::make_reverse_iterator(orders.lower_bound(before_order));
         it != orders.rend() && visited < limit; ++it, ++visited) {
      bool keep_going = true;
      (void)visit_message(it->second, data_.messages.at(it->second), visitor, &keep_going);
      if (!keep_going) {
        break;
      }
    }
    return Status::ok();
  });
}

sdk::Result<uint64_t> MemoryStorage::unread_count(sdk::ByteView contact_key,
                                                  uint32_t read_state) noexcept {
  return guarded([&]() -> sdk::Result<uint64_t> {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    if (!st.is_ok()) {
      return {st, 0};
    }
    const auto conversation = data_.conversations.find(bytes(contact_key));
    uint64_t count = 0;
    if (conversation != data_.conversations.end()) {
      for (const auto& entry : conversation->second) {
        const Message& message = data_.messages.at(entry.second);
        if (message.direction == sdk::MessageDirection::kIncoming && message.state < read_state) {
          ++count;
        }
      }
    }
    return sdk::Result<uint64_t>::of(count);
  });
}

// ---- Outbox -----------------------------------------------------------------------------------

Status MemoryStorage::outbox_put(const sdk::OutboxRecord& entry) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(entry.contact_key),
                                  kCheck.value(entry.sealed_frame, "outbox frame"));
    if (!st.is_ok()) {
      return st;
    }
    const auto contact = data_.contacts.find(bytes(entry.contact_key));
    if (contact == data_.contacts.end()) {
      return fail(StatusCode::kNotFound, "memory: no such contact");
    }
    const MessageId id = message_id(entry.id);
    if (data_.outbox_ids.count(id) != 0) {
      return fail(StatusCode::kAlreadyExists, "memory: an outbox entry with this id is queued");
    }
    OutboxEntry stored;
    stored.id = id;
    stored.contact_key = contact->first;
    stored.sealed_frame = bytes(entry.sealed_frame);
    stored.queued_ms = entry.queued_ms;
    const uint64_t order = next_queue_order_;
    auto queued = new_entry(data_.outbox, order, std::move(stored));
    auto indexed = new_entry(data_.outbox_ids, id, order);
    log_undo([this, id, order] {
      data_.outbox.erase(order);
      data_.outbox_ids.erase(id);
      next_queue_order_ = order;
    });
    data_.outbox.insert(std::move(queued));
    data_.outbox_ids.insert(std::move(indexed));
    ++next_queue_order_;
    return Status::ok();
  });
}

Status MemoryStorage::outbox_remove(const uint8_t* id) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.id(id));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.outbox_ids.find(message_id(id));
    if (found == data_.outbox_ids.end()) {
      return fail(StatusCode::kNotFound, "memory: no such outbox entry");
    }
    Data& removed = log_undo();
    move_entry(data_.outbox, found->second, removed.outbox);
    move_entry(data_.outbox_ids, found, removed.outbox_ids);
    return Status::ok();
  });
}

Status MemoryStorage::outbox_list(sdk::OutboxVisitor& visitor) noexcept {
  const Status st = ready();
  if (!st.is_ok()) {
    return st;
  }
  for (const auto& [order, e] : data_.outbox) {
    sdk::OutboxRecord record{};
    std::memcpy(record.id, e.id.data(), e.id.size());
    record.contact_key = view(e.contact_key);
    record.sealed_frame = view(e.sealed_frame);
    record.queued_ms = e.queued_ms;
    if (!visitor.visit(record)) {
      break;
    }
  }
  return Status::ok();
}

Status MemoryStorage::outbox_list_for(sdk::ByteView contact_key,
                                      sdk::OutboxVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    if (!st.is_ok()) {
      return st;
    }
    const Bytes key = bytes(contact_key);
    for (const auto& [order, e] : data_.outbox) {
      if (e.contact_key != key) {
        continue;
      }
      sdk::OutboxRecord record{};
      std::memcpy(record.id, e.id.data(), e.id.size());
      record.contact_key = view(e.contact_key);
      record.sealed_frame = view(e.sealed_frame);
      record.queued_ms = e.queued_ms;
      if (!visitor.visit(record)) {
        break;
      }
    }
    return Status::ok();
  });
}

// ---- Dedupe set -------------------------------------------------------------------------------

Status MemoryStorage::dedupe_insert(sdk::ByteView contact_key, const uint8_t* id,
                                    int64_t received_ms) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key), kCheck.id(id));
    if (!st.is_ok()) {
      return st;
    }
    auto key = std::make_pair(bytes(contact_key), message_id(id));
    if (data_.contacts.count(key.first) == 0) {
      return fail(StatusCode::kNotFound, "memory: no such contact");
    }
    if (data_.dedupe.count(key) != 0) {
      return fail(StatusCode::kAlreadyExists, "memory: this message was received before");
    }
    auto entry = new_entry(data_.dedupe, key, received_ms);
    log_undo([this, key] { data_.dedupe.erase(key); });
    data_.dedupe.insert(std::move(entry));
    return Status::ok();
  });
}

sdk::Result<uint64_t> MemoryStorage::dedupe_prune(int64_t older_than_ms) noexcept {
  return write([&]() -> sdk::Result<uint64_t> {
    const Status st = ready();
    if (!st.is_ok()) {
      return {st, 0};
    }
    Data& removed = log_undo();
    for (auto it = data_.dedupe.begin(); it != data_.dedupe.end();) {
      if (it->second < older_than_ms) {
        move_entry(data_.dedupe, it++, removed.dedupe);
      } else {
        ++it;
      }
    }
    return sdk::Result<uint64_t>::of(removed.dedupe.size());
  });
}

// ---- Sessions ---------------------------------------------------------------------------------

Status MemoryStorage::put_session(sdk::ByteView contact_key, sdk::ByteView sealed_state) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key),
                                  kCheck.value(sealed_state, "session state"));
    if (!st.is_ok()) {
      return st;
    }
    Bytes key = bytes(contact_key);
    if (data_.contacts.count(key) == 0) {
      return fail(StatusCode::kNotFound, "memory: no such contact");
    }
    auto entry = new_entry(data_.sessions, key, bytes(sealed_state));
    Data& removed = log_undo([this, key] { data_.sessions.erase(key); });
    move_entry(data_.sessions, key, removed.sessions);
    data_.sessions.insert(std::move(entry));
    return Status::ok();
  });
}

Status MemoryStorage::get_session(sdk::ByteView contact_key,
                                  sdk::ByteSink& sealed_state_out) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.sessions.find(bytes(contact_key));
    if (found == data_.sessions.end()) {
      return fail(StatusCode::kNotFound, "memory: no session for this contact");
    }
    return sealed_state_out.append(view(found->second))
               ? Status::ok()
               : fail(StatusCode::kBufferTooSmall, "memory: the sink refused the session");
  });
}

Status MemoryStorage::remove_session(sdk::ByteView contact_key) noexcept {
  return write([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    if (!st.is_ok()) {
      return st;
    }
    const auto found = data_.sessions.find(bytes(contact_key));
    if (found == data_.sessions.end()) {
      return fail(StatusCode::kNotFound, "memory: no session for this contact");
    }
    move_entry(data_.sessions, found, log_undo().sessions);
    return Status::ok();
  });
}

} // namespace entre::plugins::memory
