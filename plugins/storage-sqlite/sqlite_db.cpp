#include "sqlite_db.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <mutex>

namespace entre::plugins::sqlite {

namespace {

sdk::StatusCode code_for(int rc) noexcept {
  switch (rc) {
  case SQLITE_CONSTRAINT_FOREIGNKEY:
    return sdk::StatusCode::kNotFound;
  case SQLITE_CONSTRAINT_PRIMARYKEY:
  case SQLITE_CONSTRAINT_UNIQUE:
    return sdk::StatusCode::kAlreadyExists;
  default:
    break;
  }
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_ROW:
  case SQLITE_DONE:
    return sdk::StatusCode::kOk;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
  case SQLITE_NOMEM:
    return sdk::StatusCode::kUnavailable;
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
    return sdk::StatusCode::kCorrupt;
  case SQLITE_IOERR:
  case SQLITE_FULL:
  case SQLITE_CANTOPEN:
  case SQLITE_READONLY:
  case SQLITE_PERM:
  case SQLITE_PROTOCOL:
    return sdk::StatusCode::kIoError;
  case SQLITE_CONSTRAINT:
  case SQLITE_MISMATCH:
    return sdk::StatusCode::kInvalidArgument;
  case SQLITE_TOOBIG:
    return sdk::StatusCode::kOutOfRange;
  case SQLITE_AUTH:
    return sdk::StatusCode::kPermissionDenied;
  default:
    return sdk::StatusCode::kInternal;
  }
}

} // namespace

sdk::Status sqlite_status(sqlite3* db, int rc, std::string_view context) noexcept {
  const sdk::StatusCode code = code_for(rc);
  if (code == sdk::StatusCode::kOk) {
    return sdk::Status::ok();
  }
  const char* reason = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  char text[sdk::kStatusMessageBytes];
  const int length = static_cast<int>(context.size() < 60 ? context.size() : 60);
  (void)std::snprintf(text, sizeof text, "sqlite: %.*s: %s", length, context.data(), reason);
  return sdk::Status::error(code, text);
}

// ---- Query ----------------------------------------------------------------------------------

Query::~Query() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Query::bind_int(int index, int64_t value) noexcept {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
}

void Query::bind_uint(int index, uint64_t value) noexcept {
  bind_int(index,
           value > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(value));
}

void Query::bind_blob(int index, const uint8_t* data, std::size_t size) noexcept {
  // A null pointer would bind SQL NULL; an empty value is a zero-length blob.
  const int rc = size == 0 ? sqlite3_bind_zeroblob(stmt_, index, 0)
                           : sqlite3_bind_blob64(stmt_, index, data, size, SQLITE_STATIC);
  if (bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
}

void Query::bind_blob(int index, sdk::ByteView value) noexcept {
  bind_blob(index, value.data, static_cast<std::size_t>(value.size));
}

void Query::bind_text(int index, sdk::StringView value) noexcept {
  static constexpr char kEmpty[] = "";
  const char* data = value.size == 0 ? kEmpty : value.data;
  const int rc = sqlite3_bind_text64(stmt_, index, data, value.size, SQLITE_STATIC, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
}

int Query::step() noexcept {
  if (bind_rc_ != SQLITE_OK) {
    return bind_rc_;
  }
  return sqlite3_step(stmt_);
}

sdk::Status Query::run(std::string_view context) noexcept {
  const int rc = step();
  if (rc == SQLITE_DONE) {
    return sdk::Status::ok();
  }
  if (rc == SQLITE_ROW) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "sqlite: statement returned a row");
  }
  return sqlite_status(db_, rc, context);
}

int64_t Query::column_int(int index) const noexcept { return sqlite3_column_int64(stmt_, index); }

sdk::ByteView Query::column_blob(int index) const noexcept {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, index));
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr || size <= 0) {
    return {};
  }
  return {data, static_cast<uint64_t>(size)};
}

sdk::StringView Query::column_text(int index) const noexcept {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr || size <= 0) {
    return {};
  }
  return {data, static_cast<uint64_t>(size)};
}

// ---- Connection -----------------------------------------------------------------------------

