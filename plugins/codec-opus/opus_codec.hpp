// codec-opus: Opus (RFC 6716) through libopus, tuned for calls: the VOIP application, 8 to 48 kHz,
// mono or stereo, frames of 10, 20, 40 or 60 ms, 6 to 510 kbit/s, in-band FEC, DTX and packet-loss
// concealment. The expected loss the call service measures is fed to the encoder, which spends
// bits on FEC accordingly.
//
// Packets are plain Opus packets (RFC 6716 section 3), at most kMaxPacketBytes. With DTX on, a
// packet of 2 bytes or less during silence carries no audio and need not be sent.
// Encoders and decoders allocate only when created; encode, decode and conceal never allocate
// or block.
#pragma once

#include <entre/sdk/codec.hpp>
#include <entre/sdk/plugin.hpp>

#include <array>
#include <cstdint>

struct OpusEncoder;
struct OpusDecoder;

namespace entre::plugins::opus {

inline constexpr uint32_t kMinBitrate = 6000;
inline constexpr uint32_t kMaxBitrate = 510000;
// A 60 ms frame is at most three 20 ms Opus frames of 1275 bytes plus framing (RFC 6716 3.2.5).
inline constexpr uint32_t kMaxPacketBytes = 3 * 1275 + 7;

class OpusCodecEncoder final : public sdk::Encoder {
 public:
  OpusCodecEncoder(OpusEncoder* encoder, const sdk::EncoderParams& params)
      : encoder_(encoder), params_(params) {}
  sdk::Status encode(const int16_t* pcm, sdk::MutableByteView out,
                     uint64_t* written) noexcept override;
  sdk::Status set_bitrate(uint32_t bitrate_bps) noexcept override;
  sdk::Status set_expected_loss(uint32_t percent) noexcept override;
  void destroy() noexcept override;

 private:
  ~OpusCodecEncoder() = default;
  OpusEncoder* encoder_;
  sdk::EncoderParams params_;
  std::array<uint8_t, kMaxPacketBytes> scratch_{};
};

class OpusCodecDecoder final : public sdk::Decoder {
 public:
  OpusCodecDecoder(OpusDecoder* decoder, const sdk::DecoderParams& params)
      : decoder_(decoder), params_(params) {}
  sdk::Status decode(sdk::ByteView packet, int16_t* pcm) noexcept override;
  sdk::Status conceal(sdk::ByteView next, int16_t* pcm) noexcept override;
  void destroy() noexcept override;

 private:
  ~OpusCodecDecoder() = default;
  OpusDecoder* decoder_;
  sdk::DecoderParams params_;
};

class OpusCodec final : public sdk::Codec, public sdk::Plugin {
 public:
  [[nodiscard]] sdk::CodecInfo info() const noexcept override;
  sdk::Status create_encoder(const sdk::EncoderParams& params,
                             sdk::Encoder** out) noexcept override;
  sdk::Status create_decoder(const sdk::DecoderParams& params,
                             sdk::Decoder** out) noexcept override;

  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override { delete this; }

 private:
  ~OpusCodec() override = default;
};

} // namespace entre::plugins::opus
