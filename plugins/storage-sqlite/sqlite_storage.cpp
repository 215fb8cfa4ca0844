#include "sqlite_storage.hpp"

#include <entre/sdk/storage_checks.hpp>

#include <cstring>
#include <exception>
#include <filesystem>
#include <new>
#include <string>
#include <type_traits>

namespace entre::plugins::sqlite {

namespace {

using sdk::Status;
using sdk::StatusCode;

constexpr int64_t kMaxBusyTimeoutMs = 600000;

Status fail(StatusCode code, std::string_view text) { return Status::error(code, text); }

Status closed() { return fail(StatusCode::kClosed, "sqlite: storage is not open"); }

// Runs `body`, turning any exception into a failed Status or Result (see storage_checks.hpp).
template <typename F> auto guarded(const F& body) noexcept -> decltype(body()) {
  return sdk::guard_exceptions(body, "sqlite: out of memory");
}

sdk::Result<uint64_t> result_of(const Status& st, uint64_t value) {
  return st.is_ok() ? sdk::Result<uint64_t>::of(value) : sdk::Result<uint64_t>{st, 0};
}

// ---- Argument checks (the limits of storage.hpp) --------------------------------------------

constexpr sdk::StorageArgChecks kCheck{"sqlite"};
using sdk::first_error;

Status config_error(const sdk::ConfigView& config, const char* key, std::string_view what) {
  std::string text(config.location(key).str());
  text += text.empty() ? "" : ": ";
  text += key;
  text += ": ";
  text += what;
  return fail(StatusCode::kInvalidArgument, text);
}

// Parameters bind by type: bytes as a blob, text as text, a message id as its 16 bytes, integers
// and enums as integers (a uint64_t clamped at INT64_MAX, see Query::bind_uint).
struct Id {
  const uint8_t* bytes;
};
void bind(Query& q, int index, sdk::ByteView value) { q.bind_blob(index, value); }
void bind(Query& q, int index, sdk::StringView value) { q.bind_text(index, value); }
void bind(Query& q, int index, Id id) { q.bind_blob(index, id.bytes, sdk::kMessageIdBytes); }
template <typename T>
requires std::is_integral_v<T> || std::is_enum_v<T>
void bind(Query& q, int index, T value) {
  if constexpr (std::is_same_v<T, uint64_t>) {
    q.bind_uint(index, value);
  } else {
    q.bind_int(index, static_cast<int64_t>(value));
  }
}

void copy_id(uint8_t (&to)[sdk::kMessageIdBytes], sdk::ByteView from) {
  std::memset(to, 0, sizeof to);
  if (from.size == sdk::kMessageIdBytes) {
    std::memcpy(to, from.data, sizeof to);
  }
}

} // namespace

// ---- Statements -------------------------------------------------------------------------------

template <typename Body, typename... Params>
Status SqliteStorage::with_query(const char* sql, const Body& body, const Params&... params) {
  sqlite3_stmt* stmt = nullptr;
  const Status st = prepare(sql, &stmt);
  if (!st.is_ok()) {
    return st;
  }
  Query q(connection_.handle(), stmt);
  int index = 0;
  (bind(q, ++index, params), ...);
  return body(q);
}

template <typename... Params>
Status SqliteStorage::execute(const char* sql, std::string_view context, const Params&... params) {
  return with_query(
      sql, [&](Query& q) { return q.run(context); }, params...);
}

template <typename... Params>
Status SqliteStorage::execute_one(const char* sql, std::string_view context,
                                  std::string_view absent, const Params&... params) {
  const Status st = execute(sql, context, params...);
  if (st.is_ok() && changes() == 0) {
    return fail(StatusCode::kNotFound, absent);
  }
  return st;
}

template <typename Row, typename... Params>
Status SqliteStorage::each_row(const char* sql, std::string_view context, const Row& row,
                               const Params&... params) {
  return with_query(
      sql,
      [&](Query& q) {
        int rc = SQLITE_DONE;
        while ((rc = q.step()) == SQLITE_ROW) {
          if (!row(q)) {
            return Status::ok();
          }
        }
        return connection_.status(rc, context);
      },
      params...);
}

template <typename Row, typename... Params>
Status SqliteStorage::first_row(const char* sql, std::string_view context, std::string_view absent,
                                const Row& row, const Params&... params) {
  return with_query(
      sql,
      [&](Query& q) {
        const int rc = q.step();
        if (rc == SQLITE_ROW) {
          return row(q);
        }
        const Status st = connection_.status(rc, context);
        return st.is_ok() ? fail(StatusCode::kNotFound, absent) : st;
      },
      params...);
}

// ---- Configuration ----------------------------------------------------------------------------

Status read_config(const sdk::ConfigView& config, std::string_view data_dir,
                   SqliteConfig& out) noexcept {
  return guarded([&]() -> Status {
    // Read every key first, so that all of them count as known even when one is wrong.
    const auto path = config.get_string_or("path", "entre.db");
    const auto synchronous = config.get_string_or("synchronous", "full");
    const auto busy = config.get_int_or("busy_timeout_ms", 5000);
    if (!path.is_ok()) {
      return path.status;
    }
    if (!synchronous.is_ok()) {
      return synchronous.status;
    }
    if (!busy.is_ok()) {
      return busy.status;
    }
    if (path.value.empty()) {
      return config_error(config, "path", "must not be empty");
    }
    const std::filesystem::path file(std::string(path.value.str()));
    out.path = file.is_absolute() ? file.string()
                                  : (std::filesystem::path(std::string(data_dir)) / file).string();
    if (synchronous.value.str() == "full") {
      out.synchronous_full = true;
    } else if (synchronous.value.str() == "normal") {
      out.synchronous_full = false;
    } else {
      return config_error(config, "synchronous", "must be \"full\" or \"normal\"");
    }
    if (busy.value < 0 || busy.value > kMaxBusyTimeoutMs) {
      return config_error(config, "busy_timeout_ms", "must be between 0 and 600000");
    }
    out.busy_timeout_ms = static_cast<int>(busy.value);
    return Status::ok();
  });
}

// ---- Opening ----------------------------------------------------------------------------------

SqliteStorage::SqliteStorage(SqliteConfig config, sdk::Host* host,
                             std::span<const Migration> migrations)
    : config_(std::move(config)), host_(host), migrations_(migrations) {}

void* SqliteStorage::query_interface(sdk::InterfaceId id) noexcept {
  if (id == sdk::InterfaceId::kMessagePathsV1) {
    return static_cast<sdk::MessagePaths*>(this);
  }
  return id == sdk::InterfaceId::kStorageV1 ? static_cast<sdk::Storage*>(this) : nullptr;
}

void SqliteStorage::log(sdk::LogLevel level, std::string_view text) noexcept {
  if (host_ != nullptr) {
    host_->log(level, sdk::StringView(text));
  }
}

Status SqliteStorage::open(sdk::StringView suite_id) noexcept {
  return guarded([&]() -> Status {
    const std::string_view suite = suite_id.data == nullptr ? std::string_view() : suite_id.str();
    if (!sdk::StorageArgChecks::suite_id_well_formed(suite)) {
      return fail(StatusCode::kInvalidArgument,
                  "sqlite: suite id must be 1 to 32 printable ASCII characters");
    }
    if (connection_.is_open()) {
      if (suite != suite_id_) {
        return fail(StatusCode::kPermissionDenied, "sqlite: store belongs to suite '" + suite_id_ +
                                                       "', not '" + std::string(suite) + "'");
      }
      return Status::ok();
    }
    const Status st = open_store(suite);
    if (!st.is_ok()) {
      connection_.close();
      version_ = 0;
    }
    return st;
  });
}

Status SqliteStorage::open_store(std::string_view suite_id) {
  if (!migrations_well_formed(migrations_)) {
    return fail(StatusCode::kInternal, "sqlite: migration steps are not numbered 1, 2, 3, ...");
  }
  const std::string name = std::filesystem::path(config_.path).filename().string();
  // The file is read first by the journal_mode pragma: a file that is not a database fails there.
  std::string mode;
  Status st = connection_.open(config_.path, config_.busy_timeout_ms);
  if (st.is_ok()) {
    st = connection_.query_text("PRAGMA journal_mode = WAL", mode);
  }
  if (!st.is_ok()) {
    const char* reason = connection_.is_open() ? sqlite3_errmsg(connection_.handle())
                                               : sqlite3_errstr(SQLITE_CANTOPEN);
    return fail(st.code, "sqlite: cannot open " + name + ": " + reason);
  }
  if (mode != "wal") {
    return fail(StatusCode::kUnsupported, "sqlite: cannot switch " + name + " to WAL mode");
  }
  st = connection_.exec(config_.synchronous_full
                            ? "PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;"
                              " PRAGMA synchronous = FULL"
                            : "PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;"
                              " PRAGMA synchronous = NORMAL",
                        "pragmas");
  if (!st.is_ok()) {
    return st;
  }
  std::string foreign_keys;
  std::string secure_delete;
  if (!connection_.query_text("PRAGMA foreign_keys", foreign_keys).is_ok() || foreign_keys != "1" ||
      !connection_.query_text("PRAGMA secure_delete", secure_delete).is_ok() ||
      secure_delete != "1") {
    return fail(StatusCode::kUnsupported,
                "sqlite: this SQLite cannot enable foreign keys and secure_delete");
  }
  st = connection_.run("BEGIN IMMEDIATE", "begin");
  if (!st.is_ok()) {
    return st;
  }
  st = check_and_migrate(suite_id);
  if (st.is_ok()) {
    st = connection_.run("COMMIT", "commit");
  }
  if (!st.is_ok()) {
    (void)connection_.run("ROLLBACK", "rollback");
    return st;
  }
  suite_id_ = std::string(suite_id);
  return Status::ok();
}

// Runs inside open()'s transaction: creates meta on a new file, refuses another suite or a newer
// schema, and applies the missing migration steps.
Status SqliteStorage::check_and_migrate(std::string_view suite_id) {
  sqlite3_stmt* stmt = nullptr;
  Status st =
      prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'meta'", &stmt);
  if (!st.is_ok()) {
    return st;
  }
  int64_t has_meta = 0;
  {
    Query q(connection_.handle(), stmt);
    const int rc = q.step();
    if (rc != SQLITE_ROW) {
      return connection_.status(rc, "read schema");
    }
    has_meta = q.column_int(0);
  }

  uint32_t version = 0;
  if (has_meta == 0) {
    st = prepare("SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'", &stmt);
    if (!st.is_ok()) {
      return st;
    }
    {
      Query q(connection_.handle(), stmt);
      const int rc = q.step();
      if (rc != SQLITE_ROW) {
        return connection_.status(rc, "read schema");
      }
      if (q.column_int(0) != 0) {
        return fail(StatusCode::kCorrupt,
                    "sqlite: the file is an SQLite database but not an Entre store (no meta)");
      }
    }
    st = connection_.exec(kMetaTableSql, "create meta");
    if (!st.is_ok()) {
      return st;
    }
    st = prepare("INSERT INTO meta (id, schema_version, suite_id) VALUES (1, 0, ?1)", &stmt);
    if (!st.is_ok()) {
      return st;
    }
    Query q(connection_.handle(), stmt);
    q.bind_text(1, sdk::StringView(suite_id));
    st = q.run("write meta");
    if (!st.is_ok()) {
      return st;
    }
  } else {
    st = prepare("SELECT schema_version, suite_id FROM meta WHERE id = 1", &stmt);
    if (!st.is_ok()) {
      return st;
    }
    Query q(connection_.handle(), stmt);
    const int rc = q.step();
    if (rc != SQLITE_ROW) {
      st = connection_.status(rc, "read meta");
      return st.is_ok() ? fail(StatusCode::kCorrupt, "sqlite: the meta table is empty") : st;
    }
    const int64_t stored_version = q.column_int(0);
    const std::string stored_suite(q.column_text(1).str());
    if (stored_version < 0 || stored_version > UINT32_MAX ||
        !sdk::StorageArgChecks::suite_id_well_formed(stored_suite)) {
      return fail(StatusCode::kCorrupt, "sqlite: the meta table holds malformed values");
    }
    if (stored_suite != suite_id) {
      return fail(StatusCode::kPermissionDenied, "sqlite: store belongs to suite '" + stored_suite +
                                                     "', not '" + std::string(suite_id) + "'");
    }
    version = static_cast<uint32_t>(stored_version);
  }

  const uint32_t latest = latest_version(migrations_);
  if (version > latest) {
    return fail(StatusCode::kUnsupported, "sqlite: schema version " + std::to_string(version) +
                                              " is newer than this plugin's " +
                                              std::to_string(latest) + "; upgrade the plugin");
  }
  const uint32_t from = version;
  for (const Migration& step : migrations_) {
    if (step.to_version <= version) {
      continue;
    }
    st = connection_.exec(step.sql, "migrate to " + std::to_string(step.to_version));
    if (!st.is_ok()) {
      return st;
    }
    version = step.to_version;
  }
  if (version != from) {
    st = prepare("UPDATE meta SET schema_version = ?1 WHERE id = 1", &stmt);
    if (!st.is_ok()) {
      return st;
    }
    Query q(connection_.handle(), stmt);
    q.bind_int(1, version);
    st = q.run("write meta");
    if (!st.is_ok()) {
      return st;
    }
    log(sdk::LogLevel::kInfo, "sqlite: schema migrated from version " + std::to_string(from) +
                                  " to " + std::to_string(version));
  }
  version_ = version;
  return Status::ok();
}

Status SqliteStorage::ready() const noexcept {
  if (!connection_.is_open()) {
    return closed();
  }
  if (in_transaction_ && !connection_.in_transaction()) {
    return fail(StatusCode::kUnavailable,
                "sqlite: the transaction was abandoned after an error; call rollback()");
  }
  return Status::ok();
}

sdk::Result<SqliteStorage::CachedContact*> SqliteStorage::cached_contact(sdk::ByteView public_key) {
  using R = sdk::Result<CachedContact*>;
  std::string key(reinterpret_cast<const char*>(public_key.data), public_key.size);
  if (const auto it = contacts_.find(key); it != contacts_.end()) {
    return R::of(&it->second);
  }
  int64_t row = 0;
  const Status st = first_row(
      "SELECT id FROM contacts WHERE public_key = ?1", "find contact", "sqlite: no such contact",
      [&](Query& q) {
        row = q.column_int(0);
        return Status::ok();
      },
      public_key);
  if (!st.is_ok()) {
    return {st, nullptr};
  }
  return R::of(&contacts_.emplace(std::move(key), CachedContact{row, std::nullopt}).first->second);
}

sdk::Result<int64_t> SqliteStorage::contact_row(sdk::ByteView public_key) {
  const sdk::Result<CachedContact*> cached = cached_contact(public_key);
  return cached.is_ok() ? sdk::Result<int64_t>::of(cached.value->row)
                        : sdk::Result<int64_t>{cached.status, 0};
}

sdk::Result<SqliteStorage::CachedContact*>
SqliteStorage::contact_with_order(sdk::ByteView public_key) {
  const sdk::Result<CachedContact*> cached = cached_contact(public_key);
  if (!cached.is_ok() || cached.value->last_order) {
    return cached;
  }
  CachedContact& contact = *cached.value;
  const Status st = first_row(
      "SELECT coalesce(max(conv_order), 0) FROM messages WHERE contact_id = ?1", "last order",
      "sqlite: no last order",
      [&](Query& q) {
        contact.last_order = q.column_int(0);
        return Status::ok();
      },
      contact.row);
  return st.is_ok() ? cached : sdk::Result<CachedContact*>{st, nullptr};
}

// ---- Transactions -----------------------------------------------------------------------------

Status SqliteStorage::begin() noexcept {
  return guarded([&]() -> Status {
    if (!connection_.is_open()) {
      return closed();
    }
    if (in_transaction_) {
      return fail(StatusCode::kInvalidArgument, "sqlite: a transaction is already open");
    }
    const Status st = connection_.run("BEGIN IMMEDIATE", "begin");
    in_transaction_ = st.is_ok();
    return st;
  });
}

Status SqliteStorage::commit() noexcept {
  return guarded([&]() -> Status {
    if (!connection_.is_open()) {
      return closed();
    }
    if (!in_transaction_) {
      return fail(StatusCode::kInvalidArgument, "sqlite: commit without begin");
    }
    Status st = ready();
    if (!st.is_ok()) {
      return st;
    }
    st = connection_.run("COMMIT", "commit");
    if (st.is_ok()) {
      in_transaction_ = false;
    }
    return st; // on failure the transaction is still ours to roll back
  });
}

Status SqliteStorage::rollback() noexcept {
  return guarded([&]() -> Status {
    if (!connection_.is_open()) {
      return closed();
    }
    if (!in_transaction_) {
      return fail(StatusCode::kInvalidArgument, "sqlite: rollback without begin");
    }
    contacts_.clear(); // rows and orders taken inside the transaction are undone with it
    Status st = Status::ok();
    if (connection_.in_transaction()) {
      st = connection_.run("ROLLBACK", "rollback");
    }
    if (!connection_.in_transaction()) {
      in_transaction_ = false;
      return Status::ok();
    }
    return st;
  });
}

// ---- Settings ---------------------------------------------------------------------------------

Status SqliteStorage::put_setting(sdk::StringView key, sdk::ByteView value) noexcept {
  return guarded([&]() -> Status {
    const Status st =
        first_error(ready(), kCheck.setting_key(key), kCheck.value(value, "setting value"));
    return !st.is_ok() ? st
                       : execute("INSERT INTO settings (key, value) VALUES (?1, ?2)"
                                 " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                 "put setting", key, value);
  });
}

Status SqliteStorage::get_setting(sdk::StringView key, sdk::ByteSink& value_out) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.setting_key(key));
    if (!st.is_ok()) {
      return st;
    }
    return first_row(
        "SELECT value FROM settings WHERE key = ?1", "get setting", "sqlite: no such setting",
        [&](Query& q) {
          return value_out.append(q.column_blob(0))
                     ? Status::ok()
                     : fail(StatusCode::kBufferTooSmall,
                            "sqlite: the sink refused the setting value");
        },
        key);
  });
}

