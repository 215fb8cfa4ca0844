// storage-sqlite as the kernel sees it: the real plugin file through the kernel's loader and a
// PluginHost whose config is a TOML table and whose data directory is a fresh temporary one.
#include "conformance/storage_conformance.hpp"
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"

#include <entre/sdk/storage.hpp>

#include <spdlog/spdlog.h>
#include <toml++/toml.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace entre {
namespace {

class SqliteStoragePlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "entre-sqlite-plugin-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    outcome_ = loader_.load("entre.storage.sqlite", std::filesystem::path(ENTRE_SQLITE_PLUGIN));
    ASSERT_TRUE(outcome_.library) << outcome_.failure->str();
    EXPECT_EQ(outcome_.library->manifest().kind, sdk::PluginKind::kStorage);
  }
  void TearDown() override {
    plugin_ = {};
    host_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Runs the factory with `config_toml` as the plugin's config table. On success *out is the
  // storage interface of a new object (the previous one is destroyed first).
  sdk::Status create(const std::string& config_toml, sdk::Storage** out) {
    plugin_ = {};
    auto table = std::make_shared<toml::table>(toml::parse(config_toml));
    host_ = std::make_unique<PluginHost>("entre.storage.sqlite",
                                         std::make_unique<TomlConfigView>(table, "test.toml", 0),
                                         dir_, runtime_, spdlog::default_logger());
    sdk::Plugin* root = nullptr;
    const sdk::Status st = outcome_.library->factory()(*host_, &root);
    if (!st.is_ok()) {
      return st;
    }
    plugin_ = PluginPtr<sdk::Plugin>(root, outcome_.library);
    *out = sdk::query<sdk::Storage>(*plugin_, sdk::InterfaceId::kStorageV1);
    return *out != nullptr ? sdk::Status::ok()
                           : sdk::Status::error(sdk::StatusCode::kInternal, "no interface");
  }

  sdk::Storage* open(const std::string& config_toml = "", std::string_view suite = "suite-a") {
    sdk::Storage* storage = nullptr;
    const sdk::Status st = create(config_toml, &storage);
    EXPECT_TRUE(st.is_ok()) << st.text();
    if (storage == nullptr) {
      return nullptr;
    }
    const sdk::Status opened = storage->open(sdk::StringView(suite));
    EXPECT_TRUE(opened.is_ok()) << opened.text();
    return opened.is_ok() ? storage : nullptr;
  }

  std::filesystem::path dir_;
  PluginLoader loader_{{}};
  LoadOutcome outcome_;
  Runtime runtime_{1, 1};
  std::unique_ptr<PluginHost> host_;
  PluginPtr<sdk::Plugin> plugin_;
};

TEST_F(SqliteStoragePlugin, PassesTheGenericConformanceSuite) {
  sdk::Storage* storage = open("", kStorageConformanceSuiteId);
  ASSERT_NE(storage, nullptr);
  const auto checks = run_storage_conformance(*storage);
  EXPECT_GE(checks.size(), 20u);
  for (const auto& check : checks) {
    EXPECT_TRUE(check.passed) << check.name << ": " << check.detail;
  }
}

TEST_F(SqliteStoragePlugin, TheDefaultFileIsEntreDbInTheDataDirectory) {
  ASSERT_NE(open(), nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "entre.db"));
  EXPECT_TRUE(host_->config_view().unread_keys().empty());
}

TEST_F(SqliteStoragePlugin, ReadsEveryKeyAndResolvesARelativePath) {
  ASSERT_NE(open("path = 'profile.sqlite'\nsynchronous = 'normal'\nbusy_timeout_ms = 100\n"),
            nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "profile.sqlite"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "entre.db"));
  EXPECT_TRUE(host_->config_view().unread_keys().empty()) << "a key was not read in the factory";
}

TEST_F(SqliteStoragePlugin, AnAbsolutePathIsUsedAsGiven) {
  const std::filesystem::path elsewhere = dir_ / "elsewhere";
  std::filesystem::create_directory(elsewhere);
  ASSERT_NE(open("path = '" + (elsewhere / "x.db").string() + "'\n"), nullptr);
  EXPECT_TRUE(std::filesystem::exists(elsewhere / "x.db"));
}

TEST_F(SqliteStoragePlugin, AnUnknownKeyIsLeftUnreadForTheKernelToRefuse) {
  ASSERT_NE(open("pth = 'x.db'\n"), nullptr);
  const auto unread = host_->config_view().unread_keys();
  ASSERT_EQ(unread.size(), 1u);
  EXPECT_NE(unread[0].message.find("did you mean 'path'"), std::string::npos) << unread[0].message;
}

TEST_F(SqliteStoragePlugin, BadValuesAreRefusedNamingTheKeyAndItsLocation) {
  sdk::Storage* storage = nullptr;
  sdk::Status st = create("synchronous = 'fast'\n", &storage);
  EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.text(), "test.toml:1:15: synchronous: must be \"full\" or \"normal\"");
  st = create("busy_timeout_ms = -1\n", &storage);
  EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument);
  EXPECT_NE(st.text().find("busy_timeout_ms: must be between 0 and 600000"), std::string_view::npos)
      << st.text();
  st = create("path = ''\n", &storage);
  EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument);
  EXPECT_NE(st.text().find("path: must not be empty"), std::string_view::npos) << st.text();
  st = create("path = 5\n", &storage);
  EXPECT_EQ(st.code, sdk::StatusCode::kInvalidArgument) << "a number where a string belongs";
  EXPECT_FALSE(std::filesystem::exists(dir_ / "entre.db"));
}

TEST_F(SqliteStoragePlugin, DataPersistsAcrossPluginObjectsAndTheSuiteIsKept) {
  sdk::Storage* storage = open();
  ASSERT_NE(storage, nullptr);
  const std::vector<uint8_t> salt = {9, 8, 7};
  ASSERT_TRUE(storage->put_setting("salt", sdk::ByteView(salt)).is_ok());
  storage = open();
  ASSERT_NE(storage, nullptr);
  std::vector<uint8_t> got;
  sdk::VectorSink sink(got);
  ASSERT_TRUE(storage->get_setting("salt", sink).is_ok());
  EXPECT_EQ(got, salt);
  ASSERT_TRUE(create("", &storage).is_ok());
  const sdk::Status st = storage->open("suite-b");
  EXPECT_EQ(st.code, sdk::StatusCode::kPermissionDenied);
  EXPECT_EQ(st.text(), "sqlite: store belongs to suite 'suite-a', not 'suite-b'");
}

} // namespace
} // namespace entre
