// libFuzzer target: codec-opus's decoder wrapper fed untrusted packets (what a media frame carries
// once opened). Whatever the bytes, decode and conceal (with them as the next packet, for FEC)
// either fail cleanly or write exactly one frame: the canary samples past the frame stay intact.
#include "opus_codec.hpp"

#include <array>
#include <cstdint>

namespace {

struct Decoders {
  entre::plugins::opus::OpusCodec* codec = new entre::plugins::opus::OpusCodec();
  entre::sdk::Decoder* mono = nullptr;
  entre::sdk::Decoder* stereo = nullptr;
  Decoders() {
    (void)codec->create_decoder({48000, 1, 960}, &mono);
    (void)codec->create_decoder({16000, 2, 320}, &stereo);
  }
};

void check(entre::sdk::Decoder* d, std::size_t frame, const uint8_t* data, std::size_t size) {
  constexpr int16_t kCanary = 0x5a5a;
  std::array<int16_t, 960 * 2 + 64> pcm{};
  pcm.fill(kCanary);
  (void)d->decode(entre::sdk::ByteView(data, size), pcm.data());
  (void)d->conceal(entre::sdk::ByteView(data, size), pcm.data());
  (void)d->conceal(entre::sdk::ByteView(), pcm.data());
  for (std::size_t i = frame; i < pcm.size(); ++i) {
    if (pcm[i] != kCanary) {
      __builtin_trap(); // wrote past its frame
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static Decoders d;
  if (d.mono == nullptr || d.stereo == nullptr) {
    __builtin_trap();
  }
  check(d.mono, 960, data, size);
  check(d.stereo, 320 * 2, data, size);
  return 0;
}
