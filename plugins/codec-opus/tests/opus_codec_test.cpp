// codec-opus's objects compiled in: the behaviour the conformance suite cannot see from outside
// (DTX packet sizes, duration checks, the expected loss reaching the encoder).
#include "opus_codec.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

namespace entre::plugins::opus {
namespace {

// The codec object; OpusCodec is destroyed through the SDK's destroy().
struct Objects {
  OpusCodec* codec = new OpusCodec();
  Objects() = default;
  Objects(const Objects&) = delete;
  Objects& operator=(const Objects&) = delete;
  ~Objects() { codec->destroy(); }
};

std::vector<int16_t> tone(uint32_t samples, double hz, double amplitude) {
  std::vector<int16_t> pcm(samples);
  for (uint32_t i = 0; i < samples; ++i) {
    pcm[i] = static_cast<int16_t>(amplitude * std::sin(2 * std::numbers::pi * hz * i / 48000.0));
  }
  return pcm;
}

sdk::Encoder* encoder(OpusCodec& c, uint32_t flags, uint32_t bitrate = 24000, uint32_t loss = 0) {
  sdk::Encoder* e = nullptr;
  EXPECT_TRUE(c.create_encoder({48000, 1, 960, bitrate, loss, flags}, &e).is_ok());
  return e;
}

uint64_t encode(sdk::Encoder& e, const int16_t* pcm) {
  std::vector<uint8_t> out(kMaxPacketBytes);
  uint64_t written = 0;
  EXPECT_TRUE(e.encode(pcm, {out.data(), out.size()}, &written).is_ok());
  return written;
}

TEST(OpusCodec, DtxShrinksSilenceToPacketsThatNeedNotBeSent) {
  Objects o;
  sdk::Encoder* dtx = encoder(*o.codec, sdk::kCodecDtx);
  sdk::Encoder* plain = encoder(*o.codec, 0);
  const std::vector<int16_t> silence(960, 0);
  uint64_t dtx_small = 0;
  uint64_t plain_small = 0;
  for (int i = 0; i < 50; ++i) {
    // DTX needs a moment of silence (about 200 ms here) before it starts.
    const uint64_t a = encode(*dtx, silence.data());
    const uint64_t b = encode(*plain, silence.data());
    dtx_small += i >= 20 && a <= 2 ? 1 : 0;
    plain_small += b <= 2 ? 1 : 0;
  }
  EXPECT_GE(dtx_small, 28u);
  EXPECT_EQ(plain_small, 0u);
  dtx->destroy();
  plain->destroy();
}

TEST(OpusCodec, APacketOfAnotherDurationIsRefused) {
  Objects o;
  sdk::Encoder* e10 = nullptr;
  ASSERT_TRUE(o.codec->create_encoder({48000, 1, 480, 24000, 0, 0}, &e10).is_ok());
  const auto pcm = tone(480, 440, 8000);
  std::vector<uint8_t> packet(kMaxPacketBytes);
  uint64_t n = 0;
  ASSERT_TRUE(e10->encode(pcm.data(), {packet.data(), packet.size()}, &n).is_ok());
  sdk::Decoder* d20 = nullptr;
  ASSERT_TRUE(o.codec->create_decoder({48000, 1, 960}, &d20).is_ok());
  std::vector<int16_t> frame(960);
  EXPECT_EQ(d20->decode({packet.data(), n}, frame.data()).code, sdk::StatusCode::kCorrupt);
  e10->destroy();
  d20->destroy();
}

TEST(OpusCodec, ExpectedLossMakesTheEncoderAddRedundancy) {
  // With FEC on, a higher expected loss makes the encoder carry the previous frame again (LBRR):
  // at the same bitrate that leaves fewer bits for the current frame, so the packets differ.
  Objects o;
  sdk::Encoder* calm = encoder(*o.codec, sdk::kCodecFec, 24000, 0);
  sdk::Encoder* lossy = encoder(*o.codec, sdk::kCodecFec, 24000, 0);
  ASSERT_TRUE(lossy->set_expected_loss(30).is_ok());
  const auto pcm = tone(960 * 50, 220, 8000);
  std::vector<uint8_t> a(kMaxPacketBytes);
  std::vector<uint8_t> b(kMaxPacketBytes);
  int differing = 0;
  for (int i = 0; i < 50; ++i) {
    uint64_t na = 0;
    uint64_t nb = 0;
    ASSERT_TRUE(calm->encode(pcm.data() + i * 960, {a.data(), a.size()}, &na).is_ok());
    ASSERT_TRUE(lossy->encode(pcm.data() + i * 960, {b.data(), b.size()}, &nb).is_ok());
    differing += (na != nb || std::memcmp(a.data(), b.data(), na) != 0) ? 1 : 0;
  }
  EXPECT_GT(differing, 25);
  calm->destroy();
  lossy->destroy();
}

} // namespace
} // namespace entre::plugins::opus
