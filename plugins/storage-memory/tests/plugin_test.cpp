// storage-memory as the kernel sees it: the real plugin file through the kernel's loader and host,
// driven by the generic storage conformance suite (SDK interface only).
#include "conformance/storage_conformance.hpp"
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"

#include <entre/sdk/storage.hpp>

#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <vector>

namespace entre {
namespace {

class MemoryStoragePlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    outcome_ = loader_.load("entre.storage.memory", std::filesystem::path(ENTRE_MEMORY_PLUGIN));
    ASSERT_TRUE(outcome_.library) << outcome_.failure->str();
    EXPECT_EQ(outcome_.library->manifest().kind, sdk::PluginKind::kStorage);
  }

  // A new plugin object: a new, empty store.
  sdk::Storage* create() {
    sdk::Plugin* root = nullptr;
    const sdk::Status st = outcome_.library->factory()(host_, &root);
    EXPECT_TRUE(st.is_ok()) << st.text();
    if (!st.is_ok()) {
      return nullptr;
    }
    plugin_ = PluginPtr<sdk::Plugin>(root, outcome_.library);
    return sdk::query<sdk::Storage>(*plugin_, sdk::InterfaceId::kStorageV1);
  }

  PluginLoader loader_{{}};
  LoadOutcome outcome_;
  Runtime runtime_{1, 1};
  PluginHost host_{"entre.storage.memory", std::make_unique<TomlConfigView>(nullptr, "t.toml", 0),
                   std::filesystem::temp_directory_path(), runtime_, spdlog::default_logger()};
  PluginPtr<sdk::Plugin> plugin_;
};

TEST_F(MemoryStoragePlugin, PassesTheGenericConformanceSuite) {
  sdk::Storage* storage = create();
  ASSERT_NE(storage, nullptr);
  const auto checks = run_storage_conformance(*storage);
  EXPECT_GE(checks.size(), 20u);
  for (const auto& check : checks) {
    EXPECT_TRUE(check.passed) << check.name << ": " << check.detail;
  }
}

TEST_F(MemoryStoragePlugin, DataDoesNotOutliveTheObject) {
  sdk::Storage* storage = create();
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->open("suite-a").is_ok());
  const std::vector<uint8_t> value = {1, 2, 3};
  ASSERT_TRUE(storage->put_setting("k", sdk::ByteView(value)).is_ok());
  storage = create(); // destroys the first object
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->open("suite-b").is_ok()) << "a new object must not remember the suite";
  std::vector<uint8_t> out;
  sdk::VectorSink sink(out);
  EXPECT_EQ(storage->get_setting("k", sink).code, sdk::StatusCode::kNotFound);
}

} // namespace
} // namespace entre
