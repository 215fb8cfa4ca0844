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
#include <map>
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
  // The conversation's newest message, for the list: its first line and when (0: none yet).
  std::string last_text;
  int64_t last_ms = 0;
  bool last_outgoing = false;
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
  // The conversation read on screen: its messages count as read as they arrive. While the
  // window is not in front, set_open("") keeps the conversation open but counts its messages.
  void set_open(const std::string& id);
  // A message of a conversation (a history's newest, one just sent or received): the row shows
  // it when it is the newest the list has seen for that contact. Kept across reset().
  void note_message(const MessageInfo& m);
  [[nodiscard]] const std::string& open() const { return open_; }
  // Online first, then by name (case-insensitive), then by id.
  [[nodiscard]] const std::vector<ContactRow>& rows() const { return rows_; }
  [[nodiscard]] const ContactRow* find(const std::string& id) const;
  [[nodiscard]] std::string name_of(const std::string& id) const;
  [[nodiscard]] uint64_t total_unread() const;

 private:
  void sort();
  void show_last(ContactRow& r) const;
  std::vector<ContactRow> rows_;
  std::string open_;
  std::map<std::string, MessageInfo> last_; // by contact
};

// The first line of a message, cut to about `max_chars` characters (with "..." when cut).
[[nodiscard]] std::string preview(const std::string& text, std::size_t max_chars);

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
// "14:03" (local time), whatever the day.
[[nodiscard]] std::string clock_text(int64_t local_ms);
// For the list of contacts: the clock today, "Yesterday", the weekday within a week, else the
// date ("3 Mar", "3 Mar 2023" for another year).
[[nodiscard]] std::string when_text(int64_t local_ms, int64_t now_ms);
// The day separator of a conversation: "Today", "Yesterday", "Monday 3 March", or with the year
// when it is not this one ("Friday 3 March 2023").
[[nodiscard]] std::string day_text(int64_t local_ms, int64_t now_ms);
// Whether two times fall on the same local day.
[[nodiscard]] bool same_day(int64_t a_ms, int64_t b_ms);

// A call as the conversation shows it: "Call, 2 min 3 s", "Missed call", "Call, not answered",
// "Call declined" (incoming calls say so from this side's view).
[[nodiscard]] std::string call_text(const CallRecord& call);

// One line of a conversation: a message or a call, in time order.
struct TimelineItem {
  const MessageRow* message = nullptr;
  const CallRecord* call = nullptr;
  int64_t local_ms = 0;
};

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
  // This conversation's calls (Node::call_history(contact, ...), any order); replaces those
  // given before.
  void set_calls(const std::vector<CallRecord>& calls);
  [[nodiscard]] const std::vector<CallRecord>& calls() const { return calls_; }
  // Messages (as visible()) and, without a search, the calls, by time: a call goes before the
  // first message that came after it started.
  [[nodiscard]] std::vector<TimelineItem> timeline(const std::string& search) const;
  [[nodiscard]] std::size_t size() const { return rows_.size(); }

 private:
  void upsert(const MessageRow& row);
  std::string contact_;
  std::vector<MessageRow> rows_;  // by order
  std::vector<CallRecord> calls_; // by start
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

// ---- Emoji --------------------------------------------------------------------------------------

// Dear ImGui's glyphs are 16-bit (Debian builds it so): emoji above U+FFFF have no glyph of their
// own. The font loader gives each emoji its font has a code in the Private Use Area (U+E000 on)
// and draws the emoji there; display() puts those codes in place of the emoji in a text to draw.
// Variation selectors (U+FE0E, U+FE0F) are dropped: the font draws one form only.
class EmojiMap {
 public:
  // The planes' ranges looked into for emoji (first, last), inclusive.
  static const std::vector<std::pair<uint32_t, uint32_t>>& ranges();
  // Gives `codepoint` the next private code (false when the area is full).
  bool add(uint32_t codepoint);
  [[nodiscard]] std::optional<uint16_t> code_of(uint32_t codepoint) const;
  [[nodiscard]] std::size_t size() const { return codes_.size(); }
  // `utf8` with every mapped emoji replaced by its private code; others stay as they are.
  [[nodiscard]] std::string display(const std::string& utf8) const;

 private:
  std::map<uint32_t, uint16_t> codes_;
};

} // namespace entre::gui
