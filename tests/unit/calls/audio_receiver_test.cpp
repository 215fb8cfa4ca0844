// The receiving half of a call's audio, with a decoder that writes a recognisable frame: what a
// device gets for a frame, a lost frame and a buffer of another size, and how the sender's
// 32-bit timestamps become places in the stream.
#include "calls/audio_receiver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace entre::calls {
namespace {

constexpr uint32_t kFrame = 960;
constexpr uint32_t kStep = 960; // 20 ms at 48 kHz

// Writes a whole frame of the packet's first byte (decode) or of 7, or 9 with FEC (conceal).
class MarkDecoder final : public sdk::Decoder {
 public:
  sdk::Status decode(sdk::ByteView packet, int16_t* pcm) noexcept override {
    std::fill(pcm, pcm + kFrame, static_cast<int16_t>(packet.data[0]));
    return sdk::Status::ok();
  }
  sdk::Status conceal(sdk::ByteView next, int16_t* pcm) noexcept override {
    std::fill(pcm, pcm + kFrame, static_cast<int16_t>(next.size > 0 ? 9 : 7));
    return sdk::Status::ok();
  }
  void destroy() noexcept override {}
};

std::vector<uint8_t> packet(uint8_t mark) { return {mark, 0}; }

TEST(AudioReceiver, ADeviceAskingForLessThanAFrameGetsItsStartAndNothingPastItsBuffer) {
  MarkDecoder dec;
  JitterConfig config;
  config.fec = true;
  AudioReceiver rx(config, dec, kFrame, kStep);
  rx.receive(0, 0, packet(1));
  rx.receive(2 * kStep, 40, packet(3)); // frame 1 lost
  // A buffer of half a frame with a guard after it: decode and conceal alike stay inside.
  std::vector<int16_t> buf(kFrame / 2 + 64, -1);
  ASSERT_TRUE(rx.play(buf.data(), kFrame / 2));
  EXPECT_EQ(buf[0], 1);
  ASSERT_TRUE(rx.play(buf.data(), kFrame / 2));
  EXPECT_EQ(buf[0], 9) << "frame 1 rebuilt from frame 2's FEC";
  EXPECT_TRUE(std::all_of(buf.begin() + kFrame / 2, buf.end(), [](int16_t v) { return v == -1; }))
      << "the receiver wrote past the device's buffer";
  EXPECT_EQ(rx.counters().recovered, 1u);
}

TEST(AudioReceiver, ADeviceAskingForMoreThanAFrameGetsSilenceAfterIt) {
  MarkDecoder dec;
  AudioReceiver rx({}, dec, kFrame, kStep);
  rx.receive(0, 0, packet(5));
  std::vector<int16_t> buf(2 * kFrame, -1);
  ASSERT_TRUE(rx.play(buf.data(), 2 * kFrame));
  EXPECT_EQ(buf[kFrame - 1], 5);
  EXPECT_EQ(buf[kFrame], 0);
  EXPECT_EQ(buf[2 * kFrame - 1], 0);
}

TEST(AudioReceiver, TimestampsThatWrapKeepTheirPlaceAndOffGridOnesAreCounted) {
  MarkDecoder dec;
  AudioReceiver rx({}, dec, kFrame, kStep);
  const uint32_t start = UINT32_MAX - kStep + 1; // the next frame's timestamp wraps to 0
  rx.receive(start, 0, packet(1));
  rx.receive(0, 20, packet(2));
  rx.receive(kStep, 40, packet(3));
  rx.receive(kStep / 2, 41, packet(4));     // between two frames: not a frame of this stream
  rx.receive(start - kStep, 42, packet(5)); // before the first frame
  std::vector<int16_t> buf(kFrame);
  std::vector<int16_t> heard;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(rx.play(buf.data(), kFrame));
    heard.push_back(buf[0]);
  }
  EXPECT_EQ(heard, (std::vector<int16_t>{1, 2, 3}));
  EXPECT_EQ(rx.counters().untimely, 2u);
  EXPECT_EQ(rx.counters().played, 3u);
}

TEST(AudioReceiver, BeforePlayoutStartsTheDeviceGetsSilence) {
  MarkDecoder dec;
  AudioReceiver rx({}, dec, kFrame, kStep);
  std::vector<int16_t> buf(kFrame, -1);
  EXPECT_FALSE(rx.play(buf.data(), kFrame));
  EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](int16_t v) { return v == 0; }));
  EXPECT_EQ(rx.last().kind, JitterBuffer::Playout::Kind::kWaiting);
}

} // namespace
} // namespace entre::calls