Status SqliteStorage::remove_setting(sdk::StringView key) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.setting_key(key));
    return !st.is_ok() ? st
                       : execute_one("DELETE FROM settings WHERE key = ?1", "remove setting",
                                     "sqlite: no such setting", key);
  });
}

// ---- Contacts ---------------------------------------------------------------------------------

Status SqliteStorage::put_contact(const sdk::ContactRecord& contact) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact.public_key),
                                  kCheck.value(contact.display_name, "display name"),
                                  kCheck.value(contact.endpoint_hints, "endpoint hints"));
    // An upsert, not INSERT OR REPLACE: replacing would delete the row and cascade.
    return !st.is_ok()
               ? st
               : execute("INSERT INTO contacts (public_key, display_name, flags, added_ms,"
                         " endpoint_hints) VALUES (?1, ?2, ?3, ?4, ?5)"
                         " ON CONFLICT (public_key) DO UPDATE SET"
                         " display_name = excluded.display_name, flags = excluded.flags,"
                         " added_ms = excluded.added_ms, endpoint_hints = excluded.endpoint_hints",
                         "put contact", contact.public_key, contact.display_name, contact.flags,
                         contact.added_ms, contact.endpoint_hints);
  });
}

Status SqliteStorage::get_contact(sdk::ByteView public_key, sdk::ContactVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(public_key));
    if (!st.is_ok()) {
      return st;
    }
    return first_row(
        "SELECT display_name, flags, added_ms, endpoint_hints FROM contacts WHERE public_key = ?1",
        "get contact", "sqlite: no such contact",
        [&](Query& q) {
          const sdk::ContactRecord record{public_key, q.column_text(0),
                                          static_cast<uint32_t>(q.column_int(1)), q.column_int(2),
                                          q.column_blob(3)};
          (void)visitor.visit(record);
          return Status::ok();
        },
        public_key);
  });
}

