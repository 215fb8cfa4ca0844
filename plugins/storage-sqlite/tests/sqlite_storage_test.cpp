// storage-sqlite, compiled in, on real files in a fresh temporary directory: what only a file can
// show (persistence, the recorded suite and schema, migrations, pragmas, corruption, locking).
// The SDK-level behaviour is the conformance suite's job (plugin_test.cpp).
#include "sqlite_storage.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace entre::plugins::sqlite {
namespace {

using Bytes = std::vector<uint8_t>;

struct Destroy {
  void operator()(SqliteStorage* storage) const { static_cast<sdk::Plugin*>(storage)->destroy(); }
};
using Owned = std::unique_ptr<SqliteStorage, Destroy>;

const Bytes kAlice = {'a', 'l', 'i', 'c', 'e'};
constexpr const char* kSuite = "entre-sodium-v1";

Bytes bytes(std::string_view text) { return Bytes(text.begin(), text.end()); }

// Runs one statement on the file through a connection of the test's own.
void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  const std::string message = error != nullptr ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << message;
}

// The first column of the first row of `sql`, as text ("" when there is no row).
std::string raw_query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return out;
}

Bytes file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool contains(const Bytes& haystack, const Bytes& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

std::optional<Bytes> setting(SqliteStorage& s, std::string_view key) {
  Bytes out;
  sdk::VectorSink sink(out);
  const sdk::Status st = s.get_setting(sdk::StringView(key), sink);
  if (!st.is_ok()) {
    return std::nullopt;
  }
  return out;
}

std::string latest() { return std::to_string(latest_version(schema_migrations())); }

// An incoming message from `contact` whose id starts with `first_id_byte`.
sdk::MessageRecord message(const Bytes& contact, uint8_t first_id_byte) {
  static const Bytes body = bytes("sealed body");
  sdk::MessageRecord m{};
  m.id[0] = first_id_byte;
  m.contact_key = sdk::ByteView(contact);
  m.direction = sdk::MessageDirection::kIncoming;
  m.sealed_body = sdk::ByteView(body);
  return m;
}

class SqliteStorageFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "entre-sqlite-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "entre.db").string();
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  Owned make(std::span<const Migration> migrations = schema_migrations(),
             int busy_timeout_ms = 5000, bool full = true) {
    SqliteConfig config;
    config.path = path_;
    config.busy_timeout_ms = busy_timeout_ms;
    config.synchronous_full = full;
    return Owned(new SqliteStorage(config, nullptr, migrations));
  }

  Owned open(std::span<const Migration> migrations = schema_migrations()) {
    Owned s = make(migrations);
    const sdk::Status st = s->open(kSuite);
    EXPECT_TRUE(st.is_ok()) << st.text();
    return s;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteStorageFile, EveryCallBeforeOpenIsClosedAndNoFileIsMade) {
  Owned s = make();
  EXPECT_EQ(s->schema_version(), 0u);
  EXPECT_EQ(s->begin().code, sdk::StatusCode::kClosed);
  EXPECT_EQ(s->put_setting("k", {}).code, sdk::StatusCode::kClosed);
  EXPECT_EQ(s->put_contact({sdk::ByteView(kAlice), "", 0, 0, {}}).code, sdk::StatusCode::kClosed);
  EXPECT_EQ(s->dedupe_prune(0).status.code, sdk::StatusCode::kClosed);
  EXPECT_EQ(s->integrity_check().code, sdk::StatusCode::kClosed);
  EXPECT_FALSE(std::filesystem::exists(path_)) << "the file is created by open(), not before";
}

TEST_F(SqliteStorageFile, CreatesAPrivateFileWithMetaOnFirstOpen) {
  Owned s = open();
  EXPECT_EQ(s->schema_version(), latest_version(schema_migrations()));
  struct stat info {};
  ASSERT_EQ(::stat(path_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u) << "the store must be private to the user";
  s.reset();
  EXPECT_EQ(raw_query(path_, "SELECT schema_version FROM meta"), latest());
  EXPECT_EQ(raw_query(path_, "SELECT suite_id FROM meta"), kSuite);
}

TEST_F(SqliteStorageFile, DataPersistsAcrossObjects) {
  Owned s = open();
  const Bytes state = bytes("sealed ratchet state");
  ASSERT_TRUE(s->put_setting("identity", sdk::ByteView(state)).is_ok());
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kAlice), "Alice", 1, 2, {}}).is_ok());
  ASSERT_TRUE(s->put_session(sdk::ByteView(kAlice), sdk::ByteView(state)).is_ok());
  sdk::MessageRecord m{};
  m.contact_key = sdk::ByteView(kAlice);
  m.direction = sdk::MessageDirection::kIncoming;
  m.sealed_body = sdk::ByteView(state);
  ASSERT_EQ(s->insert_message(m).value, 1u);
  sdk::OutboxRecord e{};
  e.contact_key = sdk::ByteView(kAlice);
  ASSERT_TRUE(s->outbox_put(e).is_ok());
  ASSERT_TRUE(s->dedupe_insert(sdk::ByteView(kAlice), m.id, 10).is_ok());
  s.reset();

  s = open();
  EXPECT_EQ(setting(*s, "identity"), state);
  Bytes session;
  sdk::VectorSink sink(session);
  ASSERT_TRUE(s->get_session(sdk::ByteView(kAlice), sink).is_ok());
  EXPECT_EQ(session, state);
  EXPECT_EQ(s->outbox_remove(e.id).code, sdk::StatusCode::kOk);
  EXPECT_EQ(s->dedupe_insert(sdk::ByteView(kAlice), m.id, 10).code,
            sdk::StatusCode::kAlreadyExists);
  m.id[0] = 1;
  EXPECT_EQ(s->insert_message(m).value, 2u) << "the conversation order continues after reopen";
  EXPECT_TRUE(s->integrity_check().is_ok());
}

