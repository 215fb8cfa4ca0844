// audio-file as the kernel sees it: the real plugin file through the kernel's loader and host,
// with its config table: the generic audio-device conformance suite, a capture stream looped into
// a playback stream (the recording must hold the input exactly), looping, and config errors.
#include "conformance/audio_conformance.hpp"
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "wav.hpp"

#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <numbers>
#include <thread>

namespace entre {
namespace {

namespace fs = std::filesystem;
using plugins::audio_file::WavAudio;

class AudioFilePlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("entre-audio-file-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    outcome_ = loader_.load("entre.audio.file", fs::path(ENTRE_AUDIO_FILE_PLUGIN));
    ASSERT_TRUE(outcome_.library) << outcome_.failure->str();
    EXPECT_EQ(outcome_.library->manifest().kind, sdk::PluginKind::kAudio);
  }
  void TearDown() override {
    plugin_.reset();
    host_.reset();
    fs::remove_all(dir_);
  }

  // Writes `samples` (48 kHz mono) as input.wav.
  fs::path write_input(const std::vector<int16_t>& samples) {
    plugins::audio_file::WavWriter w;
    std::string error;
    EXPECT_TRUE(w.open((dir_ / "input.wav").string(), 48000, 1, error)) << error;
    EXPECT_TRUE(w.append(samples.data(), samples.size()));
    return dir_ / "input.wav";
  }

  // The plugin made with `config` (TOML); nullptr with `error` set when the factory refuses.
  sdk::AudioDevice* create(const std::string& config, std::string* error = nullptr) {
    auto table = std::make_shared<toml::table>(toml::parse(config));
    host_ = std::make_unique<PluginHost>("entre.audio.file",
                                         std::make_unique<TomlConfigView>(table, "t.toml", 0), dir_,
                                         runtime_, spdlog::default_logger());
    sdk::Plugin* root = nullptr;
    const sdk::Status st = outcome_.library->factory()(*host_, &root);
    if (!st.is_ok()) {
      if (error != nullptr) {
        *error = std::string(st.text());
      }
      return nullptr;
    }
    plugin_ = PluginPtr<sdk::Plugin>(root, outcome_.library);
    return sdk::query<sdk::AudioDevice>(*plugin_, sdk::InterfaceId::kAudioDeviceV1);
  }

  static std::vector<int16_t> voice(std::size_t samples) {
    std::vector<int16_t> pcm(samples);
    for (std::size_t i = 0; i < samples; ++i) {
      const double t = static_cast<double>(i) / 48000;
      pcm[i] = static_cast<int16_t>(1 + 8000 * std::sin(2 * std::numbers::pi * (150 + 50 * t) * t) +
                                    2000 * std::sin(2 * std::numbers::pi * 1100 * t));
    }
    return pcm;
  }

