// Calls: the CPU one second of call costs, frame by frame through every stage a call's audio
// takes (codec-opus encode, media frame header, seal, parse, open, jitter buffer, decode), against
// raw libopus encode+decode with the same settings, measured in the same run.
#include "bench.hpp"

#include "calls/jitter_buffer.hpp"
#include "calls/media_frame.hpp"
#include "media.hpp"
#include "opus_codec.hpp"
#include "primitives.hpp"

#include <benchmark/benchmark.h>
#include <opus.h>

#include <cmath>
#include <numbers>

namespace entre::bench {
namespace {

constexpr uint32_t kRate = 48000;
constexpr uint32_t kFrame = 960; // 20 ms
constexpr uint32_t kBitrate = 24000;
constexpr uint32_t kLossPercent = 10;

// One second of a voice-like signal, played in a loop.
const std::vector<int16_t>& voice() {
  static const std::vector<int16_t> pcm = [] {
    std::vector<int16_t> v(kRate);
    double phase = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double t = static_cast<double>(i) / kRate;
      phase += 2 * std::numbers::pi * (140 + 40 * std::sin(2 * std::numbers::pi * 1.3 * t)) / kRate;
      double s = 0;
      for (int h = 1; h <= 12; ++h) {
        s += std::sin(h * phase) / h;
      }
      v[i] = static_cast<int16_t>(6000 * (0.55 + 0.45 * std::sin(8 * std::numbers::pi * t)) * s);
    }
    return v;
  }();
  return pcm;
}

void BM_Call_RawOpusFrame(benchmark::State& state) {
  int error = 0;
  OpusEncoder* enc = opus_encoder_create(kRate, 1, OPUS_APPLICATION_VOIP, &error);
  OpusDecoder* dec = opus_decoder_create(kRate, 1, &error);
  opus_encoder_ctl(enc, OPUS_SET_BITRATE(kBitrate));
  opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(kLossPercent));
  std::vector<uint8_t> packet(4000);
  std::vector<int16_t> out(kFrame);
  std::size_t at = 0;
  for (auto _ : state) {
    const int n = opus_encode(enc, voice().data() + at, kFrame, packet.data(), 4000);
    benchmark::DoNotOptimize(opus_decode(dec, packet.data(), n, out.data(), kFrame, 0));
    at = (at + kFrame) % (kRate - kFrame);
  }
  opus_encoder_destroy(enc);
  opus_decoder_destroy(dec);
}
BENCHMARK(BM_Call_RawOpusFrame);

void BM_Call_PipelineFrame(benchmark::State& state) {
  (void)plugins::sodium::init_sodium();
  auto* codec = new plugins::opus::OpusCodec();
  sdk::Encoder* enc = nullptr;
  sdk::Decoder* dec = nullptr;
  if (!codec->create_encoder({kRate, 1, kFrame, kBitrate, kLossPercent, sdk::kCodecFec}, &enc)
           .is_ok() ||
      !codec->create_decoder({kRate, 1, kFrame}, &dec).is_ok()) {
    state.SkipWithError("cannot create the codec");
    return;
  }
  std::array<uint8_t, 32> key{};
  key.fill(7);
  plugins::sodium::MediaFrameCipher sender;
  plugins::sodium::MediaFrameCipher receiver;
  (void)plugins::sodium::MediaFrameCipher::create(key, 0, sender);
  (void)plugins::sodium::MediaFrameCipher::create(key, 0, receiver);
  calls::JitterBuffer jitter({});
  std::vector<uint8_t> packet(calls::kMaxMediaPacketBytes);
  std::vector<uint8_t> wire;
  wire.reserve(calls::kMaxMediaFrameBytes);
  std::vector<uint8_t> opened;
  opened.reserve(calls::kMaxMediaPacketBytes);
  std::vector<int16_t> out(kFrame);
  std::size_t at = 0;
  uint64_t counter = 0;
  for (auto _ : state) {
    // Sender: encode, header, seal.
    uint64_t written = 0;
    (void)enc->encode(voice().data() + at, {packet.data(), packet.size()}, &written);
    ++counter;
    const calls::MediaHeader h{0x1234, counter, static_cast<uint32_t>(counter * kFrame), 0};
    wire.resize(calls::kMediaHeaderBytes);
    calls::write_media_header(
        h, std::span<uint8_t, calls::kMediaHeaderBytes>(wire.data(), calls::kMediaHeaderBytes));
    sdk::VectorSink sealed(wire);
    (void)sender.seal(counter, std::span<const uint8_t>(wire.data(), calls::kMediaHeaderBytes),
                      std::span<const uint8_t>(packet.data(), written), sealed);
    // Receiver: parse, open, jitter buffer, decode.
    calls::MediaFrameView view;
    if (calls::parse_media_frame(wire, view) != calls::MediaParse::kOk) {
      state.SkipWithError("a frame did not parse");
      break;
    }
    opened.clear();
    sdk::VectorSink plain(opened);
    if (!receiver.open(view.header.counter, view.header_bytes, view.sealed, plain).is_ok()) {
      state.SkipWithError("a frame did not open");
      break;
    }
    (void)jitter.insert(view.header.timestamp / kFrame, static_cast<int64_t>(counter) * 20, opened);
    const auto playout = jitter.pop();
    if (playout.kind == calls::JitterBuffer::Playout::Kind::kFrame) {
      (void)dec->decode({playout.packet.data(), playout.packet.size()}, out.data());
    } else {
      (void)dec->conceal({}, out.data());
    }
    benchmark::DoNotOptimize(out.data());
    at = (at + kFrame) % (kRate - kFrame);
  }
  enc->destroy();
  dec->destroy();
  codec->destroy();
}
BENCHMARK(BM_Call_PipelineFrame);

const int ratios = register_ratios([](const Timings& t) {
  std::vector<Ratio> rows;
  const auto pipeline = t.find("BM_Call_PipelineFrame");
  const auto raw = t.find("BM_Call_RawOpusFrame");
  if (pipeline != t.end() && raw != t.end()) {
    // At most 1.3 times the CPU of raw libopus: a rate ratio of at least 1 / 1.3.
    rows.push_back({"call frames (encode, seal, open, jitter buffer, decode), 20 ms, 24 kbit/s",
                    "raw libopus encode+decode, same settings", 1.0 / pipeline->second,
                    1.0 / raw->second, 1.0 / 1.3});
  }
  return rows;
});

const int figures = register_figures([](const Results& r) {
  std::vector<Figure> rows;
  const auto pipeline = r.timings.find("BM_Call_PipelineFrame");
  if (pipeline != r.timings.end()) {
    // One second of call: 50 frames sent and 50 received; each iteration does one of each.
    const double cpu_per_call_second = pipeline->second * 50;
    const double calls_per_core = 1.0 / cpu_per_call_second;
    rows.push_back({"CPU per second of call, 20 ms frames at 24 kbit/s",
                    fixed(cpu_per_call_second * 1000, 2, "ms"), "", "", "", "-", true});
    rows.push_back({"concurrent calls one core carries", fixed(calls_per_core, 0, ""), "", "", "",
                    ">= 8", calls_per_core >= 8});
  }
  return rows;
});

} // namespace
} // namespace entre::bench