TEST_F(SqliteStorageFile, AnotherSuiteIsRefusedOnReopenWithBothIdsNamed) {
  open().reset();
  Owned s = make();
  const sdk::Status st = s->open("entre-other-v2");
  EXPECT_EQ(st.code, sdk::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.text(), "sqlite: store belongs to suite 'entre-sodium-v1', not 'entre-other-v2'");
  EXPECT_EQ(s->schema_version(), 0u);
  EXPECT_EQ(s->put_setting("k", {}).code, sdk::StatusCode::kClosed) << "a refused open stays shut";
  EXPECT_TRUE(s->open(kSuite).is_ok()) << "the right suite still opens the same object";
  EXPECT_EQ(raw_query(path_, "SELECT suite_id FROM meta"), kSuite) << "the refusal changed meta";
}

TEST_F(SqliteStorageFile, ANewerSchemaIsRefusedAndLeftAlone) {
  open().reset();
  raw_exec(path_, "UPDATE meta SET schema_version = 7");
  Owned s = make();
  const sdk::Status st = s->open(kSuite);
  EXPECT_EQ(st.code, sdk::StatusCode::kUnsupported);
  EXPECT_EQ(st.text(), "sqlite: schema version 7 is newer than this plugin's " + latest() +
                           "; upgrade the plugin");
  EXPECT_EQ(s->schema_version(), 0u);
  s.reset();
  EXPECT_EQ(raw_query(path_, "SELECT schema_version FROM meta"), "7");
}

// The next version of the schema, as the next release might add it: one more entry in the list.
std::vector<Migration> with_next(const char* sql) {
  std::vector<Migration> steps(schema_migrations().begin(), schema_migrations().end());
  steps.push_back({latest_version(schema_migrations()) + 1, sql});
  return steps;
}

