// Registration of transport-udp: manifest and factory.
#include "udp_transport.hpp"

#include <new>

namespace entre::plugins::udp {

sdk::Status create_plugin(sdk::Host& host, sdk::Plugin** out) {
  UdpConfig config;
  sdk::Status st = read_config(host.config(), config);
  if (!st.is_ok()) {
    return st;
  }
  try {
    *out = new UdpTransport(host, config);
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

} // namespace entre::plugins::udp

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kTransport, "entre.transport.udp", "0.1.0",
                      "Direct peer-to-peer datagrams over UDP (IPv4 and IPv6)");
ENTRE_PLUGIN_FACTORY(entre::plugins::udp::create_plugin);
