// org.example.codec.mulaw: G.711 mu-law (ITU-T G.711), 8 kHz mono, one byte per sample.
//
// A small but real third-party codec plugin. It includes only the installed Entre SDK.
#include <entre/sdk/codec.hpp>
#include <entre/sdk/plugin.hpp>

#include <cstring>
#include <new>

namespace example {

namespace sdk = entre::sdk;

constexpr int kBias = 0x84;
constexpr int kClip = 32635;
constexpr uint32_t kRate = 8000;
constexpr uint32_t kBitrate = 64000; // 8000 samples of 8 bits a second, always
constexpr uint32_t kMaxFrame = 480;  // 60 ms
// Frames of 10, 20, 40 and 60 ms (CodecInfo::frame_ms_mask counts in steps of 2.5 ms).
constexpr uint32_t kFrameMsMask = (1u << 4) | (1u << 8) | (1u << 16) | (1u << 24);

uint8_t encode_sample(int16_t sample) {
  int value = sample;
  const int sign = value < 0 ? 0x80 : 0;
  if (value < 0) {
    value = -value;
  }
  if (value > kClip) {
    value = kClip;
  }
  value += kBias;
  int exponent = 7;
  for (int mask = 0x4000; (value & mask) == 0 && exponent > 0; mask >>= 1) {
    --exponent;
  }
  const int mantissa = (value >> (exponent + 3)) & 0x0f;
  return static_cast<uint8_t>(~(sign | (exponent << 4) | mantissa));
}

int16_t decode_sample(uint8_t code) {
  const int inverted = ~code & 0xff;
  const int exponent = (inverted >> 4) & 0x07;
  const int mantissa = inverted & 0x0f;
  const int magnitude = (((mantissa << 3) + kBias) << exponent) - kBias;
  return static_cast<int16_t>((inverted & 0x80) != 0 ? -magnitude : magnitude);
}

// True when `frame` samples at kRate are one of the frame lengths info() advertises.
bool offered_frame(uint32_t frame) {
  for (uint32_t bit = 0; bit < 32; ++bit) {
    if ((kFrameMsMask & (1u << bit)) != 0 && frame * 10 == kRate * bit * 25 / 1000) {
      return true;
    }
  }
  return false;
}

sdk::Status check(uint32_t rate, uint32_t channels, uint32_t frame) {
  if (rate != kRate || channels != 1 || !offered_frame(frame)) {
    return sdk::Status::error(sdk::StatusCode::kUnsupported,
                              "mulaw: only 8000 Hz mono in 10, 20, 40 or 60 ms frames");
  }
  return sdk::Status::ok();
}

class Encoder final : public sdk::Encoder {
 public:
  explicit Encoder(uint32_t frame) : frame_(frame) {}
  sdk::Status encode(const int16_t* pcm, sdk::MutableByteView out,
                     uint64_t* written) noexcept override {
    if (out.size < frame_) {
      return sdk::Status::error(sdk::StatusCode::kBufferTooSmall, "mulaw: buffer too small");
    }
    for (uint32_t i = 0; i < frame_; ++i) {
      out.data[i] = encode_sample(pcm[i]);
    }
    *written = frame_;
    return sdk::Status::ok();
  }
  // G.711 has one bitrate (info() gives it as both bounds) and no use for the expected loss, but
  // values outside the documented ranges are still refused.
  sdk::Status set_bitrate(uint32_t bitrate_bps) noexcept override {
    return bitrate_bps == kBitrate
               ? sdk::Status::ok()
               : sdk::Status::error(sdk::StatusCode::kOutOfRange, "mulaw: only 64000 bit/s");
  }
  sdk::Status set_expected_loss(uint32_t percent) noexcept override {
    return percent <= 100 ? sdk::Status::ok()
                          : sdk::Status::error(sdk::StatusCode::kOutOfRange,
                                               "mulaw: expected loss over 100 %");
  }
  void destroy() noexcept override { delete this; }

 private:
  ~Encoder() = default;
  uint32_t frame_;
};

class Decoder final : public sdk::Decoder {
 public:
  explicit Decoder(uint32_t frame) : frame_(frame) {}
  sdk::Status decode(sdk::ByteView packet, int16_t* pcm) noexcept override {
    if (packet.size != frame_) {
      return sdk::Status::error(sdk::StatusCode::kCorrupt, "mulaw: wrong packet size");
    }
    for (uint32_t i = 0; i < frame_; ++i) {
      pcm[i] = decode_sample(packet.data[i]);
    }
    return sdk::Status::ok();
  }
  sdk::Status conceal(sdk::ByteView, int16_t* pcm) noexcept override {
    std::memset(pcm, 0, frame_ * sizeof(int16_t));
    return sdk::Status::ok();
  }
  void destroy() noexcept override { delete this; }

 private:
  ~Decoder() = default;
  uint32_t frame_;
};

class MulawPlugin final : public sdk::Plugin, public sdk::Codec {
 public:
  void* query_interface(sdk::InterfaceId id) noexcept override {
    return id == sdk::InterfaceId::kCodecV1 ? static_cast<sdk::Codec*>(this) : nullptr;
  }
  void destroy() noexcept override { delete this; }

  sdk::CodecInfo info() const noexcept override {
    sdk::CodecInfo info{};
    std::memcpy(info.name, "pcmu", 5);
    info.sample_rates[0] = kRate;
    info.max_channels = 1;
    info.frame_ms_mask = kFrameMsMask;
    info.min_bitrate_bps = kBitrate;
    info.max_bitrate_bps = kBitrate;
    info.max_packet_bytes = kMaxFrame;
    return info;
  }
  sdk::Status create_encoder(const sdk::EncoderParams& p, sdk::Encoder** out) noexcept override {
    sdk::Status st = check(p.sample_rate, p.channels, p.frame_samples);
    if (st.is_ok() && p.bitrate_bps != kBitrate) {
      st = sdk::Status::error(sdk::StatusCode::kOutOfRange, "mulaw: only 64000 bit/s");
    }
    if (st.is_ok()) {
      *out = new (std::nothrow) Encoder(p.frame_samples);
      if (*out == nullptr) {
        st = sdk::Status::error(sdk::StatusCode::kInternal, "mulaw: out of memory");
      }
    }
    return st;
  }
  sdk::Status create_decoder(const sdk::DecoderParams& p, sdk::Decoder** out) noexcept override {
    sdk::Status st = check(p.sample_rate, p.channels, p.frame_samples);
    if (st.is_ok()) {
      *out = new (std::nothrow) Decoder(p.frame_samples);
      if (*out == nullptr) {
        st = sdk::Status::error(sdk::StatusCode::kInternal, "mulaw: out of memory");
      }
    }
    return st;
  }

 private:
  ~MulawPlugin() override = default;
};

sdk::Status create(sdk::Host& host, sdk::Plugin** out) {
  host.log(sdk::LogLevel::kInfo, "mulaw codec ready");
  *out = new (std::nothrow) MulawPlugin();
  return *out != nullptr ? sdk::Status::ok()
                         : sdk::Status::error(sdk::StatusCode::kInternal, "out of memory");
}

} // namespace example

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kCodec, "org.example.codec.mulaw", "1.0.0",
                      "G.711 mu-law, 8 kHz mono (third-party example)");
ENTRE_PLUGIN_FACTORY(example::create);
