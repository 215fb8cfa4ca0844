// What entre-host prints at a terminal, without a node: times, dates and durations a person reads,
// the start of a message quoted in a receipt, names offered for a mistyped one, and the log's
// colour codes taken out.
#include "human.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

namespace entre::host {
namespace {

// Local midnight of `unix_ms`'s day plus `hours`, in Unix milliseconds.
int64_t at_local_hour(int64_t unix_ms, int hours) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm day{};
  ::localtime_r(&t, &day);
  day.tm_hour = hours;
  day.tm_min = 0;
  day.tm_sec = 0;
  day.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&day)) * 1000;
}

TEST(HostHuman, TimesAndDaysAreLocalAndRelativeToToday) {
  const int64_t now = at_local_hour(1'790'000'000'000, 15);
  EXPECT_EQ(local_clock(at_local_hour(now, 9) + 5 * 60'000), "09:05");
  EXPECT_EQ(local_day(at_local_hour(now, 1), now), "today");
  EXPECT_EQ(local_day(at_local_hour(now - 86'400'000, 12), now), "yesterday");
  const std::string older = local_day(at_local_hour(now - 10 * 86'400'000, 12), now);
  EXPECT_NE(older.find("2026"), std::string::npos) << older;
  EXPECT_EQ(older.find("  "), std::string::npos) << older;
}

TEST(HostHuman, DurationsReadAsMinutesAndSeconds) {
  EXPECT_EQ(duration_text(0), "0:00");
  EXPECT_EQ(duration_text(83), "1:23");
  EXPECT_EQ(duration_text(725), "12:05");
  EXPECT_EQ(duration_text(3723), "1:02:03");
  EXPECT_EQ(duration_text(-4), "0:00");
}

TEST(HostHuman, AReceiptQuotesTheStartOfItsMessageSafely) {
  EXPECT_EQ(quote_start("hello there", 30), "hello there");
  EXPECT_EQ(quote_start("abcdefghij", 4), "abcd...");
  // Never cut inside a character; never a control character or a line break.
  EXPECT_EQ(quote_start("\xc3\xa9\xc3\xa9\xc3\xa9", 2), "\xc3\xa9\xc3\xa9...");
  EXPECT_EQ(quote_start("two\nlines\x1b[2J", 30), "two lines?[2J");
  EXPECT_EQ(quote_start("", 30), "");
}

TEST(HostHuman, AMistypedNameIsOfferedTheCloseOnes) {
  const std::vector<std::string> names{"Bob", "Alice", "bobby", "Carol"};
  EXPECT_EQ(close_names("bob", names), (std::vector<std::string>{"Bob", "bobby"}));
  EXPECT_EQ(close_names("bbo", names), (std::vector<std::string>{"Bob"}));
  EXPECT_EQ(close_names("alcie", names), (std::vector<std::string>{"Alice"}));
  EXPECT_TRUE(close_names("zed", names).empty());
  EXPECT_TRUE(close_names("", names).empty());
}

TEST(HostHuman, TheLogsColourCodesAreTakenOutAndNothingElse) {
  EXPECT_EQ(without_colours("[12:00:01] [\x1b[31m\x1b[1mwarning\x1b[m] relay down"),
            "[12:00:01] [warning] relay down");
  EXPECT_EQ(without_colours("plain"), "plain");
  // A lone escape is not a colour code: printable() shows it as '?'.
  EXPECT_EQ(printable(without_colours("a\x1bz"), " "), "a?z");
}

} // namespace
} // namespace entre::host
