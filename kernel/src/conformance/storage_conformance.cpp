#include "conformance/storage_conformance.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace entre {

namespace {

using Bytes = std::vector<uint8_t>;
using Id = std::array<uint8_t, sdk::kMessageIdBytes>;
using sdk::StatusCode;

constexpr uint32_t kStateQueued = 1; // states as a kernel might number them
constexpr uint32_t kStateDelivered = 2;
constexpr uint32_t kStateRead = 3;

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
  return std::string(sdk::status_code_name(status.code)) + " (" + std::string(status.text()) + ")";
}

void expect_ok(const sdk::Status& status, const std::string& what) {
  if (!status.is_ok()) {
    throw CheckFailed(what + ": " + describe(status));
  }
}

template <typename T> T expect_ok(const sdk::Result<T>& result, const std::string& what) {
  expect_ok(result.status, what);
  return result.value;
}

void expect_code(const sdk::Status& status, StatusCode code, const std::string& what) {
  if (status.code != code) {
    throw CheckFailed(what + ": expected " + sdk::status_code_name(code) + ", got " +
                      describe(status));
  }
}

Bytes bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

// A contact key of its own for each check and purpose: readable, and of a realistic size.
Bytes contact_key(std::string_view check, uint32_t n = 0) {
  Bytes key = bytes(std::string(check) + "/" + std::to_string(n) + "/");
  key.resize(32, 0x5a);
  return key;
}

// An id of its own for each check (`tag`) and number.
Id make_id(uint8_t tag, uint32_t n) {
  Id id{};
  id[0] = tag;
  id[1] = 0xe7;
  for (int i = 0; i < 4; ++i) {
    id[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  }
  return id;
}

Bytes pattern(std::size_t size, uint8_t seed) {
  Bytes out(size);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& b : out) {
    x = x * 1103515245u + 12345u;
    b = static_cast<uint8_t>(x >> 16);
  }
  return out;
}

// ---- Visitors that copy what they see --------------------------------------------------------

struct ContactRow {
  Bytes key;
  std::string name;
  uint32_t flags = 0;
  int64_t added_ms = 0;
  Bytes hints;
};

class Contacts final : public sdk::ContactVisitor {
 public:
  explicit Contacts(std::size_t stop_after = SIZE_MAX) : stop_after_(stop_after) {}
  bool visit(const sdk::ContactRecord& c) noexcept override {
    try {
      rows.push_back({Bytes(c.public_key.data, c.public_key.data + c.public_key.size),
                      std::string(c.display_name.str()), c.flags, c.added_ms,
                      Bytes(c.endpoint_hints.data, c.endpoint_hints.data + c.endpoint_hints.size)});
    } catch (...) {
      return false;
    }
    return rows.size() < stop_after_;
  }
  std::vector<ContactRow> rows;

 private:
  std::size_t stop_after_;
};

struct MessageRow {
  Id id{};
  Bytes contact;
  sdk::MessageDirection direction{};
  uint32_t state = 0;
  uint64_t order = 0;
  int64_t timestamp_ms = 0;
  int64_t local_ms = 0;
  Bytes body;
  std::string path;
};

class Messages final : public sdk::MessageVisitor {
 public:
  explicit Messages(std::size_t stop_after = SIZE_MAX) : stop_after_(stop_after) {}
  bool visit(const sdk::MessageRecord& m) noexcept override {
    try {
      MessageRow row;
      std::memcpy(row.id.data(), m.id, row.id.size());
      row.contact.assign(m.contact_key.data, m.contact_key.data + m.contact_key.size);
      row.direction = m.direction;
      row.state = m.state;
      row.order = m.order;
      row.timestamp_ms = m.timestamp_ms;
      row.local_ms = m.local_ms;
      row.body.assign(m.sealed_body.data, m.sealed_body.data + m.sealed_body.size);
      row.path = std::string(m.path.str());
      rows.push_back(std::move(row));
    } catch (...) {
      return false;
    }
    return rows.size() < stop_after_;
  }
  std::vector<MessageRow> rows;

 private:
  std::size_t stop_after_;
};

struct OutboxRow {
  Id id{};
  Bytes contact;
  Bytes frame;
  int64_t queued_ms = 0;
};

class Outbox final : public sdk::OutboxVisitor {
 public:
  explicit Outbox(std::size_t stop_after = SIZE_MAX) : stop_after_(stop_after) {}
  bool visit(const sdk::OutboxRecord& e) noexcept override {
    try {
      OutboxRow row;
      std::memcpy(row.id.data(), e.id, row.id.size());
      row.contact.assign(e.contact_key.data, e.contact_key.data + e.contact_key.size);
      row.frame.assign(e.sealed_frame.data, e.sealed_frame.data + e.sealed_frame.size);
      row.queued_ms = e.queued_ms;
      rows.push_back(std::move(row));
    } catch (...) {
      return false;
    }
    return rows.size() < stop_after_;
  }
  std::vector<OutboxRow> rows;

 private:
  std::size_t stop_after_;
};

// A sink that refuses every size.
class RefusingSink final : public sdk::ByteSink {
 public:
  sdk::MutableByteView reserve(uint64_t) noexcept override { return {}; }
  void commit(uint64_t) noexcept override {}
};

// ---- Small drivers ---------------------------------------------------------------------------

struct Driver {
  sdk::Storage& s;

  void add_contact(const Bytes& key, std::string_view name = "someone") {
    const std::string n(name);
    expect_ok(s.put_contact({sdk::ByteView(key), sdk::StringView(n), 0, 1000, {}}), "put_contact");
  }

  sdk::Result<uint64_t> try_insert(const Id& id, const Bytes& contact,
                                   sdk::MessageDirection direction, uint32_t state,
                                   const Bytes& body = {}, std::string_view path = "udp",
                                   int64_t timestamp_ms = 1700000000000,
                                   int64_t local_ms = 1700000000001) {
    sdk::MessageRecord m{};
    std::memcpy(m.id, id.data(), id.size());
    m.contact_key = sdk::ByteView(contact);
    m.direction = direction;
    m.state = state;
    m.order = 999999; // ignored on input
    m.timestamp_ms = timestamp_ms;
    m.local_ms = local_ms;
    m.sealed_body = sdk::ByteView(body);
    m.path = sdk::StringView(path);
    return s.insert_message(m);
  }

  uint64_t insert(const Id& id, const Bytes& contact,
                  sdk::MessageDirection direction = sdk::MessageDirection::kIncoming,
                  uint32_t state = kStateDelivered, const Bytes& body = {}) {
    return expect_ok(try_insert(id, contact, direction, state, body), "insert_message");
  }

