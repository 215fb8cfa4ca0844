// Storage plugins: settings, contacts, messages, outbox, dedupe set and sessions, with
// transactions and a recorded schema version and crypto suite.
//
// Storage never sees plaintext message bodies or secrets: the kernel seals bodies, outbox frames,
// ratchet states and the identity secret with the crypto suite's at-rest key before they arrive
// here, and storage keeps them as opaque bytes. Metadata needed for indexing (contact key, message
// id, order, timestamps, delivery state) is stored in clear.
//
// Data model
// - A contact, keyed by its public key (the user id), is the root of everything stored for it: its
//   conversation's messages, its outbox entries, its dedupe entries and its session. Writing any of
//   these for a contact that does not exist fails with kNotFound; remove_contact() removes them all
//   with the contact. put_contact() on an existing key updates the contact and keeps the rest.
// - Message ids (kMessageIdBytes) are unique across the store, not per conversation. The kernel
//   makes outgoing ids from the send time (48-bit milliseconds, big-endian, first) and 80 random
//   bits (docs/protocol.md), so the ids of one sender mostly arrive in increasing order and an
//   index keyed by id mostly grows at its end; a plugin may rely on that for speed, never for
//   correctness. An incoming message whose id is already stored is refused with kAlreadyExists and
//   the kernel decides what to do with it.
// - Each conversation has a stable order: insert_message() gives the first message of a contact
//   order 1 and each later one the previous order + 1. A failed insert consumes no order, and
//   rollback() gives back the orders its transaction assigned; otherwise an order is never given
//   twice while the contact exists.
// - Message states are uint32 values defined by the kernel, not by this header. Storage stores them
//   as given and only ever compares them numerically: unread_count() counts incoming messages whose
//   state is below the value the caller names as "read", and raise_message_states() only raises.
//   The kernel must therefore number its states in the order a message goes through them.
// - Settings are opaque bytes under a UTF-8 key (the sealed identity, the at-rest salt, KDF
//   parameters, preferences). Storage keeps its own bookkeeping (schema version, suite id)
//   elsewhere; no setting key is reserved.
//
// Contract
// - Opening: the factory only reads configuration. open(suite_id) opens the store (creating it if
//   needed) and must succeed before any other call; until then every other call fails with
//   kClosed. On first use open() records the crypto suite id and the schema version with the data.
//   Every later open, on this object or on a new one over the same data, compares them: another
//   suite id fails with kPermissionDenied and a message naming both ids; data of a newer schema
//   fails with kUnsupported; data of an older schema is migrated inside one transaction (all steps
//   or none) before open() returns. Calling open() again on an open object with the same suite id
//   changes nothing and returns kOk.
// - Threading: calls may block on disk, so the kernel makes them from its messenger thread, never
//   from the event loop, one call at a time per Storage object (a plugin must not assume it is
//   always the same thread). A
//   visitor must not call back into the storage object.
// - Ownership: views passed in are borrowed for the duration of the call; storage copies what it
//   keeps. Visitors receive views that are valid only during visit(); visit() returning false stops
//   the iteration and the call still returns kOk. Values of unknown size are written to a
//   caller-owned ByteSink; a sink that refuses the size gives kBufferTooSmall.
// - Atomicity: every write is atomic on its own, and a write that fails changes nothing. begin()
//   opens a transaction; commit() makes all of its writes durable together, rollback() undoes all
//   of them (every kind of write, and the orders it assigned). Inside a transaction, reads see the
//   transaction's own writes, and a write that fails leaves the transaction open and usable.
//   Transactions do not nest: begin() inside a transaction, and commit() or rollback() outside
//   one, fail with kInvalidArgument. Destroying the object with a transaction open rolls it back.
//   If a write inside a transaction fails with kIoError or kUnavailable the backend may have
//   abandoned the transaction: then every call but rollback() fails with kUnavailable until the
//   caller calls rollback(), which succeeds.
// - Durability: once commit() (or a write outside a transaction) returns kOk, the data survives a
//   crash of the process; whether it also survives a power loss is the plugin's configuration
//   (documented by the plugin). A crash never leaves part of a transaction.
// - Limits: message and outbox ids are kMessageIdBytes; contact keys are 1 to kMaxContactKeyBytes;
//   setting keys are 1 to kMaxSettingKeyBytes; suite ids are 1 to kMaxSuiteIdBytes of printable
//   ASCII without spaces; every other value (bodies, frames, sessions, setting values, names,
//   paths, hints) is 0 to kMaxStoredValueBytes bytes, and an empty one is stored and returned as
//   empty, not as absent.
// - Errors: kInvalidArgument for malformed arguments (null id pointer, empty or oversized key,
//   unknown direction) and misuse of transactions; kOutOfRange for a value over its limit;
//   kNotFound for an absent row (including the contact a write refers to); kAlreadyExists for a
//   duplicate id or dedupe entry; kPermissionDenied for data of another suite; kUnsupported for a
//   newer schema; kCorrupt when the data fails an integrity check or is not a store of this
//   plugin; kIoError when the operating system refuses; kUnavailable when another process holds
//   the data longer than the plugin waits; kClosed before open(). Status messages never contain
//   stored data (bodies, keys, names); suite ids are the one exception.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

