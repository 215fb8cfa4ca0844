// WAV files (RIFF WAVE, 16-bit integer PCM) for audio-file: parsing an untrusted file into samples,
// and writing one.
//
// Accepted input: a RIFF/WAVE file with a "fmt " chunk of format 1 (PCM) or 0xFFFE (extensible,
// PCM sub-format), 1 or 2 channels, 8000 to 192000 Hz, 16 bits per sample, and a "data" chunk;
// other chunks are skipped. Every chunk length is checked against what remains of the file; a
// data chunk that claims more than the file holds is an error, not a short read.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

namespace entre::plugins::audio_file {

inline constexpr std::size_t kMaxWavBytes = 256u * 1024 * 1024;

struct WavAudio {
  uint32_t sample_rate = 0;
  uint32_t channels = 0;
  std::vector<int16_t> samples; // interleaved
};

// Parses `bytes`; on failure returns false with `error` saying what is wrong.
bool parse_wav(std::span<const uint8_t> bytes, WavAudio& out, std::string& error);
// Reads and parses the file at `path` (at most kMaxWavBytes).
bool read_wav(const std::string& path, WavAudio& out, std::string& error);

// `audio` converted to `rate` (linear interpolation) and `channels` (mono to stereo duplicates,
// stereo to mono averages).
std::vector<int16_t> convert(const WavAudio& audio, uint32_t rate, uint32_t channels);

// Writes a WAV file as frames come; close() fixes the sizes in the header.
class WavWriter {
 public:
  WavWriter() = default;
  ~WavWriter() { close(); }
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  bool open(const std::string& path, uint32_t rate, uint32_t channels, std::string& error);
  bool append(const int16_t* samples, std::size_t count);
  void close();

 private:
  std::FILE* file_ = nullptr;
  uint32_t rate_ = 0;
  uint32_t channels_ = 0;
  uint64_t data_bytes_ = 0;
};

} // namespace entre::plugins::audio_file
