// The call history's stored form (calls/call_history.hpp, docs/protocol.md "Call history"):
// records round-trip byte for byte, and anything else is refused.
#include "calls/call_history.hpp"

#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

namespace entre::calls {
namespace {

std::vector<CallRecord> two_calls() {
  return {
      {"01a2249d0c7e55f3", std::string(64, 'a'), true, 1700000000000, 1700000002500, 1700000083000,
       "hung up here", "opus"},
      {"77e0b2c4a9183d56", std::string(64, 'b'), false, 1700000100000, 0, 1700000145000,
       "no answer", ""},
  };
}

bool same(const CallRecord& a, const CallRecord& b) {
  return a.id == b.id && a.contact == b.contact && a.outgoing == b.outgoing &&
         a.started_ms == b.started_ms && a.answered_ms == b.answered_ms &&
         a.ended_ms == b.ended_ms && a.end == b.end && a.codec == b.codec;
}

TEST(CallHistory, RecordsRoundTrip) {
  const std::vector<CallRecord> calls = two_calls();
  const std::vector<uint8_t> bytes = encode_calls(calls);
  EXPECT_EQ(bytes[0], kCallHistoryFormat);
  const auto back = decode_calls(bytes);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), calls.size());
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_TRUE(same((*back)[i], calls[i])) << i;
  }
  EXPECT_EQ(encode_calls(*back), bytes);
  const auto empty = decode_calls(encode_calls({}));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

// The byte after the contact is the direction: 0 or 1, nothing else (the fuzzer found 2..255
// read as "outgoing" and written back as 1).
TEST(CallHistory, AnOutgoingByteOtherThanZeroOrOneIsRefused) {
  std::vector<uint8_t> bytes = encode_calls(two_calls());
  const std::size_t outgoing_at = 1 + 8 + 1 + 16 + 1 + 64;
  ASSERT_EQ(bytes[outgoing_at], 1);
  for (const uint8_t value : {2, 0x80, 0xff}) {
    bytes[outgoing_at] = value;
    EXPECT_FALSE(decode_calls(bytes)) << int{value};
  }
  bytes[outgoing_at] = 0;
  EXPECT_TRUE(decode_calls(bytes));
}

TEST(CallHistory, MalformedHistoriesAreRefused) {
  const std::vector<uint8_t> good = encode_calls(two_calls());
  EXPECT_FALSE(decode_calls({}));
  for (std::size_t cut = 1; cut < good.size(); ++cut) {
    EXPECT_FALSE(decode_calls(std::span(good).first(good.size() - cut))) << cut;
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_FALSE(decode_calls(longer));
  std::vector<uint8_t> format = good;
  format[0] = 2;
  EXPECT_FALSE(decode_calls(format));

  std::vector<uint8_t> too_many{kCallHistoryFormat, 0, 0, 0, 0, 0, 0, 0x01, 0xf5}; // 501
  EXPECT_FALSE(decode_calls(too_many));
  const std::vector<CallRecord> most(kMaxCallRecords, two_calls()[0]);
  const auto decoded = decode_calls(encode_calls(most));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->size(), kMaxCallRecords);
}

TEST(CallHistory, LongTextsAreCutOnEncoding) {
  std::vector<CallRecord> calls = two_calls();
  calls[0].end = "media failed: " + std::string(400, 'x');
  const auto back = decode_calls(encode_calls(calls));
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[0].end, calls[0].end.substr(0, kMaxCallTextBytes));
}

} // namespace
} // namespace entre::calls
