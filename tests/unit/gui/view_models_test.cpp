// entre-gui's view models without a window: the contact list, the conversation, the call panel and
// the passphrase hint, fed the node's values and events as the GUI feeds them.
#include "view_models.hpp"

#include <gtest/gtest.h>

namespace entre::gui {
namespace {

ContactInfo contact(const std::string& id, const std::string& name, bool online,
                    const std::string& path = {}, uint64_t unread = 0) {
  ContactInfo c;
  c.id = id;
  c.name = name;
  c.online = online;
  c.path = path;
  c.unread = unread;
  return c;
}

MessageInfo message(const std::string& id, const std::string& who, bool outgoing, uint64_t order,
                    MessageState state, const std::string& text) {
  MessageInfo m;
  m.id = id;
  m.contact = who;
  m.outgoing = outgoing;
  m.order = order;
  m.state = state;
  m.text = text;
  return m;
}

TEST(ContactList, OnlineFirstThenByNameAndPresenceMovesRows) {
  ContactList list;
  list.reset({contact("c1", "carol", false), contact("b1", "Bob", true, "udp:192.0.2.7:7400"),
              contact("a1", "alice", false), contact("d1", "", true, "relay:relay.example:443")});
  ASSERT_EQ(list.rows().size(), 4u);
  EXPECT_EQ(list.rows()[0].id, "b1");
  EXPECT_EQ(list.rows()[0].path_kind, "direct");
  EXPECT_EQ(list.rows()[1].id, "d1");
  EXPECT_EQ(list.rows()[1].name, "d1") << "a contact without a name shows the start of its id";
  EXPECT_EQ(list.rows()[1].path_kind, "relay");
  EXPECT_EQ(list.rows()[2].name, "alice");
  EXPECT_EQ(list.rows()[3].name, "carol");

  EXPECT_TRUE(list.apply(ContactPresenceChanged{"a1", true, "lan:10.0.0.2:7401"}));
  EXPECT_EQ(list.rows()[0].id, "a1");
  EXPECT_EQ(list.rows()[0].path_kind, "LAN");
  EXPECT_TRUE(list.apply(ContactPresenceChanged{"b1", false, ""}));
  EXPECT_EQ(list.rows()[2].id, "b1");
  EXPECT_EQ(list.rows()[2].path_kind, "");
  EXPECT_FALSE(list.apply(ContactPresenceChanged{"zz", true, "udp:x"}));
}

TEST(ContactList, UnreadCountsMessagesOutsideTheOpenConversation) {
  ContactList list;
  list.reset({contact("a1", "alice", true, "udp:x", 2), contact("b1", "bob", true, "udp:y")});
  EXPECT_EQ(list.total_unread(), 2u);
  list.set_open("a1");
  EXPECT_EQ(list.find("a1")->unread, 0u);
  EXPECT_TRUE(
      list.apply(MessageReceived{message("m1", "a1", false, 3, MessageState::kDelivered, "hi")}));
  EXPECT_EQ(list.find("a1")->unread, 0u) << "the open conversation's messages are read";
  EXPECT_TRUE(
      list.apply(MessageReceived{message("m2", "b1", false, 1, MessageState::kDelivered, "yo")}));
  EXPECT_EQ(list.find("b1")->unread, 1u);
  list.reset({contact("a1", "alice", true, "udp:x", 5), contact("b1", "bob", true, "udp:y", 1)});
  EXPECT_EQ(list.find("a1")->unread, 0u) << "a refresh keeps the open conversation read";
  EXPECT_EQ(list.name_of("b1"), "bob");
}

TEST(Conversation, HistoryInOrderTicksAndReadReceiptsCoverEarlierMessages) {
  Conversation conv;
  conv.open("a1", {message("m3", "a1", true, 3, MessageState::kSent, "third"),
                   message("m2", "a1", false, 2, MessageState::kDelivered, "second"),
                   message("m1", "a1", true, 1, MessageState::kDelivered, "first")});
  auto rows = conv.visible("");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]->text, "first");
  EXPECT_EQ(rows[2]->text, "third");
  EXPECT_EQ(ticks(*rows[0]), "\xe2\x9c\x93\xe2\x9c\x93");
  EXPECT_EQ(ticks(*rows[1]), "") << "incoming messages have no ticks";
  EXPECT_EQ(ticks(*rows[2]), "\xe2\x9c\x93");