sdk::Status Connection::open(const std::string& path, int busy_timeout_ms, bool read_only) {
  close();
  if (!read_only) {
    // Create the file ourselves so that it (and the -wal and -shm files SQLite derives from it)
    // is private to the user. An existing file keeps its mode.
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::close(fd);
    }
  }
  // SQLite counts every allocation under one process-wide mutex unless told not to before it
  // initialises; nothing reads those counts, and the lock was 6% of a busy messenger thread.
  // Harmless when SQLite is already initialised (the call is refused and changes nothing).
  static std::once_flag no_memory_statistics;
  std::call_once(no_memory_statistics, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  // The storage contract serialises calls on one object, so SQLite's own per-call locking of the
  // connection is not needed (the multi-thread mode, SQLITE_OPEN_NOMUTEX).
  const int flags = SQLITE_OPEN_NOMUTEX |
                    (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const sdk::Status st = sqlite_status(db, rc, "open");
    sqlite3_close(db); // harmless on null
    return st;
  }
  db_ = db;
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  // Refuse the SQL features that let a crafted file or statement corrupt the database.
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  return sdk::Status::ok();
}

void Connection::close() noexcept {
  statements_.clear();
  if (db_ == nullptr) {
    return;
  }
  if (sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  sqlite3_close(db_);
  db_ = nullptr;
}

sdk::Status Connection::exec(const char* sql, std::string_view context) noexcept {
  if (db_ == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kClosed, "sqlite: not open");
  }
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return sqlite_status(db_, rc, context);
}

sdk::Status Connection::run(const char* sql, std::string_view context) noexcept {
  try {
    sqlite3_stmt* stmt = nullptr;
    const sdk::Status st = prepare(sql, &stmt);
    if (!st.is_ok()) {
      return st;
    }
    const int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return sqlite_status(db_, rc == SQLITE_DONE ? SQLITE_OK : rc, context);
  } catch (const std::bad_alloc&) {
    return sdk::Status::error(sdk::StatusCode::kUnavailable, "sqlite: out of memory");
  }
}

sdk::Status Connection::prepare(const std::string& sql, sqlite3_stmt** out) {
  *out = nullptr;
  if (db_ == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kClosed, "sqlite: not open");
  }
  auto found = statements_.find(sql);
  if (found != statements_.end()) {
    *out = found->second.get();
    return sdk::Status::ok();
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()) + 1,
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK || stmt == nullptr) {
    sqlite3_finalize(stmt);
    return sqlite_status(db_, rc == SQLITE_OK ? SQLITE_INTERNAL : rc, "prepare");
  }
  std::unique_ptr<sqlite3_stmt, Finalize> owned(stmt);
  statements_.emplace(sql, std::move(owned));
  *out = stmt;
  return sdk::Status::ok();
}

sdk::Status Connection::query_text(const std::string& sql, std::string& out) {
  out.clear();
  sqlite3_stmt* stmt = nullptr;
  sdk::Status st = prepare(sql, &stmt);
  if (!st.is_ok()) {
    return st;
  }
  Query query(db_, stmt);
  const int rc = query.step();
  if (rc == SQLITE_ROW) {
    out = query.column_text(0).str();
    return sdk::Status::ok();
  }
  st = status(rc, sql);
  return st.is_ok()
             ? sdk::Status::error(sdk::StatusCode::kInternal, "sqlite: query returned no row")
             : st;
}

sdk::Status run_integrity_check(Connection& connection) {
  sqlite3_stmt* stmt = nullptr;
  sdk::Status st = connection.prepare("PRAGMA integrity_check", &stmt);
  if (!st.is_ok()) {
    return st;
  }
  Query query(connection.handle(), stmt);
  const int rc = query.step();
  if (rc != SQLITE_ROW) {
    st = connection.status(rc, "integrity_check");
    return st.is_ok() ? sdk::Status::error(sdk::StatusCode::kCorrupt,
                                           "sqlite: integrity_check returned nothing")
                      : st;
  }
  const std::string_view first = query.column_text(0).str();
  if (first == "ok") {
    return sdk::Status::ok();
  }
  std::string text = "sqlite: integrity_check: ";
  text += first;
  return sdk::Status::error(sdk::StatusCode::kCorrupt, text);
}

} // namespace entre::plugins::sqlite
