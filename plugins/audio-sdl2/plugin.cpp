// Registration of audio-sdl2: manifest and factory.
#include "sdl_audio.hpp"

#include <new>

namespace entre::plugins::sdl_audio {

sdk::Status create_plugin(sdk::Host& host, sdk::Plugin** out) {
  SdlAudioConfig config;
  sdk::Status st = read_config(host.config(), config);
  if (!st.is_ok()) {
    return st;
  }
  auto* device = new (std::nothrow) SdlAudio(host, std::move(config));
  if (device == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "audio-sdl2: out of memory");
  }
  *out = device;
  return sdk::Status::ok();
}

} // namespace entre::plugins::sdl_audio

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kAudio, "entre.audio.sdl2", "0.1.0",
                      "microphone and speaker through SDL2 audio");
ENTRE_PLUGIN_FACTORY(entre::plugins::sdl_audio::create_plugin);