inline constexpr std::size_t kMessageIdBytes = 16;
inline constexpr std::size_t kMaxContactKeyBytes = 1024;
inline constexpr std::size_t kMaxSettingKeyBytes = 256;
inline constexpr std::size_t kMaxSuiteIdBytes = 32;
inline constexpr uint64_t kMaxStoredValueBytes = uint64_t{16} * 1024 * 1024;

// list_messages(): start from the newest message.
inline constexpr uint64_t kNewestOrder = UINT64_MAX;

struct ContactRecord {
  ByteView public_key;     // the user id; 1 to kMaxContactKeyBytes
  StringView display_name; // UTF-8, may be empty
  uint32_t flags;          // kernel-defined (verified, blocked, ...); stored as given
  int64_t added_ms;        // local clock, Unix epoch milliseconds
  ByteView endpoint_hints; // opaque to storage, may be empty
};

enum class MessageDirection : uint32_t { kOutgoing = 1, kIncoming = 2 };

struct MessageRecord {
  uint8_t id[kMessageIdBytes];
  ByteView contact_key; // the conversation: the contact's public key
  MessageDirection direction;
  uint32_t state;       // kernel-defined delivery state (see "Data model")
  uint64_t order;       // assigned by insert_message(); ignored on input
  int64_t timestamp_ms; // the sender's clock
  int64_t local_ms;     // the local clock when sent (outgoing) or received (incoming)
  ByteView sealed_body; // opaque, may be empty
  StringView path;      // the path the message took ("udp", "lan", "relay:name"), may be empty
};

struct OutboxRecord {
  uint8_t id[kMessageIdBytes]; // unique among outbox entries; usually the message id
  ByteView contact_key;        // the contact to deliver to
  ByteView sealed_frame;       // opaque, may be empty
  int64_t queued_ms;           // local clock
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
  // ---- Opening ------------------------------------------------------------------------------

  // Opens the store for the crypto suite `suite_id` (see "Contract: Opening"). kPermissionDenied
  // for another suite's data, kUnsupported for a newer schema, kCorrupt for a file that is not a
  // store, kInvalidArgument for a malformed suite id.
  [[nodiscard]] virtual Status open(StringView suite_id) noexcept = 0;
  // The schema version of the open store (after any migration); 0 before open().
  [[nodiscard]] virtual uint32_t schema_version() const noexcept = 0;

  // ---- Transactions -------------------------------------------------------------------------

  // One level only; see "Contract: Atomicity".
  [[nodiscard]] virtual Status begin() noexcept = 0;
  [[nodiscard]] virtual Status commit() noexcept = 0;
  [[nodiscard]] virtual Status rollback() noexcept = 0;

  // ---- Settings -----------------------------------------------------------------------------

  // Creates or replaces the value under `key`.
  [[nodiscard]] virtual Status put_setting(StringView key, ByteView value) noexcept = 0;
  // Appends the value under `key` to `value_out`; kNotFound if there is none.
  [[nodiscard]] virtual Status get_setting(StringView key, ByteSink& value_out) noexcept = 0;
  // kNotFound if there is no value under `key`.
  [[nodiscard]] virtual Status remove_setting(StringView key) noexcept = 0;

  // ---- Contacts -----------------------------------------------------------------------------

  // Creates the contact, or updates every field of an existing one (its messages, outbox entries,
  // dedupe entries, session and conversation order are kept).
  [[nodiscard]] virtual Status put_contact(const ContactRecord& contact) noexcept = 0;
  // Visits the contact with this key once; kNotFound if there is none.
  [[nodiscard]] virtual Status get_contact(ByteView public_key,
                                           ContactVisitor& visitor) noexcept = 0;
  // Removes the contact with everything stored for it; kNotFound if there is none.
  [[nodiscard]] virtual Status remove_contact(ByteView public_key) noexcept = 0;
  // Visits every contact in ascending byte order of the public key.
  [[nodiscard]] virtual Status list_contacts(ContactVisitor& visitor) noexcept = 0;

