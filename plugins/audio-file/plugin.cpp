// Registration of audio-file: manifest and factory.
#include "file_audio.hpp"

#include <new>

namespace entre::plugins::audio_file {

sdk::Status create_plugin(sdk::Host& host, sdk::Plugin** out) {
  FileAudioConfig config;
  sdk::Status st = read_config(host.config(), std::string(host.data_dir().str()), config);
  if (!st.is_ok()) {
    return st;
  }
  auto* device = new (std::nothrow) FileAudio(host, std::move(config));
  if (device == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "audio-file: out of memory");
  }
  *out = device;
  return sdk::Status::ok();
}

} // namespace entre::plugins::audio_file

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kAudio, "entre.audio.file", "0.1.0",
                      "WAV files as microphone and speaker, for tests, bots and recordings");
ENTRE_PLUGIN_FACTORY(entre::plugins::audio_file::create_plugin);
