// Registration of crypto-sodium: manifest and factory.
#include "primitives.hpp"
#include "sodium_suite.hpp"

#include <new>

namespace entre::plugins::sodium {

sdk::Status create_plugin(sdk::Host&, sdk::Plugin** out) {
  if (!init_sodium()) {
    return sdk::Status::error(sdk::StatusCode::kUnavailable, "sodium: libsodium failed to start");
  }
  auto* suite = new (std::nothrow) SodiumSuite();
  if (suite == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "sodium: out of memory");
  }
  *out = suite;
  return sdk::Status::ok();
}

} // namespace entre::plugins::sodium

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kCrypto, "entre.crypto.sodium", "0.1.0",
                      "libsodium suite: Noise handshakes, Double Ratchet, media and at-rest AEAD");
ENTRE_PLUGIN_FACTORY(entre::plugins::sodium::create_plugin);