Status SqliteStorage::remove_contact(sdk::ByteView public_key) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(public_key));
    if (!st.is_ok()) {
      return st;
    }
    contacts_.clear();
    return execute_one("DELETE FROM contacts WHERE public_key = ?1", "remove contact",
                       "sqlite: no such contact", public_key);
  });
}

Status SqliteStorage::list_contacts(sdk::ContactVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = ready();
    if (!st.is_ok()) {
      return st;
    }
    return each_row("SELECT public_key, display_name, flags, added_ms, endpoint_hints"
                    " FROM contacts ORDER BY public_key",
                    "list contacts", [&](Query& q) {
                      const sdk::ContactRecord record{q.column_blob(0), q.column_text(1),
                                                      static_cast<uint32_t>(q.column_int(2)),
                                                      q.column_int(3), q.column_blob(4)};
                      return visitor.visit(record);
                    });
  });
}

// ---- Messages ---------------------------------------------------------------------------------

sdk::Result<uint64_t> SqliteStorage::insert_message(const sdk::MessageRecord& message) noexcept {
  return guarded([&]() -> sdk::Result<uint64_t> {
    Status st = first_error(ready(), kCheck.contact_key(message.contact_key),
                            kCheck.direction(message.direction),
                            kCheck.value(message.sealed_body, "message body"),
                            kCheck.value(message.path, "message path"));
    if (!st.is_ok()) {
      return {st, 0};
    }
    const sdk::Result<CachedContact*> contact = contact_with_order(message.contact_key);
    if (!contact.is_ok()) {
      return {contact.status, 0};
    }
    const int64_t order = *contact.value->last_order + 1;
    // One statement: atomic on its own, so no savepoint is needed.
    st = execute("INSERT INTO messages (id, contact_id, conv_order, direction, state, timestamp_ms,"
                 " local_ms, path, sealed_body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                 "insert message", Id{message.id}, contact.value->row, order, message.direction,
                 message.state, message.timestamp_ms, message.local_ms, message.path,
                 message.sealed_body);
    if (st.code == StatusCode::kAlreadyExists) {
      return sdk::Result<uint64_t>::fail(StatusCode::kAlreadyExists,
                                         "sqlite: a message with this id is stored");
    }
    if (!st.is_ok()) {
      return {st, 0};
    }
    contact.value->last_order = order;
    return sdk::Result<uint64_t>::of(static_cast<uint64_t>(order));
  });
}

