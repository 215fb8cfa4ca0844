// storage-memory, compiled in: what the conformance suite cannot see from an opened store.
#include "memory_storage.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

// Counts allocations, so that a test can tell a transaction that copies the store from one that
// costs what it writes, without timing anything.
namespace {
std::atomic<std::size_t> g_allocations{0};
} // namespace

// Not inlined: GCC would otherwise see free() on memory from operator new and warn.
[[gnu::noinline]] void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace entre::plugins::memory {
namespace {

struct Destroy {
  void operator()(MemoryStorage* storage) const { static_cast<sdk::Plugin*>(storage)->destroy(); }
};
using Owned = std::unique_ptr<MemoryStorage, Destroy>;

Owned make() { return Owned(new MemoryStorage()); }

const std::vector<uint8_t> kAlice = {'a', 'l', 'i', 'c', 'e'};

sdk::Status add_contact(MemoryStorage& s, const std::vector<uint8_t>& key) {
  return s.put_contact({sdk::ByteView(key), "name", 0, 0, {}});
}

sdk::Result<uint64_t> add_message(MemoryStorage& s, uint8_t n) {
  sdk::MessageRecord m{};
  m.id[0] = n;
  m.contact_key = sdk::ByteView(kAlice);
  m.direction = sdk::MessageDirection::kIncoming;
  return s.insert_message(m);
}

TEST(MemoryStorage, EveryCallBeforeOpenIsClosed) {
  Owned s = make();
  EXPECT_EQ(s->schema_version(), 0u);
  std::vector<uint8_t> out;
  sdk::VectorSink sink(out);
  EXPECT_EQ(s->begin().code, sdk::StatusCode::kClosed);
  EXPECT_EQ(s->put_setting("k", {}).code, sdk::StatusCode::kClosed);
  EXPECT_EQ(s->get_setting("k", sink).code, sdk::StatusCode::kClosed);
  EXPECT_EQ(add_contact(*s, kAlice).code, sdk::StatusCode::kClosed);
  EXPECT_EQ(add_message(*s, 1).status.code, sdk::StatusCode::kClosed);
  EXPECT_EQ(s->dedupe_prune(0).status.code, sdk::StatusCode::kClosed);
  ASSERT_TRUE(s->open("suite-a").is_ok());
  EXPECT_EQ(s->schema_version(), kMemorySchemaVersion);
  EXPECT_TRUE(s->put_setting("k", {}).is_ok());
}

TEST(MemoryStorage, TheFirstOpenFixesTheSuite) {
  Owned s = make();
  EXPECT_EQ(s->open("").code, sdk::StatusCode::kInvalidArgument);
  EXPECT_EQ(s->schema_version(), 0u) << "a refused first open must not open the store";
  ASSERT_TRUE(s->open("suite-a").is_ok());
  const sdk::Status st = s->open("suite-b");
  EXPECT_EQ(st.code, sdk::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.text(), "memory: store belongs to suite 'suite-a', not 'suite-b'");
  EXPECT_TRUE(s->open("suite-a").is_ok());
}

TEST(MemoryStorage, OffersOnlyTheStorageInterface) {
  Owned s = make();
  EXPECT_EQ(s->query_interface(sdk::InterfaceId::kStorageV1),
            static_cast<void*>(static_cast<sdk::Storage*>(s.get())));
  EXPECT_EQ(s->query_interface(sdk::InterfaceId::kCodecV1), nullptr);
}

TEST(MemoryStorage, ObjectsDoNotShareData) {
  Owned a = make();
  Owned b = make();
  ASSERT_TRUE(a->open("suite-a").is_ok());
  ASSERT_TRUE(b->open("suite-b").is_ok()) << "another object is another store";
  ASSERT_TRUE(a->put_setting("k", sdk::ByteView(kAlice)).is_ok());
  std::vector<uint8_t> out;
  sdk::VectorSink sink(out);
  EXPECT_EQ(b->get_setting("k", sink).code, sdk::StatusCode::kNotFound);
}

TEST(MemoryStorage, RollbackRestoresTheQueueAndOrderCounters) {
  Owned s = make();
  ASSERT_TRUE(s->open("suite-a").is_ok());
  ASSERT_TRUE(add_contact(*s, kAlice).is_ok());
  ASSERT_EQ(add_message(*s, 1).value, 1u);
  sdk::OutboxRecord e{};
  e.contact_key = sdk::ByteView(kAlice);
  e.id[0] = 1;
  ASSERT_TRUE(s->outbox_put(e).is_ok());
  ASSERT_TRUE(s->begin().is_ok());
  ASSERT_EQ(add_message(*s, 2).value, 2u);
  e.id[0] = 2;
  ASSERT_TRUE(s->outbox_put(e).is_ok());
  ASSERT_TRUE(s->rollback().is_ok());
  EXPECT_EQ(add_message(*s, 3).value, 2u);
  e.id[0] = 3;
  ASSERT_TRUE(s->outbox_put(e).is_ok());
  e.id[0] = 4;
  ASSERT_TRUE(s->outbox_put(e).is_ok());
  struct Ids final : sdk::OutboxVisitor {
    bool visit(const sdk::OutboxRecord& r) noexcept override {
      ids.push_back(r.id[0]);
      return true;
    }
    std::vector<uint8_t> ids;
  } ids;
  ASSERT_TRUE(s->outbox_list(ids).is_ok());
  EXPECT_EQ(ids.ids, (std::vector<uint8_t>{1, 3, 4}));
}

TEST(MemoryStorage, DestroyingWithATransactionOpenIsSafe) {
  Owned s = make();
  ASSERT_TRUE(s->open("suite-a").is_ok());
  ASSERT_TRUE(s->begin().is_ok());
  ASSERT_TRUE(s->put_setting("k", sdk::ByteView(kAlice)).is_ok());
  s.reset(); // under ASan: no leak, no use after free
}

TEST(MemoryStorage, ATransactionAllocatesForItsWritesNotForTheStore) {
  Owned s = make();
  ASSERT_TRUE(s->open("suite-a").is_ok());
  ASSERT_TRUE(add_contact(*s, kAlice).is_ok());
  sdk::MessageRecord m{};
  m.contact_key = sdk::ByteView(kAlice);
  m.direction = sdk::MessageDirection::kIncoming;
  for (int n = 1; n <= 2000; ++n) {
    m.id[0] = static_cast<uint8_t>(n);
    m.id[1] = static_cast<uint8_t>(n >> 8);
    ASSERT_TRUE(s->insert_message(m).is_ok());
  }
  m.id[2] = 1;
  const std::size_t before = g_allocations.load();
  ASSERT_TRUE(s->begin().is_ok());
  ASSERT_TRUE(s->put_setting("k", sdk::ByteView(kAlice)).is_ok());
  ASSERT_EQ(s->insert_message(m).value, 2001u);
  ASSERT_TRUE(s->rollback().is_ok());
  ASSERT_TRUE(s->begin().is_ok());
  ASSERT_EQ(s->insert_message(m).value, 2001u);
  ASSERT_TRUE(s->commit().is_ok());
  EXPECT_LT(g_allocations.load() - before, 100u) << "a transaction copies the store";
}

std::string str(const void* data, uint64_t size) {
  return size == 0 ? std::string() : std::string(static_cast<const char*>(data), size);
}
std::string str(sdk::ByteView v) { return str(v.data, v.size); }
std::string str(sdk::StringView v) { return str(v.data, v.size); }

// Writes down every record the visits show, field by field.
struct Dump final : sdk::ContactVisitor, sdk::MessageVisitor, sdk::OutboxVisitor {
  bool visit(const sdk::ContactRecord& c) noexcept override {
    out += "contact " + str(c.public_key) + " " + str(c.display_name) + " " +
           std::to_string(c.flags) + " " + std::to_string(c.added_ms) + " " +
           str(c.endpoint_hints) + "\n";
    return true;
  }
  bool visit(const sdk::MessageRecord& m) noexcept override {
    out += "message " + std::to_string(m.id[0]) + " " + str(m.contact_key) + " " +
           std::to_string(static_cast<uint32_t>(m.direction)) + " state " +
           std::to_string(m.state) + " order " + std::to_string(m.order) + " " +
           std::to_string(m.timestamp_ms) + " " + std::to_string(m.local_ms) + " " +
           str(m.sealed_body) + " " + str(m.path) + "\n";
    return true;
  }
  bool visit(const sdk::OutboxRecord& e) noexcept override {
    out += "outbox " + std::to_string(e.id[0]) + " " + str(e.contact_key) + " " +
           str(e.sealed_frame) + " " + std::to_string(e.queued_ms) + "\n";
    return true;
  }
  std::string out;
};

const std::vector<uint8_t> kBob = {'b', 'o', 'b'};
const std::vector<uint8_t> kCarol = {'c', 'a', 'r', 'o', 'l'};
const std::vector<uint8_t> kDave = {'d', 'a', 'v', 'e'};

// Everything the read calls show of the store (the dedupe set aside: it has no read call).
std::string everything(MemoryStorage& s) {
  Dump d;
  for (const char* key : {"keep", "drop", "new"}) {
    std::vector<uint8_t> value;
    sdk::VectorSink sink(value);
    const sdk::Status st = s.get_setting(key, sink);
    d.out += std::string("setting ") + key + " " +
             (st.is_ok() ? str(sdk::ByteView(value)) : std::string("absent")) + "\n";
  }
  EXPECT_TRUE(s.list_contacts(d).is_ok());
  for (const auto* key : {&kAlice, &kBob, &kCarol, &kDave}) {
    EXPECT_TRUE(s.list_messages(sdk::ByteView(*key), sdk::kNewestOrder, 100, d).is_ok());
    EXPECT_TRUE(s.outbox_list_for(sdk::ByteView(*key), d).is_ok());
    std::vector<uint8_t> session;
    sdk::VectorSink sink(session);
    const sdk::Status st = s.get_session(sdk::ByteView(*key), sink);
    d.out += "session " + (st.is_ok() ? str(sdk::ByteView(session)) : std::string("absent")) +
             " unread " + std::to_string(s.unread_count(sdk::ByteView(*key), 5).value) + "\n";
  }
  EXPECT_TRUE(s.outbox_list(d).is_ok());
  for (uint8_t n = 1; n < 40; ++n) {
    uint8_t id[sdk::kMessageIdBytes] = {n};
    if (s.get_message(id, d).code == sdk::StatusCode::kNotFound) {
      d.out += "no message " + std::to_string(n) + "\n";
    }
  }
  return d.out;
}

sdk::Result<uint64_t> insert(MemoryStorage& s, uint8_t n, const std::vector<uint8_t>& contact,
                             sdk::MessageDirection direction, uint32_t state) {
  sdk::MessageRecord m{};
  m.id[0] = n;
  m.contact_key = sdk::ByteView(contact);
  m.direction = direction;
  m.state = state;
  m.timestamp_ms = 1000 + n;
  m.local_ms = 2000 + n;
  const std::string body = "body " + std::to_string(n);
  m.sealed_body = sdk::ByteView(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  m.path = "udp";
  return s.insert_message(m);
}

sdk::Status queue(MemoryStorage& s, uint8_t n, const std::vector<uint8_t>& contact) {
  sdk::OutboxRecord e{};
  e.id[0] = n;
  e.contact_key = sdk::ByteView(contact);
  const std::string frame = "frame " + std::to_string(n);
  e.sealed_frame = sdk::ByteView(reinterpret_cast<const uint8_t*>(frame.data()), frame.size());
  e.queued_ms = 3000 + n;
  return s.outbox_put(e);
}

sdk::Status dedupe(MemoryStorage& s, const std::vector<uint8_t>& contact, uint8_t n,
                   int64_t received_ms) {
  const uint8_t id[sdk::kMessageIdBytes] = {n};
  return s.dedupe_insert(sdk::ByteView(contact), id, received_ms);
}

sdk::Status session(MemoryStorage& s, const std::vector<uint8_t>& contact, const char* state) {
  return s.put_session(sdk::ByteView(contact),
                       sdk::ByteView(reinterpret_cast<const uint8_t*>(state), std::strlen(state)));
}

TEST(MemoryStorage, RollbackOfEveryKindOfWriteGivesBackTheStoreAsItWas) {
  using sdk::MessageDirection::kIncoming;
  using sdk::MessageDirection::kOutgoing;
  const std::vector<uint8_t> hints = {'h', '1'};
  Owned s = make();
  ASSERT_TRUE(s->open("suite-a").is_ok());
  ASSERT_TRUE(s->put_setting("keep", sdk::ByteView(kAlice)).is_ok());
  ASSERT_TRUE(s->put_setting("drop", sdk::ByteView(kBob)).is_ok());
  ASSERT_TRUE(
      s->put_contact({sdk::ByteView(kAlice), "Alice", 1, 10, sdk::ByteView(hints)}).is_ok());
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kBob), "Bob", 2, 20, {}}).is_ok());
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kCarol), "Carol", 3, 30, {}}).is_ok());
  ASSERT_EQ(insert(*s, 1, kAlice, kIncoming, 1).value, 1u);
  ASSERT_EQ(insert(*s, 2, kAlice, kIncoming, 2).value, 2u);
  ASSERT_EQ(insert(*s, 3, kAlice, kOutgoing, 1).value, 3u);
  ASSERT_EQ(insert(*s, 4, kBob, kIncoming, 1).value, 1u);
  ASSERT_EQ(insert(*s, 5, kBob, kIncoming, 9).value, 2u);
  ASSERT_EQ(insert(*s, 6, kCarol, kIncoming, 1).value, 1u);
  ASSERT_TRUE(queue(*s, 1, kAlice).is_ok());
  ASSERT_TRUE(queue(*s, 2, kBob).is_ok());
  ASSERT_TRUE(queue(*s, 3, kAlice).is_ok());
  ASSERT_TRUE(dedupe(*s, kAlice, 10, 100).is_ok());
  ASSERT_TRUE(dedupe(*s, kBob, 11, 5).is_ok());
  ASSERT_TRUE(dedupe(*s, kAlice, 12, 50).is_ok());
  ASSERT_TRUE(session(*s, kAlice, "alice 1").is_ok());
  ASSERT_TRUE(session(*s, kBob, "bob 1").is_ok());
  ASSERT_TRUE(session(*s, kCarol, "carol 1").is_ok());
  const std::string before = everything(*s);

  ASSERT_TRUE(s->begin().is_ok());
  ASSERT_TRUE(s->put_setting("keep", sdk::ByteView(kBob)).is_ok());
  ASSERT_TRUE(s->put_setting("keep", sdk::ByteView(kCarol)).is_ok());
  ASSERT_TRUE(s->remove_setting("drop").is_ok());
  ASSERT_TRUE(s->put_setting("new", sdk::ByteView(kDave)).is_ok());
  ASSERT_EQ(insert(*s, 20, kAlice, kIncoming, 1).value, 4u);
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kAlice), "Alicia", 7, 70, {}}).is_ok());
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kDave), "Dave", 4, 40, {}}).is_ok());
  ASSERT_EQ(insert(*s, 27, kAlice, kOutgoing, 1).value, 5u);
  ASSERT_EQ(insert(*s, 21, kDave, kIncoming, 1).value, 1u);
  EXPECT_EQ(insert(*s, 1, kAlice, kIncoming, 1).status.code, sdk::StatusCode::kAlreadyExists);
  ASSERT_TRUE(s->set_message_state(std::array<uint8_t, 16>{1}.data(), 8).is_ok());
  ASSERT_EQ(s->raise_message_states(sdk::ByteView(kAlice), kIncoming, 4, 6).value, 2u);
  ASSERT_TRUE(queue(*s, 30, kAlice).is_ok());
  EXPECT_EQ(queue(*s, 30, kAlice).code, sdk::StatusCode::kAlreadyExists);
  ASSERT_TRUE(s->outbox_remove(std::array<uint8_t, 16>{1}.data()).is_ok());
  ASSERT_TRUE(dedupe(*s, kAlice, 13, 200).is_ok());
  ASSERT_EQ(s->dedupe_prune(60).value, 2u);
  ASSERT_TRUE(session(*s, kAlice, "alice 2").is_ok());
  ASSERT_TRUE(session(*s, kDave, "dave 1").is_ok());
  ASSERT_TRUE(s->remove_session(sdk::ByteView(kBob)).is_ok());
  ASSERT_TRUE(s->remove_contact(sdk::ByteView(kBob)).is_ok());
  // Carol is removed and comes back: her conversation starts again at order 1.
  ASSERT_TRUE(s->remove_contact(sdk::ByteView(kCarol)).is_ok());
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kCarol), "Carol 2", 0, 0, {}}).is_ok());
  ASSERT_EQ(insert(*s, 22, kCarol, kIncoming, 1).value, 1u);
  ASSERT_TRUE(queue(*s, 31, kCarol).is_ok());
  ASSERT_TRUE(dedupe(*s, kCarol, 14, 300).is_ok());
  ASSERT_TRUE(session(*s, kCarol, "carol 2").is_ok());
  EXPECT_NE(everything(*s), before);
  ASSERT_TRUE(s->rollback().is_ok());

  EXPECT_EQ(everything(*s), before);
  EXPECT_EQ(dedupe(*s, kAlice, 10, 0).code, sdk::StatusCode::kAlreadyExists);
  EXPECT_EQ(dedupe(*s, kBob, 11, 0).code, sdk::StatusCode::kAlreadyExists);
  EXPECT_EQ(dedupe(*s, kAlice, 12, 0).code, sdk::StatusCode::kAlreadyExists);
  EXPECT_TRUE(dedupe(*s, kAlice, 13, 0).is_ok());
  EXPECT_TRUE(dedupe(*s, kCarol, 14, 0).is_ok());
  EXPECT_EQ(insert(*s, 23, kAlice, kIncoming, 1).value, 4u);
  EXPECT_EQ(insert(*s, 24, kBob, kIncoming, 1).value, 3u);
  EXPECT_EQ(insert(*s, 25, kCarol, kIncoming, 1).value, 2u);
  EXPECT_EQ(insert(*s, 26, kDave, kIncoming, 1).status.code, sdk::StatusCode::kNotFound);
  ASSERT_TRUE(queue(*s, 32, kBob).is_ok());
  Dump queued;
  ASSERT_TRUE(s->outbox_list(queued).is_ok());
  EXPECT_EQ(queued.out, "outbox 1 alice frame 1 3001\n"
                        "outbox 2 bob frame 2 3002\n"
                        "outbox 3 alice frame 3 3003\n"
                        "outbox 32 bob frame 32 3032\n");
}

} // namespace
} // namespace entre::plugins::memory
