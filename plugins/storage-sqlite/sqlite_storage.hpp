// storage-sqlite: the SDK Storage interface on one SQLite database file.
//
// The file is opened by open(), not by the factory: in WAL mode, with secure_delete (deleted rows
// are overwritten), foreign keys on, synchronous FULL unless configured otherwise, SQLite's
// defensive flags, and a busy timeout for a second process on the same file. A new file is created
// with mode 0600. open() then checks and migrates the schema inside one BEGIN IMMEDIATE
// transaction (see schema.hpp). Sealed values are stored as the BLOBs they arrive as.
//
// Configuration (the plugin's [plugins.config] table, all optional):
//   path             database file; relative to Host::data_dir()      default "entre.db"
//   synchronous      "full" (survives power loss) or "normal" (WAL: survives a process crash, may
//                    lose the last commits on power loss)                default "full"
//   busy_timeout_ms  how long to wait for another connection's lock, 0 to 600000   default 5000
//
// Threading: one call at a time (the Storage contract); the connection is opened in SQLite's
// serialized mode, so consecutive calls may come from different threads.
#pragma once

#include "schema.hpp"
#include "sqlite_db.hpp"

#include <entre/sdk/plugin.hpp>
#include <entre/sdk/storage.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace entre::plugins::sqlite {

struct SqliteConfig {
  std::string path = "entre.db"; // as given to SQLite: absolute, or relative to the process
  bool synchronous_full = true;
  int busy_timeout_ms = 5000;
};

// Reads every key of the plugin's configuration into `out`, resolving a relative path against
// `data_dir`. kInvalidArgument names the key and its location when a value is wrong.
[[nodiscard]] sdk::Status read_config(const sdk::ConfigView& config, std::string_view data_dir,
                                      SqliteConfig& out) noexcept;

// The connection's settings as SQLite reports them, for tests and diagnostics.
struct ConnectionPragmas {
  std::string journal_mode; // "wal"
  int64_t secure_delete = -1;
  int64_t foreign_keys = -1;
  int64_t synchronous = -1; // 2 FULL, 1 NORMAL
  int64_t busy_timeout_ms = -1;
};

class SqliteStorage final : public sdk::Storage, public sdk::MessagePaths, public sdk::Plugin {
 public:
  // `host` may be null (tests): then nothing is logged. `migrations` is the schema history; tests
  // pass a longer one to exercise a migration.
  explicit SqliteStorage(SqliteConfig config, sdk::Host* host = nullptr,
                         std::span<const Migration> migrations = schema_migrations());

  [[nodiscard]] sdk::Status open(sdk::StringView suite_id) noexcept override;
  [[nodiscard]] uint32_t schema_version() const noexcept override { return version_; }

  [[nodiscard]] sdk::Status begin() noexcept override;
  [[nodiscard]] sdk::Status commit() noexcept override;
  [[nodiscard]] sdk::Status rollback() noexcept override;

  [[nodiscard]] sdk::Status put_setting(sdk::StringView key, sdk::ByteView value) noexcept override;
  [[nodiscard]] sdk::Status get_setting(sdk::StringView key,
                                        sdk::ByteSink& value_out) noexcept override;
  [[nodiscard]] sdk::Status remove_setting(sdk::StringView key) noexcept override;

  [[nodiscard]] sdk::Status put_contact(const sdk::ContactRecord& contact) noexcept override;
  [[nodiscard]] sdk::Status get_contact(sdk::ByteView public_key,
                                        sdk::ContactVisitor& visitor) noexcept override;
  [[nodiscard]] sdk::Status remove_contact(sdk::ByteView public_key) noexcept override;
  [[nodiscard]] sdk::Status list_contacts(sdk::ContactVisitor& visitor) noexcept override;

  [[nodiscard]] sdk::Result<uint64_t>
  insert_message(const sdk::MessageRecord& message) noexcept override;
  [[nodiscard]] sdk::Status get_message(const uint8_t* id,
                                        sdk::MessageVisitor& visitor) noexcept override;
  [[nodiscard]] sdk::Status set_message_state(const uint8_t* id, uint32_t state) noexcept override;
  [[nodiscard]] sdk::Status set_message_path(const uint8_t* id,
                                             sdk::StringView path) noexcept override;
  [[nodiscard]] sdk::Result<uint64_t> raise_message_states(sdk::ByteView contact_key,
                                                           sdk::MessageDirection direction,
                                                           uint64_t up_to_order,
                                                           uint32_t state) noexcept override;
  [[nodiscard]] sdk::Status list_messages(sdk::ByteView contact_key, uint64_t before_order,
                                          uint32_t limit,
                                          sdk::MessageVisitor& visitor) noexcept override;
  [[nodiscard]] sdk::Result<uint64_t> unread_count(sdk::ByteView contact_key,
                                                   uint32_t read_state) noexcept override;

