#include "conformance/codec_conformance.hpp"

#include "conformance/audio_quality.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <numbers>
#include <numeric>
#include <stdexcept>
#include <string>

namespace entre {

namespace {

using conformance::Checks;
using conformance::expect;
using conformance::expect_ok;
using conformance::Owned;

constexpr int16_t kCanary = 0x5a5a;
// A lossy codec's output of the test voice may differ from it by this much at most (log-spectral
// distance): libopus at 32 kbit/s stays under 1 dB; noise, silence or another voice give over
// 6 dB.
constexpr double kMaxVoiceDistanceDb = 3.0;
constexpr std::size_t kCanaryCount = 64;

struct Format {
  uint32_t rate;
  uint32_t channels;
  uint32_t frame_samples;
  uint32_t frame_ms_x10; // frame length in tenths of a millisecond

  [[nodiscard]] std::string str() const {
    return std::to_string(rate) + " Hz, " + std::to_string(channels) + " ch, " +
           std::to_string(frame_ms_x10 / 10) + (frame_ms_x10 % 10 != 0 ? ".5" : "") + " ms";
  }
  [[nodiscard]] std::size_t samples() const { return std::size_t{frame_samples} * channels; }
};

// Every format the codec advertises: each rate, each channel count, each frame length that is a
// whole number of samples at that rate.
std::vector<Format> formats_of(const sdk::CodecInfo& info) {
  std::vector<Format> out;
  for (uint32_t rate : info.sample_rates) {
    if (rate == 0) {
      break;
    }
    for (uint32_t channels = 1; channels <= info.max_channels; ++channels) {
      for (uint32_t bit = 1; bit < 32; ++bit) {
        if ((info.frame_ms_mask & (1u << bit)) == 0) {
          continue;
        }
        const uint64_t tenths = uint64_t{bit} * 25; // bit n: n * 2.5 ms
        if ((uint64_t{rate} * tenths) % 10000 != 0) {
          continue;
        }
        out.push_back({rate, channels, static_cast<uint32_t>(uint64_t{rate} * tenths / 10000),
                       static_cast<uint32_t>(tenths)});
      }
    }
  }
  return out;
}

// A voiced, speech-like test signal: harmonics of a gliding pitch under a syllable-rate envelope.
std::vector<int16_t> voice(const Format& f, std::size_t frames, double seconds_offset = 0) {
  std::vector<int16_t> pcm(f.samples() * frames);
  double phase = 0;
  const double nyquist = f.rate / 2.0;
  for (std::size_t i = 0; i < f.frame_samples * frames; ++i) {
    const double t = seconds_offset + static_cast<double>(i) / f.rate;
    const double pitch = 140 + 40 * std::sin(2 * std::numbers::pi * 1.3 * t);
    phase += 2 * std::numbers::pi * pitch / f.rate;
    double v = 0;
    for (int h = 1; h <= 12 && h * pitch < nyquist * 0.9; ++h) {
      v += std::sin(h * phase) / h;
    }
    const double envelope = 0.55 + 0.45 * std::sin(2 * std::numbers::pi * 4 * t);
    const auto s = static_cast<int16_t>(std::lround(6000 * envelope * v));
    for (uint32_t c = 0; c < f.channels; ++c) {
      pcm[i * f.channels + c] = c == 0 ? s : static_cast<int16_t>(s / 2);
    }
  }
  return pcm;
}

// Log-spectral distance (audio_quality.hpp) of channel 0 of `out` from `in`, after the delay that
// fits best (at most 30 ms, found on 200 ms of signal), from `skip_ms` on. With `lost` (indices
// of lost frames), only the analysis frames that overlap a lost frame count.
double distance(const std::vector<int16_t>& in, const std::vector<int16_t>& out, const Format& f,
                uint32_t skip_ms, const std::vector<std::size_t>& lost = {}) {
  const std::vector<float> x = quality::channel_of(in, f.channels);
  const std::vector<float> y = quality::channel_of(out, f.channels);
  const std::size_t skip = std::size_t{f.rate} * skip_ms / 1000;
  const std::size_t window = std::size_t{f.rate} / 5;
  const std::size_t delay = quality::find_delay(
      std::vector<float>(
          x.begin(), x.begin() + static_cast<std::ptrdiff_t>(std::min(x.size(), skip + window))),
      y, std::size_t{f.rate} * 30 / 1000, skip);
  std::vector<quality::FrameDistance> frames;
  const double all = quality::log_spectral_distance(x, y, delay, f.rate, skip, &frames);
  if (lost.empty()) {
    return all;
  }
  double sum = 0;
  std::size_t n = 0;
  for (const auto& fd : frames) {
    for (std::size_t i : lost) {
      const std::size_t begin = i * f.frame_samples;
      const std::size_t end = begin + f.frame_samples;
      if (fd.start + f.frame_samples / 2 >= begin && fd.start < end) {
        sum += fd.db;
        ++n;
        break;
      }
    }
  }
  return n == 0 ? 100 : sum / static_cast<double>(n);
}

std::string db(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f dB", v);
  return text;
}

struct Codec {
  sdk::Codec& codec;
  sdk::CodecInfo info;

