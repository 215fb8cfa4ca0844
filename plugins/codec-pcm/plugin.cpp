// Registration of codec-pcm: manifest and factory.
#include "pcm_codec.hpp"

#include <new>

namespace entre::plugins::pcm {

sdk::Status create_plugin(sdk::Host&, sdk::Plugin** out) {
  auto* codec = new (std::nothrow) PcmCodec();
  if (codec == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "pcm: out of memory");
  }
  *out = codec;
  return sdk::Status::ok();
}

} // namespace entre::plugins::pcm

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kCodec, "entre.codec.pcm", "0.1.0",
                      "Uncompressed 16-bit PCM: the reference codec");
ENTRE_PLUGIN_FACTORY(entre::plugins::pcm::create_plugin);
