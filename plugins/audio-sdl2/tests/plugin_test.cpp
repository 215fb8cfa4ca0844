// audio-sdl2 as the kernel sees it: the real plugin file through the kernel's loader and host, on
// SDL's dummy driver (the generic audio-device conformance suite) and its disk driver, which plays
// into a file and captures from one, so what the streams carry can be checked sample by sample.
#include "conformance/audio_conformance.hpp"
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"

#include <SDL.h>
#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

// Under LeakSanitizer: SDL keeps its audio device lists until the process ends. The test links
// SDL itself (so the library stays loaded and its frames are named) and suppresses leaks whose
// stack runs through SDL, and only those.
extern "C" const char* __lsan_default_suppressions() { return "leak:libSDL2-2.0.so\n"; }

namespace entre {
namespace {

namespace fs = std::filesystem;

// Keeps libSDL2 loaded for the whole run (see above).
[[maybe_unused]] const int kSdlLinked = [] {
  SDL_version v{};
  SDL_GetVersion(&v);
  return v.major;
}();
using namespace std::chrono_literals;

class AudioSdl2Plugin : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("entre-audio-sdl2-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    outcome_ = loader_.load("entre.audio.sdl2", fs::path(ENTRE_AUDIO_SDL2_PLUGIN));
    ASSERT_TRUE(outcome_.library) << outcome_.failure->str();
    EXPECT_EQ(outcome_.library->manifest().kind, sdk::PluginKind::kAudio);
  }
  void TearDown() override {
    plugin_.reset();
    host_.reset();
    fs::remove_all(dir_);
  }

