// entre-host's command layer without a node: text lines parsed into calls, results and events
// rendered into the lines of docs/host.md, and text made safe for a terminal.
#include "commands.hpp"

#include <gtest/gtest.h>

#include <set>

namespace entre::host {
namespace {

std::string error_of(const std::string& line) {
  try {
    (void)parse_line(line);
  } catch (const CommandError& e) {
    return e.code + ": " + e.what();
  }
  return "no error";
}

TEST(HostCommands, EveryParameterKindParses) {
  EXPECT_EQ(
      parse_line("send bob  hello   world "),
      (Json{{"method", "send"}, {"params", {{"contact", "bob"}, {"text", "hello   world "}}}}));
  EXPECT_EQ(parse_line("send bob two\\nlines and a \\\\ backslash")["params"]["text"],
            "two\nlines and a \\ backslash");
  EXPECT_EQ(parse_line("code udp:192.0.2.1:7400 udp:192.0.2.2:7400")["params"]["hints"],
            (Json{"udp:192.0.2.1:7400", "udp:192.0.2.2:7400"}));
  EXPECT_EQ(parse_line("history bob 20 7")["params"],
            (Json{{"contact", "bob"}, {"limit", 20}, {"before", 7}}));
  EXPECT_EQ(parse_line("add entre:abc")["params"], (Json{{"code", "entre:abc"}}));
  EXPECT_EQ(parse_line("contacts")["params"], Json::object());
}

TEST(HostCommands, BadLinesSayWhatIsWrongAndHowToWriteIt) {
  EXPECT_EQ(error_of("fly"), "unknown_method: unknown command 'fly': 'help' lists them");
  EXPECT_EQ(error_of("send"), "invalid_params: missing contact: send CONTACT TEXT");
  EXPECT_EQ(error_of("send bob"), "invalid_params: missing text: send CONTACT TEXT");
  EXPECT_EQ(error_of("history bob -1"),
            "invalid_params: limit must be a number, not '-1': history CONTACT [LIMIT [BEFORE]]");
  EXPECT_EQ(error_of("history bob 1234567890"),
            "invalid_params: limit must be a number, not '1234567890': history CONTACT [LIMIT "
            "[BEFORE]]");
  EXPECT_EQ(error_of("id now"), "invalid_params: too many words ('now'): id");
  EXPECT_EQ(error_of("safety a b"), "invalid_params: too many words ('b'): safety CONTACT");
}

TEST(HostCommands, EveryMethodHasUsageAndSummaryAndUniqueName) {
  std::set<std::string> names;
  for (const auto& m : methods()) {
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
    EXPECT_EQ(m.usage.rfind(m.name, 0), 0u) << m.usage;
    EXPECT_FALSE(m.summary.empty()) << m.name;
    EXPECT_EQ(find_method(m.name), &m);
  }
  EXPECT_EQ(find_method("quit"), nullptr);
}

TEST(HostCommands, ControlCharactersNeverReachTheTerminal) {
  EXPECT_EQ(printable("a\x1b[2Jb\x07", " "), "a?[2Jb?");
  EXPECT_EQ(printable("x\xc2\x9b"
                      "6ny",
                      " "),
            "x?6ny");                                                        // C1 CSI
  EXPECT_EQ(printable("caf\xc3\xa9 \xc2\xa0", " "), "caf\xc3\xa9 \xc2\xa0"); // not controls
  EXPECT_EQ(printable("one\ntwo\x7f", " / "), "one / two?");
  EXPECT_EQ(one_line("a\nb\\c\rd"), "a\\nb\\\\c?d");
}

TEST(HostCommands, ResultsRenderAsTheDocumentedLines) {
  const Json contacts = {{"contacts",
                          {{{"id", "aa"},
                            {"name", "bob\nsmith"},
                            {"online", true},
                            {"path", "udp:192.0.2.1:7400"},
                            {"rtt_ms", 12},
                            {"loss", 0.126},
                            {"unread", 3},
                            {"verified", true},
                            {"blocked", false}},
                           {{"id", "bb"},
                            {"name", "carol"},
                            {"online", false},
                            {"path", ""},
                            {"rtt_ms", 0},
                            {"loss", 0.0},
                            {"unread", 0},
                            {"verified", false},
                            {"blocked", true}}}}};
  EXPECT_EQ(
      render_lines("contacts", contacts),
      (std::vector<std::string>{
          "contact aa online udp:192.0.2.1:7400 rtt=12ms loss=13% unread=3 verified bob\\nsmith",
          "contact bb offline unread=0 blocked carol", "end"}));
  EXPECT_EQ(render_lines("verify", {{"contact", "aa"}}), std::vector<std::string>{"verified aa"});
  EXPECT_EQ(render_lines("unverify", {{"contact", "aa"}}),
            std::vector<std::string>{"unverified aa"});
  EXPECT_EQ(render_lines("unblock", {{"contact", "aa"}}), std::vector<std::string>{"unblocked aa"});
  EXPECT_EQ(render_lines("remove", {{"contact", "aa"}}), std::vector<std::string>{"removed aa"});
  EXPECT_EQ(render_lines("meet", {{"meeting_seconds", 0}}),
            std::vector<std::string>{"meeting closed"});
  const Json history = {{"messages",
                         {{{"order", 4},
                           {"outgoing", true},
                           {"state", "read"},
                           {"id", "m1"},
                           {"path", ""},
                           {"text", "hi\tthere"}}}}};
  EXPECT_EQ(render_lines("history", history),
            (std::vector<std::string>{"history 4 out read m1 - hi?there", "end"}));
}

TEST(HostCommands, EventsRenderAsTheDocumentedLines) {
  MessageInfo m;
  m.id = "m1";
  m.contact = "aa";
  m.text = "two\nlines";
  const Json message = event_json(MessageReceived{m});
  EXPECT_EQ(message["event"], "message");
  EXPECT_EQ(message["message"]["text"], "two\nlines");
  EXPECT_EQ(event_line(message), "message aa m1 two\\nlines");
  EXPECT_EQ(event_line(event_json(MessageStateChanged{"aa", "m1", MessageState::kDelivered})),
            "state aa m1 delivered");
  EXPECT_EQ(event_line(event_json(ContactPresenceChanged{"aa", true, "udp:192.0.2.1:1"})),
            "presence aa online udp:192.0.2.1:1");
  EXPECT_EQ(event_line(event_json(PeerMet{"bb", "Bob\x1b", "entre:x", "12345 67890"})),
            "met bb 12345-67890 entre:x Bob?");
  // Link and transport events go to control clients only.
  const Json link = event_json(LinkStateChanged{"entre.transport.udp", "udp:192.0.2.1:1", true});
  EXPECT_EQ(link["event"], "link");
  EXPECT_EQ(event_line(link), "");
  EXPECT_TRUE(event_json(NodeStarted{"n"}).is_null());
}

} // namespace
} // namespace entre::host
