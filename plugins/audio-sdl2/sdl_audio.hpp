// audio-sdl2: capture and playback through SDL2's audio API.
//
// Config: driver = "" (SDL's choice, e.g. pulseaudio or alsa; "dummy" or "disk" where no sound
// card exists), buffer_frames = 2 (device buffer, in frames of the stream: latency against
// robustness). Devices are named as SDL names them; an empty name opens the system default.
//
// SDL calls back on its own audio thread with buffers whose size it chooses; each stream keeps a
// small ring (allocated at open) so the kernel's callback always gets whole frames of the size it
// asked for: capture accumulates samples until a frame is full, playback asks the kernel for a
// frame whenever the ring runs short. Neither path locks or allocates.
//
// SDL's audio subsystem is initialised on first use (listing or opening a device), with the
// configured driver, so a node on a machine without sound starts and says why only when a call
// needs the device; it is shut down when the plugin is destroyed. One plugin object per process
// uses it.
#pragma once

#include <entre/sdk/audio.hpp>
#include <entre/sdk/host.hpp>
#include <entre/sdk/plugin.hpp>

#include <SDL.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace entre::plugins::sdl_audio {

struct SdlAudioConfig {
  std::string driver;         // empty: SDL's default
  uint32_t buffer_frames = 2; // 1..8
};

sdk::Status read_config(const sdk::ConfigView& config, SdlAudioConfig& out);

class SdlStream final : public sdk::AudioStream {
 public:
  SdlStream(sdk::AudioDirection direction, const sdk::AudioParams& params,
            sdk::AudioCallback& callback);
  // Opens the SDL device (paused); false with `error`.
  bool open(const std::string& device, uint32_t buffer_frames, std::string& error);
  sdk::Status start() noexcept override;
  void stop() noexcept override;
  void destroy() noexcept override;

 private:
  ~SdlStream();
  static void SDLCALL on_sdl(void* self, Uint8* stream, int len);
  void capture(const int16_t* in, std::size_t samples);
  void playback(int16_t* out, std::size_t samples);

  sdk::AudioDirection direction_;
  sdk::AudioParams params_;
  sdk::AudioCallback& callback_;
  SDL_AudioDeviceID device_ = 0;
  std::vector<int16_t> frame_; // one frame, interleaved
  std::size_t fill_ = 0;       // capture: samples gathered; playback: samples not yet handed out
  std::mutex mu_;              // start/stop/destroy
  bool running_ = false;
};

class SdlAudio final : public sdk::AudioDevice, public sdk::Plugin {
 public:
  SdlAudio(sdk::Host& host, SdlAudioConfig config);
  sdk::Status list_devices(sdk::AudioDirection direction, sdk::ByteSink& out) noexcept override;
  sdk::Status open(sdk::AudioDirection direction, sdk::StringView device_name,
                   const sdk::AudioParams& params, sdk::AudioCallback& callback,
                   sdk::AudioStream** out) noexcept override;
  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override { delete this; }

 private:
  ~SdlAudio() override;
  // Initialises SDL audio once; kUnavailable with SDL's reason when it cannot.
  sdk::Status ensure_init();
  std::vector<std::string> names(bool capture) const;

  sdk::Host& host_;
  SdlAudioConfig config_;
  std::mutex mu_;
  bool initialised_ = false;
  std::string init_error_;
};

} // namespace entre::plugins::sdl_audio