  sdk::AudioDevice* create(const std::string& config, std::string* error = nullptr) {
    plugin_.reset();
    auto table = std::make_shared<toml::table>(toml::parse(config));
    host_ = std::make_unique<PluginHost>("entre.audio.sdl2",
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

  static std::vector<std::string> list(sdk::AudioDevice& d, sdk::AudioDirection dir) {
    std::string text;
    sdk::StringSink sink(text);
    EXPECT_TRUE(d.list_devices(dir, sink).is_ok());
    std::vector<std::string> out;
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t nl = text.find('\n', at);
      out.push_back(text.substr(at, nl - at));
      at = nl == std::string::npos ? text.size() : nl + 1;
    }
    return out;
  }

  fs::path dir_;
  PluginLoader loader_{{}};
  LoadOutcome outcome_;
  Runtime runtime_{1, 1};
  std::unique_ptr<PluginHost> host_;
  PluginPtr<sdk::Plugin> plugin_;
};

TEST_F(AudioSdl2Plugin, PassesTheGenericConformanceSuiteOnTheDummyDriver) {
  sdk::AudioDevice* device = create("driver = 'dummy'\n");
  ASSERT_NE(device, nullptr);
  const auto checks = run_audio_conformance(*device);
  EXPECT_GE(checks.size(), 4u);
  for (const auto& check : checks) {
    EXPECT_TRUE(check.passed) << check.name << ": " << check.detail;
  }
}

// Keeps every frame a stream hands over (capture) or fills frames with a counting ramp (playback).
struct Frames final : sdk::AudioCallback {
  void on_audio(int16_t* pcm, uint32_t n) noexcept override {
    std::lock_guard lock(mu);
    if (playback) {
      for (uint32_t i = 0; i < n; ++i) {
        pcm[i] = static_cast<int16_t>(next++);
      }
    } else {
      got.insert(got.end(), pcm, pcm + n);
    }
    ++calls;
    wrong += n == expected ? 0 : 1;
  }
  // Waits until `n` callbacks came (the device's thread runs when the machine lets it: the wait
  // is for the callbacks, with a generous deadline); false at the deadline.
  bool wait_calls(int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (calls >= n) {
          return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  bool playback = false;
  uint32_t expected = 0;
  std::mutex mu;
  std::vector<int16_t> got;
  uint16_t next = 1;
  int calls = 0;
  int wrong = 0;
};

TEST_F(AudioSdl2Plugin, TheDiskDriverPlaysAndCapturesExactlyTheFramesGiven) {
  const fs::path out_file = dir_ / "played.raw";
  const fs::path in_file = dir_ / "to-capture.raw";
  std::vector<int16_t> source(16000);
  for (std::size_t i = 0; i < source.size(); ++i) {
    source[i] = static_cast<int16_t>(i * 7 - 30000);
  }
  {
    std::ofstream f(in_file, std::ios::binary);
    f.write(reinterpret_cast<const char*>(source.data()),
            static_cast<std::streamsize>(source.size() * 2));
  }
  ::setenv("SDL_DISKAUDIOFILE", out_file.c_str(), 1);
  ::setenv("SDL_DISKAUDIOFILEIN", in_file.c_str(), 1);
  sdk::AudioDevice* device = create("driver = 'disk'\nbuffer_frames = 2\n");
  ASSERT_NE(device, nullptr);

  // Playback: 16 kHz mono, frames of 320 samples (20 ms), a counting ramp.
  Frames play;
  play.playback = true;
  play.expected = 320;
  sdk::AudioStream* speaker = nullptr;
  ASSERT_TRUE(
      device->open(sdk::AudioDirection::kPlayback, {}, {16000, 1, 320}, play, &speaker).is_ok());
  // A pause between open() and start(), as a busy machine makes: the silence SDL writes
  // meanwhile must not be taken for frames.
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  ASSERT_TRUE(speaker->start().is_ok());
  EXPECT_TRUE(play.wait_calls(5)) << "fewer than 5 playback callbacks in 30 s";
  speaker->stop();
  const int calls = play.calls;
  speaker->destroy();
  EXPECT_GE(calls, 5);
  EXPECT_EQ(play.wrong, 0) << "a callback with another frame size";
  std::vector<int16_t> samples;
  {
    std::ifstream g(out_file, std::ios::binary);
    int16_t v = 0;
    while (g.read(reinterpret_cast<char*>(&v), 2)) {
      samples.push_back(v);
    }
  }
  ASSERT_GT(samples.size(), 320u) << "the disk driver wrote nothing";
  // SDL's audio thread writes silence while the stream is paused, so on a busy machine the file
  // may begin with silence written between open() and start(): the ramp starts at its first
  // non-zero sample, and only silence comes before it.
  std::size_t first = 0;
  while (first < samples.size() && samples[first] == 0) {
    ++first;
  }
  // Every sample handed out is in the file, in order (the last frame may be cut where the
  // stream paused; SDL writes silence after that).
  const std::size_t whole = (static_cast<std::size_t>(calls) - 1) * 320;
  ASSERT_GE(samples.size() - first, whole) << "frames handed out are missing from the file";
  for (std::size_t i = 0; i < whole; ++i) {
    ASSERT_EQ(samples[first + i], static_cast<int16_t>(i + 1))
        << "sample " << i << " of the ramp (after " << first << " samples of silence)";
  }

  // Capture: the file's samples come back as frames, in order.
  Frames mic;
  mic.expected = 320;
  sdk::AudioStream* capture = nullptr;
  ASSERT_TRUE(
      device->open(sdk::AudioDirection::kCapture, {}, {16000, 1, 320}, mic, &capture).is_ok());
  ASSERT_TRUE(capture->start().is_ok());
  EXPECT_TRUE(mic.wait_calls(4)) << "fewer than 4 capture callbacks in 30 s";
  capture->stop();
  capture->destroy();
  EXPECT_EQ(mic.wrong, 0);
  ASSERT_GE(mic.got.size(), 320u * 3) << "too few frames captured";
  for (std::size_t i = 0; i < mic.got.size() && i < source.size(); ++i) {
    ASSERT_EQ(mic.got[i], source[i]) << "captured sample " << i;
  }
}

TEST_F(AudioSdl2Plugin, DevicesAreListedAndUnknownOnesAndBadConfigRefused) {
  sdk::AudioDevice* device = create("driver = 'dummy'\n");
  ASSERT_NE(device, nullptr);
  const auto playback = list(*device, sdk::AudioDirection::kPlayback);
  ASSERT_FALSE(playback.empty());
  Frames f;
  sdk::AudioStream* s = nullptr;
  // A listed device opens by its name.
  ASSERT_TRUE(device
                  ->open(sdk::AudioDirection::kPlayback, sdk::StringView(playback.front()),
                         {48000, 1, 960}, f, &s)
                  .is_ok());
  s->destroy();
  const sdk::Status st = device->open(sdk::AudioDirection::kPlayback,
                                      sdk::StringView("no such speaker"), {48000, 1, 960}, f, &s);
  EXPECT_EQ(st.code, sdk::StatusCode::kNotFound);
  EXPECT_NE(std::string(st.text()).find(playback.front()), std::string::npos)
      << "the error names the devices there are: " << st.text();
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(device->open(sdk::AudioDirection::kPlayback, {}, {4000, 1, 80}, f, &s).code,
            sdk::StatusCode::kUnsupported);

  // A driver that does not exist: the plugin is made (a node starts without sound), and using a
  // device says why.
  sdk::AudioDevice* none = create("driver = 'no-such-driver'\n");
  ASSERT_NE(none, nullptr);
  const sdk::Status refused =
      none->open(sdk::AudioDirection::kPlayback, {}, {48000, 1, 960}, f, &s);
  EXPECT_EQ(refused.code, sdk::StatusCode::kUnavailable);
  EXPECT_NE(std::string(refused.text()).find("no-such-driver"), std::string::npos)
      << refused.text();
  std::string listing;
  sdk::StringSink sink(listing);
  EXPECT_EQ(none->list_devices(sdk::AudioDirection::kCapture, sink).code,
            sdk::StatusCode::kUnavailable);
  std::string error;
  EXPECT_EQ(create("buffer_frames = 0\n", &error), nullptr);
  EXPECT_NE(error.find("buffer_frames"), std::string::npos) << error;
}

} // namespace
} // namespace entre
