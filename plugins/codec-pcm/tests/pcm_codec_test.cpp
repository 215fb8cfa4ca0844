#include "pcm_codec.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace entre::plugins::pcm {
namespace {

struct Objects {
  PcmCodec* codec = new PcmCodec();
  ~Objects() { static_cast<sdk::Plugin*>(codec)->destroy(); }
};

TEST(PcmCodec, RoundTripIsLossless) {
  Objects o;
  sdk::Encoder* enc = nullptr;
  sdk::Decoder* dec = nullptr;
  ASSERT_TRUE(o.codec->create_encoder({48000, 2, 960, 0, 0, 0}, &enc).is_ok());
  ASSERT_TRUE(o.codec->create_decoder({48000, 2, 960}, &dec).is_ok());
  std::vector<int16_t> in(1920);
  for (std::size_t i = 0; i < in.size(); ++i) {
    in[i] = static_cast<int16_t>(i * 37 - 32768);
  }
  in[0] = -32768;
  in[1] = 32767;
  std::vector<uint8_t> packet(4000);
  uint64_t written = 0;
  ASSERT_TRUE(enc->encode(in.data(), {packet.data(), packet.size()}, &written).is_ok());
  EXPECT_EQ(written, 3840u);
  EXPECT_EQ(packet[2], 0xff); // little-endian 32767
  EXPECT_EQ(packet[3], 0x7f);
  std::vector<int16_t> out(1920);
  ASSERT_TRUE(dec->decode({packet.data(), written}, out.data()).is_ok());
  EXPECT_EQ(in, out);
  enc->destroy();
  dec->destroy();
}

TEST(PcmCodec, RefusesWrongSizesAndFormats) {
  Objects o;
  sdk::Encoder* enc = nullptr;
  sdk::Decoder* dec = nullptr;
  EXPECT_EQ(o.codec->create_encoder({22050, 1, 160, 0, 0, 0}, &enc).code,
            sdk::StatusCode::kUnsupported);
  EXPECT_EQ(o.codec->create_encoder({48000, 3, 160, 0, 0, 0}, &enc).code,
            sdk::StatusCode::kUnsupported);
  EXPECT_EQ(o.codec->create_decoder({48000, 1, 0}, &dec).code, sdk::StatusCode::kUnsupported);
  EXPECT_EQ(o.codec->create_decoder({48000, 1, 48 * 7}, &dec).code, // 7 ms
            sdk::StatusCode::kUnsupported);
  EXPECT_EQ(o.codec->create_decoder({48000, 1, kMaxFrameSamples + 1}, &dec).code,
            sdk::StatusCode::kUnsupported);
  ASSERT_TRUE(o.codec->create_encoder({8000, 1, 80, 0, 0, 0}, &enc).is_ok());
  ASSERT_TRUE(o.codec->create_decoder({8000, 1, 80}, &dec).is_ok());
  std::vector<int16_t> pcm(80);
  std::vector<uint8_t> small(159);
  uint64_t written = 0;
  EXPECT_EQ(enc->encode(pcm.data(), {small.data(), small.size()}, &written).code,
            sdk::StatusCode::kBufferTooSmall);
  EXPECT_EQ(dec->decode({small.data(), small.size()}, pcm.data()).code, sdk::StatusCode::kCorrupt);
  EXPECT_EQ(dec->decode({}, pcm.data()).code, sdk::StatusCode::kCorrupt);
  enc->destroy();
  dec->destroy();
}

TEST(PcmCodec, ConcealmentFadesThenSilence) {
  Objects o;
  sdk::Decoder* dec = nullptr;
  ASSERT_TRUE(o.codec->create_decoder({8000, 1, 80}, &dec).is_ok());
  uint8_t packet[160] = {0x00, 0x10, 0x00, 0xf0, 0x02, 0x00, 0xfe, 0xff};
  int16_t pcm[80];
  ASSERT_TRUE(dec->decode({packet, sizeof packet}, pcm).is_ok());
  EXPECT_EQ(pcm[0], 4096);
  EXPECT_EQ(pcm[1], -4096);
  ASSERT_TRUE(dec->conceal({}, pcm).is_ok());
  EXPECT_EQ(pcm[0], 2048);
  EXPECT_EQ(pcm[1], -2048);
  ASSERT_TRUE(dec->conceal({}, pcm).is_ok());
  EXPECT_EQ(pcm[0], 0);
  EXPECT_EQ(pcm[3], 0);
  dec->destroy();
}

TEST(PcmCodec, OffersOnlyTheCodecInterface) {
  Objects o;
  sdk::Plugin& root = *o.codec;
  EXPECT_NE(root.query_interface(sdk::InterfaceId::kCodecV1), nullptr);
  EXPECT_EQ(root.query_interface(sdk::InterfaceId::kTransportV1), nullptr);
  EXPECT_STREQ(o.codec->info().name, "pcm16");
}

} // namespace
} // namespace entre::plugins::pcm