  conv.add_sent(message("m4", "a1", true, 4, MessageState::kQueued, "fourth"));
  EXPECT_EQ(ticks(*conv.visible("").back()), "...");
  EXPECT_TRUE(conv.apply(MessageStateChanged{"a1", "m4", MessageState::kSent}));
  EXPECT_FALSE(conv.apply(MessageStateChanged{"a1", "m4", MessageState::kSent}))
      << "no change, nothing to redraw";
  // A read receipt naming m3 covers m1 and m3, not m4.
  EXPECT_TRUE(conv.apply(MessageStateChanged{"a1", "m3", MessageState::kRead}));
  rows = conv.visible("");
  EXPECT_EQ(rows[0]->state, MessageState::kRead);
  EXPECT_EQ(rows[1]->state, MessageState::kDelivered) << "incoming stays as it was";
  EXPECT_EQ(rows[2]->state, MessageState::kRead);
  EXPECT_EQ(rows[3]->state, MessageState::kSent);

  // Other conversations' events change nothing; an arriving message joins in order.
  EXPECT_FALSE(conv.apply(
      MessageReceived{message("x", "b1", false, 9, MessageState::kDelivered, "elsewhere")}));
  EXPECT_TRUE(conv.apply(MessageReceived{
      message("m5", "a1", false, 5, MessageState::kDelivered, "Fifth, with Words")}));
  EXPECT_EQ(conv.size(), 5u);
  // The send answer may come after a state event for it: the later state stays.
  conv.add_sent(message("m4", "a1", true, 4, MessageState::kQueued, "fourth"));
  EXPECT_EQ(conv.visible("fourth").front()->state, MessageState::kSent);
}

TEST(Conversation, EventsBeforeTheirAnswersAreKept) {
  Conversation conv;
  // Opened at once, history still on its way: a message that arrives meanwhile stays.
  conv.open("a1", {});
  EXPECT_TRUE(conv.apply(
      MessageReceived{message("m3", "a1", false, 3, MessageState::kDelivered, "meanwhile")}));
  conv.merge({message("m3", "a1", false, 3, MessageState::kDelivered, "meanwhile"),
              message("m1", "a1", true, 1, MessageState::kSent, "first")});
  ASSERT_EQ(conv.size(), 2u);
  EXPECT_EQ(conv.visible("")[0]->text, "first");
  // A delivery state that overtakes the send's answer is applied when the message comes.
  EXPECT_FALSE(conv.apply(MessageStateChanged{"a1", "m4", MessageState::kDelivered}));
  conv.add_sent(message("m4", "a1", true, 4, MessageState::kQueued, "fast"));
  EXPECT_EQ(conv.visible("fast").front()->state, MessageState::kDelivered);
}

TEST(Conversation, SearchIsCaseInsensitiveWithinTheConversation) {
  Conversation conv;
  conv.open("a1", {message("m2", "a1", false, 2, MessageState::kDelivered, "See you at NOON"),
                   message("m1", "a1", true, 1, MessageState::kSent, "lunch at noon?")});
  EXPECT_EQ(conv.visible("noon").size(), 2u);
  EXPECT_EQ(conv.visible("LUNCH").size(), 1u);
  EXPECT_TRUE(conv.visible("dinner").empty());
}

TEST(TimeText, TodayShowsTheClockOtherDaysTheDateToo) {
  const int64_t now = int64_t{1764400000} * 1000;
  EXPECT_EQ(time_text(now - 60000, now).size(), 5u);
  const std::string older = time_text(now - int64_t{3} * 24 * 3600 * 1000, now);
  EXPECT_GT(older.size(), 5u);
  EXPECT_NE(older.find(':'), std::string::npos);
}