  [[nodiscard]] uint32_t bitrate() const {
    if (info.max_bitrate_bps == 0) {
      return 0;
    }
    return std::clamp<uint32_t>(32000, info.min_bitrate_bps, info.max_bitrate_bps);
  }

  Owned<sdk::Encoder> encoder(const Format& f, uint32_t flags = 0, uint32_t loss = 0) {
    sdk::EncoderParams p{f.rate, f.channels, f.frame_samples, bitrate(), loss, flags};
    sdk::Encoder* e = nullptr;
    expect_ok(codec.create_encoder(p, &e), "create_encoder(" + f.str() + ")");
    expect(e != nullptr, "create_encoder(" + f.str() + ") gave no encoder");
    return Owned<sdk::Encoder>(e);
  }

  Owned<sdk::Decoder> decoder(const Format& f) {
    sdk::DecoderParams p{f.rate, f.channels, f.frame_samples};
    sdk::Decoder* d = nullptr;
    expect_ok(codec.create_decoder(p, &d), "create_decoder(" + f.str() + ")");
    expect(d != nullptr, "create_decoder(" + f.str() + ") gave no decoder");
    return Owned<sdk::Decoder>(d);
  }

  // Encodes `frames` frames of `pcm`; each packet checked against the advertised maximum.
  std::vector<std::vector<uint8_t>> encode(sdk::Encoder& e, const Format& f,
                                           const std::vector<int16_t>& pcm) {
    std::vector<std::vector<uint8_t>> packets;
    std::vector<uint8_t> buffer(info.max_packet_bytes + 64);
    for (std::size_t at = 0; at + f.samples() <= pcm.size(); at += f.samples()) {
      uint64_t written = 0;
      expect_ok(e.encode(pcm.data() + at, {buffer.data(), buffer.size()}, &written),
                "encode(" + f.str() + ")");
      expect(written > 0 && written <= info.max_packet_bytes,
             "encode(" + f.str() + ") wrote " + std::to_string(written) +
                 " bytes; max_packet_bytes is " + std::to_string(info.max_packet_bytes));
      packets.emplace_back(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(written));
    }
    return packets;
  }

  // Runs `step` into a frame buffer followed by canaries, and checks none was overwritten.
  static void into_frame(const Format& f, std::vector<int16_t>& frame,
                         const std::function<sdk::Status(int16_t*)>& step,
                         const std::string& what) {
    frame.assign(f.samples() + kCanaryCount, kCanary);
    expect_ok(step(frame.data()), what);
    for (std::size_t i = f.samples(); i < frame.size(); ++i) {
      expect(frame[i] == kCanary, what + " wrote past the end of the frame (" + f.str() + ")");
    }
    frame.resize(f.samples());
  }

