// Registration of storage-sqlite: manifest and factory. The factory reads the configuration and
// builds the object; the database file is opened by Storage::open().
#include "sqlite_storage.hpp"

#include <exception>
#include <new>

namespace entre::plugins::sqlite {

sdk::Status create_plugin(sdk::Host& host, sdk::Plugin** out) {
  SqliteConfig config;
  const sdk::Status st = read_config(host.config(), host.data_dir().str(), config);
  if (!st.is_ok()) {
    return st;
  }
  try {
    *out = new SqliteStorage(std::move(config), &host);
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

} // namespace entre::plugins::sqlite

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kStorage, "entre.storage.sqlite", "0.1.0",
                      "SQLite storage: WAL, secure_delete, versioned schema with migrations");
ENTRE_PLUGIN_FACTORY(entre::plugins::sqlite::create_plugin);