TEST(ContactList, RowsShowTheNewestMessageAndItsTime) {
  ContactList list;
  list.reset({contact("a1", "alice", true, "udp:x"), contact("b1", "bob", false)});
  EXPECT_TRUE(list.find("a1")->last_text.empty());
  MessageInfo old = message("m1", "a1", true, 1, MessageState::kRead, "first");
  old.local_ms = 1000;
  MessageInfo hi = message("m2", "a1", false, 2, MessageState::kDelivered, "hi there\nsecond line");
  hi.local_ms = 2000;
  list.note_message(hi);
  list.note_message(old); // an older one (a history answer coming late) does not replace it
  EXPECT_EQ(list.find("a1")->last_text, "hi there ...");
  EXPECT_EQ(list.find("a1")->last_ms, 2000);
  EXPECT_FALSE(list.find("a1")->last_outgoing);
  EXPECT_TRUE(list.apply(MessageReceived{
      message("m3", "b1", false, 1, MessageState::kDelivered, std::string(60, 'y'))}));
  EXPECT_EQ(list.find("b1")->last_text, std::string(40, 'y') + "...");
  list.reset({contact("a1", "alice", true, "udp:x"), contact("b1", "bob", false)});
  EXPECT_EQ(list.find("a1")->last_text, "hi there ...") << "kept across a refresh";
  EXPECT_EQ(preview("caf\xc3\xa9 au lait", 4), "caf\xc3\xa9...") << "cut between characters";
}

TEST(TimeText, DaySeparatorsAndListTimes) {
  const int64_t now = int64_t{1764400000} * 1000; // a Saturday, late November 2025 (UTC)
  const int64_t day = int64_t{24} * 3600 * 1000;
  EXPECT_EQ(day_text(now, now), "Today");
  EXPECT_EQ(day_text(now - day, now), "Yesterday");
  const std::string older = day_text(now - 3 * day, now);
  EXPECT_NE(older.find("November"), std::string::npos) << older;
  EXPECT_EQ(older.find("2025"), std::string::npos) << "this year's dates have no year: " << older;
  EXPECT_NE(day_text(now - 400 * day, now).find("2024"), std::string::npos);
  EXPECT_TRUE(same_day(now, now + 1));
  EXPECT_FALSE(same_day(now, now - day));
  EXPECT_EQ(when_text(now, now), clock_text(now));
  EXPECT_EQ(when_text(now - day, now), "Yesterday");
  EXPECT_EQ(when_text(now - 3 * day, now).size(), 3u) << "a weekday within a week";
  EXPECT_NE(when_text(now - 30 * day, now).find("Oct"), std::string::npos);
}

TEST(Conversation, CallsTakeTheirPlaceAmongTheMessages) {
  Conversation c;
  MessageInfo a = message("m1", "b1", true, 1, MessageState::kRead, "before");
  a.local_ms = 1000;
  MessageInfo b = message("m2", "b1", false, 2, MessageState::kDelivered, "after");
  b.local_ms = 500000;
  c.open("b1", {b, a});
  CallRecord talked{"c1", "b1", true, 2000, 3000, 3000 + 123000, "hung up here", "opus"};
  CallRecord missed{"c2", "b1", false, 600000, 0, 630000, "hung up by the peer", "opus"};
  CallRecord other{"c3", "x1", true, 2000, 0, 2500, "no answer", "opus"};
  c.set_calls({missed, talked, other});
  const auto t = c.timeline("");
  ASSERT_EQ(t.size(), 4u) << "another contact's call stays out";
  EXPECT_EQ(t[0].message->text, "before");
  ASSERT_NE(t[1].call, nullptr);
  EXPECT_EQ(call_text(*t[1].call), "Outgoing call, 2 min 3 s");
  EXPECT_EQ(t[2].message->text, "after");
  EXPECT_EQ(call_text(*t[3].call), "Missed call");
  EXPECT_EQ(c.timeline("after").size(), 1u) << "a search shows messages only";
  CallRecord declined{"c4", "b1", false, 1, 0, 2, "declined here", "opus"};
  EXPECT_EQ(call_text(declined), "Call declined");
  CallRecord unanswered{"c5", "b1", true, 1, 0, 2, "no answer", "opus"};
  EXPECT_EQ(call_text(unanswered), "Call, not answered (no answer)");
}

