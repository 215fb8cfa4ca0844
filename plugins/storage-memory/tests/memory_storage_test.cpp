// storage-memory, compiled in: what the conformance suite cannot see from an opened store.
#include "memory_storage.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

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

} // namespace
} // namespace entre::plugins::memory