  std::vector<MessageRow> page(const Bytes& contact, uint64_t before, uint32_t limit) {
    Messages visitor;
    expect_ok(s.list_messages(sdk::ByteView(contact), before, limit, visitor), "list_messages");
    return visitor.rows;
  }

  std::optional<MessageRow> message(const Id& id) {
    Messages visitor;
    const sdk::Status st = s.get_message(id.data(), visitor);
    if (st.code == StatusCode::kNotFound) {
      return std::nullopt;
    }
    expect_ok(st, "get_message");
    expect(visitor.rows.size() == 1,
           "get_message visited " + std::to_string(visitor.rows.size()) + " messages, expected 1");
    return visitor.rows.front();
  }

  std::optional<ContactRow> contact(const Bytes& key) {
    Contacts visitor;
    const sdk::Status st = s.get_contact(sdk::ByteView(key), visitor);
    if (st.code == StatusCode::kNotFound) {
      return std::nullopt;
    }
    expect_ok(st, "get_contact");
    expect(visitor.rows.size() == 1,
           "get_contact visited " + std::to_string(visitor.rows.size()) + " contacts, expected 1");
    return visitor.rows.front();
  }

  std::optional<Bytes> setting(std::string_view key) {
    Bytes value;
    sdk::VectorSink sink(value);
    const sdk::Status st = s.get_setting(sdk::StringView(key), sink);
    if (st.code == StatusCode::kNotFound) {
      expect(value.empty(), "get_setting wrote output and reported kNotFound");
      return std::nullopt;
    }
    expect_ok(st, "get_setting");
    return value;
  }

  std::optional<Bytes> session(const Bytes& contact) {
    Bytes value;
    sdk::VectorSink sink(value);
    const sdk::Status st = s.get_session(sdk::ByteView(contact), sink);
    if (st.code == StatusCode::kNotFound) {
      return std::nullopt;
    }
    expect_ok(st, "get_session");
    return value;
  }

  void queue(const Id& id, const Bytes& contact, const Bytes& frame = {}, int64_t queued_ms = 5) {
    sdk::OutboxRecord e{};
    std::memcpy(e.id, id.data(), id.size());
    e.contact_key = sdk::ByteView(contact);
    e.sealed_frame = sdk::ByteView(frame);
    e.queued_ms = queued_ms;
    expect_ok(s.outbox_put(e), "outbox_put");
  }

  // The outbox ids in queue order, keeping only those with tag `tag`.
  std::vector<Id> outbox_ids(uint8_t tag) {
    Outbox visitor;
    expect_ok(s.outbox_list(visitor), "outbox_list");
    std::vector<Id> ids;
    for (const auto& row : visitor.rows) {
      if (row.id[0] == tag) {
        ids.push_back(row.id);
      }
    }
    return ids;
  }

  std::vector<Id> outbox_ids_for(const Bytes& contact) {
    Outbox visitor;
    expect_ok(s.outbox_list_for(sdk::ByteView(contact), visitor), "outbox_list_for");
    std::vector<Id> ids;
    for (const auto& row : visitor.rows) {
      expect(row.contact == contact, "outbox_list_for visited another contact's entry");
      ids.push_back(row.id);
    }
    return ids;
  }

  uint64_t unread(const Bytes& contact, uint32_t read_state = kStateRead) {
    return expect_ok(s.unread_count(sdk::ByteView(contact), read_state), "unread_count");
  }

  // Contacts whose key starts with `prefix`, in list order.
  std::vector<ContactRow> contacts_with_prefix(std::string_view prefix) {
    Contacts visitor;
    expect_ok(s.list_contacts(visitor), "list_contacts");
    std::vector<ContactRow> rows;
    for (auto& row : visitor.rows) {
      if (row.key.size() >= prefix.size() &&
          std::memcmp(row.key.data(), prefix.data(), prefix.size()) == 0) {
        rows.push_back(std::move(row));
      }
    }
    return rows;
  }
};

struct Suite {
  sdk::Storage& storage;
  std::vector<ConformanceCheck> results;

  void check(const std::string& name, const std::function<void(Driver&)>& body) {
    ConformanceCheck result{name, false, {}};
    Driver driver{storage};
    try {
      body(driver);
      result.passed = true;
    } catch (const std::exception& e) {
      result.detail = e.what();
      (void)storage.rollback(); // a transaction the check left open must not leak into the next
    }
    results.push_back(std::move(result));
  }
};

std::string hex(const Id& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const uint8_t b : id) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

} // namespace