namespace {

// The columns every message query selects after its first (id or contact key), in this order.
constexpr const char* kMessageColumns =
    "direction, state, conv_order, timestamp_ms, local_ms, sealed_body, path";

void read_message_columns(const Query& q, int first, sdk::MessageRecord& record) {
  record.direction = static_cast<sdk::MessageDirection>(q.column_int(first));
  record.state = static_cast<uint32_t>(q.column_int(first + 1));
  record.order = static_cast<uint64_t>(q.column_int(first + 2));
  record.timestamp_ms = q.column_int(first + 3);
  record.local_ms = q.column_int(first + 4);
  record.sealed_body = q.column_blob(first + 5);
  record.path = q.column_text(first + 6);
}

} // namespace

Status SqliteStorage::get_message(const uint8_t* id, sdk::MessageVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.id(id));
    if (!st.is_ok()) {
      return st;
    }
    static const std::string sql = std::string("SELECT c.public_key, ") + kMessageColumns +
                                   " FROM messages m JOIN contacts c ON c.id = m.contact_id"
                                   " WHERE m.id = ?1";
    return first_row(
        sql.c_str(), "get message", "sqlite: no such message",
        [&](Query& q) {
          sdk::MessageRecord record{};
          std::memcpy(record.id, id, sdk::kMessageIdBytes);
          record.contact_key = q.column_blob(0);
          read_message_columns(q, 1, record);
          (void)visitor.visit(record);
          return Status::ok();
        },
        Id{id});
  });
}

