// Registration of codec-opus: manifest and factory.
#include "opus_codec.hpp"

#include <new>

namespace entre::plugins::opus {

sdk::Status create_plugin(sdk::Host&, sdk::Plugin** out) {
  auto* codec = new (std::nothrow) OpusCodec();
  if (codec == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "opus: out of memory");
  }
  *out = codec;
  return sdk::Status::ok();
}

} // namespace entre::plugins::opus

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kCodec, "entre.codec.opus", "0.1.0",
                      "Opus (libopus) for calls: FEC, DTX, concealment, 10 to 60 ms frames");
ENTRE_PLUGIN_FACTORY(entre::plugins::opus::create_plugin);
