#include "conformance/audio_conformance.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace entre {

namespace {

using conformance::Checks;
using conformance::expect;
using conformance::expect_ok;
using conformance::Owned;
using Clock = std::chrono::steady_clock;

// Records what the device does with its callback.
class Recorder final : public sdk::AudioCallback {
 public:
  explicit Recorder(uint32_t frame_samples) : expected_(frame_samples) {}
  void on_audio(int16_t* pcm, uint32_t frame_samples) noexcept override {
    if (frame_samples != expected_ || pcm == nullptr) {
      wrong_.fetch_add(1);
    }
    if (std::this_thread::get_id() == caller_) {
      on_caller_.fetch_add(1);
    }
    calls_.fetch_add(1);
  }
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> wrong_{0};
  std::atomic<uint64_t> on_caller_{0};
  std::thread::id caller_ = std::this_thread::get_id();

 private:
  uint32_t expected_;
};

std::vector<std::string> names(sdk::AudioDevice& device, sdk::AudioDirection direction) {
  std::vector<uint8_t> bytes;
  sdk::VectorSink sink(bytes);
  expect_ok(device.list_devices(direction, sink), "list_devices");
  std::vector<std::string> out;
  std::string current;
  for (uint8_t b : bytes) {
    if (b == '\n') {
      out.push_back(current);
      current.clear();
    } else {
      current += static_cast<char>(b);
    }
  }
  if (!current.empty()) {
    out.push_back(current);
  }
  return out;
}

const char* direction_name(sdk::AudioDirection d) {
  return d == sdk::AudioDirection::kCapture ? "capture" : "playback";
}

} // namespace

std::vector<ConformanceCheck> run_audio_conformance(sdk::AudioDevice& device) {
  Checks s;
  std::vector<sdk::AudioDirection> directions;

  s.check("devices are listed by name", [&] {
    for (auto d : {sdk::AudioDirection::kCapture, sdk::AudioDirection::kPlayback}) {
      const auto list = names(device, d);
      for (const auto& n : list) {
        expect(!n.empty(), std::string("an empty ") + direction_name(d) + " device name");
      }
      if (!list.empty()) {
        directions.push_back(d);
      }
    }
    expect(!directions.empty(), "no device in either direction");
  });

  for (auto d : directions) {
    const std::string dn = direction_name(d);
    s.check(dn + ": a stream calls back once per frame at the device's pace, then stops", [&] {
      const sdk::AudioParams params{48000, 1, 960}; // 20 ms
      Recorder rec(params.frame_samples);
      sdk::AudioStream* raw = nullptr;
      expect_ok(device.open(d, sdk::StringView(), params, rec, &raw), "open(default device)");
      Owned<sdk::AudioStream> stream(raw);
      expect(rec.calls_.load() == 0, "callbacks before start()");
      const auto begun = Clock::now();
      expect_ok(stream->start(), "start");
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      // On a busy machine the device's thread may run late: a few callbacks must come (a
      // generous deadline), and never faster than the device's pace.
      const auto deadline = Clock::now() + std::chrono::seconds(30);
      while (rec.calls_.load() < 5 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      stream->stop();
      const double seconds = std::chrono::duration<double>(Clock::now() - begun).count();
      const uint64_t calls = rec.calls_.load();
      const double expected = seconds / 0.020;
      expect(calls >= 5 && static_cast<double>(calls) <= expected * 1.4 + 2,
             std::to_string(calls) + " callbacks in " + std::to_string(seconds) +
                 " s of 20 ms frames");
      expect(rec.wrong_.load() == 0, "a callback with another frame size or no buffer");
      expect(rec.on_caller_.load() == 0, "a callback on the thread that called start()");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      expect(rec.calls_.load() == calls, "callbacks after stop() returned");
      stream->stop(); // twice is harmless
    });

    s.check(dn + ": a stream can be destroyed without start or stop", [&] {
      Recorder rec(480);
      sdk::AudioStream* raw = nullptr;
      expect_ok(device.open(d, sdk::StringView(), {48000, 2, 480}, rec, &raw), "open(stereo)");
      raw->destroy();
      raw = nullptr;
      expect_ok(device.open(d, sdk::StringView(), {16000, 1, 320}, rec, &raw), "open(16 kHz)");
      expect_ok(raw->start(), "start");
      raw->destroy(); // stops it
      const uint64_t calls = rec.calls_.load();
      std::this_thread::sleep_for(std::chrono::milliseconds(60));
      expect(rec.calls_.load() == calls, "callbacks after destroy()");
    });

    s.check(dn + ": bad parameters and unknown devices are refused", [&] {
      Recorder rec(960);
      for (const sdk::AudioParams& p :
           {sdk::AudioParams{0, 1, 960}, sdk::AudioParams{48000, 0, 960},
            sdk::AudioParams{48000, 1, 0}}) {
        sdk::AudioStream* raw = nullptr;
        const sdk::Status st = device.open(d, sdk::StringView(), p, rec, &raw);
        expect(!st.is_ok() && raw == nullptr, "open accepted rate " +
                                                  std::to_string(p.sample_rate) + ", " +
                                                  std::to_string(p.channels) + " channels, " +
                                                  std::to_string(p.frame_samples) + " samples");
      }
      sdk::AudioStream* raw = nullptr;
      const sdk::Status st =
          device.open(d, sdk::StringView("no such device, surely"), {48000, 1, 960}, rec, &raw);
      expect(st.code == sdk::StatusCode::kNotFound && raw == nullptr,
             std::string("an unknown device gave ") + sdk::status_code_name(st.code));
    });
  }
  return s.results;
}

} // namespace entre