Status SqliteStorage::set_message_state(const uint8_t* id, uint32_t state) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.id(id));
    return !st.is_ok() ? st
                       : execute_one("UPDATE messages SET state = ?2 WHERE id = ?1",
                                     "set message state", "sqlite: no such message", Id{id}, state);
  });
}

Status SqliteStorage::set_message_path(const uint8_t* id, sdk::StringView path) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.id(id), kCheck.value(path, "message path"));
    return !st.is_ok() ? st
                       : execute_one("UPDATE messages SET path = ?2 WHERE id = ?1",
                                     "set message path", "sqlite: no such message", Id{id}, path);
  });
}

sdk::Result<uint64_t> SqliteStorage::raise_message_states(sdk::ByteView contact_key,
                                                          sdk::MessageDirection direction,
                                                          uint64_t up_to_order,
                                                          uint32_t state) noexcept {
  return guarded([&]() -> sdk::Result<uint64_t> {
    Status st = first_error(ready(), kCheck.contact_key(contact_key), kCheck.direction(direction));
    if (st.is_ok()) {
      st = execute("UPDATE messages SET state = ?4"
                   " WHERE contact_id = (SELECT id FROM contacts WHERE public_key = ?1)"
                   " AND direction = ?2 AND conv_order <= ?3 AND state < ?4",
                   "raise message states", contact_key, direction, up_to_order, state);
    }
    return result_of(st, st.is_ok() ? changes() : 0);
  });
}