TEST_F(SqliteStorageFile, AnOlderSchemaIsMigratedAndKeepsItsData) {
  Owned s = open();
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kAlice), "Alice", 0, 0, {}}).is_ok());
  s.reset();
  const std::vector<Migration> next =
      with_next("ALTER TABLE contacts ADD COLUMN nickname TEXT NOT NULL DEFAULT '';"
                "UPDATE contacts SET nickname = 'migrated';"
                "CREATE TABLE next_marker (x INTEGER) STRICT;");
  s = open(next);
  EXPECT_EQ(s->schema_version(), next.back().to_version);
  EXPECT_TRUE(s->integrity_check().is_ok());
  s.reset();
  EXPECT_EQ(raw_query(path_, "SELECT schema_version FROM meta"),
            std::to_string(next.back().to_version));
  EXPECT_EQ(raw_query(path_, "SELECT nickname || '/' || display_name FROM contacts"),
            "migrated/Alice");
  // And the released plugin now refuses the migrated file.
  s = make();
  EXPECT_EQ(s->open(kSuite).code, sdk::StatusCode::kUnsupported);
}

TEST_F(SqliteStorageFile, AVersionOneStoreMovesToVersionTwoAndItsConversationsGoOn) {
  // A store written by version 1 kept each conversation's last order in contacts.last_order.
  Owned s = open(schema_migrations().first(1));
  ASSERT_EQ(s->schema_version(), 1u);
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kAlice), "Alice", 0, 0, {}}).is_ok());
  sdk::MessageRecord m = message(kAlice, 1);
  ASSERT_EQ(s->insert_message(m).value, 1u);
  m.id[0] = 2;
  ASSERT_EQ(s->insert_message(m).value, 2u);
  s.reset();

  s = open();
  EXPECT_EQ(s->schema_version(), 2u);
  EXPECT_TRUE(s->integrity_check().is_ok());
  EXPECT_EQ(raw_query(path_, "SELECT count(*) FROM pragma_table_info('contacts')"
                             " WHERE name = 'last_order'"),
            "0");
  m.id[0] = 3;
  EXPECT_EQ(s->insert_message(m).value, 3u) << "the order goes on after the stored messages";
  EXPECT_EQ(raw_query(path_, "SELECT count(*) FROM messages"), "3");
}

TEST_F(SqliteStorageFile, AFailedMigrationStepUndoesEveryStep) {
  open().reset();
  const std::vector<Migration> broken =
      with_next("CREATE TABLE half_done (x INTEGER) STRICT; INSERT INTO no_such_table VALUES (1);");
  Owned s = make(broken);
  const sdk::Status st = s->open(kSuite);
  EXPECT_EQ(st.code, sdk::StatusCode::kInternal) << st.text();
  EXPECT_NE(st.text().find("migrate to " + std::to_string(broken.back().to_version)),
            std::string_view::npos)
      << st.text();
  s.reset();
  EXPECT_EQ(raw_query(path_, "SELECT schema_version FROM meta"), latest());
  EXPECT_EQ(raw_query(path_, "SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'"), "0");
  EXPECT_EQ(open()->schema_version(), latest_version(schema_migrations()));
}

TEST_F(SqliteStorageFile, AHandMadeVersionZeroStoreIsMigratedToTheLatest) {
  // Version 0: a meta table and nothing else, as a store that never ran a migration.
  raw_exec(path_,
           std::string(kMetaTableSql) + "; INSERT INTO meta VALUES (1, 0, '" + kSuite + "')");
  Owned s = open();
  EXPECT_EQ(s->schema_version(), latest_version(schema_migrations()));
  EXPECT_TRUE(s->put_contact({sdk::ByteView(kAlice), "Alice", 0, 0, {}}).is_ok());
}

TEST_F(SqliteStorageFile, AMalformedMigrationListIsABug) {
  const Migration gap[] = {{2, "SELECT 1"}};
  Owned s = make(gap);
  EXPECT_EQ(s->open(kSuite).code, sdk::StatusCode::kInternal);
}

TEST_F(SqliteStorageFile, WalSecureDeleteForeignKeysAndSynchronousAreOn) {
  Owned s = open();
  const ConnectionPragmas p = s->pragmas();
  EXPECT_EQ(p.journal_mode, "wal");
  EXPECT_EQ(p.secure_delete, 1);
  EXPECT_EQ(p.foreign_keys, 1);
  EXPECT_EQ(p.synchronous, 2) << "FULL by default";
  EXPECT_EQ(p.busy_timeout_ms, 5000);
  s.reset();
  EXPECT_EQ(raw_query(path_, "PRAGMA journal_mode"), "wal") << "WAL is recorded in the file";

  s = make(schema_migrations(), 250, false);
  ASSERT_TRUE(s->open(kSuite).is_ok());
  EXPECT_EQ(s->pragmas().synchronous, 1) << "synchronous = \"normal\"";
  EXPECT_EQ(s->pragmas().busy_timeout_ms, 250);
}

