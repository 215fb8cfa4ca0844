// A thin RAII layer over the SQLite C API: one connection, its cached prepared statements, and the
// mapping of SQLite result codes to SDK Status codes.
//
// Nothing here throws except std::bad_alloc from the statement cache; callers at the SDK boundary
// catch it. Status messages read "sqlite: <context>: <SQLite's message>" and never contain stored
// values.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace entre::plugins::sqlite {

// The Status for SQLite result code `rc` (extended codes understood), with sqlite3_errmsg(db) when
// `db` is not null and sqlite3_errstr(rc) otherwise. kOk for SQLITE_OK, SQLITE_ROW, SQLITE_DONE.
[[nodiscard]] sdk::Status sqlite_status(sqlite3* db, int rc, std::string_view context) noexcept;

// One use of a cached prepared statement: bind, step, read columns. The statement is reset and
// its bindings cleared when the Query ends, so the next user finds it clean. A bind that fails is
// remembered and reported by the first step().
class Query {
 public:
  Query(sqlite3* db, sqlite3_stmt* stmt) noexcept : db_(db), stmt_(stmt) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // Parameters are numbered from 1, as in SQLite.
  void bind_int(int index, int64_t value) noexcept;
  void bind_uint(int index, uint64_t value) noexcept; // clamps at INT64_MAX
  void bind_blob(int index, sdk::ByteView value) noexcept;
  void bind_blob(int index, const uint8_t* data, std::size_t size) noexcept;
  void bind_text(int index, sdk::StringView value) noexcept;

  // SQLITE_ROW, SQLITE_DONE or an error code.
  [[nodiscard]] int step() noexcept;
  // step() expecting SQLITE_DONE; any other result as a Status.
  [[nodiscard]] sdk::Status run(std::string_view context) noexcept;

  // Columns are numbered from 0. Views stay valid until the next step() or the end of the Query.
  [[nodiscard]] int64_t column_int(int index) const noexcept;
  [[nodiscard]] sdk::ByteView column_blob(int index) const noexcept;
  [[nodiscard]] sdk::StringView column_text(int index) const noexcept;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// One SQLite connection and its statement cache. Not thread-safe: one call at a time, which is what
// the Storage contract promises.
class Connection {
 public:
  Connection() = default;
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Opens the database file at `path` with extended result codes, the defensive flags and the
  // busy timeout. Unless `read_only`, a missing file is created, with mode 0600.
  [[nodiscard]] sdk::Status open(const std::string& path, int busy_timeout_ms,
                                 bool read_only = false);
  // Finalizes every cached statement, rolls back an open transaction and closes the connection.
  void close() noexcept;
  [[nodiscard]] bool is_open() const noexcept { return db_ != nullptr; }
  [[nodiscard]] sqlite3* handle() const noexcept { return db_; }

  // Runs SQL text of one or more statements that return no rows we need (DDL, pragmas, BEGIN).
  [[nodiscard]] sdk::Status exec(const char* sql, std::string_view context) noexcept;
  // Runs one statement that returns no rows, prepared once and reused (for the hot paths:
  // SAVEPOINT, RELEASE, BEGIN, COMMIT).
  [[nodiscard]] sdk::Status run(const char* sql, std::string_view context) noexcept;
  // Prepares `sql` once and reuses it. On failure *out is null and the Status says why.
  [[nodiscard]] sdk::Status prepare(const std::string& sql, sqlite3_stmt** out);
  // The first column of the first row of `sql` as text (e.g. "PRAGMA journal_mode"), in `out`.
  [[nodiscard]] sdk::Status query_text(const std::string& sql, std::string& out);
  // True when the connection is inside a transaction (SQLite's own view).
  [[nodiscard]] bool in_transaction() const noexcept {
    return db_ != nullptr && sqlite3_get_autocommit(db_) == 0;
  }
  [[nodiscard]] sdk::Status status(int rc, std::string_view context) const noexcept {
    return sqlite_status(db_, rc, context);
  }

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, Finalize>> statements_;
};

// The result of PRAGMA integrity_check on an open connection: kOk when SQLite reports "ok",
// otherwise kCorrupt with SQLite's first complaint (or the error that stopped the check).
[[nodiscard]] sdk::Status run_integrity_check(Connection& connection);

} // namespace entre::plugins::sqlite