  // ---- Messages -----------------------------------------------------------------------------

  // Stores a new message and returns the order it was given in its conversation. kAlreadyExists
  // if the id is stored, kNotFound if the contact does not exist.
  [[nodiscard]] virtual Result<uint64_t> insert_message(const MessageRecord& message) noexcept = 0;
  // Visits the message with this id once; kNotFound if there is none.
  [[nodiscard]] virtual Status get_message(const uint8_t* id, MessageVisitor& visitor) noexcept = 0;
  // Sets the state of one message to `state` (any value, up or down); kNotFound if absent.
  [[nodiscard]] virtual Status set_message_state(const uint8_t* id, uint32_t state) noexcept = 0;
  // Sets the state of every message of the conversation in `direction` with order <= up_to_order
  // and state < `state` to `state` (e.g. "read up to here"); returns how many changed. A contact
  // without messages, or unknown, changes nothing.
  [[nodiscard]] virtual Result<uint64_t> raise_message_states(ByteView contact_key,
                                                              MessageDirection direction,
                                                              uint64_t up_to_order,
                                                              uint32_t state) noexcept = 0;
  // Visits up to `limit` messages of the conversation with order < before_order, newest first.
  // Page backwards by passing the last order visited; kNewestOrder starts at the newest. An
  // unknown contact, or limit 0, visits nothing.
  [[nodiscard]] virtual Status list_messages(ByteView contact_key, uint64_t before_order,
                                             uint32_t limit, MessageVisitor& visitor) noexcept = 0;
  // The number of incoming messages of the conversation whose state is below `read_state`.
  [[nodiscard]] virtual Result<uint64_t> unread_count(ByteView contact_key,
                                                      uint32_t read_state) noexcept = 0;

  // ---- Outbox -------------------------------------------------------------------------------

  // Appends an entry to the queue; kAlreadyExists if the id is queued, kNotFound if the contact
  // does not exist.
  [[nodiscard]] virtual Status outbox_put(const OutboxRecord& entry) noexcept = 0;
  // kNotFound if no entry has this id.
  [[nodiscard]] virtual Status outbox_remove(const uint8_t* id) noexcept = 0;
  // Visits every entry in queue order (the order of outbox_put() calls that succeeded).
  [[nodiscard]] virtual Status outbox_list(OutboxVisitor& visitor) noexcept = 0;
  // Visits the entries for one contact, in queue order; an unknown contact visits nothing.
  [[nodiscard]] virtual Status outbox_list_for(ByteView contact_key,
                                               OutboxVisitor& visitor) noexcept = 0;

  // ---- Dedupe set ---------------------------------------------------------------------------

  // Records that message `id` from `contact_key` was received at `received_ms` (local clock).
  // kAlreadyExists if that pair is recorded; kNotFound if the contact does not exist. The kernel
  // finds duplicates of stored messages by their id (get_message); this set is for the ids of
  // received messages that are no longer stored, so that a late copy is still recognised.
  [[nodiscard]] virtual Status dedupe_insert(ByteView contact_key, const uint8_t* id,
                                             int64_t received_ms) noexcept = 0;
  // Forgets every entry received before `older_than_ms`; returns how many.
  [[nodiscard]] virtual Result<uint64_t> dedupe_prune(int64_t older_than_ms) noexcept = 0;

  // ---- Sessions (sealed ratchet states, one per contact) -----------------------------------

  // Creates or replaces the contact's session; kNotFound if the contact does not exist.
  [[nodiscard]] virtual Status put_session(ByteView contact_key,
                                           ByteView sealed_state) noexcept = 0;
  // Appends the contact's session to `sealed_state_out`; kNotFound if it has none.
  [[nodiscard]] virtual Status get_session(ByteView contact_key,
                                           ByteSink& sealed_state_out) noexcept = 0;
  // kNotFound if the contact has no session.
  [[nodiscard]] virtual Status remove_session(ByteView contact_key) noexcept = 0;

 protected:
  ~Storage() = default;
};

// SDK 1.2, optional beside Storage (InterfaceId::kMessagePathsV1): the path a stored message took,
// set after it was stored (an outgoing message's path is known once its delivery receipt comes
// back). Same threading and transaction rules as Storage; kNotFound for an unknown id; `path` is
// bounded like any stored value.
class MessagePaths {
 public:
  [[nodiscard]] virtual Status set_message_path(const uint8_t* id, StringView path) noexcept = 0;

 protected:
  ~MessagePaths() = default;
};

} // namespace entre::sdk
