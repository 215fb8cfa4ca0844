// Registration of storage-memory: manifest and factory. The plugin has no configuration.
#include "memory_storage.hpp"

#include <new>

namespace entre::plugins::memory {

sdk::Status create_plugin(sdk::Host&, sdk::Plugin** out) {
  auto* storage = new (std::nothrow) MemoryStorage();
  if (storage == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "memory: out of memory");
  }
  *out = storage;
  return sdk::Status::ok();
}

} // namespace entre::plugins::memory

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kStorage, "entre.storage.memory", "0.1.0",
                      "In-memory storage for tests and ephemeral bots: nothing reaches the disk");
ENTRE_PLUGIN_FACTORY(entre::plugins::memory::create_plugin);
