#include "schema.hpp"

namespace entre::plugins::sqlite {

namespace {

// Version 1. Contacts own everything else through `contact_id` (ON DELETE CASCADE), so removing a
// contact removes its messages, outbox entries, dedupe entries and session in one statement.
// Identifiers are rowid aliases; public keys and message ids are unique BLOBs.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE settings (
  key   TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) STRICT;

CREATE TABLE contacts (
  id             INTEGER PRIMARY KEY,
  public_key     BLOB NOT NULL UNIQUE,
  display_name   TEXT NOT NULL,
  flags          INTEGER NOT NULL,
  added_ms       INTEGER NOT NULL,
  endpoint_hints BLOB NOT NULL,
  last_order     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE messages (
  id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
  contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  conv_order   INTEGER NOT NULL,
  direction    INTEGER NOT NULL CHECK (direction IN (1, 2)),
  state        INTEGER NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  local_ms     INTEGER NOT NULL,
  path         TEXT NOT NULL,
  sealed_body  BLOB NOT NULL
) STRICT;
CREATE UNIQUE INDEX messages_by_conversation ON messages (contact_id, conv_order);
CREATE INDEX messages_by_state ON messages (contact_id, direction, state);

CREATE TABLE outbox (
  queue_order  INTEGER PRIMARY KEY,
  id           BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
  contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  queued_ms    INTEGER NOT NULL,
  sealed_frame BLOB NOT NULL
) STRICT;
CREATE INDEX outbox_by_contact ON outbox (contact_id, queue_order);

CREATE TABLE dedupe (
  contact_id  INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  id          BLOB NOT NULL CHECK (length(id) = 16),
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (contact_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX dedupe_by_age ON dedupe (received_ms);

CREATE TABLE sessions (
  contact_id   INTEGER PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
  sealed_state BLOB NOT NULL
) STRICT;
)sql";

// Version 2. The conversation's next order is no longer kept in the contact's row (that wrote
// the contact on every message); it is the largest conv_order stored plus one.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE contacts DROP COLUMN last_order;
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
};

} // namespace

std::span<const Migration> schema_migrations() noexcept { return kMigrations; }

uint32_t latest_version(std::span<const Migration> steps) noexcept {
  return steps.empty() ? 0 : steps.back().to_version;
}

bool migrations_well_formed(std::span<const Migration> steps) noexcept {
  uint32_t expected = 1;
  for (const Migration& step : steps) {
    if (step.to_version != expected || step.sql == nullptr) {
      return false;
    }
    ++expected;
  }
  return true;
}

} // namespace entre::plugins::sqlite
