// Storage plugins: identity, contacts, messages, outbox, dedupe set, ratchet states, settings.
//
// Storage never sees plaintext message bodies or secrets: the kernel seals bodies, ratchet states
// and the identity secret with the crypto suite's at-rest key before they arrive here. Metadata
// needed for indexing (contact key, message id, timestamps, delivery state) is stored in clear.
//
// Contract
// - open() records the crypto suite id and the schema version with the data on first use. Opening
//   data written with another suite fails with kPermissionDenied; data of a newer schema fails with
//   kUnsupported; an older schema is migrated inside one transaction before open() returns.
// - Transactions: begin()/commit()/rollback() group writes atomically; every write outside an
// explicit
//   transaction is atomic on its own. A crash never leaves half of a transaction.
// - Threading: calls may block on disk, so the kernel makes them from its worker pool, one call at
// a
//   time per Storage object. No callback re-enters the storage object.
// - Visitors receive views valid only during the callback; returning false stops the iteration.
// - Errors: kNotFound for absent rows, kAlreadyExists for duplicates (dedupe_insert), kCorrupt when
// a
//   file fails its integrity check, kIoError for the operating system's refusals.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

inline constexpr std::size_t kMessageIdBytes = 16;

struct ContactRecord {
  ByteView public_key;
  StringView display_name;
  uint32_t flags; // bit 0 verified, bit 1 blocked
  int64_t added_ms;
  ByteView endpoint_hints; // opaque to storage
};

enum class MessageDirection : uint32_t { kOutgoing = 1, kIncoming = 2 };

struct MessageRecord {
  uint8_t id[kMessageIdBytes];
  ByteView contact_key;
  MessageDirection direction;
  uint32_t state;       // kernel-defined delivery state
  uint64_t order;       // stable order within the conversation, assigned by storage on insert
  int64_t timestamp_ms; // sender's clock
  ByteView sealed_body;
  StringView path; // the path the message took ("udp", "lan", "relay:name")
};

struct OutboxRecord {
  uint8_t id[kMessageIdBytes];
  ByteView contact_key;
  ByteView sealed_frame;
  int64_t queued_ms;
};

class ContactVisitor {
 public:
  virtual bool visit(const ContactRecord& contact) noexcept = 0;

 protected:
  ~ContactVisitor() = default;
};

class MessageVisitor {
 public:
  virtual bool visit(const MessageRecord& message) noexcept = 0;

 protected:
  ~MessageVisitor() = default;
};

class OutboxVisitor {
 public:
  virtual bool visit(const OutboxRecord& entry) noexcept = 0;

 protected:
  ~OutboxVisitor() = default;
};

class Storage {
 public:
  virtual Status open(StringView suite_id) noexcept = 0;
  [[nodiscard]] virtual uint32_t schema_version() const noexcept = 0;

  virtual Status begin() noexcept = 0;
  virtual Status commit() noexcept = 0;
  virtual Status rollback() noexcept = 0;

  virtual Status put_setting(StringView key, ByteView value) noexcept = 0;
  virtual Status get_setting(StringView key, ByteSink& value_out) noexcept = 0;

  virtual Status put_contact(const ContactRecord& contact) noexcept = 0;
  virtual Status remove_contact(ByteView public_key) noexcept = 0;
  virtual Status list_contacts(ContactVisitor& visitor) noexcept = 0;

  // Inserts (order assigned, written back into *order_out) or, for an existing id, replaces state.
  virtual Status put_message(const MessageRecord& message, uint64_t* order_out) noexcept = 0;
  virtual Status set_message_state(const uint8_t* id, uint32_t state) noexcept = 0;
  // Messages of one conversation with order < before_order (UINT64_MAX: newest), newest first.
  virtual Status list_messages(ByteView contact_key, uint64_t before_order, uint32_t limit,
                               MessageVisitor& visitor) noexcept = 0;

  virtual Status outbox_put(const OutboxRecord& entry) noexcept = 0;
  virtual Status outbox_remove(const uint8_t* id) noexcept = 0;
  virtual Status outbox_list(OutboxVisitor& visitor) noexcept = 0;

  // Records that message `id` from `contact_key` was received; kAlreadyExists if it was before.
  virtual Status dedupe_insert(ByteView contact_key, const uint8_t* id) noexcept = 0;

  virtual Status put_session(ByteView contact_key, ByteView sealed_state) noexcept = 0;
  virtual Status get_session(ByteView contact_key, ByteSink& sealed_state_out) noexcept = 0;

 protected:
  ~Storage() = default;
};

} // namespace entre::sdk