TEST(EmojiMap, EmojiAbovePlaneZeroGetPrivateCodesVariationSelectorsGo) {
  EmojiMap map;
  EXPECT_TRUE(map.add(0x1F600)); // grinning face
  EXPECT_TRUE(map.add(0x1F44D)); // thumbs up
  EXPECT_FALSE(map.add(0x1F600));
  EXPECT_EQ(map.code_of(0x1F600), uint16_t{0xE000});
  EXPECT_EQ(map.code_of(0x1F44D), uint16_t{0xE001});
  // "hi 😀 ❤️ 👍 🦄": the mapped two become U+E000 and U+E001, the heart loses its
  // selector, the unicorn (not in the map) stays.
  const std::string in = "hi \xf0\x9f\x98\x80 \xe2\x9d\xa4\xef\xb8\x8f \xf0\x9f\x91\x8d "
                         "\xf0\x9f\xa6\x84";
  EXPECT_EQ(map.display(in), "hi \xee\x80\x80 \xe2\x9d\xa4 \xee\x80\x81 \xf0\x9f\xa6\x84");
  EXPECT_EQ(map.display("plain caf\xc3\xa9"), "plain caf\xc3\xa9");
  EXPECT_EQ(map.display("broken \xf0\x9f"), "broken \xf0\x9f") << "left as it was";
}

TEST(CallPanel, FollowsACallFromBannerToEnd) {
  CallPanel panel;
  EXPECT_FALSE(panel.in_call());
  CallInfo c;
  c.id = "00aa";
  c.contact = "a1";
  c.phase = CallPhase::kIncoming;
  EXPECT_TRUE(panel.apply(CallChanged{c}));
  EXPECT_TRUE(panel.ringing_here());
  EXPECT_FALSE(panel.in_call());
  EXPECT_EQ(panel.headline("alice", 0), "alice is calling");
  c.phase = CallPhase::kActive;
  c.codec = "opus";
  c.sample_rate = 48000;
  c.answered_ms = 1000;
  panel.apply(CallChanged{c});
  EXPECT_TRUE(panel.in_call());
  EXPECT_FALSE(panel.ringing_here());
  EXPECT_EQ(panel.headline("alice", 1000 + 83 * 1000), "In call with alice  01:23");
  EXPECT_EQ(panel.stats_line(), "") << "no statistics yet";
  CallStats s;
  s.id = "00aa";
  s.rtt_ms = 12;
  s.loss_percent = 2.4;
  s.jitter_ms = 1.6;
  s.buffer_ms = 40;
  s.bitrate_bps = 24400;
  EXPECT_TRUE(panel.apply(CallStatsUpdated{s}));
  EXPECT_EQ(panel.stats_line(),
            "opus 48 kHz \xc2\xb7 rtt 12 ms \xc2\xb7 loss 2% \xc2\xb7 jitter 2 ms "
            "\xc2\xb7 buffer 40 ms \xc2\xb7 24 kbit/s");
  s.id = "other";
  EXPECT_FALSE(panel.apply(CallStatsUpdated{s})) << "another call's statistics";
  c.muted = true;
  panel.apply(CallChanged{c});
  EXPECT_NE(panel.headline("alice", 2000).find("muted"), std::string::npos);
  c.phase = CallPhase::kEnded;
  c.end = "hung up by the peer";
  panel.apply(CallChanged{c});
  EXPECT_FALSE(panel.in_call());
  EXPECT_EQ(panel.headline("alice", 0), "Call with alice ended: hung up by the peer");
  panel.dismiss_ended();
  EXPECT_FALSE(panel.call());
}

} // namespace
} // namespace entre::gui
