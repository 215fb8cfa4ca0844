// libFuzzer target: audio-file's WAV parser and the conversion it feeds, on arbitrary bytes.
#include "wav.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace entre::plugins::audio_file;
  WavAudio audio;
  std::string error;
  if (!parse_wav(std::span<const uint8_t>(data, size), audio, error)) {
    if (error.empty()) {
      __builtin_trap(); // every refusal must say why
    }
    return 0;
  }
  if (audio.samples.size() <= 1 << 16) {
    (void)convert(audio, 48000, 2);
    (void)convert(audio, 8000, 1);
  }
  return 0;
}
