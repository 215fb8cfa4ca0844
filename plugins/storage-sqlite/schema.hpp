// The storage-sqlite schema: the meta table, and the ordered list of forward migrations.
//
// `meta` is the bootstrap and never changes shape: one row holding the schema version and the
// crypto suite id, readable by every version of this plugin, so that an old plugin can name what
// it refuses. Everything else is created and changed by migrations, applied oldest first, all of
// them inside the one transaction that open() holds. To change the schema, append a step whose
// to_version is one more than the last; never edit a step that has shipped. docs/protocol.md
// ("Storage: the SQLite schema") describes the current tables.
#pragma once

#include <cstdint>
#include <span>

namespace entre::plugins::sqlite {

struct Migration {
  uint32_t to_version; // the version the store has after this step
  const char* sql;     // one or more statements
};

inline constexpr const char* kMetaTableSql = "CREATE TABLE meta ("
                                             " id INTEGER PRIMARY KEY CHECK (id = 1),"
                                             " schema_version INTEGER NOT NULL,"
                                             " suite_id TEXT NOT NULL"
                                             ") STRICT";

// The schema's history, oldest first.
[[nodiscard]] std::span<const Migration> schema_migrations() noexcept;

// The version a store has after every step of `steps` (0 when there are none).
[[nodiscard]] uint32_t latest_version(std::span<const Migration> steps) noexcept;

// True when the steps' versions are 1, 2, 3, ... in order.
[[nodiscard]] bool migrations_well_formed(std::span<const Migration> steps) noexcept;

} // namespace entre::plugins::sqlite
