// Media frames (docs/protocol.md): the header round-trips byte for byte, and every malformed frame
// is refused with its reason.
#include "calls/media_frame.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace entre::calls {
namespace {

std::vector<uint8_t> frame(const MediaHeader& h, std::size_t sealed_bytes) {
  std::vector<uint8_t> f(kMediaHeaderBytes + sealed_bytes, 0x77);
  write_media_header(h, std::span<uint8_t, kMediaHeaderBytes>(f.data(), kMediaHeaderBytes));
  return f;
}

TEST(MediaFrame, TheHeaderRoundTripsLittleEndian) {
  const MediaHeader h{0x0102030405060708, 0x1112131415161718, 0xa1a2a3a4, kMediaFlagAfterPause};
  const auto f = frame(h, 40);
  EXPECT_EQ(f[0], 0x4d);
  EXPECT_EQ(f[1], 0x08); // call id, least significant byte first
  EXPECT_EQ(f[9], 0x18);
  EXPECT_EQ(f[17], 0xa4);
  EXPECT_EQ(f[21], 0x01);
  MediaFrameView v;
  ASSERT_EQ(parse_media_frame(f, v), MediaParse::kOk);
  EXPECT_EQ(v.header.call_id, h.call_id);
  EXPECT_EQ(v.header.counter, h.counter);
  EXPECT_EQ(v.header.timestamp, h.timestamp);
  EXPECT_EQ(v.header.flags, h.flags);
  EXPECT_EQ(v.header_bytes.size(), kMediaHeaderBytes);
  EXPECT_EQ(v.sealed.size(), 40u);
  EXPECT_EQ(v.sealed.data(), f.data() + kMediaHeaderBytes);
}

TEST(MediaFrame, MalformedFramesAreRefusedWithTheirReason) {
  MediaFrameView v;
  const MediaHeader h{1, 2, 3, 0};
  EXPECT_EQ(parse_media_frame({}, v), MediaParse::kNotMedia);
  auto other = frame(h, 40);
  other[0] = 0x4e;
  EXPECT_EQ(parse_media_frame(other, v), MediaParse::kNotMedia);
  EXPECT_EQ(parse_media_frame(frame(h, kMediaTagBytes), v), MediaParse::kTooShort);
  EXPECT_EQ(parse_media_frame(frame(h, kMediaTagBytes + 1), v), MediaParse::kOk);
  EXPECT_EQ(parse_media_frame(frame(h, kMaxMediaPacketBytes + kMediaTagBytes), v), MediaParse::kOk);
  EXPECT_EQ(parse_media_frame(frame(h, kMaxMediaPacketBytes + kMediaTagBytes + 1), v),
            MediaParse::kTooLong);
  auto flags = frame(h, 40);
  flags[21] = 0x02;
  EXPECT_EQ(parse_media_frame(flags, v), MediaParse::kBadFlags);
  EXPECT_STREQ(media_parse_name(MediaParse::kBadFlags), "media frame with reserved flags set");
}

} // namespace
} // namespace entre::calls