Status SqliteStorage::list_messages(sdk::ByteView contact_key, uint64_t before_order,
                                    uint32_t limit, sdk::MessageVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    if (!st.is_ok() || limit == 0) {
      return st;
    }
    static const std::string sql =
        std::string("SELECT id, ") + kMessageColumns +
        " FROM messages WHERE contact_id = (SELECT id FROM contacts WHERE public_key = ?1)"
        " AND conv_order < ?2 ORDER BY conv_order DESC LIMIT ?3";
    return each_row(
        sql.c_str(), "list messages",
        [&](Query& q) {
          sdk::MessageRecord record{};
          copy_id(record.id, q.column_blob(0));
          record.contact_key = contact_key;
          read_message_columns(q, 1, record);
          return visitor.visit(record);
        },
        contact_key, before_order, limit);
  });
}

sdk::Result<uint64_t> SqliteStorage::unread_count(sdk::ByteView contact_key,
                                                  uint32_t read_state) noexcept {
  return guarded([&]() -> sdk::Result<uint64_t> {
    Status st = first_error(ready(), kCheck.contact_key(contact_key));
    uint64_t count = 0;
    if (st.is_ok()) {
      st = first_row(
          "SELECT count(*) FROM messages"
          " WHERE contact_id = (SELECT id FROM contacts WHERE public_key = ?1)"
          " AND direction = 2 AND state < ?2",
          "unread count", "sqlite: unread count returned no row",
          [&](Query& q) {
            count = static_cast<uint64_t>(q.column_int(0));
            return Status::ok();
          },
          contact_key, read_state);
    }
    return result_of(st, count);
  });
}