TEST_F(SqliteStorageFile, RemovedValuesAreOverwrittenOnDisk) {
  const Bytes marker = bytes("MARKER-4b1d-secret-sealed-bytes-MARKER");
  Owned s = open();
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kAlice), "Alice", 0, 0, {}}).is_ok());
  ASSERT_TRUE(s->put_session(sdk::ByteView(kAlice), sdk::ByteView(marker)).is_ok());
  ASSERT_TRUE(s->put_setting("keep", sdk::ByteView(bytes("something else"))).is_ok());
  raw_exec(path_, "PRAGMA wal_checkpoint(TRUNCATE)");
  ASSERT_TRUE(contains(file_bytes(path_), marker)) << "the test must see the marker first";
  ASSERT_TRUE(s->remove_contact(sdk::ByteView(kAlice)).is_ok());
  raw_exec(path_, "PRAGMA wal_checkpoint(TRUNCATE)");
  EXPECT_FALSE(contains(file_bytes(path_), marker)) << "a removed session is still on disk";
  EXPECT_FALSE(contains(file_bytes(path_ + "-wal"), marker));
}

TEST_F(SqliteStorageFile, IntegrityCheckPassesOnAHealthyFile) {
  Owned s = open();
  EXPECT_TRUE(s->integrity_check().is_ok());
  ASSERT_TRUE(s->put_contact({sdk::ByteView(kAlice), "Alice", 0, 0, {}}).is_ok());
  EXPECT_TRUE(s->integrity_check().is_ok());
  s.reset();
  EXPECT_TRUE(integrity_check_file(path_).is_ok());
}

TEST_F(SqliteStorageFile, ATransactionOpenAtDestructionIsRolledBack) {
  Owned s = open();
  ASSERT_TRUE(s->put_setting("committed", {}).is_ok());
  ASSERT_TRUE(s->begin().is_ok());
  ASSERT_TRUE(s->put_setting("uncommitted", {}).is_ok());
  ASSERT_TRUE(s->remove_setting("committed").is_ok());
  s.reset();
  s = open();
  EXPECT_TRUE(setting(*s, "committed").has_value());
  EXPECT_FALSE(setting(*s, "uncommitted").has_value());
}

TEST_F(SqliteStorageFile, AGarbageFileIsRefusedAtOpenAndLeftUntouched) {
  Bytes garbage(8192);
  for (std::size_t i = 0; i < garbage.size(); ++i) {
    garbage[i] = static_cast<uint8_t>(i * 7919 + 13);
  }
  {
    std::ofstream out(path_, std::ios::binary);
    out.write(reinterpret_cast<const char*>(garbage.data()),
              static_cast<std::streamsize>(garbage.size()));
  }
  Owned s = make();
  const sdk::Status st = s->open(kSuite);
  EXPECT_EQ(st.code, sdk::StatusCode::kCorrupt);
  EXPECT_EQ(st.text(), "sqlite: cannot open entre.db: file is not a database");
  EXPECT_EQ(s->put_setting("k", {}).code, sdk::StatusCode::kClosed);
  s.reset();
  EXPECT_EQ(file_bytes(path_), garbage);
  EXPECT_EQ(integrity_check_file(path_).code, sdk::StatusCode::kCorrupt);
}

