// Registration of transport-tcp-relay: manifest and factory.
#include "relay_transport.hpp"

#include <new>

namespace entre::plugins::tcp_relay {

sdk::Status create_plugin(sdk::Host& host, sdk::Plugin** out) {
  RelayConfig config;
  sdk::Status st = read_config(host.config(), config);
  if (!st.is_ok()) {
    return st;
  }
  try {
    *out = new RelayTransport(host, std::move(config));
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

} // namespace entre::plugins::tcp_relay

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kTransport, "entre.transport.tcp-relay", "0.1.0",
                      "Peers through entre-relay servers over TCP (port 443), with a Noise-"
                      "authenticated, encrypted link to each relay");
ENTRE_PLUGIN_FACTORY(entre::plugins::tcp_relay::create_plugin);
