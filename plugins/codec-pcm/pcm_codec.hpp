// codec-pcm: uncompressed 16-bit PCM. The reference codec: it proves codec negotiation with a
// second codec, and its output is the input, so call tests can measure everything but compression.
//
// Packet format: the frame's samples, interleaved, each as a little-endian int16.
// Concealment repeats the last good frame at half amplitude, then plays silence.
#pragma once

#include <entre/sdk/codec.hpp>
#include <entre/sdk/plugin.hpp>

#include <vector>

namespace entre::plugins::pcm {

inline constexpr uint32_t kMaxFrameSamples = 2880; // 60 ms at 48 kHz
inline constexpr uint32_t kMaxChannels = 2;

class PcmEncoder final : public sdk::Encoder {
 public:
  explicit PcmEncoder(const sdk::EncoderParams& params) : params_(params) {}
  sdk::Status encode(const int16_t* pcm, sdk::MutableByteView out,
                     uint64_t* written) noexcept override;
  sdk::Status set_bitrate(uint32_t bitrate_bps) noexcept override;
  sdk::Status set_expected_loss(uint32_t percent) noexcept override;
  void destroy() noexcept override { delete this; }

 private:
  ~PcmEncoder() = default;
  sdk::EncoderParams params_;
};

class PcmDecoder final : public sdk::Decoder {
 public:
  explicit PcmDecoder(const sdk::DecoderParams& params);
  sdk::Status decode(sdk::ByteView packet, int16_t* pcm) noexcept override;
  sdk::Status conceal(sdk::ByteView next, int16_t* pcm) noexcept override;
  void destroy() noexcept override { delete this; }

 private:
  ~PcmDecoder() = default;
  std::vector<int16_t> last_;
  uint32_t concealed_in_a_row_ = 0;
};

class PcmCodec final : public sdk::Codec, public sdk::Plugin {
 public:
  [[nodiscard]] sdk::CodecInfo info() const noexcept override;
  sdk::Status create_encoder(const sdk::EncoderParams& params,
                             sdk::Encoder** out) noexcept override;
  sdk::Status create_decoder(const sdk::DecoderParams& params,
                             sdk::Decoder** out) noexcept override;

  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override { delete this; }

 private:
  ~PcmCodec() override = default;
};

} // namespace entre::plugins::pcm
