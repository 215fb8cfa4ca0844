#include "pcm_codec.hpp"

#include <cstring>
#include <new>

namespace entre::plugins::pcm {

namespace {

constexpr uint32_t kRates[] = {8000, 12000, 16000, 24000, 32000, 44100, 48000};

bool rate_supported(uint32_t rate) {
  for (uint32_t r : kRates) {
    if (r == rate) {
      return true;
    }
  }
  return false;
}

sdk::Status check_format(uint32_t rate, uint32_t channels, uint32_t frame_samples) {
  if (!rate_supported(rate)) {
    return sdk::Status::error(sdk::StatusCode::kUnsupported, "pcm: unsupported sample rate");
  }
  if (channels == 0 || channels > kMaxChannels) {
    return sdk::Status::error(sdk::StatusCode::kUnsupported, "pcm: channels must be 1 or 2");
  }
  for (uint32_t ms : {10u, 20u, 40u, 60u}) {
    if (uint64_t{frame_samples} * 1000 == uint64_t{rate} * ms) {
      return sdk::Status::ok();
    }
  }
  return sdk::Status::error(sdk::StatusCode::kUnsupported,
                            "pcm: frames must be 10, 20, 40 or 60 ms");
}

} // namespace

sdk::Status PcmEncoder::encode(const int16_t* pcm, sdk::MutableByteView out,
                               uint64_t* written) noexcept {
  const uint64_t samples = uint64_t{params_.frame_samples} * params_.channels;
  const uint64_t need = samples * 2;
  if (pcm == nullptr || written == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "pcm: null buffer");
  }
  if (out.size < need) {
    return sdk::Status::error(sdk::StatusCode::kBufferTooSmall, "pcm: output buffer too small");
  }
  for (uint64_t i = 0; i < samples; ++i) {
    const auto v = static_cast<uint16_t>(pcm[i]);
    out.data[2 * i] = static_cast<uint8_t>(v & 0xff);
    out.data[2 * i + 1] = static_cast<uint8_t>(v >> 8);
  }
  *written = need;
  return sdk::Status::ok();
}

sdk::Status PcmEncoder::set_bitrate(uint32_t) noexcept {
  return sdk::Status::error(sdk::StatusCode::kUnsupported, "pcm: fixed bitrate");
}

sdk::Status PcmEncoder::set_expected_loss(uint32_t percent) noexcept {
  return percent <= 100 ? sdk::Status::ok()
                        : sdk::Status::error(sdk::StatusCode::kOutOfRange,
                                             "pcm: expected loss must be 0 to 100 percent");
}

PcmDecoder::PcmDecoder(const sdk::DecoderParams& params)
    : last_(std::size_t{params.frame_samples} * params.channels, 0) {}

sdk::Status PcmDecoder::decode(sdk::ByteView packet, int16_t* pcm) noexcept {
  const uint64_t samples = last_.size();
  if (pcm == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "pcm: null buffer");
  }
  if (packet.size != samples * 2) {
    return sdk::Status::error(sdk::StatusCode::kCorrupt,
                              "pcm: packet size does not match the frame size");
  }
  for (uint64_t i = 0; i < samples; ++i) {
    const auto v = static_cast<uint16_t>(packet.data[2 * i] | (packet.data[2 * i + 1] << 8));
    pcm[i] = static_cast<int16_t>(v);
  }
  std::memcpy(last_.data(), pcm, samples * sizeof(int16_t));
  concealed_in_a_row_ = 0;
  return sdk::Status::ok();
}

sdk::Status PcmDecoder::conceal(sdk::ByteView, int16_t* pcm) noexcept {
  if (pcm == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "pcm: null buffer");
  }
  ++concealed_in_a_row_;
  for (std::size_t i = 0; i < last_.size(); ++i) {
    last_[i] = concealed_in_a_row_ == 1 ? static_cast<int16_t>(last_[i] / 2) : int16_t{0};
    pcm[i] = last_[i];
  }
  return sdk::Status::ok();
}

sdk::CodecInfo PcmCodec::info() const noexcept {
  sdk::CodecInfo info{};
  std::memcpy(info.name, "pcm16", 6);
  info.flags = 0;
  for (std::size_t i = 0; i < std::size(kRates); ++i) {
    info.sample_rates[i] = kRates[i];
  }
  info.max_channels = kMaxChannels;
  info.frame_ms_mask = (1u << 4) | (1u << 8) | (1u << 16) | (1u << 24); // 10, 20, 40, 60 ms
  info.min_bitrate_bps = 0;
  info.max_bitrate_bps = 0;
  info.max_packet_bytes = kMaxFrameSamples * kMaxChannels * 2;
  return info;
}

sdk::Status PcmCodec::create_encoder(const sdk::EncoderParams& params,
                                     sdk::Encoder** out) noexcept {
  if (out == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "pcm: null output");
  }
  sdk::Status st = check_format(params.sample_rate, params.channels, params.frame_samples);
  if (!st.is_ok()) {
    return st;
  }
  *out = new (std::nothrow) PcmEncoder(params);
  return *out != nullptr ? sdk::Status::ok()
                         : sdk::Status::error(sdk::StatusCode::kInternal, "pcm: out of memory");
}

sdk::Status PcmCodec::create_decoder(const sdk::DecoderParams& params,
                                     sdk::Decoder** out) noexcept {
  if (out == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "pcm: null output");
  }
  sdk::Status st = check_format(params.sample_rate, params.channels, params.frame_samples);
  if (!st.is_ok()) {
    return st;
  }
  try {
    *out = new PcmDecoder(params);
  } catch (...) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "pcm: out of memory");
  }
  return sdk::Status::ok();
}

void* PcmCodec::query_interface(sdk::InterfaceId id) noexcept {
  if (id == sdk::InterfaceId::kCodecV1) {
    return static_cast<sdk::Codec*>(this);
  }
  return nullptr;
}

} // namespace entre::plugins::pcm
