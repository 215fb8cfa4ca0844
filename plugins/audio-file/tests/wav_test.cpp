// WAV parsing and writing for audio-file: good files in every accepted shape, and every malformed
// one refused with a message that says what is wrong.
#include "wav.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <numbers>

namespace entre::plugins::audio_file {
namespace {

void put32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
}
void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void tag(std::vector<uint8_t>& b, const char* t) {
  for (int i = 0; i < 4; ++i) {
    b.push_back(static_cast<uint8_t>(t[i]));
  }
}

// A WAV file byte by byte; `extra` adds an odd-sized chunk before the data.
std::vector<uint8_t> wav(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits,
                         const std::vector<int16_t>& samples, bool extra = false,
                         int32_t data_size_delta = 0) {
  std::vector<uint8_t> b;
  tag(b, "RIFF");
  put32(b, 0);
  tag(b, "WAVE");
  tag(b, "fmt ");
  put32(b, format == 0xfffe ? 40 : 16);
  put16(b, format);
  put16(b, channels);
  put32(b, rate);
  put32(b, rate * channels * bits / 8);
  put16(b, static_cast<uint16_t>(channels * bits / 8));
  put16(b, bits);
  if (format == 0xfffe) {
    put16(b, 22);
    put16(b, bits);
    put32(b, channels == 1 ? 4 : 3);
    put16(b, 1); // sub-format: PCM
    for (int i = 0; i < 14; ++i) {
      b.push_back(0);
    }
  }
  if (extra) {
    tag(b, "LIST");
    put32(b, 3);
    b.insert(b.end(), {'a', 'b', 'c', 0}); // 3 bytes and the pad byte
  }
  tag(b, "data");
  put32(b, static_cast<uint32_t>(static_cast<int64_t>(samples.size() * 2) + data_size_delta));
  for (int16_t s : samples) {
    put16(b, static_cast<uint16_t>(s));
  }
  return b;
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  WavAudio audio;
  std::string error;
  return parse_wav(bytes, audio, error) ? "parsed" : error;
}

TEST(Wav, GoodFilesParse) {
  const std::vector<int16_t> samples = {1, -2, 300, -32768, 32767, 0};
  for (uint16_t format : {uint16_t{1}, uint16_t{0xfffe}}) {
    for (bool extra : {false, true}) {
      WavAudio audio;
      std::string error;
      ASSERT_TRUE(parse_wav(wav(format, 2, 44100, 16, samples, extra), audio, error)) << error;
      EXPECT_EQ(audio.sample_rate, 44100u);
      EXPECT_EQ(audio.channels, 2u);
      EXPECT_EQ(audio.samples, samples);
    }
  }
}

TEST(Wav, MalformedFilesAreRefusedWithTheReason) {
  const std::vector<int16_t> s(10, 7);
  EXPECT_EQ(error_of({'R', 'I', 'F', 'F'}), "not a WAV file (no RIFF/WAVE header)");
  EXPECT_EQ(error_of(wav(3, 1, 48000, 16, s)), "format 3 is not integer PCM");
  EXPECT_EQ(error_of(wav(1, 1, 48000, 8, s)), "8-bit samples; only 16-bit PCM is read");
  EXPECT_EQ(error_of(wav(1, 3, 48000, 16, s)), "3 channels; only mono and stereo are read");
  EXPECT_EQ(error_of(wav(1, 1, 4000, 16, s)), "sample rate 4000 Hz is outside 8000 to 192000");
  EXPECT_EQ(error_of(wav(1, 1, 48000, 16, s, false, 1000)),
            "chunk 'data' claims 1020 bytes; the file has 20 left");
  std::vector<uint8_t> no_data = wav(1, 1, 48000, 16, s);
  no_data.resize(36);
  EXPECT_EQ(error_of(no_data), "no data chunk");
  std::vector<uint8_t> huge = wav(1, 1, 48000, 16, s);
  huge[16] = 0xff; // the format chunk's size
  huge[17] = 0xff;
  huge[18] = 0xff;
  huge[19] = 0xff;
  EXPECT_NE(error_of(huge).find("claims 4294967295 bytes"), std::string::npos) << error_of(huge);
}

TEST(Wav, ConversionKeepsTheSoundAndChangesTheFormat) {
  WavAudio audio{16000, 1, {}};
  for (int i = 0; i < 16000; ++i) {
    audio.samples.push_back(
        static_cast<int16_t>(10000 * std::sin(2 * std::numbers::pi * 440 * i / 16000.0)));
  }
  const auto out = convert(audio, 48000, 2);
  ASSERT_EQ(out.size(), 48000u * 2);
  double err = 0;
  for (int i = 0; i < 48000 - 3; ++i) { // the last input sample has nothing after it
    const double want = 10000 * std::sin(2 * std::numbers::pi * 440 * i / 48000.0);
    err = std::max(err, std::abs(out[2 * i] - want));
    EXPECT_EQ(out[2 * i], out[2 * i + 1]);
  }
  EXPECT_LT(err, 100); // linear interpolation of a 440 Hz tone: under 1 % of its amplitude
  const auto mono = convert(WavAudio{48000, 2, {100, 300, -100, -300}}, 48000, 1);
  EXPECT_EQ(mono, (std::vector<int16_t>{200, -200}));
}

TEST(Wav, WrittenFilesReadBack) {
  const auto path =
      std::filesystem::temp_directory_path() / ("entre-wav-" + std::to_string(::getpid()) + ".wav");
  std::vector<int16_t> samples;
  for (int i = 0; i < 9601; ++i) {
    samples.push_back(static_cast<int16_t>(i * 7));
  }
  {
    WavWriter w;
    std::string error;
    ASSERT_TRUE(w.open(path.string(), 48000, 1, error)) << error;
    ASSERT_TRUE(w.append(samples.data(), 4800));
    ASSERT_TRUE(w.append(samples.data() + 4800, samples.size() - 4800));
  }
  WavAudio audio;
  std::string error;
  ASSERT_TRUE(read_wav(path.string(), audio, error)) << error;
  EXPECT_EQ(audio.sample_rate, 48000u);
  EXPECT_EQ(audio.samples, samples);
  std::filesystem::remove(path);
  EXPECT_FALSE(read_wav(path.string(), audio, error));
  EXPECT_NE(error.find("cannot open"), std::string::npos);
}

} // namespace
} // namespace entre::plugins::audio_file
