// storage-memory: the SDK Storage interface in process memory, for tests and ephemeral bots.
//
// Same semantics as storage-sqlite, nothing on disk: the data lives as long as the object. Ordered
// standard containers stand in for the tables and indexes. Every write is atomic on its own: it
// either completes or leaves the containers as they were (allocation failures included). Every
// write also records an undo step; inside a transaction rollback() runs the steps in reverse and
// commit() drops them, so both cost what the transaction wrote, not the size of the store. The
// schema version is always kMemorySchemaVersion. No configuration.
#pragma once

#include <entre/sdk/plugin.hpp>
#include <entre/sdk/storage.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace entre::plugins::memory {

inline constexpr uint32_t kMemorySchemaVersion = 1;

class MemoryStorage final : public sdk::Storage, public sdk::MessagePaths, public sdk::Plugin {
 public:
  MemoryStorage() = default;

  [[nodiscard]] sdk::Status open(sdk::StringView suite_id) noexcept override;
  [[nodiscard]] uint32_t schema_version() const noexcept override;

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

 private:
  ~MemoryStorage() override = default;

  using Bytes = std::vector<uint8_t>;
  using MessageId = std::array<uint8_t, sdk::kMessageIdBytes>;

  struct Contact {
    std::string display_name;
    uint32_t flags = 0;
    int64_t added_ms = 0;
    Bytes endpoint_hints;
    uint64_t last_order = 0; // the order of the conversation's latest message
  };
  struct Message {
    Bytes contact_key;
    sdk::MessageDirection direction = sdk::MessageDirection::kOutgoing;
    uint32_t state = 0;
    uint64_t order = 0;
    int64_t timestamp_ms = 0;
    int64_t local_ms = 0;
    Bytes sealed_body;
    std::string path;
  };
  struct OutboxEntry {
    MessageId id{};
    Bytes contact_key;
    Bytes sealed_frame;
    int64_t queued_ms = 0;
  };
  using Conversation = std::map<uint64_t, MessageId>; // order -> id, never empty
  // The tables.
  struct Data {
    std::map<std::string, Bytes> settings;
    std::map<Bytes, Contact> contacts; // byte order of the key: list_contacts() order
    std::map<MessageId, Message> messages;
    std::map<Bytes, Conversation> conversations;           // contact -> its messages
    std::map<uint64_t, OutboxEntry> outbox;                // queue order -> entry
    std::map<MessageId, uint64_t> outbox_ids;              // id -> queue order
    std::map<std::pair<Bytes, MessageId>, int64_t> dedupe; // (contact, id) -> received_ms
    std::map<Bytes, Bytes> sessions;
  };
  // What rollback() needs to undo one write: `undo` erases the entries the write added and puts
  // back the fields and counters it changed; `removed` holds the entries it removed or replaced,
  // moved out of data_ whole (map nodes) so that putting them back allocates nothing.
  struct UndoStep {
    std::function<void()> undo; // may be empty
    Data removed;
  };

  [[nodiscard]] sdk::Status ready() const noexcept;
  template <typename F> auto write(const F& body) noexcept -> decltype(body());
  Data& log_undo(std::function<void()> undo = {});
  void move_contact_data(const Bytes& key, Data& removed) noexcept;
  [[nodiscard]] sdk::Status visit_message(const MessageId& id, const Message& message,
                                          sdk::MessageVisitor& visitor,
                                          bool* keep_going) const noexcept;

  std::optional<std::string> suite_id_; // set by the first successful open()
  Data data_;
  uint64_t next_queue_order_ = 1;
  bool in_transaction_ = false;
  std::vector<UndoStep> undo_log_; // the open transaction's writes, oldest first
};

} // namespace entre::plugins::memory