  fs::path dir_;
  PluginLoader loader_{{}};
  LoadOutcome outcome_;
  Runtime runtime_{1, 1};
  std::unique_ptr<PluginHost> host_;
  PluginPtr<sdk::Plugin> plugin_;
};

TEST_F(AudioFilePlugin, PassesTheGenericConformanceSuite) {
  write_input(voice(48000));
  sdk::AudioDevice* device = create("input = 'input.wav'\noutput = 'output.wav'\n");
  ASSERT_NE(device, nullptr);
  const auto checks = run_audio_conformance(*device);
  EXPECT_GE(checks.size(), 7u);
  for (const auto& check : checks) {
    EXPECT_TRUE(check.passed) << check.name << ": " << check.detail;
  }
}

// Frames from the capture stream to the playback stream, as a call's audio path would carry them.
class Loop {
 public:
  struct Capture final : sdk::AudioCallback {
    explicit Capture(Loop* l) : loop(l) {}
    Loop* loop;
    void on_audio(int16_t* pcm, uint32_t n) noexcept override {
      std::lock_guard lock(loop->mu);
      loop->frames.emplace_back(pcm, pcm + n);
    }
  };
  struct Playback final : sdk::AudioCallback {
    explicit Playback(Loop* l) : loop(l) {}
    Loop* loop;
    void on_audio(int16_t* pcm, uint32_t n) noexcept override {
      std::lock_guard lock(loop->mu);
      if (loop->frames.empty()) {
        std::fill(pcm, pcm + n, int16_t{0}); // an underrun: a silent frame
        return;
      }
      std::copy(loop->frames.front().begin(), loop->frames.front().end(), pcm);
      loop->frames.pop_front();
      ++loop->played;
    }
  };
  // Waits until `done()` holds (under `mu`): the devices' threads run when the machine lets them,
  // so the wait is for the frames, with a generous deadline; false at the deadline.
  bool wait(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (done()) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  Capture capture{this};
  Playback playback{this};
  std::mutex mu;
  std::deque<std::vector<int16_t>> frames;
  std::size_t played = 0; // frames played that were captured (not underruns)
};

TEST_F(AudioFilePlugin, WhatIsCapturedAndPlayedIsRecordedExactly) {
  const std::vector<int16_t> input = voice(48000);
  write_input(input);
  sdk::AudioDevice* device = create("input = 'input.wav'\noutput = 'output.wav'\n");
  ASSERT_NE(device, nullptr);
  Loop loop;
  sdk::AudioStream* mic = nullptr;
  sdk::AudioStream* speaker = nullptr;
  ASSERT_TRUE(device
                  ->open(sdk::AudioDirection::kCapture, sdk::StringView(), {48000, 1, 960},
                         loop.capture, &mic)
                  .is_ok());
  ASSERT_TRUE(device
                  ->open(sdk::AudioDirection::kPlayback,
                         sdk::StringView("wav:" + (dir_ / "output.wav").string()), {48000, 1, 960},
                         loop.playback, &speaker)
                  .is_ok());
  sdk::AudioStream* second = nullptr;
  EXPECT_EQ(device
                ->open(sdk::AudioDirection::kPlayback, sdk::StringView(), {48000, 1, 960},
                       loop.playback, &second)
                .code,
            sdk::StatusCode::kUnavailable)
      << "two streams writing one file";
  ASSERT_TRUE(mic->start().is_ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(speaker->start().is_ok());
  EXPECT_TRUE(loop.wait([&] { return loop.played >= 45; })) << "0.9 s not played within 30 s";
  mic->destroy();
  speaker->destroy(); // completes output.wav

  WavAudio out;
  std::string error;
  ASSERT_TRUE(plugins::audio_file::read_wav((dir_ / "output.wav").string(), out, error)) << error;
  EXPECT_EQ(out.sample_rate, 48000u);
  std::vector<int16_t> played; // without the silent frames of underruns
  for (std::size_t at = 0; at + 960 <= out.samples.size(); at += 960) {
    const bool silent = std::all_of(out.samples.begin() + static_cast<std::ptrdiff_t>(at),
                                    out.samples.begin() + static_cast<std::ptrdiff_t>(at + 960),
                                    [](int16_t v) { return v == 0; });
    if (!silent) {
      played.insert(played.end(), out.samples.begin() + static_cast<std::ptrdiff_t>(at),
                    out.samples.begin() + static_cast<std::ptrdiff_t>(at + 960));
    }
  }
  ASSERT_GE(played.size(), 48000u * 8 / 10) << "less than 0.8 s was recorded";
  EXPECT_TRUE(std::equal(played.begin(), played.end(), input.begin()))
      << "the recording differs from the input";
}

TEST_F(AudioFilePlugin, InputLoopsWhenAsked) {
  const std::vector<int16_t> input = voice(4800); // 100 ms
  write_input(input);
  sdk::AudioDevice* device = create("input = 'input.wav'\nloop = true\n");
  ASSERT_NE(device, nullptr);
  Loop loop;
  sdk::AudioStream* mic = nullptr;
  ASSERT_TRUE(device
                  ->open(sdk::AudioDirection::kCapture, sdk::StringView(), {48000, 1, 480},
                         loop.capture, &mic)
                  .is_ok());
  ASSERT_TRUE(mic->start().is_ok());
  EXPECT_TRUE(loop.wait([&] { return loop.frames.size() >= 21; })) << "2.1 loops not in 30 s";
  mic->destroy();
  std::vector<int16_t> captured;
  for (const auto& f : loop.frames) {
    captured.insert(captured.end(), f.begin(), f.end());
  }
  ASSERT_GE(captured.size(), 4800u * 2 + 480);
  for (std::size_t i = 0; i < captured.size(); ++i) {
    ASSERT_EQ(captured[i], input[i % input.size()]) << "at sample " << i;
  }
}

TEST_F(AudioFilePlugin, BadConfigAndMissingFilesSayWhatIsWrong) {
  std::string error;
  EXPECT_EQ(create("", &error), nullptr);
  EXPECT_NE(error.find("set 'input'"), std::string::npos) << error;
  EXPECT_EQ(create("input = 'a.wav'\nloop = 'yes'\n", &error), nullptr);
  EXPECT_NE(error.find("loop"), std::string::npos) << error;
  sdk::AudioDevice* device = create("input = 'missing.wav'\n");
  ASSERT_NE(device, nullptr);
  Loop loop;
  sdk::AudioStream* mic = nullptr;
  const sdk::Status st = device->open(sdk::AudioDirection::kCapture, sdk::StringView(),
                                      {48000, 1, 960}, loop.capture, &mic);
  EXPECT_EQ(st.code, sdk::StatusCode::kIoError);
  EXPECT_NE(std::string(st.text()).find("missing.wav"), std::string::npos) << st.text();
  EXPECT_EQ(mic, nullptr);
  sdk::AudioStream* speaker = nullptr;
  EXPECT_EQ(device
                ->open(sdk::AudioDirection::kPlayback, sdk::StringView(), {48000, 1, 960},
                       loop.playback, &speaker)
                .code,
            sdk::StatusCode::kNotFound)
      << "no output configured";
}

} // namespace
} // namespace entre