  [[nodiscard]] sdk::Status outbox_put(const sdk::OutboxRecord& entry) noexcept override;
  [[nodiscard]] sdk::Status outbox_remove(const uint8_t* id) noexcept override;
  [[nodiscard]] sdk::Status outbox_list(sdk::OutboxVisitor& visitor) noexcept override;
  [[nodiscard]] sdk::Status outbox_list_for(sdk::ByteView contact_key,
                                            sdk::OutboxVisitor& visitor) noexcept override;

  [[nodiscard]] sdk::Status dedupe_insert(sdk::ByteView contact_key, const uint8_t* id,
                                          int64_t received_ms) noexcept override;
  [[nodiscard]] sdk::Result<uint64_t> dedupe_prune(int64_t older_than_ms) noexcept override;

  [[nodiscard]] sdk::Status put_session(sdk::ByteView contact_key,
                                        sdk::ByteView sealed_state) noexcept override;
  [[nodiscard]] sdk::Status get_session(sdk::ByteView contact_key,
                                        sdk::ByteSink& sealed_state_out) noexcept override;
  [[nodiscard]] sdk::Status remove_session(sdk::ByteView contact_key) noexcept override;

  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override { delete this; }

  // Not part of the SDK, for tests and diagnostics: PRAGMA integrity_check on the open store
  // (kOk, or kCorrupt with SQLite's first complaint; kClosed before open()).
  [[nodiscard]] sdk::Status integrity_check() noexcept;
  // The open connection's pragmas (defaults before open()).
  [[nodiscard]] ConnectionPragmas pragmas() noexcept;
  [[nodiscard]] const SqliteConfig& config() const noexcept { return config_; }

 private:
  ~SqliteStorage() override = default;

  sdk::Status open_store(std::string_view suite_id);
  sdk::Status check_and_migrate(std::string_view suite_id);
  // kClosed before open(); kUnavailable when SQLite abandoned the caller's transaction.
  [[nodiscard]] sdk::Status ready() const noexcept;
  // Contacts by public key: their rowid and, once a message was inserted, the conversation's
  // last order. Cleared by rollback() and remove_contact(), the only ways a row or an order
  // taken goes away.
  struct CachedContact {
    int64_t row = 0;
    std::optional<int64_t> last_order;
  };
  // The cached record of the contact with this key (read on first use), or kNotFound.
  sdk::Result<CachedContact*> cached_contact(sdk::ByteView public_key);
  // The rowid of the contact with this key, or kNotFound.
  sdk::Result<int64_t> contact_row(sdk::ByteView public_key);
  sdk::Result<CachedContact*> contact_with_order(sdk::ByteView public_key);
  sdk::Status prepare(const std::string& sql, sqlite3_stmt** out) {
    return connection_.prepare(sql, out);
  }
  // Rows changed by the last statement run.
  [[nodiscard]] uint64_t changes() const noexcept {
    return static_cast<uint64_t>(sqlite3_changes64(connection_.handle()));
  }
  // Statement helpers (sqlite_storage.cpp): `params` bind to ?1, ?2, ... by type.
  // Prepares `sql` (cached) and runs `body` on it.
  template <typename Body, typename... Params>
  sdk::Status with_query(const char* sql, const Body& body, const Params&... params);
  // Runs a statement that returns no rows.
  template <typename... Params>
  sdk::Status execute(const char* sql, std::string_view context, const Params&... params);
  // The same, and kNotFound with `absent` when it changed no row.
  template <typename... Params>
  sdk::Status execute_one(const char* sql, std::string_view context, std::string_view absent,
                          const Params&... params);
  // Calls `row` for each row until it returns false.
  template <typename Row, typename... Params>
  sdk::Status each_row(const char* sql, std::string_view context, const Row& row,
                       const Params&... params);
  // Calls `row` for the first row; kNotFound with `absent` when there is none.
  template <typename Row, typename... Params>
  sdk::Status first_row(const char* sql, std::string_view context, std::string_view absent,
                        const Row& row, const Params&... params);
  void log(sdk::LogLevel level, std::string_view text) noexcept;

  SqliteConfig config_;
  sdk::Host* host_;
  std::span<const Migration> migrations_;
  Connection connection_;
  std::string suite_id_;
  uint32_t version_ = 0;
  bool in_transaction_ = false;
  std::unordered_map<std::string, CachedContact> contacts_;
};

// PRAGMA integrity_check on a database file through a read-only connection of its own.
[[nodiscard]] sdk::Status integrity_check_file(const std::string& path) noexcept;

} // namespace entre::plugins::sqlite
