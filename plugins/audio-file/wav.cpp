#include "wav.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>

namespace entre::plugins::audio_file {

namespace {

uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

std::array<uint8_t, 44> header(uint32_t rate, uint32_t channels, uint32_t data_bytes) {
  std::array<uint8_t, 44> h{};
  std::memcpy(h.data(), "RIFF", 4);
  put32(h.data() + 4, 36 + data_bytes);
  std::memcpy(h.data() + 8, "WAVEfmt ", 8);
  put32(h.data() + 16, 16);
  put16(h.data() + 20, 1);
  put16(h.data() + 22, static_cast<uint16_t>(channels));
  put32(h.data() + 24, rate);
  put32(h.data() + 28, rate * channels * 2);
  put16(h.data() + 32, static_cast<uint16_t>(channels * 2));
  put16(h.data() + 34, 16);
  std::memcpy(h.data() + 36, "data", 4);
  put32(h.data() + 40, data_bytes);
  return h;
}

} // namespace

bool parse_wav(std::span<const uint8_t> bytes, WavAudio& out, std::string& error) {
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    error = "not a WAV file (no RIFF/WAVE header)";
    return false;
  }
  bool have_format = false;
  std::size_t at = 12;
  while (at + 8 <= bytes.size()) {
    const uint8_t* chunk = bytes.data() + at;
    const uint32_t size = le32(chunk + 4);
    const std::size_t body = at + 8;
    if (size > bytes.size() - body) {
      error = "chunk '" + std::string(reinterpret_cast<const char*>(chunk), 4) + "' claims " +
              std::to_string(size) + " bytes; the file has " + std::to_string(bytes.size() - body) +
              " left";
      return false;
    }
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (size < 16) {
        error = "format chunk too short";
        return false;
      }
      const uint8_t* f = bytes.data() + body;
      uint16_t format = le16(f);
      if (format == 0xfffe && size >= 40) {
        format = le16(f + 24); // the sub-format GUID starts with the format code
      }
      const uint16_t channels = le16(f + 2);
      const uint32_t rate = le32(f + 4);
      const uint16_t bits = le16(f + 14);
      if (format != 1) {
        error = "format " + std::to_string(format) + " is not integer PCM";
        return false;
      }
      if (bits != 16) {
        error = std::to_string(bits) + "-bit samples; only 16-bit PCM is read";
        return false;
      }
      if (channels != 1 && channels != 2) {
        error = std::to_string(channels) + " channels; only mono and stereo are read";
        return false;
      }
      if (rate < 8000 || rate > 192000) {
        error = "sample rate " + std::to_string(rate) + " Hz is outside 8000 to 192000";
        return false;
      }
      out.sample_rate = rate;
      out.channels = channels;
      have_format = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!have_format) {
        error = "data chunk before the format chunk";
        return false;
      }
      const std::size_t count = size / 2 / out.channels * out.channels;
      out.samples.resize(count);
      for (std::size_t i = 0; i < count; ++i) {
        out.samples[i] = static_cast<int16_t>(le16(bytes.data() + body + 2 * i));
      }
      return true;
    }
    at = body + size + (size & 1); // chunks are padded to an even length
  }
  error = have_format ? "no data chunk" : "no format chunk";
  return false;
}

bool read_wav(const std::string& path, WavAudio& out, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = "cannot open '" + path + "': " + std::strerror(errno);
    return false;
  }
  std::vector<uint8_t> bytes;
  uint8_t chunk[65536];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (bytes.size() + n > kMaxWavBytes) {
      std::fclose(f);
      error = "'" + path + "' is larger than 256 MiB";
      return false;
    }
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  std::fclose(f);
  if (!parse_wav(bytes, out, error)) {
    error = "'" + path + "': " + error;
    return false;
  }
  return true;
}

std::vector<int16_t> convert(const WavAudio& audio, uint32_t rate, uint32_t channels) {
  const std::size_t frames_in = audio.samples.size() / audio.channels;
  auto sample = [&](std::size_t frame, uint32_t channel) -> double {
    if (audio.channels == channels || audio.channels == 1) {
      return audio.samples[frame * audio.channels + (audio.channels == 1 ? 0 : channel)];
    }
    return (audio.samples[frame * 2] + audio.samples[frame * 2 + 1]) / 2.0; // stereo to mono
  };
  const std::size_t frames_out =
      frames_in == 0
          ? 0
          : static_cast<std::size_t>(static_cast<uint64_t>(frames_in) * rate / audio.sample_rate);
  std::vector<int16_t> out(frames_out * channels);
  for (std::size_t i = 0; i < frames_out; ++i) {
    const double pos = static_cast<double>(i) * audio.sample_rate / rate;
    const auto a = static_cast<std::size_t>(pos);
    const std::size_t b = std::min(a + 1, frames_in - 1);
    const double t = pos - static_cast<double>(a);
    for (uint32_t c = 0; c < channels; ++c) {
      const double v = sample(a, c) * (1 - t) + sample(b, c) * t;
      out[i * channels + c] = static_cast<int16_t>(std::clamp(std::lround(v), -32768L, 32767L));
    }
  }
  return out;
}

bool WavWriter::open(const std::string& path, uint32_t rate, uint32_t channels,
                     std::string& error) {
  close();
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) {
    error = "cannot create '" + path + "': " + std::strerror(errno);
    return false;
  }
  rate_ = rate;
  channels_ = channels;
  data_bytes_ = 0;
  const auto h = header(rate, channels, 0);
  return std::fwrite(h.data(), 1, h.size(), file_) == h.size();
}

bool WavWriter::append(const int16_t* samples, std::size_t count) {
  if (file_ == nullptr || data_bytes_ + count * 2 > 0xffffffffu - 36) {
    return false;
  }
  std::vector<uint8_t> bytes(count * 2);
  for (std::size_t i = 0; i < count; ++i) {
    put16(bytes.data() + 2 * i, static_cast<uint16_t>(samples[i]));
  }
  data_bytes_ += bytes.size();
  return std::fwrite(bytes.data(), 1, bytes.size(), file_) == bytes.size();
}

void WavWriter::close() {
  if (file_ == nullptr) {
    return;
  }
  const auto h = header(rate_, channels_, static_cast<uint32_t>(data_bytes_));
  if (std::fseek(file_, 0, SEEK_SET) == 0) {
    (void)std::fwrite(h.data(), 1, h.size(), file_);
  }
  std::fclose(file_);
  file_ = nullptr;
}

} // namespace entre::plugins::audio_file