// ---- Outbox -----------------------------------------------------------------------------------

Status SqliteStorage::outbox_put(const sdk::OutboxRecord& entry) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(entry.contact_key),
                                  kCheck.value(entry.sealed_frame, "outbox frame"));
    if (!st.is_ok()) {
      return st;
    }
    const sdk::Result<int64_t> contact = contact_row(entry.contact_key);
    if (!contact.is_ok()) {
      return contact.status;
    }
    const Status put =
        execute("INSERT INTO outbox (id, contact_id, queued_ms, sealed_frame)"
                " VALUES (?1, ?2, ?3, ?4)",
                "outbox put", Id{entry.id}, contact.value, entry.queued_ms, entry.sealed_frame);
    return put.code == StatusCode::kAlreadyExists
               ? fail(StatusCode::kAlreadyExists, "sqlite: an outbox entry with this id is queued")
               : put;
  });
}

Status SqliteStorage::outbox_remove(const uint8_t* id) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.id(id));
    return !st.is_ok() ? st
                       : execute_one("DELETE FROM outbox WHERE id = ?1", "outbox remove",
                                     "sqlite: no such outbox entry", Id{id});
  });
}

Status SqliteStorage::outbox_list(sdk::OutboxVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = ready();
    if (!st.is_ok()) {
      return st;
    }
    return each_row("SELECT o.id, c.public_key, o.queued_ms, o.sealed_frame FROM outbox o"
                    " JOIN contacts c ON c.id = o.contact_id ORDER BY o.queue_order",
                    "outbox list", [&](Query& q) {
                      sdk::OutboxRecord record{};
                      copy_id(record.id, q.column_blob(0));
                      record.contact_key = q.column_blob(1);
                      record.queued_ms = q.column_int(2);
                      record.sealed_frame = q.column_blob(3);
                      return visitor.visit(record);
                    });
  });
}

Status SqliteStorage::outbox_list_for(sdk::ByteView contact_key,
                                      sdk::OutboxVisitor& visitor) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    if (!st.is_ok()) {
      return st;
    }
    return each_row(
        "SELECT id, queued_ms, sealed_frame FROM outbox"
        " WHERE contact_id = (SELECT id FROM contacts WHERE public_key = ?1) ORDER BY queue_order",
        "outbox list",
        [&](Query& q) {
          sdk::OutboxRecord record{};
          copy_id(record.id, q.column_blob(0));
          record.contact_key = contact_key;
          record.queued_ms = q.column_int(1);
          record.sealed_frame = q.column_blob(2);
          return visitor.visit(record);
        },
        contact_key);
  });
}

// ---- Dedupe set -------------------------------------------------------------------------------