TEST_F(SqliteStorageFile, ADamagedPageIsReportedNotACrash) {
  {
    Owned s = open();
    ASSERT_TRUE(s->begin().is_ok());
    for (uint8_t i = 0; i < 200; ++i) {
      const Bytes key = {'k', i};
      ASSERT_TRUE(s->put_contact({sdk::ByteView(key), "someone with a longer name", 0, i,
                                  sdk::ByteView(Bytes(300, i))})
                      .is_ok());
    }
    ASSERT_TRUE(s->commit().is_ok());
  } // the last connection checkpoints the WAL into the file
  Bytes file = file_bytes(path_);
  ASSERT_GT(file.size(), 8u * 4096);
  for (std::size_t i = 5 * 4096 + 100; i < 7 * 4096; ++i) {
    file[i] = static_cast<uint8_t>(i * 31);
  }
  {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(file.data()),
              static_cast<std::streamsize>(file.size()));
  }
  Owned s = make();
  const sdk::Status opened = s->open(kSuite);
  if (opened.is_ok()) {
    EXPECT_EQ(s->integrity_check().code, sdk::StatusCode::kCorrupt);
    struct Count final : sdk::ContactVisitor {
      bool visit(const sdk::ContactRecord&) noexcept override { return true; }
    } visitor;
    const sdk::Status listed = s->list_contacts(visitor);
    EXPECT_TRUE(listed.is_ok() || listed.code == sdk::StatusCode::kCorrupt) << listed.text();
  } else {
    EXPECT_EQ(opened.code, sdk::StatusCode::kCorrupt) << opened.text();
  }
  EXPECT_EQ(integrity_check_file(path_).code, sdk::StatusCode::kCorrupt);
}

TEST_F(SqliteStorageFile, ASqliteFileThatIsNotAStoreIsRefused) {
  raw_exec(path_, "CREATE TABLE photos (id INTEGER PRIMARY KEY, data BLOB)");
  Owned s = make();
  const sdk::Status st = s->open(kSuite);
  EXPECT_EQ(st.code, sdk::StatusCode::kCorrupt);
  EXPECT_NE(st.text().find("not an Entre store"), std::string_view::npos) << st.text();
  EXPECT_EQ(raw_query(path_, "SELECT count(*) FROM sqlite_schema WHERE name = 'meta'"), "0");
}

TEST_F(SqliteStorageFile, AMissingDirectoryIsAnIoErrorNamingTheFile) {
  path_ = (dir_ / "no-such-dir" / "entre.db").string();
  Owned s = make();
  const sdk::Status st = s->open(kSuite);
  EXPECT_EQ(st.code, sdk::StatusCode::kIoError);
  EXPECT_EQ(st.text(), "sqlite: cannot open entre.db: unable to open database file");
}

TEST_F(SqliteStorageFile, ASecondWriterWaitsForTheBusyTimeoutThenGivesUp) {
  Owned holder = open();
  ASSERT_TRUE(holder->begin().is_ok()); // BEGIN IMMEDIATE: holds the write lock
  ASSERT_TRUE(holder->put_setting("held", {}).is_ok());

  Owned waiter = make(schema_migrations(), 300);
  const auto start = std::chrono::steady_clock::now();
  const sdk::Status st = waiter->open(kSuite);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(st.code, sdk::StatusCode::kUnavailable) << st.text();
  EXPECT_GE(waited, std::chrono::milliseconds(250)) << "gave up before busy_timeout_ms";
  EXPECT_LT(waited, std::chrono::seconds(4)) << "waited far past busy_timeout_ms";

  // A lock released within the timeout is waited for, and the write goes through.
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(holder->commit().is_ok());
  });
  Owned patient = make(schema_migrations(), 5000);
  const sdk::Status opened = patient->open(kSuite);
  release.join();
  ASSERT_TRUE(opened.is_ok()) << opened.text();
  EXPECT_TRUE(patient->put_setting("second", {}).is_ok());
  EXPECT_TRUE(setting(*patient, "held").has_value());
}

TEST_F(SqliteStorageFile, OffersOnlyTheStorageInterface) {
  Owned s = make();
  EXPECT_EQ(s->query_interface(sdk::InterfaceId::kStorageV1),
            static_cast<void*>(static_cast<sdk::Storage*>(s.get())));
  EXPECT_EQ(s->query_interface(sdk::InterfaceId::kCryptoSuiteV1), nullptr);
}

} // namespace
} // namespace entre::plugins::sqlite
