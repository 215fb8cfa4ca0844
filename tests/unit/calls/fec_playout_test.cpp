// In-band FEC against plain concealment, deterministically: a speech-like signal goes through the
// real Opus codec (codec-opus), a simulated network that loses the same frames every run, and the
// real receiving pipeline (AudioReceiver: jitter buffer and decoder) on a simulated clock. The
// only thing that changes between two runs is what the test names.
//
// Two schedules for the receiving machine:
// - quiet (loopback): packets arrive 30 ms after they are sent, a few of them a millisecond later;
//   the audio clock ticks every 20 ms. The jitter buffer then sits at its one-frame floor, where
//   the packet after a lost frame always came just after the frame's turn;
// - loaded (every core busy): now and then the network thread and the audio thread are each kept
//   off the processor for 10 to 70 ms, and catch up in a burst: packets due meanwhile arrive
//   together, ticks due meanwhile run back to back. This is where a lost frame's FEC used to come
//   a moment after the frame had been concealed.
//
// The received audio is put back in stream order (a tick that stretched the stream, holding a
// frame's slot, is left out), and each 20 ms is compared with the same packets decoded with
// nothing lost, by log-spectral distance.
#include "calls/audio_receiver.hpp"
#include "conformance/audio_quality.hpp"
#include "opus_codec.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <set>

namespace entre::calls {
namespace {

constexpr uint32_t kRate = 48000;
constexpr uint32_t kFrame = kRate / 50; // 20 ms
constexpr int64_t kFrameMs = 20;
constexpr uint64_t kFrames = 600; // 12 s

// A voice-like test signal: syllables of a gliding harmonic tone under moving formants, with
// noise bursts for consonants and short pauses. Deterministic.
std::vector<int16_t> voice_like() {
  std::vector<int16_t> out(kFrames * kFrame, 0);
  std::mt19937 rng(1234);
  std::normal_distribution<double> noise(0.0, 1.0);
  double phase = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double t = static_cast<double>(i) / kRate;
    const double syllable = std::fmod(t, 0.25) / 0.25; // 4 syllables a second
    const auto index = static_cast<int>(t / 0.25);
    const bool pause = index % 7 == 6;
    const double envelope = pause ? 0.0 : std::sin(M_PI * syllable);
    const double f0 = 120 + 40 * std::sin(2 * M_PI * 0.7 * t) + 10 * (index % 3);
    phase += 2 * M_PI * f0 / kRate;
    const double f1 = 500 + 250 * ((index * 37) % 5) / 4.0;
    const double f2 = 1200 + 900 * ((index * 53) % 7) / 6.0;
    double v = 0;
    for (int h = 1; h * f0 < 4000; ++h) {
      const double f = h * f0;
      const double gain =
          1.0 / (1 + std::pow((f - f1) / 150, 2)) + 0.5 / (1 + std::pow((f - f2) / 200, 2)) + 0.02;
      v += gain * std::sin(h * phase);
    }
    if (syllable < 0.15 && index % 2 == 0) {
      v = 0.6 * noise(rng); // a consonant
    }
    out[i] = static_cast<int16_t>(std::clamp(6000.0 * envelope * v, -32000.0, 32000.0));
  }
  return out;
}

// The frames the network loses: 10 %, the same pattern every run.
std::set<uint64_t> losses() {
  std::set<uint64_t> lost;
  for (uint64_t k = 10; k < kFrames - 10; ++k) {
    if (((k * 0x9E3779B97F4A7C15ull) >> 40) % 100 < 10) {
      lost.insert(k);
    }
  }
  return lost;
}

struct Schedule {
  std::vector<int64_t> arrival_ms; // per frame (for lost frames unused)
  std::vector<int64_t> tick_ms;    // playout ticks, in order
};

// Where the machine stalls a thread: [from, to) intervals, seeded.
std::vector<std::pair<int64_t, int64_t>> stalls(uint32_t seed, int64_t until_ms) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> gap(80, 400);
  std::uniform_int_distribution<int64_t> length(10, 70);
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t t = gap(rng); t < until_ms; t += gap(rng)) {
    const int64_t l = length(rng);
    out.emplace_back(t, t + l);
    t += l;
  }
  return out;
}

int64_t after_stalls(int64_t t, const std::vector<std::pair<int64_t, int64_t>>& s) {
  for (const auto& [from, to] : s) {
    if (t >= from && t < to) {
      return to;
    }
  }
  return t;
}

