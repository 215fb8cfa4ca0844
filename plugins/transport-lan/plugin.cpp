// Registration of transport-lan: manifest and factory.
#include "lan_transport.hpp"

#include <new>

namespace entre::plugins::lan {

sdk::Status create_plugin(sdk::Host& host, sdk::Plugin** out) {
  LanConfig config;
  sdk::Status st = read_config(host.config(), config);
  if (!st.is_ok()) {
    return st;
  }
  try {
    *out = new LanTransport(host, std::move(config));
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

} // namespace entre::plugins::lan

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kTransport, "entre.transport.lan", "0.1.0",
                      "Private discovery beacons on a LAN multicast group, then unicast UDP");
ENTRE_PLUGIN_FACTORY(entre::plugins::lan::create_plugin);
