#include "sdl_audio.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace entre::plugins::sdl_audio {

namespace {

sdk::Status fail(sdk::StatusCode code, const std::string& message) {
  return sdk::Status::error(code, message);
}

} // namespace

sdk::Status read_config(const sdk::ConfigView& config, SdlAudioConfig& out) {
  auto driver = config.get_string_or("driver", "");
  if (!driver.is_ok()) {
    return driver.status;
  }
  out.driver = std::string(driver.value.str());
  auto frames = config.get_int_or("buffer_frames", 2);
  if (!frames.is_ok()) {
    return frames.status;
  }
  if (frames.value < 1 || frames.value > 8) {
    return fail(sdk::StatusCode::kInvalidArgument, "audio-sdl2: buffer_frames is 1 to 8");
  }
  out.buffer_frames = static_cast<uint32_t>(frames.value);
  return sdk::Status::ok();
}

SdlStream::SdlStream(sdk::AudioDirection direction, const sdk::AudioParams& params,
                     sdk::AudioCallback& callback)
    : direction_(direction), params_(params), callback_(callback),
      frame_(std::size_t{params.frame_samples} * params.channels) {}

SdlStream::~SdlStream() {
  if (device_ != 0) {
    SDL_CloseAudioDevice(device_);
  }
}

bool SdlStream::open(const std::string& device, uint32_t buffer_frames, std::string& error) {
  SDL_AudioSpec want{};
  want.freq = static_cast<int>(params_.sample_rate);
  want.format = AUDIO_S16SYS;
  want.channels = static_cast<Uint8>(params_.channels);
  want.samples = static_cast<Uint16>(std::min<uint32_t>(
      params_.frame_samples * std::max<uint32_t>(buffer_frames, 1) / 2 + 1, 8192));
  want.callback = &SdlStream::on_sdl;
  want.userdata = this;
  SDL_AudioSpec have{};
  const bool capture = direction_ == sdk::AudioDirection::kCapture;
  // No changes allowed: SDL converts to exactly this format, so the callback sees 16-bit samples
  // at the stream's rate and channel count.
  device_ = SDL_OpenAudioDevice(device.empty() ? nullptr : device.c_str(), capture ? 1 : 0, &want,
                                &have, 0);
  if (device_ == 0) {
    error = SDL_GetError();
    return false;
  }
  return true;
}

void SDLCALL SdlStream::on_sdl(void* self, Uint8* stream, int len) {
  auto* s = static_cast<SdlStream*>(self);
  const std::size_t samples = static_cast<std::size_t>(len) / sizeof(int16_t);
  if (s->direction_ == sdk::AudioDirection::kCapture) {
    s->capture(reinterpret_cast<const int16_t*>(stream), samples);
  } else {
    s->playback(reinterpret_cast<int16_t*>(stream), samples);
  }
}

void SdlStream::capture(const int16_t* in, std::size_t samples) {
  while (samples > 0) {
    const std::size_t take = std::min(samples, frame_.size() - fill_);
    std::memcpy(frame_.data() + fill_, in, take * sizeof(int16_t));
    fill_ += take;
    in += take;
    samples -= take;
    if (fill_ == frame_.size()) {
      callback_.on_audio(frame_.data(), params_.frame_samples);
      fill_ = 0;
    }
  }
}

void SdlStream::playback(int16_t* out, std::size_t samples) {
  while (samples > 0) {
    if (fill_ == 0) {
      std::fill(frame_.begin(), frame_.end(), int16_t{0});
      callback_.on_audio(frame_.data(), params_.frame_samples);
      fill_ = frame_.size();
    }
    const std::size_t give = std::min(samples, fill_);
    std::memcpy(out, frame_.data() + (frame_.size() - fill_), give * sizeof(int16_t));
    fill_ -= give;
    out += give;
    samples -= give;
  }
}

sdk::Status SdlStream::start() noexcept {
  std::lock_guard lock(mu_);
  if (!running_) {
    SDL_PauseAudioDevice(device_, 0);
    running_ = true;
  }
  return sdk::Status::ok();
}

void SdlStream::stop() noexcept {
  std::lock_guard lock(mu_);
  if (running_) {
    SDL_PauseAudioDevice(device_, 1);
    // Waits for a callback in progress: none runs after this returns.
    SDL_LockAudioDevice(device_);
    SDL_UnlockAudioDevice(device_);
    running_ = false;
  }
}

void SdlStream::destroy() noexcept {
  stop();
  delete this;
}

SdlAudio::SdlAudio(sdk::Host& host, SdlAudioConfig config)
    : host_(host), config_(std::move(config)) {}