std::vector<ConformanceCheck> run_storage_conformance(sdk::Storage& storage) {
  Suite suite{storage, {}};
  const std::string suite_id(kStorageConformanceSuiteId);
  auto& s = storage;

  suite.check("open records the suite id and refuses another one", [&](Driver&) {
    expect_ok(s.open(sdk::StringView(suite_id)), "open");
    const uint32_t version = s.schema_version();
    expect(version >= 1, "schema_version() is 0 after open");
    expect_ok(s.open(sdk::StringView(suite_id)), "open again with the same suite id");
    const std::string other = "other-suite-v9";
    const sdk::Status st = s.open(sdk::StringView(other));
    expect_code(st, StatusCode::kPermissionDenied, "open with another suite id");
    const std::string_view text = st.text();
    expect(text.find(suite_id) != std::string_view::npos &&
               text.find(other) != std::string_view::npos,
           "the refusal does not name both suite ids: " + std::string(text));
    expect_code(s.open(""), StatusCode::kInvalidArgument, "open with an empty suite id");
    expect_code(s.open("has space"), StatusCode::kInvalidArgument, "open with a space in the id");
    const std::string too_long(sdk::kMaxSuiteIdBytes + 1, 'a');
    expect_code(s.open(sdk::StringView(too_long)), StatusCode::kInvalidArgument,
                "open with a suite id over kMaxSuiteIdBytes");
    expect(s.schema_version() == version, "a refused open changed the schema version");
    expect_ok(s.open(sdk::StringView(suite_id)), "open with the right id after refusals");
  });

  suite.check("a fresh store is empty", [&](Driver& d) {
    Contacts contacts;
    expect_ok(s.list_contacts(contacts), "list_contacts");
    expect(contacts.rows.empty(), "a fresh store has contacts");
    Outbox outbox;
    expect_ok(s.outbox_list(outbox), "outbox_list");
    expect(outbox.rows.empty(), "a fresh store has outbox entries");
    expect(!d.setting("identity"), "a fresh store has a setting");
  });

  suite.check("settings: put, get, overwrite, empty value, remove", [&](Driver& d) {
    const Bytes salt = pattern(16, 1);
    expect_ok(s.put_setting("settings.salt", sdk::ByteView(salt)), "put_setting");
    expect(d.setting("settings.salt") == salt, "setting changed in storage");
    const Bytes newer = pattern(40, 2);
    expect_ok(s.put_setting("settings.salt", sdk::ByteView(newer)), "overwrite");
    expect(d.setting("settings.salt") == newer, "overwrite did not replace the value");
    expect_ok(s.put_setting("settings.empty", {}), "put an empty value");
    const auto empty = d.setting("settings.empty");
    expect(empty && empty->empty(), "an empty value did not come back as present and empty");
    expect_ok(s.remove_setting("settings.salt"), "remove_setting");
    expect(!d.setting("settings.salt"), "a removed setting is still there");
    expect_code(s.remove_setting("settings.salt"), StatusCode::kNotFound, "remove twice");
    expect(d.setting("settings.empty").has_value(), "removing one setting removed another");
    const std::string utf8 = "r\xc3\xa9glage/\xe2\x9c\x93";
    expect_ok(s.put_setting(sdk::StringView(utf8), sdk::ByteView(salt)), "put a UTF-8 key");
    expect(d.setting(utf8) == salt, "UTF-8 key did not round trip");
  });

  suite.check("a sink that refuses the size gives kBufferTooSmall", [&](Driver& d) {
    const Bytes key = contact_key("sink");
    d.add_contact(key);
    const Bytes value = pattern(64, 3);
    expect_ok(s.put_setting("sink.value", sdk::ByteView(value)), "put_setting");
    expect_ok(s.put_session(sdk::ByteView(key), sdk::ByteView(value)), "put_session");
    RefusingSink refusing;
    expect_code(s.get_setting("sink.value", refusing), StatusCode::kBufferTooSmall,
                "get_setting into a refusing sink");
    expect_code(s.get_session(sdk::ByteView(key), refusing), StatusCode::kBufferTooSmall,
                "get_session into a refusing sink");
  });

  suite.check("contacts: put, get, update, list in key order, remove", [&](Driver& d) {
    const Bytes a = contact_key("contacts", 1);
    const Bytes b = contact_key("contacts", 2);
    const Bytes c = contact_key("contacts", 3);
    const Bytes hints = bytes("udp:203.0.113.5:7400\nrelay:relay.example.org:443");
    const std::string name = "Zo\xc3\xab";
    // Inserted out of key order on purpose.
    expect_ok(s.put_contact({sdk::ByteView(c), "Carol", 0, 3, {}}), "put_contact c");
    expect_ok(s.put_contact(
                  {sdk::ByteView(a), sdk::StringView(name), UINT32_MAX, -42, sdk::ByteView(hints)}),
              "put_contact a");
    expect_ok(s.put_contact({sdk::ByteView(b), "", 1, INT64_MAX, {}}), "put_contact b");
    const auto got = d.contact(a);
    expect(got.has_value(), "get_contact did not find a stored contact");
    expect(got->key == a && got->name == name && got->flags == UINT32_MAX && got->added_ms == -42 &&
               got->hints == hints,
           "contact fields changed in storage");
    const auto empty = d.contact(b);
    expect(empty && empty->name.empty() && empty->hints.empty() && empty->added_ms == INT64_MAX,
           "a contact with empty name and hints did not round trip");
    const auto listed = d.contacts_with_prefix("contacts/");
    expect(listed.size() == 3,
           "list_contacts shows " + std::to_string(listed.size()) + " of 3 contacts");
    expect(listed[0].key == a && listed[1].key == b && listed[2].key == c,
           "list_contacts is not in ascending key order");
    expect_ok(s.put_contact({sdk::ByteView(a), "Zoe", 1, 7, {}}), "update a");
    const auto updated = d.contact(a);
    expect(updated && updated->name == "Zoe" && updated->flags == 1 && updated->added_ms == 7 &&
               updated->hints.empty(),
           "put_contact did not update every field");
    expect(d.contacts_with_prefix("contacts/").size() == 3, "an update added a contact");
    expect(!d.contact(contact_key("contacts", 9)), "get_contact found a contact never stored");
    expect_ok(s.remove_contact(sdk::ByteView(b)), "remove_contact");
    expect(!d.contact(b), "a removed contact is still there");
    expect_code(s.remove_contact(sdk::ByteView(b)), StatusCode::kNotFound, "remove twice");
    Contacts one(1);
    expect_ok(s.list_contacts(one), "list_contacts stopping early");
    expect(one.rows.size() == 1, "list_contacts did not stop when the visitor returned false");
  });

  suite.check(
      "messages: insert assigns orders 1, 2, 3 per conversation; fields round trip",
      [&](Driver& d) {
        const Bytes a = contact_key("orders", 1);
        const Bytes b = contact_key("orders", 2);
        d.add_contact(a);
        d.add_contact(b);
        constexpr uint8_t kTag = 0x10;
        for (uint32_t i = 0; i < 6; ++i) {
          // Interleave the two conversations: each keeps its own sequence.
          const Bytes& who = i % 2 == 0 ? a : b;
          const uint64_t order = d.insert(make_id(kTag, i), who);
          expect(order == i / 2 + 1, "insert " + std::to_string(i) + " got order " +
                                         std::to_string(order) + ", expected " +
                                         std::to_string(i / 2 + 1));
        }
        const Bytes body = pattern(300, 4);
        const Id id = make_id(kTag, 100);
        const auto order = d.try_insert(id, a, sdk::MessageDirection::kOutgoing, UINT32_MAX, body,
                                        "relay:r\xc3\xa9lais", INT64_MIN, INT64_MAX);
        expect_ok(order.status, "insert_message");
        expect(order.value == 4,
               "the fourth message of a conversation got order " + std::to_string(order.value));
        const auto got = d.message(id);
        expect(got.has_value(), "get_message did not find a stored message");
        expect(got->id == id && got->contact == a &&
                   got->direction == sdk::MessageDirection::kOutgoing && got->state == UINT32_MAX &&
                   got->order == 4 && got->timestamp_ms == INT64_MIN &&
                   got->local_ms == INT64_MAX && got->body == body &&
                   got->path == "relay:r\xc3\xa9lais",
               "message fields changed in storage");
        expect(!d.message(make_id(kTag, 999)), "get_message found an id never stored");
        expect_code(d.try_insert(id, b, sdk::MessageDirection::kIncoming, 1).status,
                    StatusCode::kAlreadyExists, "insert of a stored id");
        expect_code(d.try_insert(id, a, sdk::MessageDirection::kIncoming, 1).status,
                    StatusCode::kAlreadyExists, "insert of a stored id");
        expect(d.insert(make_id(kTag, 101), a) == 5, "a refused insert consumed an order");
        expect_code(d.try_insert(make_id(kTag, 102), contact_key("orders", 9),
                                 sdk::MessageDirection::kIncoming, 1)
                        .status,
                    StatusCode::kNotFound, "insert for a contact that does not exist");
        expect_code(
            d.try_insert(make_id(kTag, 103), a, static_cast<sdk::MessageDirection>(7), 1).status,
            StatusCode::kInvalidArgument, "insert with an unknown direction");
        expect(d.insert(make_id(kTag, 104), a) == 6, "a refused insert consumed an order");
        expect_ok(s.put_contact({sdk::ByteView(a), "renamed", 0, 0, {}}), "update the contact");
        expect(d.page(a, sdk::kNewestOrder, 100).size() == 6,
               "updating a contact lost its messages");
        expect(d.insert(make_id(kTag, 105), a) == 7,
               "updating a contact reset its conversation order");
      });

  suite.check("messages: paging newest first with before_order and limit", [&](Driver& d) {
    const Bytes a = contact_key("paging", 1);
    const Bytes other = contact_key("paging", 2);
    d.add_contact(a);
    d.add_contact(other);
    constexpr uint8_t kTag = 0x11;
    for (uint32_t i = 0; i < 25; ++i) {
      (void)d.insert(make_id(kTag, i), a);
    }
    (void)d.insert(make_id(kTag, 500), other);
    uint64_t before = sdk::kNewestOrder;
    std::vector<uint64_t> seen;
    for (int pages = 0; pages < 10; ++pages) {
      const auto rows = d.page(a, before, 10);
      if (rows.empty()) {
        break;
      }
      expect(rows.size() <= 10, "list_messages returned more than limit");
      for (const auto& row : rows) {
        expect(row.contact == a, "list_messages returned another conversation's message");
        expect(row.id == make_id(kTag, static_cast<uint32_t>(row.order - 1)),
               "message at order " + std::to_string(row.order) + " has the wrong id");
        seen.push_back(row.order);
      }
      before = rows.back().order;
    }
    expect(seen.size() == 25, "paging visited " + std::to_string(seen.size()) + " of 25");
    for (std::size_t i = 0; i < seen.size(); ++i) {
      expect(seen[i] == 25 - i, "paging is not newest first without gaps");
    }
    const auto middle = d.page(a, 10, 3);
    expect(middle.size() == 3 && middle[0].order == 9 && middle[2].order == 7,
           "before_order 10 limit 3 did not give orders 9, 8, 7");
    expect(d.page(a, 1, 10).empty(), "before_order 1 returned messages");
    expect(d.page(a, sdk::kNewestOrder, 0).empty(), "limit 0 returned messages");
    expect(d.page(contact_key("paging", 9), sdk::kNewestOrder, 10).empty(),
           "an unknown contact has messages");
    Messages two(2);
    expect_ok(s.list_messages(sdk::ByteView(a), sdk::kNewestOrder, 10, two), "list stopping");
    expect(two.rows.size() == 2, "list_messages did not stop when the visitor returned false");
  });

  suite.check("messages: state updates, raise up to an order, unread counts", [&](Driver& d) {
    const Bytes a = contact_key("states", 1);
    d.add_contact(a);
    constexpr uint8_t kTag = 0x12;
    for (uint32_t i = 0; i < 6; ++i) {
      (void)d.insert(make_id(kTag, i), a, sdk::MessageDirection::kIncoming, kStateDelivered);
    }
    for (uint32_t i = 10; i < 13; ++i) {
      (void)d.insert(make_id(kTag, i), a, sdk::MessageDirection::kOutgoing, kStateQueued);
    }
    expect(d.unread(a) == 6,
           "6 incoming unread messages counted as " + std::to_string(d.unread(a)));
    expect(d.unread(a, kStateDelivered) == 0, "unread_count ignores the read_state given");
    expect_ok(s.set_message_state(make_id(kTag, 0).data(), kStateRead), "set_message_state");
    expect(d.message(make_id(kTag, 0))->state == kStateRead, "set_message_state did not stick");
    expect(d.unread(a) == 5, "a read message is still counted as unread");
    expect_ok(s.set_message_state(make_id(kTag, 0).data(), kStateQueued), "lower a state");
    expect(d.message(make_id(kTag, 0))->state == kStateQueued, "set_message_state cannot lower");
    expect_ok(s.set_message_state(make_id(kTag, 10).data(), kStateDelivered), "outgoing");
    expect(d.unread(a) == 6, "outgoing messages are counted as unread");
    // Orders 1-6 are incoming, 7-9 outgoing. Read up to order 4.
    expect_ok(s.set_message_state(make_id(kTag, 2).data(), 50), "a state above read");
    const uint64_t changed = expect_ok(
        s.raise_message_states(sdk::ByteView(a), sdk::MessageDirection::kIncoming, 4, kStateRead),
        "raise_message_states");
    expect(changed == 3, "raise_message_states changed " + std::to_string(changed) +
                             " messages, expected 3 (order 3 is already above)");
    expect(d.message(make_id(kTag, 2))->state == 50, "raise_message_states lowered a state");
    expect(d.message(make_id(kTag, 4))->state == kStateDelivered,
           "raise_message_states went past up_to_order");
    expect(d.message(make_id(kTag, 10))->state == kStateDelivered,
           "raise_message_states touched the other direction");
    expect(d.unread(a) == 2, "after reading up to order 4, unread is " +
                                 std::to_string(d.unread(a)) + ", expected 2");
    expect(expect_ok(s.raise_message_states(sdk::ByteView(contact_key("states", 9)),
                                            sdk::MessageDirection::kIncoming, sdk::kNewestOrder,
                                            kStateRead),
                     "raise for an unknown contact") == 0,
           "raise for an unknown contact changed messages");
    expect(d.unread(contact_key("states", 9)) == 0, "an unknown contact has unread messages");
    expect_code(s.set_message_state(make_id(kTag, 77).data(), 1), StatusCode::kNotFound,
                "set_message_state of an unknown id");
  });

  suite.check("outbox: queue order, per contact, remove, duplicates", [&](Driver& d) {
    const Bytes a = contact_key("outbox", 1);
    const Bytes b = contact_key("outbox", 2);
    d.add_contact(a);
    d.add_contact(b);
    constexpr uint8_t kTag = 0x13;
    // Ids deliberately not in numeric order: the queue order is the order of outbox_put.
    const std::vector<uint32_t> numbers = {9, 3, 7, 1, 8, 2};
    std::vector<Id> expected;
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      const Id id = make_id(kTag, numbers[i]);
      d.queue(id, i % 3 == 0 ? b : a, pattern(20 + i, static_cast<uint8_t>(i)),
              static_cast<int64_t>(100 - i));
      expected.push_back(id);
    }
    expect(d.outbox_ids(kTag) == expected, "outbox_list is not in queue order");
    Outbox all;
    expect_ok(s.outbox_list(all), "outbox_list");
    for (const auto& row : all.rows) {
      if (row.id == expected[4]) {
        expect(row.contact == a && row.frame == pattern(24, 4) && row.queued_ms == 96,
               "outbox entry fields changed in storage");
      }
    }
    const std::vector<Id> for_b = {expected[0], expected[3]};
    expect(d.outbox_ids_for(b) == for_b, "outbox_list_for is not the contact's queue in order");
    expect_ok(s.outbox_remove(expected[2].data()), "outbox_remove");
    expect_code(s.outbox_remove(expected[2].data()), StatusCode::kNotFound, "remove twice");
    expected.erase(expected.begin() + 2);
    expect(d.outbox_ids(kTag) == expected, "outbox order after a removal");
    sdk::OutboxRecord dup{};
    std::memcpy(dup.id, expected[0].data(), sdk::kMessageIdBytes);
    dup.contact_key = sdk::ByteView(a);
    expect_code(s.outbox_put(dup), StatusCode::kAlreadyExists, "outbox_put of a queued id");
    const Id later = make_id(kTag, 0);
    d.queue(later, a);
    expected.push_back(later);
    expect(d.outbox_ids(kTag) == expected, "a new entry is not queued last");
    const Bytes unknown = contact_key("outbox", 9);
    sdk::OutboxRecord orphan{};
    std::memcpy(orphan.id, make_id(kTag, 50).data(), sdk::kMessageIdBytes);
    orphan.contact_key = sdk::ByteView(unknown);
    expect_code(s.outbox_put(orphan), StatusCode::kNotFound, "outbox_put for an unknown contact");
    expect(d.outbox_ids_for(unknown).empty(), "unknown contact has entries");
    Outbox one(1);
    expect_ok(s.outbox_list(one), "outbox_list stopping early");
    expect(one.rows.size() == 1, "outbox_list did not stop when the visitor returned false");
  });

  suite.check(
      "dedupe: a duplicate is refused, other contacts are separate, prune by age", [&](Driver& d) {
        const Bytes a = contact_key("dedupe", 1);
        const Bytes b = contact_key("dedupe", 2);
        d.add_contact(a);
        d.add_contact(b);
        constexpr uint8_t kTag = 0x14;
        const Id old_id = make_id(kTag, 1);
        const Id new_id = make_id(kTag, 2);
        expect_ok(s.dedupe_insert(sdk::ByteView(a), old_id.data(), -1000), "insert");
        expect_ok(s.dedupe_insert(sdk::ByteView(a), new_id.data(), 5000), "insert");
        expect_code(s.dedupe_insert(sdk::ByteView(a), old_id.data(), 6000),
                    StatusCode::kAlreadyExists, "the same message again");
        expect_ok(s.dedupe_insert(sdk::ByteView(b), old_id.data(), -1000),
                  "the same id from another contact");
        expect_code(s.dedupe_insert(sdk::ByteView(contact_key("dedupe", 9)), old_id.data(), 0),
                    StatusCode::kNotFound, "dedupe_insert for an unknown contact");
        const uint64_t removed = expect_ok(s.dedupe_prune(0), "dedupe_prune");
        expect(removed == 2, "dedupe_prune(0) removed " + std::to_string(removed) +
                                 ", expected the 2 entries received before 0");
        expect_ok(s.dedupe_insert(sdk::ByteView(a), old_id.data(), 7000),
                  "a pruned entry can be recorded again");
        expect_code(s.dedupe_insert(sdk::ByteView(a), new_id.data(), 7000),
                    StatusCode::kAlreadyExists, "an entry newer than the cut was pruned");
        expect(expect_ok(s.dedupe_prune(5000), "dedupe_prune") == 0,
               "dedupe_prune removed an entry received exactly at the cut");
      });

  suite.check("sessions: put, replace, get, remove", [&](Driver& d) {
    const Bytes a = contact_key("sessions", 1);
    const Bytes b = contact_key("sessions", 2);
    d.add_contact(a);
    d.add_contact(b);
    expect(!d.session(a), "a new contact has a session");
    const Bytes first = pattern(700, 5);
    const Bytes second = pattern(900, 6);
    expect_ok(s.put_session(sdk::ByteView(a), sdk::ByteView(first)), "put_session");
    expect(d.session(a) == first, "session changed in storage");
    expect_ok(s.put_session(sdk::ByteView(a), sdk::ByteView(second)), "replace");
    expect(d.session(a) == second, "put_session did not replace the session");
    expect(!d.session(b), "one contact's session shows up for another");
    expect_ok(s.remove_session(sdk::ByteView(a)), "remove_session");
    expect(!d.session(a), "a removed session is still there");
    expect_code(s.remove_session(sdk::ByteView(a)), StatusCode::kNotFound, "remove twice");
    expect(d.contact(a).has_value(), "remove_session removed the contact");
    expect_code(s.put_session(sdk::ByteView(contact_key("sessions", 9)), sdk::ByteView(first)),
                StatusCode::kNotFound, "put_session for an unknown contact");
  });

  suite.check("remove_contact removes its messages, outbox, dedupe entries and session",
              [&](Driver& d) {
                const Bytes gone = contact_key("cascade", 1);
                const Bytes kept = contact_key("cascade", 2);
                constexpr uint8_t kTag = 0x15;
                for (const Bytes* who : {&gone, &kept}) {
                  const uint32_t base = who == &gone ? 0 : 100;
                  d.add_contact(*who);
                  (void)d.insert(make_id(kTag, base + 1), *who);
                  d.queue(make_id(kTag, base + 2), *who);
                  expect_ok(s.dedupe_insert(sdk::ByteView(*who), make_id(kTag, base + 3).data(), 1),
                            "dedupe_insert");
                  expect_ok(s.put_session(sdk::ByteView(*who), sdk::ByteView(bytes("state"))),
                            "put_session");
                }
                expect_ok(s.remove_contact(sdk::ByteView(gone)), "remove_contact");
                expect(!d.message(make_id(kTag, 1)), "the contact's message survived");
                expect(d.outbox_ids_for(gone).empty(), "the contact's outbox entry survived");
                expect(d.outbox_ids(kTag) == std::vector<Id>{make_id(kTag, 102)},
                       "the outbox is not just the other contact's entry");
                expect(!d.session(gone), "the contact's session survived");
                d.add_contact(gone);
                expect(d.page(gone, sdk::kNewestOrder, 10).empty(),
                       "a re-added contact has the old messages");
                expect_ok(s.dedupe_insert(sdk::ByteView(gone), make_id(kTag, 3).data(), 1),
                          "the contact's dedupe entry survived");
                expect(d.insert(make_id(kTag, 4), gone) == 1,
                       "a re-added contact's conversation does not start at order 1");
                expect(d.message(make_id(kTag, 101)).has_value() && d.session(kept) &&
                           d.outbox_ids_for(kept).size() == 1,
                       "removing one contact removed another's data");
                expect_code(s.dedupe_insert(sdk::ByteView(kept), make_id(kTag, 103).data(), 1),
                            StatusCode::kAlreadyExists, "the other contact's dedupe entry is gone");
              });

  // The writes of every kind that the transaction checks make, and what they observe.
  // Each check that uses it passes its own tag, so the contacts are its own.
  struct World {
    explicit World(uint8_t tag)
        : prefix("tx-" + std::to_string(tag)), a(contact_key(prefix, 1)), b(contact_key(prefix, 2)),
          c(contact_key(prefix, 3)), e(contact_key(prefix, 4)) {}
    std::string prefix;
    Bytes a; // updated in the transaction
    Bytes b; // removed in the transaction
    Bytes c; // added in the transaction
    Bytes e; // loses its session in the transaction
  };
  const auto observe = [&](Driver& d, const World& w, uint8_t tag) {
    std::string out;
    const auto add = [&](const std::string& part) { out += part + ";"; };
    for (const char* key : {"tx.keep", "tx.drop", "tx.new"}) {
      const auto v = d.setting(std::string(key) + std::to_string(tag));
      add(v ? std::string(v->begin(), v->end()) : "-");
    }
    for (const auto& row : d.contacts_with_prefix(w.prefix + "/")) {
      add(std::string(row.key.begin(), row.key.end()) + "=" + row.name);
    }
    for (const Bytes* who : {&w.a, &w.b, &w.c, &w.e}) {
      for (const auto& m : d.page(*who, sdk::kNewestOrder, 100)) {
        add(hex(m.id) + "@" + std::to_string(m.order) + "s" + std::to_string(m.state));
      }
      const auto session = d.session(*who);
      add(session ? std::string(session->begin(), session->end()) : "no session");
      add("unread " + std::to_string(d.unread(*who)));
    }
    for (const Id& id : d.outbox_ids(tag)) {
      add("out " + hex(id));
    }
    return out;
  };
  const auto prepare_world = [&](Driver& d, const World& w, uint8_t tag) {
    const std::string t = std::to_string(tag);
    expect_ok(s.put_setting(sdk::StringView("tx.keep" + t), sdk::ByteView(bytes("old"))), "put");
    expect_ok(s.put_setting(sdk::StringView("tx.drop" + t), sdk::ByteView(bytes("drop"))), "put");
    for (const Bytes* who : {&w.a, &w.b, &w.e}) {
      d.add_contact(*who, "before");
      expect_ok(s.put_session(sdk::ByteView(*who), sdk::ByteView(bytes("session 1"))), "put");
    }
    (void)d.insert(make_id(tag, 1), w.a, sdk::MessageDirection::kIncoming, kStateDelivered);
    (void)d.insert(make_id(tag, 2), w.b, sdk::MessageDirection::kIncoming, kStateDelivered);
    d.queue(make_id(tag, 3), w.a);
    d.queue(make_id(tag, 4), w.b);
    expect_ok(s.dedupe_insert(sdk::ByteView(w.a), make_id(tag, 5).data(), 10), "dedupe");
  };
  // One write of every kind.
  const auto write_everything = [&](Driver& d, const World& w, uint8_t tag) {
    const std::string t = std::to_string(tag);
    expect_ok(s.put_setting(sdk::StringView("tx.keep" + t), sdk::ByteView(bytes("new"))), "put");
    expect_ok(s.remove_setting(sdk::StringView("tx.drop" + t)), "remove_setting");
    expect_ok(s.put_setting(sdk::StringView("tx.new" + t), sdk::ByteView(bytes("x"))), "put");
    expect_ok(s.put_contact({sdk::ByteView(w.a), "after", 1, 2, {}}), "update contact");
    d.add_contact(w.c, "added");
    expect_ok(s.remove_contact(sdk::ByteView(w.b)), "remove_contact");
    expect(d.insert(make_id(tag, 10), w.a) == 2, "the second message got another order");
    (void)d.insert(make_id(tag, 11), w.c);
    expect_ok(s.set_message_state(make_id(tag, 1).data(), 40), "set_message_state");
    (void)expect_ok(s.raise_message_states(sdk::ByteView(w.a), sdk::MessageDirection::kIncoming,
                                           sdk::kNewestOrder, 41),
                    "raise_message_states");
    d.queue(make_id(tag, 12), w.a);
    expect_ok(s.outbox_remove(make_id(tag, 3).data()), "outbox_remove");
    expect_ok(s.dedupe_insert(sdk::ByteView(w.a), make_id(tag, 13).data(), 20), "dedupe_insert");
    (void)expect_ok(s.dedupe_prune(15), "dedupe_prune");
    expect_ok(s.put_session(sdk::ByteView(w.a), sdk::ByteView(bytes("session 2"))), "put_session");
    expect_ok(s.put_session(sdk::ByteView(w.c), sdk::ByteView(bytes("session c"))), "put_session");
    expect_ok(s.remove_session(sdk::ByteView(w.e)), "remove_session");
  };

  suite.check("transactions: commit keeps every kind of write, reads see the transaction",
              [&](Driver& d) {
                constexpr uint8_t kTag = 0x16;
                const World w(kTag);
                prepare_world(d, w, kTag);
                const std::string before = observe(d, w, kTag);
                expect_ok(s.begin(), "begin");
                write_everything(d, w, kTag);
                const std::string inside = observe(d, w, kTag);
                expect(inside != before, "reads inside the transaction do not see its writes");
                expect_ok(s.commit(), "commit");
                expect(observe(d, w, kTag) == inside, "commit changed what the writes did");
                expect(d.setting("tx.keep" + std::to_string(kTag)) == bytes("new"),
                       "a committed setting is missing");
                expect_code(s.dedupe_insert(sdk::ByteView(w.a), make_id(kTag, 13).data(), 30),
                            StatusCode::kAlreadyExists, "a committed dedupe entry is missing");
                expect_ok(s.dedupe_insert(sdk::ByteView(w.a), make_id(kTag, 5).data(), 30),
                          "a committed prune did not prune");
                expect(d.insert(make_id(kTag, 20), w.a) == 3, "order after commit");
              });

  suite.check("transactions: rollback undoes every kind of write", [&](Driver& d) {
    constexpr uint8_t kTag = 0x17;
    const World w(kTag);
    prepare_world(d, w, kTag);
    const std::string before = observe(d, w, kTag);
    expect_ok(s.begin(), "begin");
    write_everything(d, w, kTag);
    expect_ok(s.rollback(), "rollback");
    const std::string after = observe(d, w, kTag);
    expect(after == before,
           "rollback left changes behind:\n  before: " + before + "\n  after:  " + after);
    expect_code(s.dedupe_insert(sdk::ByteView(w.a), make_id(kTag, 5).data(), 30),
                StatusCode::kAlreadyExists, "rollback did not undo dedupe_prune");
    expect_ok(s.dedupe_insert(sdk::ByteView(w.a), make_id(kTag, 13).data(), 30),
              "rollback did not undo dedupe_insert");
    expect(d.insert(make_id(kTag, 20), w.a) == 2,
           "rollback did not give back the order the transaction used");
    expect(!d.message(make_id(kTag, 10)), "a rolled back message is still there");
  });

  suite.check("transactions: nested begin, commit or rollback without begin are refused",
              [&](Driver& d) {
                expect_code(s.commit(), StatusCode::kInvalidArgument, "commit without begin");
                expect_code(s.rollback(), StatusCode::kInvalidArgument, "rollback without begin");
                expect_ok(s.begin(), "begin");
                expect_code(s.begin(), StatusCode::kInvalidArgument, "begin inside a transaction");
                expect_ok(s.put_setting("nested.value", sdk::ByteView(bytes("1"))), "put");
                expect_ok(s.commit(), "commit after a refused nested begin");
                expect(d.setting("nested.value") == bytes("1"),
                       "a refused nested begin lost the transaction's write");
                expect_code(s.commit(), StatusCode::kInvalidArgument, "commit twice");
                expect_ok(s.begin(), "begin");
                expect_ok(s.rollback(), "rollback");
                expect_code(s.rollback(), StatusCode::kInvalidArgument, "rollback twice");
              });

  suite.check("transactions: a failed write leaves the transaction usable", [&](Driver& d) {
    const Bytes a = contact_key("failed-write", 1);
    d.add_contact(a);
    constexpr uint8_t kTag = 0x18;
    expect_ok(s.begin(), "begin");
    expect(d.insert(make_id(kTag, 1), a) == 1, "first order");
    expect_code(d.try_insert(make_id(kTag, 1), a, sdk::MessageDirection::kIncoming, 1).status,
                StatusCode::kAlreadyExists, "duplicate insert inside a transaction");
    expect_code(s.remove_setting("failed-write.none"), StatusCode::kNotFound, "remove absent");
    expect(d.insert(make_id(kTag, 2), a) == 2, "a failed insert consumed an order");
    expect_ok(s.commit(), "commit");
    expect(d.page(a, sdk::kNewestOrder, 10).size() == 2, "the transaction's writes were lost");
  });

  suite.check(
      "values of 1 MiB round trip everywhere; over the limit is kOutOfRange", [&](Driver& d) {
        constexpr std::size_t kMiB = 1024 * 1024;
        const Bytes a = contact_key("large", 1);
        const Bytes hints = pattern(kMiB, 7);
        const std::string name(kMiB, 'n');
        expect_ok(
            s.put_contact({sdk::ByteView(a), sdk::StringView(name), 0, 0, sdk::ByteView(hints)}),
            "put_contact with 1 MiB name and hints");
        const auto contact = d.contact(a);
        expect(contact && contact->hints == hints && contact->name == name,
               "1 MiB contact fields changed in storage");
        const Bytes value = pattern(kMiB, 8);
        expect_ok(s.put_setting("large.value", sdk::ByteView(value)), "put_setting");
        expect(d.setting("large.value") == value, "1 MiB setting changed");
        expect_ok(s.put_session(sdk::ByteView(a), sdk::ByteView(value)), "put_session");
        expect(d.session(a) == value, "1 MiB session changed");
        const Id id = make_id(0x19, 1);
        (void)d.insert(id, a, sdk::MessageDirection::kIncoming, 1, value);
        expect(d.message(id)->body == value, "1 MiB message body changed");
        d.queue(make_id(0x19, 2), a, value);
        Outbox outbox;
        expect_ok(s.outbox_list_for(sdk::ByteView(a), outbox), "outbox_list_for");
        expect(outbox.rows.size() == 1 && outbox.rows[0].frame == value,
               "1 MiB outbox frame changed");
        const Bytes too_big(sdk::kMaxStoredValueBytes + 1, 0x01);
        expect_code(s.put_setting("large.too_big", sdk::ByteView(too_big)), StatusCode::kOutOfRange,
                    "a setting over kMaxStoredValueBytes");
        expect_code(s.put_session(sdk::ByteView(a), sdk::ByteView(too_big)),
                    StatusCode::kOutOfRange, "a session over kMaxStoredValueBytes");
        expect_code(
            d.try_insert(make_id(0x19, 3), a, sdk::MessageDirection::kIncoming, 1, too_big).status,
            StatusCode::kOutOfRange, "a message body over kMaxStoredValueBytes");
        expect(d.session(a) == value, "a refused put_session changed the session");
        expect(!d.setting("large.too_big"), "a refused setting was stored");
      });

  suite.check("empty values are stored and returned as empty", [&](Driver& d) {
    const Bytes a = contact_key("empty", 1);
    expect_ok(s.put_contact({sdk::ByteView(a), "", 0, 0, {}}), "put_contact");
    const Id id = make_id(0x1a, 1);
    const auto order = d.try_insert(id, a, sdk::MessageDirection::kOutgoing, 0, Bytes(), "", 0, 0);
    expect_ok(order.status, "insert_message with empty body and path");
    const auto got = d.message(id);
    expect(got && got->body.empty() && got->path.empty() && got->state == 0,
           "an empty body or path did not round trip");
    d.queue(make_id(0x1a, 2), a, Bytes());
    expect(d.outbox_ids_for(a).size() == 1, "an outbox entry with an empty frame is missing");
    expect_ok(s.put_session(sdk::ByteView(a), {}), "put_session with an empty state");
    const auto session = d.session(a);
    expect(session && session->empty(), "an empty session did not round trip as present");
  });

  suite.check("malformed arguments are refused with kInvalidArgument", [&](Driver& d) {
    Messages messages;
    Contacts contacts;
    Outbox outbox;
    Bytes out;
    sdk::VectorSink sink(out);
    const Bytes a = contact_key("args", 1);
    d.add_contact(a);
    const Bytes huge(sdk::kMaxContactKeyBytes + 1, 0x33);
    const Bytes largest(sdk::kMaxContactKeyBytes, 0x34);
    const std::string long_key(sdk::kMaxSettingKeyBytes + 1, 'k');
    const std::string longest_key(sdk::kMaxSettingKeyBytes, 'k');
    const auto invalid = [](const sdk::Status& st, const std::string& what) {
      expect_code(st, StatusCode::kInvalidArgument, what);
    };
    invalid(s.get_message(nullptr, messages), "get_message(null)");
    invalid(s.set_message_state(nullptr, 1), "set_message_state(null)");
    invalid(s.outbox_remove(nullptr), "outbox_remove(null)");
    invalid(s.dedupe_insert(sdk::ByteView(a), nullptr, 0), "dedupe_insert(null id)");
    invalid(s.put_contact({{}, "x", 0, 0, {}}), "put_contact with an empty key");
    invalid(s.put_contact({sdk::ByteView(huge), "x", 0, 0, {}}), "put_contact, key too long");
    invalid(s.get_contact({}, contacts), "get_contact with an empty key");
    invalid(s.remove_contact({}), "remove_contact with an empty key");
    invalid(s.list_messages({}, sdk::kNewestOrder, 1, messages), "list_messages, empty key");
    invalid(s.unread_count({}, 1).status, "unread_count, empty key");
    invalid(s.outbox_list_for({}, outbox), "outbox_list_for, empty key");
    invalid(s.get_session({}, sink), "get_session, empty key");
    invalid(s.put_setting("", {}), "put_setting with an empty key");
    invalid(s.put_setting(sdk::StringView(long_key), {}), "put_setting, key too long");
    invalid(s.get_setting("", sink), "get_setting with an empty key");
    invalid(s.raise_message_states(sdk::ByteView(a), static_cast<sdk::MessageDirection>(0), 1, 1)
                .status,
            "raise_message_states with an unknown direction");
    expect_ok(s.put_contact({sdk::ByteView(largest), "x", 0, 0, {}}),
              "put_contact with a key of kMaxContactKeyBytes");
    expect(d.contact(largest).has_value(), "the longest contact key did not round trip");
    expect_ok(s.put_setting(sdk::StringView(longest_key), {}),
              "put_setting with a key of kMaxSettingKeyBytes");
    expect(out.empty(), "a refused call wrote to the sink");
  });

  suite.check("10,000 messages in one conversation page back in order", [&](Driver& d) {
    constexpr uint32_t kCount = 10000;
    const Bytes a = contact_key("many-messages", 1);
    d.add_contact(a);
    expect_ok(s.begin(), "begin");
    for (uint32_t i = 0; i < kCount; ++i) {
      Bytes body(24);
      std::memcpy(body.data(), &i, sizeof i);
      const uint64_t order =
          d.insert(make_id(0x1b, i), a, sdk::MessageDirection::kIncoming, kStateDelivered, body);
      if (order != i + 1) {
        throw CheckFailed("message " + std::to_string(i) + " got order " + std::to_string(order));
      }
    }
    expect_ok(s.commit(), "commit");
    uint64_t before = sdk::kNewestOrder;
    uint64_t expected = kCount;
    for (;;) {
      const auto rows = d.page(a, before, 100);
      if (rows.empty()) {
        break;
      }
      for (const auto& row : rows) {
        if (row.order != expected || row.id != make_id(0x1b, static_cast<uint32_t>(expected - 1))) {
          throw CheckFailed("paging found order " + std::to_string(row.order) + ", expected " +
                            std::to_string(expected));
        }
        --expected;
      }
      before = rows.back().order;
    }
    expect(expected == 0, std::to_string(expected) + " messages were never visited");
    expect(d.unread(a) == kCount, "unread count of 10,000 incoming messages");
    const uint64_t changed =
        expect_ok(s.raise_message_states(sdk::ByteView(a), sdk::MessageDirection::kIncoming, 4000,
                                         kStateRead),
                  "raise_message_states");
    expect(changed == 4000, "reading up to order 4000 changed " + std::to_string(changed));
    expect(d.unread(a) == kCount - 4000, "unread count after reading up to order 4000");
  });

  suite.check("10,000 contacts with sessions, each loaded on demand", [&](Driver& d) {
    constexpr uint32_t kCount = 10000;
    expect_ok(s.begin(), "begin");
    for (uint32_t i = 0; i < kCount; ++i) {
      const Bytes key = contact_key("many-contacts", i);
      expect_ok(s.put_contact({sdk::ByteView(key), "peer", 0, i, {}}), "put_contact");
      const Bytes state = bytes("session of " + std::to_string(i));
      expect_ok(s.put_session(sdk::ByteView(key), sdk::ByteView(state)), "put_session");
    }
    expect_ok(s.commit(), "commit");
    expect(d.contacts_with_prefix("many-contacts/").size() == kCount,
           "list_contacts does not show the 10,000 contacts");
    for (const uint32_t i : {0u, 1u, 4999u, 9998u, 9999u}) {
      const auto session = d.session(contact_key("many-contacts", i));
      expect(session == bytes("session of " + std::to_string(i)),
             "the session of contact " + std::to_string(i) + " is wrong");
      const auto contact = d.contact(contact_key("many-contacts", i));
      expect(contact && contact->added_ms == i, "contact " + std::to_string(i) + " is wrong");
    }
  });

  return suite.results;
}

} // namespace entre