Schedule schedule(bool loaded) {
  Schedule s;
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> percent(0, 99);
  auto jitter = [&](std::mt19937& r) { return percent(r) < 3 ? int64_t{1} : int64_t{0}; };
  const int64_t end = static_cast<int64_t>(kFrames + 40) * kFrameMs;
  const auto net = loaded ? stalls(5, end) : std::vector<std::pair<int64_t, int64_t>>{};
  const auto audio = loaded ? stalls(6, end) : std::vector<std::pair<int64_t, int64_t>>{};
  for (uint64_t k = 0; k < kFrames; ++k) {
    s.arrival_ms.push_back(
        after_stalls(static_cast<int64_t>(k) * kFrameMs + 30 + jitter(rng), net));
  }
  for (int64_t tick = 0; tick < static_cast<int64_t>(kFrames + 40); ++tick) {
    s.tick_ms.push_back(after_stalls(7 + tick * kFrameMs, audio));
  }
  return s;
}

struct Result {
  std::map<uint64_t, std::vector<int16_t>> by_frame; // stream position -> what was played there
  uint64_t recovered = 0;
  uint64_t concealed = 0;
  uint64_t held = 0;
  double mean_delay_ms = 0; // tick time - send time, over frames played from their own packet
};

// The packets of `pcm`, encoded as a call does (24 kbit/s, 10 % expected loss), FEC on or off.
std::vector<std::vector<uint8_t>> encode(const std::vector<int16_t>& pcm, bool fec) {
  auto* codec = new plugins::opus::OpusCodec();
  sdk::Encoder* enc = nullptr;
  EXPECT_TRUE(codec->create_encoder({kRate, 1, kFrame, 24000, 10, fec ? sdk::kCodecFec : 0u}, &enc)
                  .is_ok());
  std::vector<std::vector<uint8_t>> packets;
  std::vector<uint8_t> buf(4000);
  for (uint64_t k = 0; k < kFrames; ++k) {
    uint64_t n = 0;
    EXPECT_TRUE(
        enc->encode(pcm.data() + k * kFrame, sdk::MutableByteView(buf.data(), buf.size()), &n)
            .is_ok());
    packets.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  enc->destroy();
  codec->destroy();
  return packets;
}

// Every packet decoded in order, nothing lost: what the listener would hear on a perfect network.
std::vector<int16_t> clean_decode(const std::vector<std::vector<uint8_t>>& packets) {
  auto* codec = new plugins::opus::OpusCodec();
  sdk::Decoder* dec = nullptr;
  EXPECT_TRUE(codec->create_decoder({kRate, 1, kFrame}, &dec).is_ok());
  std::vector<int16_t> out(kFrames * kFrame);
  for (uint64_t k = 0; k < kFrames; ++k) {
    EXPECT_TRUE(
        dec->decode(sdk::ByteView(packets[k].data(), packets[k].size()), out.data() + k * kFrame)
            .is_ok());
  }
  dec->destroy();
  codec->destroy();
  return out;
}

Result receive(const std::vector<std::vector<uint8_t>>& packets, const std::set<uint64_t>& lost,
               const Schedule& s, bool fec) {
  auto* codec = new plugins::opus::OpusCodec();
  sdk::Decoder* dec = nullptr;
  EXPECT_TRUE(codec->create_decoder({kRate, 1, kFrame}, &dec).is_ok());
  JitterConfig config;
  config.fec = fec;
  Result r;
  {
    AudioReceiver rx(config, *dec, kFrame, 48 * kFrameMs);
    std::vector<std::pair<int64_t, uint64_t>> arrivals; // time, frame
    for (uint64_t k = 0; k < kFrames; ++k) {
      if (lost.count(k) == 0) {
        arrivals.emplace_back(s.arrival_ms[k], k);
      }
    }
    std::stable_sort(arrivals.begin(), arrivals.end());
    std::size_t next = 0;
    std::vector<int16_t> pcm(kFrame);
    double delay_sum = 0;
    uint64_t delay_n = 0;
    for (const int64_t now : s.tick_ms) {
      while (next < arrivals.size() && arrivals[next].first <= now) {
        const uint64_t k = arrivals[next].second;
        rx.receive(static_cast<uint32_t>(k * 48 * kFrameMs), arrivals[next].first, packets[k]);
        ++next;
      }
      (void)rx.play(pcm.data(), kFrame);
      const auto& p = rx.last();
      if (p.kind == JitterBuffer::Playout::Kind::kWaiting) {
        continue;
      }
      if (p.held) {
        continue;
      }
      if (p.kind == JitterBuffer::Playout::Kind::kFrame) {
        delay_sum += static_cast<double>(now - static_cast<int64_t>(p.seq) * kFrameMs);
        ++delay_n;
      }
      r.by_frame[p.seq] = pcm;
    }
    r.held = rx.jitter().held_for_fec;
    r.recovered = rx.counters().recovered;
    r.concealed = rx.counters().concealed;
    r.mean_delay_ms = delay_n == 0 ? 0 : delay_sum / static_cast<double>(delay_n);
  }
  dec->destroy();
  codec->destroy();
  return r;
}

struct Distance {
  double on_lost_db = 0; // mean over analysis frames that overlap a lost frame
  std::size_t lost_windows = 0;
  double overall_db = 0;
};

Distance distance(const std::vector<int16_t>& clean, const Result& r,
                  const std::set<uint64_t>& lost) {
  std::vector<int16_t> heard(clean.size(), 0);
  for (const auto& [k, pcm] : r.by_frame) {
    if (k < kFrames) {
      std::copy(pcm.begin(), pcm.end(), heard.begin() + static_cast<std::ptrdiff_t>(k * kFrame));
    }
  }
  std::vector<quality::FrameDistance> frames;
  Distance d;
  d.overall_db = quality::log_spectral_distance(
      quality::channel_of(clean, 1), quality::channel_of(heard, 1), 0, kRate, 10 * kFrame, &frames);
  double sum = 0;
  for (const auto& f : frames) {
    const uint64_t first = f.start / kFrame;
    const uint64_t last = (f.start + kFrame - 1) / kFrame;
    if (lost.count(first) != 0 || lost.count(last) != 0) {
      sum += f.db;
      ++d.lost_windows;
    }
  }
  d.on_lost_db = d.lost_windows == 0 ? 100 : sum / static_cast<double>(d.lost_windows);
  return d;
}

// Lost frames whose next packet came through: the ones FEC can rebuild.
std::size_t rebuildable(const std::set<uint64_t>& lost) {
  return static_cast<std::size_t>(
      std::count_if(lost.begin(), lost.end(), [&](uint64_t k) { return lost.count(k + 1) == 0; }));
}

class FecPlayout : public ::testing::TestWithParam<bool> {};

TEST_P(FecPlayout, FecRebuildsTheLostFramesAndSoundsCloserThanConcealment) {
  const bool loaded = GetParam();
  const auto voice = voice_like();
  const auto lost = losses();
  const Schedule s = schedule(loaded);
  const auto with_fec = encode(voice, true);
  const auto without_fec = encode(voice, false);
  const Result fec = receive(with_fec, lost, s, true);
  const Result plc = receive(without_fec, lost, s, false);
  const Distance dfec = distance(clean_decode(with_fec), fec, lost);
  const Distance dplc = distance(clean_decode(without_fec), plc, lost);
  std::cout << "[ FIGURES  ] " << (loaded ? "loaded" : "quiet") << " machine, " << lost.size()
            << " of " << kFrames << " frames lost (" << rebuildable(lost)
            << " with the next packet through): FEC rebuilt " << fec.recovered << " (held "
            << fec.held << " ticks), " << dfec.on_lost_db << " dB on the lost frames, "
            << dfec.overall_db << " dB overall, mean delay " << fec.mean_delay_ms
            << " ms; concealment alone " << dplc.on_lost_db << " dB on the lost frames, "
            << dplc.overall_db << " dB overall, mean delay " << plc.mean_delay_ms << " ms"
            << std::endl;
  EXPECT_EQ(plc.recovered, 0u);
  EXPECT_EQ(plc.held, 0u) << "without FEC there is nothing to wait for";
  // Lost frames whose next packet came are rebuilt, on a quiet machine and a busy one alike
  // (a burst can still keep a few from coming within the one tick of grace).
  EXPECT_GE(fec.recovered * 10, rebuildable(lost) * 9);
  ASSERT_EQ(dfec.lost_windows, dplc.lost_windows);
  ASSERT_GT(dfec.lost_windows, 50u);
  EXPECT_LT(dfec.on_lost_db, dplc.on_lost_db) << "FEC did not make the lost frames better";
  EXPECT_LT(dfec.overall_db, dplc.overall_db);
  // The grace a lost frame gets costs at most a frame of delay.
  EXPECT_LE(fec.mean_delay_ms, plc.mean_delay_ms + static_cast<double>(kFrameMs));
}

INSTANTIATE_TEST_SUITE_P(QuietAndLoaded, FecPlayout, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Loaded" : "Quiet"; });

} // namespace
} // namespace entre::calls