sdk::Status SdlAudio::ensure_init() {
  std::lock_guard lock(mu_);
  if (initialised_) {
    return sdk::Status::ok();
  }
  if (!init_error_.empty()) {
    return fail(sdk::StatusCode::kUnavailable, init_error_);
  }
  if (!config_.driver.empty()) {
    // The driver SDL_InitSubSystem starts with (it reads the hint before the environment).
    SDL_SetHint(SDL_HINT_AUDIODRIVER, config_.driver.c_str());
  }
  if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0) {
    init_error_ =
        "audio-sdl2: no audio" +
        (config_.driver.empty() ? std::string() : " with driver '" + config_.driver + "'") + ": " +
        SDL_GetError();
    return fail(sdk::StatusCode::kUnavailable, init_error_);
  }
  const char* driver = SDL_GetCurrentAudioDriver();
  if (!config_.driver.empty() && (driver == nullptr || config_.driver != driver)) {
    SDL_QuitSubSystem(SDL_INIT_AUDIO);
    init_error_ = "audio-sdl2: the audio driver '" + config_.driver + "' did not start";
    return fail(sdk::StatusCode::kUnavailable, init_error_);
  }
  initialised_ = true;
  host_.log(sdk::LogLevel::kInfo,
            sdk::StringView(std::string("audio-sdl2: driver ") + (driver ? driver : "none")));
  return sdk::Status::ok();
}

SdlAudio::~SdlAudio() {
  if (initialised_) {
    SDL_QuitSubSystem(SDL_INIT_AUDIO);
    // When nothing else in the process uses SDL (a headless node), shut it down whole: its
    // device lists and hints live until SDL_Quit, and this library may be unloaded next.
    if (SDL_WasInit(0) == 0) {
      SDL_Quit();
    }
  }
}

std::vector<std::string> SdlAudio::names(bool capture) const {
  std::vector<std::string> out;
  const int n = SDL_GetNumAudioDevices(capture ? 1 : 0);
  for (int i = 0; i < n; ++i) {
    if (const char* name = SDL_GetAudioDeviceName(i, capture ? 1 : 0); name != nullptr) {
      out.emplace_back(name);
    }
  }
  return out;
}

sdk::Status SdlAudio::list_devices(sdk::AudioDirection direction, sdk::ByteSink& out) noexcept {
  try {
    if (sdk::Status st = ensure_init(); !st.is_ok()) {
      return st;
    }
    std::string text;
    for (const auto& n : names(direction == sdk::AudioDirection::kCapture)) {
      text += n + "\n";
    }
    return out.append(sdk::ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()))
               ? sdk::Status::ok()
               : fail(sdk::StatusCode::kBufferTooSmall, "audio-sdl2: the names do not fit");
  } catch (const std::bad_alloc&) {
    return fail(sdk::StatusCode::kInternal, "audio-sdl2: out of memory");
  }
}

sdk::Status SdlAudio::open(sdk::AudioDirection direction, sdk::StringView device_name,
                           const sdk::AudioParams& params, sdk::AudioCallback& callback,
                           sdk::AudioStream** out) noexcept {
  if (out == nullptr) {
    return fail(sdk::StatusCode::kInvalidArgument, "audio-sdl2: null output");
  }
  *out = nullptr;
  if (params.sample_rate < 8000 || params.sample_rate > 192000 || params.channels < 1 ||
      params.channels > 2 || params.frame_samples == 0 || params.frame_samples > 8192) {
    return fail(sdk::StatusCode::kUnsupported,
                "audio-sdl2: streams are 8000 to 192000 Hz, 1 or 2 channels, frames of 1 to "
                "8192 samples");
  }
  try {
    if (sdk::Status st = ensure_init(); !st.is_ok()) {
      return st;
    }
    const bool capture = direction == sdk::AudioDirection::kCapture;
    const std::string name(device_name.str());
    if (!name.empty()) {
      const auto all = names(capture);
      if (std::find(all.begin(), all.end(), name) == all.end()) {
        std::string known;
        for (const auto& n : all) {
          known += (known.empty() ? "" : ", ") + ("'" + n + "'");
        }
        return fail(sdk::StatusCode::kNotFound,
                    "audio-sdl2: no " + std::string(capture ? "capture" : "playback") +
                        " device '" + name + "' (there are: " + (known.empty() ? "none" : known) +
                        ")");
      }
    }
    auto* stream = new SdlStream(direction, params, callback);
    std::string error;
    if (!stream->open(name, config_.buffer_frames, error)) {
      stream->destroy();
      return fail(sdk::StatusCode::kUnavailable, "audio-sdl2: cannot open the " +
                                                     std::string(capture ? "capture" : "playback") +
                                                     " device: " + error);
    }
    *out = stream;
    return sdk::Status::ok();
  } catch (const std::bad_alloc&) {
    return fail(sdk::StatusCode::kInternal, "audio-sdl2: out of memory");
  }
}

void* SdlAudio::query_interface(sdk::InterfaceId id) noexcept {
  if (id == sdk::InterfaceId::kAudioDeviceV1) {
    return static_cast<sdk::AudioDevice*>(this);
  }
  return nullptr;
}

} // namespace entre::plugins::sdl_audio
