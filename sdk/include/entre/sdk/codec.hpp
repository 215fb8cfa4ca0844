// Codec plugins: audio encoders and decoders for calls.
//
// Contract
// - Audio is interleaved signed 16-bit PCM. A frame is `frame_samples` samples per channel.
// - Codec::info() describes what the plugin offers; create_encoder/create_decoder check the params
//   against it and return kUnsupported for anything else. Each returned object is owned by the
//   caller and released with destroy().
// - Encoder::encode writes one packet for exactly one frame into `out`; kBufferTooSmall if `out` is
//   too small (nothing written).
// - Decoder::decode decodes one packet into exactly one frame; conceal() produces a frame for a
//   packet that never arrived (packet-loss concealment, or in-band FEC from `next` if the codec has
//   it and next is not empty).
// - Threading: an encoder or decoder is used by one thread at a time; different objects are
//   independent. Encoders and decoders run on audio threads and never block or allocate per frame.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

enum CodecFlags : uint32_t {
  kCodecFec = 1u << 0,         // in-band forward error correction
  kCodecDtx = 1u << 1,         // discontinuous transmission
  kCodecConcealment = 1u << 2, // real packet-loss concealment (else silence)
};

// SDK 1.3: the sample rates a call can run at. Both sides pick one rate that both codecs offer,
// in this range; a codec may list other rates, but one without any rate in this range is never
// used for a call (entre-plugin-check --conformance fails it).
inline constexpr uint32_t kCallMinSampleRateHz = 8000;
inline constexpr uint32_t kCallMaxSampleRateHz = 48000;

struct CodecInfo {
  char name[32];            // negotiation name, e.g. "opus", "pcm16"
  uint32_t flags;           // CodecFlags
  uint32_t sample_rates[8]; // supported rates in Hz, 0-terminated
  uint32_t max_channels;    // 1 or 2
  uint32_t frame_ms_mask;   // bit n set: frames of n*2.5 ms (bit 4 = 10 ms, bit 8 = 20 ms)
  uint32_t min_bitrate_bps; // 0 for fixed-rate codecs
  uint32_t max_bitrate_bps;
  uint32_t max_packet_bytes; // largest packet encode() produces
};

struct EncoderParams {
  uint32_t sample_rate;
  uint32_t channels;
  uint32_t frame_samples; // per channel
  uint32_t bitrate_bps;
  uint32_t expected_loss_percent; // fed from measured link loss
  uint32_t flags;                 // CodecFlags the caller wants enabled
};

struct DecoderParams {
  uint32_t sample_rate;
  uint32_t channels;
  uint32_t frame_samples;
};

class Encoder {
 public:
  virtual Status encode(const int16_t* pcm, MutableByteView out, uint64_t* written) noexcept = 0;
  virtual Status set_bitrate(uint32_t bitrate_bps) noexcept = 0;
  virtual Status set_expected_loss(uint32_t percent) noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  ~Encoder() = default;
};

class Decoder {
 public:
  virtual Status decode(ByteView packet, int16_t* pcm) noexcept = 0;
  virtual Status conceal(ByteView next, int16_t* pcm) noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  ~Decoder() = default;
};

class Codec {
 public:
  [[nodiscard]] virtual CodecInfo info() const noexcept = 0;
  virtual Status create_encoder(const EncoderParams& params, Encoder** out) noexcept = 0;
  virtual Status create_decoder(const DecoderParams& params, Decoder** out) noexcept = 0;

 protected:
  ~Codec() = default;
};

} // namespace entre::sdk
