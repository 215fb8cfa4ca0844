// The state behind entre-gui's screens, kept apart from Dear ImGui so that it is tested without a
// window: the contact list, the open conversation, the call panel and the passphrase hint. Each
// model is fed the node's answers and events and says what to draw; none calls the node.
//
// Thread safety: none; the GUI thread owns every model.
#pragma once

#include <entre/calls.hpp>
#include <entre/events.hpp>
#include <entre/messaging.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace entre::gui {

// ---- Contacts -----------------------------------------------------------------------------------

struct ContactRow {
  std::string id;
  std::string name; // the local name, or the start of the id when it has none
  bool online = false;
  std::string path;      // "udp:...", "lan:...", "relay:<host>:<port>"; empty when offline
  std::string path_kind; // "direct", "LAN", "relay" or "" (offline)
  uint32_t rtt_ms = 0;
  uint64_t unread = 0;
  bool verified = false;
  bool blocked = false;
  bool not_added = false; // its node answered but has not added this node (ContactNotAdded)
};

// The kind of path a link is, for people: a relay, the LAN, or direct.
[[nodiscard]] std::string path_kind(const std::string& path);

class ContactList {
 public:
  // The node's contacts (Node::contacts()); the open conversation's contact keeps 0 unread.
  void reset(const std::vector<ContactInfo>& contacts);
  // Presence, refusals (ContactNotAdded) and arriving messages; true when a row changed.
  bool apply(const Event& event);
  // The conversation on screen: its messages count as read as they arrive.
  void set_open(const std::string& id);
  [[nodiscard]] const std::string& open() const { return open_; }
  // Online first, then by name (case-insensitive), then by id.
  [[nodiscard]] const std::vector<ContactRow>& rows() const { return rows_; }
  [[nodiscard]] const ContactRow* find(const std::string& id) const;
  [[nodiscard]] std::string name_of(const std::string& id) const;
  [[nodiscard]] uint64_t total_unread() const;

 private:
  void sort();
  std::vector<ContactRow> rows_;
  std::string open_;
};

// ---- Conversation -------------------------------------------------------------------------------

struct MessageRow {
  std::string id;
  bool outgoing = false;
  MessageState state = MessageState::kQueued;
  uint64_t order = 0;
  int64_t local_ms = 0;
  std::string text;
  std::string path;
};

// Delivery ticks as the conversation shows them: queued "...", sent "✓", delivered "✓✓",
// read "✓✓ read"; incoming messages show none.
[[nodiscard]] std::string ticks(const MessageRow& m);
// "14:03" for today, "3 Mar 14:03" for another day (local time; `now_ms` says which day is today).
[[nodiscard]] std::string time_text(int64_t local_ms, int64_t now_ms);

class Conversation {
 public:
  // Opens `contact`'s conversation with its history (Node::history(), newest first). May be
  // opened empty at once and given its history later with merge(): events in between are kept.
  void open(const std::string& contact, const std::vector<MessageInfo>& newest_first);
  void merge(const std::vector<MessageInfo>& newest_first);
  void close();
  [[nodiscard]] const std::string& contact() const { return contact_; }
  // A message this node just queued (Node::send's result).
  void add_sent(const MessageInfo& m);
  // Messages and state changes of this conversation; true when something changed. A read state
  // covers every earlier outgoing message, as the protocol's read receipts do.
  bool apply(const Event& event);
  // In order, oldest first; with `search` only those whose text contains it (case-insensitive).
  [[nodiscard]] std::vector<const MessageRow*> visible(const std::string& search) const;
  [[nodiscard]] std::size_t size() const { return rows_.size(); }

 private:
  void upsert(const MessageRow& row);
  std::string contact_;
  std::vector<MessageRow> rows_; // by order
  // States that came for messages not here yet (the answer that carries them is on its way).
  std::vector<std::pair<std::string, MessageState>> early_;
};

// ---- Call panel ---------------------------------------------------------------------------------

class CallPanel {
 public:
  // CallChanged and CallStatsUpdated; true when the panel changed.
  bool apply(const Event& event);
  // Whether to show the incoming-call banner (accept / reject).
  [[nodiscard]] bool ringing_here() const;
  // Whether the in-call panel shows (calling, ringing or active).
  [[nodiscard]] bool in_call() const;
  [[nodiscard]] const std::optional<CallInfo>& call() const { return call_; }
  [[nodiscard]] const std::optional<CallStats>& stats() const { return stats_; }
  // "Calling bob...", "Ringing bob...", "bob is calling", "In call with bob 01:23",
  // "Call ended: busy"; `name` is the contact's name.
  [[nodiscard]] std::string headline(const std::string& name, int64_t now_ms) const;
  // One line of live statistics, e.g. "opus 48 kHz · rtt 12 ms · loss 0% · jitter 2 ms · buffer
  // 40 ms · 24 kbit/s"; empty before the first statistics.
  [[nodiscard]] std::string stats_line() const;
  // The last call's end, kept until dismissed (for the "ended" note).
  void dismiss_ended();

 private:
  std::optional<CallInfo> call_;
  std::optional<CallStats> stats_;
};

} // namespace entre::gui