Status SqliteStorage::dedupe_insert(sdk::ByteView contact_key, const uint8_t* id,
                                    int64_t received_ms) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key), kCheck.id(id));
    if (!st.is_ok()) {
      return st;
    }
    const sdk::Result<int64_t> contact = contact_row(contact_key);
    if (!contact.is_ok()) {
      return contact.status;
    }
    const Status put =
        execute("INSERT INTO dedupe (contact_id, id, received_ms) VALUES (?1, ?2, ?3)",
                "dedupe insert", contact.value, Id{id}, received_ms);
    return put.code == StatusCode::kAlreadyExists
               ? fail(StatusCode::kAlreadyExists, "sqlite: this message was received before")
               : put;
  });
}

sdk::Result<uint64_t> SqliteStorage::dedupe_prune(int64_t older_than_ms) noexcept {
  return guarded([&]() -> sdk::Result<uint64_t> {
    Status st = ready();
    if (st.is_ok()) {
      st = execute("DELETE FROM dedupe WHERE received_ms < ?1", "dedupe prune", older_than_ms);
    }
    return result_of(st, st.is_ok() ? changes() : 0);
  });
}

// ---- Sessions ---------------------------------------------------------------------------------

Status SqliteStorage::put_session(sdk::ByteView contact_key, sdk::ByteView sealed_state) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key),
                                  kCheck.value(sealed_state, "session state"));
    if (!st.is_ok()) {
      return st;
    }
    const sdk::Result<int64_t> contact = contact_row(contact_key);
    if (!contact.is_ok()) {
      return contact.status;
    }
    return execute("INSERT INTO sessions (contact_id, sealed_state) VALUES (?1, ?2)"
                   " ON CONFLICT (contact_id) DO UPDATE SET sealed_state = excluded.sealed_state",
                   "put session", contact.value, sealed_state);
  });
}

Status SqliteStorage::get_session(sdk::ByteView contact_key,
                                  sdk::ByteSink& sealed_state_out) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    if (!st.is_ok()) {
      return st;
    }
    return first_row(
        "SELECT s.sealed_state FROM sessions s JOIN contacts c ON c.id = s.contact_id"
        " WHERE c.public_key = ?1",
        "get session", "sqlite: no session for this contact",
        [&](Query& q) {
          return sealed_state_out.append(q.column_blob(0))
                     ? Status::ok()
                     : fail(StatusCode::kBufferTooSmall, "sqlite: the sink refused the session");
        },
        contact_key);
  });
}

Status SqliteStorage::remove_session(sdk::ByteView contact_key) noexcept {
  return guarded([&]() -> Status {
    const Status st = first_error(ready(), kCheck.contact_key(contact_key));
    return !st.is_ok()
               ? st
               : execute_one("DELETE FROM sessions"
                             " WHERE contact_id = (SELECT id FROM contacts"
                             " WHERE public_key = ?1)",
                             "remove session", "sqlite: no session for this contact", contact_key);
  });
}

// ---- Diagnostics ------------------------------------------------------------------------------

Status SqliteStorage::integrity_check() noexcept {
  return guarded([&]() -> Status {
    if (!connection_.is_open()) {
      return closed();
    }
    return run_integrity_check(connection_);
  });
}

ConnectionPragmas SqliteStorage::pragmas() noexcept {
  ConnectionPragmas out;
  if (!connection_.is_open()) {
    return out;
  }
  try {
    std::string text;
    const auto number = [&](const char* sql) -> int64_t {
      return connection_.query_text(sql, text).is_ok() ? std::stoll(text) : -1;
    };
    if (connection_.query_text("PRAGMA journal_mode", text).is_ok()) {
      out.journal_mode = text;
    }
    out.secure_delete = number("PRAGMA secure_delete");
    out.foreign_keys = number("PRAGMA foreign_keys");
    out.synchronous = number("PRAGMA synchronous");
    out.busy_timeout_ms = number("PRAGMA busy_timeout");
  } catch (...) {
    // Leave the fields that failed at -1.
  }
  return out;
}

Status integrity_check_file(const std::string& path) noexcept {
  return guarded([&]() -> Status {
    Connection connection;
    const Status st = connection.open(path, 1000, true);
    if (!st.is_ok()) {
      return st;
    }
    return run_integrity_check(connection);
  });
}

} // namespace entre::plugins::sqlite
