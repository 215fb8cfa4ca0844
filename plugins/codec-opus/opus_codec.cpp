#include "opus_codec.hpp"

#include <opus.h>

#include <cstring>
#include <new>

namespace entre::plugins::opus {

namespace {

constexpr uint32_t kRates[] = {8000, 12000, 16000, 24000, 48000};

sdk::Status fail(sdk::StatusCode code, const char* what) { return sdk::Status::error(code, what); }

sdk::Status check_format(uint32_t rate, uint32_t channels, uint32_t frame_samples) {
  bool rate_ok = false;
  for (uint32_t r : kRates) {
    rate_ok = rate_ok || r == rate;
  }
  if (!rate_ok) {
    return fail(sdk::StatusCode::kUnsupported,
                "opus: sample rate must be 8000, 12000, 16000, 24000 or 48000 Hz");
  }
  if (channels != 1 && channels != 2) {
    return fail(sdk::StatusCode::kUnsupported, "opus: channels must be 1 or 2");
  }
  for (uint32_t ms : {10u, 20u, 40u, 60u}) {
    if (frame_samples == rate / 1000 * ms) {
      return sdk::Status::ok();
    }
  }
  return fail(sdk::StatusCode::kUnsupported, "opus: frames must be 10, 20, 40 or 60 ms");
}

sdk::Status from_opus(int error, const char* what) {
  switch (error) {
  case OPUS_BAD_ARG:
    return fail(sdk::StatusCode::kInvalidArgument, what);
  case OPUS_BUFFER_TOO_SMALL:
    return fail(sdk::StatusCode::kBufferTooSmall, what);
  case OPUS_INVALID_PACKET:
    return fail(sdk::StatusCode::kCorrupt, what);
  case OPUS_ALLOC_FAIL:
    return fail(sdk::StatusCode::kInternal, what);
  default:
    return fail(sdk::StatusCode::kInternal, what);
  }
}

} // namespace

sdk::Status OpusCodecEncoder::encode(const int16_t* pcm, sdk::MutableByteView out,
                                     uint64_t* written) noexcept {
  if (pcm == nullptr || written == nullptr || (out.data == nullptr && out.size > 0)) {
    return fail(sdk::StatusCode::kInvalidArgument, "opus: null buffer");
  }
  // Encoded into scratch first, so that a buffer too small is refused with nothing written.
  const opus_int32 n = opus_encode(encoder_, pcm, static_cast<int>(params_.frame_samples),
                                   scratch_.data(), static_cast<opus_int32>(scratch_.size()));
  if (n < 0) {
    return from_opus(n, "opus: encode failed");
  }
  if (static_cast<uint64_t>(n) > out.size) {
    return fail(sdk::StatusCode::kBufferTooSmall, "opus: output buffer too small");
  }
  std::memcpy(out.data, scratch_.data(), static_cast<std::size_t>(n));
  *written = static_cast<uint64_t>(n);
  return sdk::Status::ok();
}

sdk::Status OpusCodecEncoder::set_bitrate(uint32_t bitrate_bps) noexcept {
  if (bitrate_bps < kMinBitrate || bitrate_bps > kMaxBitrate) {
    return fail(sdk::StatusCode::kOutOfRange, "opus: bitrate must be 6000 to 510000 bit/s");
  }
  const int r = opus_encoder_ctl(encoder_, OPUS_SET_BITRATE(static_cast<opus_int32>(bitrate_bps)));
  return r == OPUS_OK ? sdk::Status::ok() : from_opus(r, "opus: cannot set the bitrate");
}

sdk::Status OpusCodecEncoder::set_expected_loss(uint32_t percent) noexcept {
  if (percent > 100) {
    return fail(sdk::StatusCode::kOutOfRange, "opus: expected loss must be 0 to 100 percent");
  }
  const int r =
      opus_encoder_ctl(encoder_, OPUS_SET_PACKET_LOSS_PERC(static_cast<opus_int32>(percent)));
  return r == OPUS_OK ? sdk::Status::ok() : from_opus(r, "opus: cannot set the expected loss");
}

void OpusCodecEncoder::destroy() noexcept {
  opus_encoder_destroy(encoder_);
  delete this;
}

sdk::Status OpusCodecDecoder::decode(sdk::ByteView packet, int16_t* pcm) noexcept {
  if (pcm == nullptr) {
    return fail(sdk::StatusCode::kInvalidArgument, "opus: null buffer");
  }
  if (packet.size == 0 || packet.data == nullptr) {
    return fail(sdk::StatusCode::kCorrupt, "opus: empty packet (use conceal for a lost one)");
  }
  if (packet.size > kMaxPacketBytes) {
    return fail(sdk::StatusCode::kCorrupt, "opus: packet larger than 3832 bytes");
  }
  // A packet must hold exactly one frame of the size this decoder was made for; opus_decode
  // never writes more than frame_samples per channel.
  const int samples = opus_packet_get_nb_samples(packet.data, static_cast<opus_int32>(packet.size),
                                                 static_cast<opus_int32>(params_.sample_rate));
  if (samples < 0) {
    return from_opus(samples, "opus: malformed packet");
  }
  if (static_cast<uint32_t>(samples) != params_.frame_samples) {
    return fail(sdk::StatusCode::kCorrupt, "opus: packet duration differs from the frame size");
  }
  const int n = opus_decode(decoder_, packet.data, static_cast<opus_int32>(packet.size), pcm,
                            static_cast<int>(params_.frame_samples), 0);
  if (n < 0) {
    return from_opus(n, "opus: malformed packet");
  }
  return sdk::Status::ok();
}

sdk::Status OpusCodecDecoder::conceal(sdk::ByteView next, int16_t* pcm) noexcept {
  if (pcm == nullptr) {
    return fail(sdk::StatusCode::kInvalidArgument, "opus: null buffer");
  }
  const int frame = static_cast<int>(params_.frame_samples);
  if (next.size > 0 && next.data != nullptr && next.size <= kMaxPacketBytes) {
    // The next packet's in-band FEC (LBRR) describes this lost frame, when the sender added it.
    const int n =
        opus_decode(decoder_, next.data, static_cast<opus_int32>(next.size), pcm, frame, 1);
    if (n == frame) {
      return sdk::Status::ok();
    }
  }
  const int n = opus_decode(decoder_, nullptr, 0, pcm, frame, 0);
  return n == frame ? sdk::Status::ok()
                    : from_opus(n < 0 ? n : OPUS_INTERNAL_ERROR, "opus: concealment failed");
}

void OpusCodecDecoder::destroy() noexcept {
  opus_decoder_destroy(decoder_);
  delete this;
}

sdk::CodecInfo OpusCodec::info() const noexcept {
  sdk::CodecInfo info{};
  std::memcpy(info.name, "opus", 5);
  info.flags = sdk::kCodecFec | sdk::kCodecDtx | sdk::kCodecConcealment;
  for (std::size_t i = 0; i < std::size(kRates); ++i) {
    info.sample_rates[i] = kRates[i];
  }
  info.max_channels = 2;
  info.frame_ms_mask = (1u << 4) | (1u << 8) | (1u << 16) | (1u << 24); // 10, 20, 40, 60 ms
  info.min_bitrate_bps = kMinBitrate;
  info.max_bitrate_bps = kMaxBitrate;
  info.max_packet_bytes = kMaxPacketBytes;
  return info;
}

sdk::Status OpusCodec::create_encoder(const sdk::EncoderParams& params,
                                      sdk::Encoder** out) noexcept {
  if (out == nullptr) {
    return fail(sdk::StatusCode::kInvalidArgument, "opus: null output");
  }
  *out = nullptr;
  sdk::Status st = check_format(params.sample_rate, params.channels, params.frame_samples);
  if (!st.is_ok()) {
    return st;
  }
  if (params.bitrate_bps != 0 &&
      (params.bitrate_bps < kMinBitrate || params.bitrate_bps > kMaxBitrate)) {
    return fail(sdk::StatusCode::kOutOfRange, "opus: bitrate must be 6000 to 510000 bit/s");
  }
  if (params.expected_loss_percent > 100) {
    return fail(sdk::StatusCode::kOutOfRange, "opus: expected loss must be 0 to 100 percent");
  }
  int error = OPUS_OK;
  OpusEncoder* enc =
      opus_encoder_create(static_cast<opus_int32>(params.sample_rate),
                          static_cast<int>(params.channels), OPUS_APPLICATION_VOIP, &error);
  if (enc == nullptr || error != OPUS_OK) {
    return from_opus(error, "opus: cannot create an encoder");
  }
  const opus_int32 bitrate =
      params.bitrate_bps == 0 ? OPUS_AUTO : static_cast<opus_int32>(params.bitrate_bps);
  if (opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate)) != OPUS_OK ||
      opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)) != OPUS_OK ||
      opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC((params.flags & sdk::kCodecFec) != 0 ? 1 : 0)) !=
          OPUS_OK ||
      opus_encoder_ctl(enc, OPUS_SET_DTX((params.flags & sdk::kCodecDtx) != 0 ? 1 : 0)) !=
          OPUS_OK ||
      opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(static_cast<opus_int32>(
                                params.expected_loss_percent))) != OPUS_OK) {
    opus_encoder_destroy(enc);
    return fail(sdk::StatusCode::kInternal, "opus: cannot configure the encoder");
  }
  *out = new (std::nothrow) OpusCodecEncoder(enc, params);
  if (*out == nullptr) {
    opus_encoder_destroy(enc);
    return fail(sdk::StatusCode::kInternal, "opus: out of memory");
  }
  return sdk::Status::ok();
}

sdk::Status OpusCodec::create_decoder(const sdk::DecoderParams& params,
                                      sdk::Decoder** out) noexcept {
  if (out == nullptr) {
    return fail(sdk::StatusCode::kInvalidArgument, "opus: null output");
  }
  *out = nullptr;
  sdk::Status st = check_format(params.sample_rate, params.channels, params.frame_samples);
  if (!st.is_ok()) {
    return st;
  }
  int error = OPUS_OK;
  OpusDecoder* dec = opus_decoder_create(static_cast<opus_int32>(params.sample_rate),
                                         static_cast<int>(params.channels), &error);
  if (dec == nullptr || error != OPUS_OK) {
    return from_opus(error, "opus: cannot create a decoder");
  }
  *out = new (std::nothrow) OpusCodecDecoder(dec, params);
  if (*out == nullptr) {
    opus_decoder_destroy(dec);
    return fail(sdk::StatusCode::kInternal, "opus: out of memory");
  }
  return sdk::Status::ok();
}

void* OpusCodec::query_interface(sdk::InterfaceId id) noexcept {
  if (id == sdk::InterfaceId::kCodecV1) {
    return static_cast<sdk::Codec*>(this);
  }
  return nullptr;
}

} // namespace entre::plugins::opus