  // Decodes packets (an empty one is a lost packet: concealed, with the next packet when
  // `use_next`) into one signal.
  std::vector<int16_t> decode(sdk::Decoder& d, const Format& f,
                              const std::vector<std::vector<uint8_t>>& packets, bool use_next) {
    std::vector<int16_t> out;
    std::vector<int16_t> frame;
    for (std::size_t i = 0; i < packets.size(); ++i) {
      if (packets[i].empty()) {
        const bool next = use_next && i + 1 < packets.size() && !packets[i + 1].empty();
        const sdk::ByteView ahead = next ? sdk::ByteView(packets[i + 1]) : sdk::ByteView();
        into_frame(
            f, frame, [&](int16_t* pcm) { return d.conceal(ahead, pcm); },
            "conceal(" + f.str() + ")");
      } else {
        into_frame(
            f, frame, [&](int16_t* pcm) { return d.decode(sdk::ByteView(packets[i]), pcm); },
            "decode(" + f.str() + ")");
      }
      out.insert(out.end(), frame.begin(), frame.end());
    }
    return out;
  }
};

} // namespace

std::vector<ConformanceCheck> run_codec_conformance(sdk::Codec& codec) {
  Checks s;
  Codec c{codec, codec.info()};
  const sdk::CodecInfo& info = c.info;
  const std::vector<Format> formats = formats_of(info);
  const bool lossless = info.max_bitrate_bps == 0;

  s.check("info describes a usable codec", [&] {
    const std::size_t len = strnlen(info.name, sizeof info.name);
    expect(len > 0 && len < sizeof info.name, "name is empty or not NUL-terminated");
    for (std::size_t i = 0; i < len; ++i) {
      const char ch = info.name[i];
      expect((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-',
             "name has a character other than a-z, 0-9 and '-'");
    }
    expect(info.sample_rates[0] != 0, "no sample rate");
    // A call runs at one rate both sides offer, between 8000 and 48000 Hz (the accept signal
    // carries it); a codec may offer others, but without one of these it can never be used.
    expect(std::any_of(std::begin(info.sample_rates), std::end(info.sample_rates),
                       [](uint32_t rate) {
                         return rate >= sdk::kCallMinSampleRateHz &&
                                rate <= sdk::kCallMaxSampleRateHz;
                       }),
           "no rate between " + std::to_string(sdk::kCallMinSampleRateHz) + " and " +
               std::to_string(sdk::kCallMaxSampleRateHz) +
               " Hz (the rates a call can use) is offered");
    expect(info.max_channels == 1 || info.max_channels == 2, "max_channels is not 1 or 2");
    expect((info.frame_ms_mask & (1u << 8)) != 0, "20 ms frames are not offered");
    expect(info.max_packet_bytes > 0, "max_packet_bytes is 0");
    expect(info.min_bitrate_bps <= info.max_bitrate_bps, "min_bitrate_bps > max_bitrate_bps");
    expect((info.min_bitrate_bps == 0) == (info.max_bitrate_bps == 0),
           "only one of the bitrate bounds is 0");
  });

  // Lossless codecs must give the input back; lossy ones must keep a voice recognisable.
  const double max_distance = lossless ? 0.01 : kMaxVoiceDistanceDb;

  s.check("every advertised format carries a voice", [&] {
    expect(!formats.empty(), "no format");
    std::string failures;
    for (const Format& f : formats) {
      const std::size_t frames = std::max<std::size_t>(10, 6000 / f.frame_ms_x10);
      const std::vector<int16_t> in = voice(f, frames);
      auto e = c.encoder(f);
      auto d = c.decoder(f);
      const double lsd = distance(in, c.decode(*d, f, c.encode(*e, f, in), false), f, 100);
      if (lsd > max_distance) {
        failures += (failures.empty() ? "" : "; ") + f.str() + ": " + db(lsd);
      }
    }
    expect(failures.empty(), "log-spectral distance above " + db(max_distance) + ": " + failures);
  });

  s.check("formats it does not offer are refused", [&] {
    const Format good = formats.front();
    auto refused = [&](uint32_t rate, uint32_t channels, uint32_t frame_samples,
                       const std::string& what) {
      sdk::Encoder* e = nullptr;
      sdk::EncoderParams ep{rate, channels, frame_samples, c.bitrate(), 0, 0};
      const sdk::Status st = codec.create_encoder(ep, &e);
      if (e != nullptr) {
        e->destroy();
      }
      expect(!st.is_ok() && e == nullptr, "create_encoder accepted " + what);
      sdk::Decoder* d = nullptr;
      const sdk::Status sd = codec.create_decoder({rate, channels, frame_samples}, &d);
      if (d != nullptr) {
        d->destroy();
      }
      expect(!sd.is_ok() && d == nullptr, "create_decoder accepted " + what);
    };
    refused(44101, good.channels, good.frame_samples, "44101 Hz");
    refused(good.rate, 0, good.frame_samples, "0 channels");
    refused(good.rate, info.max_channels + 1, good.frame_samples, "one channel too many");
    refused(good.rate, good.channels, 0, "0-sample frames");
    refused(good.rate, good.channels, good.rate * 7 / 1000, "7 ms frames");
    refused(good.rate, good.channels, 1000000, "a million-sample frame");
  });

  s.check("a buffer too small is refused and nothing is written", [&] {
    const Format f = formats.front();
    auto e = c.encoder(f);
    const std::vector<int16_t> in = voice(f, 1);
    std::vector<uint8_t> tiny(2, 0xee);
    uint64_t written = 12345;
    const sdk::Status st = e->encode(in.data(), {tiny.data(), 1}, &written);
    expect(st.code == sdk::StatusCode::kBufferTooSmall,
           std::string("a 1-byte buffer gave ") + sdk::status_code_name(st.code));
    expect(tiny[0] == 0xee && tiny[1] == 0xee, "bytes were written into the small buffer");
    expect(written == 12345, "written was changed");
  });

  s.check("malformed packets are refused and the decoder recovers", [&] {
    for (const Format& f : formats) {
      if (f.channels != 1) {
        continue;
      }
      auto e = c.encoder(f);
      auto d = c.decoder(f);
      const std::vector<int16_t> in = voice(f, 30);
      auto packets = c.encode(*e, f, in);
      std::vector<int16_t> frame;
      uint32_t x = 12345;
      for (const std::size_t size : {std::size_t{1}, std::size_t{3}, std::size_t{97},
                                     std::size_t{info.max_packet_bytes} + 1}) {
        std::vector<uint8_t> junk(size);
        for (auto& b : junk) {
          x = x * 1103515245 + 12345;
          b = static_cast<uint8_t>(x >> 16);
        }
        // A codec may take junk for a valid packet; it must neither crash nor overrun the frame.
        frame.assign(f.samples() + kCanaryCount, kCanary);
        const sdk::Status st = d->decode(sdk::ByteView(junk), frame.data());
        for (std::size_t i = f.samples(); i < frame.size(); ++i) {
          expect(frame[i] == kCanary, "decode of junk wrote past the frame (" + f.str() + ")");
        }
        if (size > info.max_packet_bytes) {
          expect(!st.is_ok(), "a packet over max_packet_bytes was accepted (" + f.str() + ")");
        }
      }
      frame.assign(f.samples(), 0);
      expect(!d->decode(sdk::ByteView(), frame.data()).is_ok(),
             "an empty packet was accepted (" + f.str() + ")");
      const double lsd = distance(in, c.decode(*d, f, packets, false), f, 200);
      expect(lsd <= max_distance, f.str() + ": after junk, log-spectral distance " + db(lsd));
    }
  });

  s.check("a lost packet is concealed into exactly one frame", [&] {
    for (const Format& f : formats) {
      auto e = c.encoder(f);
      auto d = c.decoder(f);
      auto packets = c.encode(*e, f, voice(f, 12));
      packets[5].clear();
      packets[6].clear();
      const std::vector<int16_t> out = c.decode(*d, f, packets, false);
      expect(out.size() == f.samples() * packets.size(),
             "wrong number of samples (" + f.str() + ")");
    }
  });

  s.check("silence stays silent", [&] {
    for (const Format& f : formats) {
      auto e = c.encoder(f, info.flags & sdk::kCodecDtx);
      auto d = c.decoder(f);
      const std::vector<int16_t> in(f.samples() * 20, 0);
      const std::vector<int16_t> out = c.decode(*d, f, c.encode(*e, f, in), false);
      const int peak = std::accumulate(out.begin(), out.end(), 0, [](int m, int16_t v) {
        return std::max(m, std::abs(static_cast<int>(v)));
      });
      expect(peak <= 64, f.str() + ": silence decoded with peaks of " + std::to_string(peak));
    }
  });

  s.check("encoders and decoders are independent and deterministic", [&] {
    const Format f = formats.front();
    const std::vector<int16_t> in = voice(f, 8);
    auto a = c.encoder(f);
    auto b = c.encoder(f);
    std::vector<std::vector<uint8_t>> pa;
    std::vector<std::vector<uint8_t>> pb;
    std::vector<uint8_t> buffer(info.max_packet_bytes);
    for (std::size_t at = 0; at < in.size(); at += f.samples()) {
      for (auto* pair : {&pa, &pb}) {
        uint64_t written = 0;
        expect_ok(
            (pair == &pa ? a : b)->encode(in.data() + at, {buffer.data(), buffer.size()}, &written),
            "encode");
        pair->emplace_back(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(written));
      }
    }
    expect(pa == pb, "two encoders fed the same frames, interleaved, disagree");
    auto da = c.decoder(f);
    auto db = c.decoder(f);
    expect(c.decode(*da, f, pa, false) == c.decode(*db, f, pb, false),
           "two decoders fed the same packets disagree");
  });

  s.check("bitrate and expected loss are checked", [&] {
    const Format f = formats.front();
    auto e = c.encoder(f);
    for (uint32_t loss : {0u, 10u, 100u}) {
      expect_ok(e->set_expected_loss(loss), "set_expected_loss(" + std::to_string(loss) + ")");
    }
    expect(e->set_expected_loss(101).code == sdk::StatusCode::kOutOfRange,
           "set_expected_loss(101) was not refused with out of range");
    if (lossless) {
      expect(e->set_bitrate(64000).code == sdk::StatusCode::kUnsupported,
             "a fixed-rate codec accepted a bitrate");
      return;
    }
    expect_ok(e->set_bitrate(info.min_bitrate_bps), "set_bitrate(min)");
    expect_ok(e->set_bitrate(info.max_bitrate_bps), "set_bitrate(max)");
    expect(e->set_bitrate(info.min_bitrate_bps - 1).code == sdk::StatusCode::kOutOfRange,
           "a bitrate below the minimum was not refused with out of range");
    expect(e->set_bitrate(info.max_bitrate_bps + 1).code == sdk::StatusCode::kOutOfRange,
           "a bitrate above the maximum was not refused with out of range");
    sdk::Encoder* bad = nullptr;
    sdk::EncoderParams p{f.rate, f.channels, f.frame_samples, info.max_bitrate_bps + 1, 0, 0};
    expect(!codec.create_encoder(p, &bad).is_ok() && bad == nullptr,
           "create_encoder accepted a bitrate above the maximum");
  });

  if ((info.flags & sdk::kCodecFec) != 0) {
    s.check("in-band FEC recovers a lost frame better than concealment alone", [&] {
      // Wideband if offered: there FEC covers the whole band the distance looks at.
      const bool wideband = std::find(std::begin(info.sample_rates), std::end(info.sample_rates),
                                      16000u) != std::end(info.sample_rates);
      const uint32_t rate = wideband ? 16000 : 48000;
      const Format f{rate, 1, rate / 50, 200};
      const std::vector<int16_t> in = voice(f, 150);
      auto e = c.encoder(f, sdk::kCodecFec, 20);
      auto packets = c.encode(*e, f, in);
      std::vector<std::size_t> lost;
      for (std::size_t i = 10; i < packets.size(); i += 5) {
        packets[i].clear();
        lost.push_back(i);
      }
      auto with = c.decoder(f);
      auto without = c.decoder(f);
      auto with_fec = c.decode(*with, f, packets, true);
      auto concealed = c.decode(*without, f, packets, false);
      const double lsd_fec = distance(in, with_fec, f, 200, lost);
      const double lsd_plc = distance(in, concealed, f, 200, lost);
      expect(lsd_fec + 0.75 < lsd_plc, "log-spectral distance with FEC " + db(lsd_fec) +
                                           ", with concealment only " + db(lsd_plc));
    });
  }
  return s.results;
}

} // namespace entre
