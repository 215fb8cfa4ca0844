// The loader's checks on what the ELF reader found, on hand-built inputs: each failure is its own
// named error, the checks run in the documented order, and the helpers around them (ids, names,
// version strings, search path) behave.
#include "loader/elf_manifest.hpp"
#include "loader/loader.hpp"

#include <algorithm>
#include <gtest/gtest.h>

#include <boost/version.hpp>
#include <elf.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <regex>
#include <set>
#include <string>

namespace entre {
namespace {

#if defined(__x86_64__)
constexpr uint16_t kHostMachine = EM_X86_64;
constexpr uint16_t kOtherMachine = EM_AARCH64;
#elif defined(__aarch64__)
constexpr uint16_t kHostMachine = EM_AARCH64;
constexpr uint16_t kOtherMachine = EM_X86_64;
#endif

const std::filesystem::path plugin_file = "plugins/entre-example-codec.so";

template <std::size_t N> void set_text(char (&array)[N], const char* text) {
  std::memset(array, 0, N);
  std::memcpy(array, text, std::min(N, std::strlen(text)));
}

// What the reader returns for a well-built plugin.
ElfExports good_exports() {
  ElfExports exports;
  exports.machine = kHostMachine;
  exports.symbols = {sdk::kFactorySymbol, sdk::kManifestSymbol};
  sdk::PluginManifest m{};
  std::memcpy(m.magic, sdk::kManifestMagic, sizeof(m.magic));
  m.manifest_bytes = sizeof(sdk::PluginManifest);
  m.abi_major = ENTRE_SDK_ABI_MAJOR;
  m.abi_minor = ENTRE_SDK_ABI_MINOR;
  m.boost_version = BOOST_VERSION;
  m.kind = static_cast<uint32_t>(sdk::PluginKind::kCodec);
  set_text(m.id, "org.example.codec");
  set_text(m.version, "1.2.3");
  set_text(m.summary, "an example");
  exports.manifest = m;
  exports.manifest_symbol_size = sizeof(sdk::PluginManifest);
  return exports;
}

// The error check_manifest reports, or nullopt.
std::optional<LoadError> error_of(const ElfExports& exports) {
  const auto failure = check_manifest(exports, plugin_file);
  if (!failure) {
    return std::nullopt;
  }
  EXPECT_EQ(failure->file, plugin_file);
  EXPECT_FALSE(failure->detail.empty());
  return failure->error;
}

template <typename Mutate> std::optional<LoadError> error_after(Mutate mutate) {
  ElfExports exports = good_exports();
  mutate(exports);
  return error_of(exports);
}

TEST(ManifestCheck, GoodManifestPasses) { EXPECT_EQ(error_of(good_exports()), std::nullopt); }

TEST(ManifestCheck, ReaderErrorsMapToLoadErrors) {
  const auto with_error = [](ElfReadError error) {
    ElfExports exports;
    exports.error = error;
    exports.detail = "reader detail";
    return error_of(exports);
  };
  EXPECT_EQ(with_error(ElfReadError::kCannotOpen), LoadError::kFileNotFound);
  EXPECT_EQ(with_error(ElfReadError::kNotElf), LoadError::kNotSharedObject);
  EXPECT_EQ(with_error(ElfReadError::kMalformed), LoadError::kNotSharedObject);
  EXPECT_EQ(with_error(ElfReadError::kNoDynamicSymbols), LoadError::kMissingManifest);
}

TEST(ManifestCheck, OtherMachineIsNotASharedObjectForUs) {
  EXPECT_EQ(error_after([](ElfExports& e) { e.machine = kOtherMachine; }),
            LoadError::kNotSharedObject);
}

TEST(ManifestCheck, MissingSymbols) {
  EXPECT_EQ(error_after([](ElfExports& e) { e.symbols = {sdk::kFactorySymbol}; }),
            LoadError::kMissingManifest);
  EXPECT_EQ(error_after([](ElfExports& e) { e.symbols = {sdk::kManifestSymbol}; }),
            LoadError::kMissingFactory);
  EXPECT_EQ(error_after([](ElfExports& e) { e.symbols.clear(); }), LoadError::kMissingManifest);
}

TEST(ManifestCheck, UnreadableManifestIsBad) {
  ElfExports exports = good_exports();
  exports.manifest.reset();
  exports.manifest_symbol_size = 100;
  exports.manifest_detail = "entre_plugin_manifest is 100 bytes, expected 288";
  const auto failure = check_manifest(exports, plugin_file);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->error, LoadError::kBadManifest);
  EXPECT_EQ(failure->detail, exports.manifest_detail);
}

TEST(ManifestCheck, MalformedManifests) {
  using M = sdk::PluginManifest;
  const auto manifest_after = [](auto mutate) {
    return error_after([&](ElfExports& e) { mutate(*e.manifest); });
  };
  EXPECT_EQ(manifest_after([](M& m) { m.magic[7] = 'X'; }), LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { m.manifest_bytes = 287; }), LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { m.manifest_bytes = 0; }), LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { m.kind = 0; }), LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { m.kind = 6; }), LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { m.kind = UINT32_MAX; }), LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { std::memset(m.id, 'a', sizeof(m.id)); }),
            LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { std::memset(m.version, '1', sizeof(m.version)); }),
            LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { std::memset(m.summary, 's', sizeof(m.summary)); }),
            LoadError::kBadManifest);
  EXPECT_EQ(manifest_after([](M& m) { set_text(m.version, ""); }), LoadError::kBadManifest);
  for (const char* id : {"", "entre", "Entre.codec", "entre..codec", ".entre.codec", "entre.codec.",
                         "entre.codec-", "entre codec.x", "entre/../x.y", "entre.c\xc3\xa9"}) {
    EXPECT_EQ(manifest_after([&](M& m) { set_text(m.id, id); }), LoadError::kBadManifest) << id;
  }
  for (const int kind : {1, 2, 3, 4, 5}) {
    EXPECT_EQ(manifest_after([&](M& m) { m.kind = static_cast<uint32_t>(kind); }), std::nullopt);
  }
}

TEST(ManifestCheck, AbiMajorMismatchNamesBothVersions) {
  ElfExports exports = good_exports();
  exports.manifest->abi_major = ENTRE_SDK_ABI_MAJOR + 1;
  exports.manifest->abi_minor = 0;
  const auto failure = check_manifest(exports, plugin_file);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->error, LoadError::kAbiMajorMismatch);
  EXPECT_EQ(failure->detail, "plugin built for SDK ABI " + std::to_string(ENTRE_SDK_ABI_MAJOR + 1) +
                                 ".0, kernel offers " + std::to_string(ENTRE_SDK_ABI_MAJOR) + "." +
                                 std::to_string(ENTRE_SDK_ABI_MINOR));
  EXPECT_EQ(failure->str(), plugin_file.string() + ": abi-major-mismatch: " + failure->detail);

  exports.manifest->abi_major = ENTRE_SDK_ABI_MAJOR - 1;
  EXPECT_EQ(error_of(exports), LoadError::kAbiMajorMismatch);
}

TEST(ManifestCheck, AbiMinorMayBeOlderButNotNewer) {
  EXPECT_EQ(error_after([](ElfExports& e) { e.manifest->abi_minor = ENTRE_SDK_ABI_MINOR + 1; }),
            LoadError::kAbiMinorNewer);
#if ENTRE_SDK_ABI_MINOR > 0
  EXPECT_EQ(error_after([](ElfExports& e) { e.manifest->abi_minor = ENTRE_SDK_ABI_MINOR - 1; }),
            std::nullopt);
#endif
}

TEST(ManifestCheck, BoostVersionMustMatchExactly) {
  ElfExports exports = good_exports();
  exports.manifest->boost_version = 100000;
  const auto failure = check_manifest(exports, plugin_file);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->error, LoadError::kBoostMismatch);
  EXPECT_NE(failure->detail.find("Boost 1.0.0"), std::string::npos) << failure->detail;
  EXPECT_NE(failure->detail.find(boost_version_string(BOOST_VERSION)), std::string::npos);
  // A patch release is a different version too.
  EXPECT_EQ(error_after([](ElfExports& e) { e.manifest->boost_version = BOOST_VERSION + 1; }),
            LoadError::kBoostMismatch);
}

TEST(ManifestCheck, ChecksRunInTheDocumentedOrder) {
  // Everything wrong at once: the earliest check wins, and removing its cause reveals the next.
  ElfExports exports = good_exports();
  exports.machine = kOtherMachine;
  exports.symbols.clear();
  exports.manifest->magic[0] = 'X';
  exports.manifest->abi_major = ENTRE_SDK_ABI_MAJOR + 1;
  exports.manifest->abi_minor = ENTRE_SDK_ABI_MINOR + 1;
  exports.manifest->boost_version = 1;
  EXPECT_EQ(error_of(exports), LoadError::kNotSharedObject);
  exports.machine = kHostMachine;
  EXPECT_EQ(error_of(exports), LoadError::kMissingManifest);
  exports.symbols = {sdk::kManifestSymbol};
  EXPECT_EQ(error_of(exports), LoadError::kMissingFactory);
  exports.symbols = {sdk::kFactorySymbol, sdk::kManifestSymbol};
  EXPECT_EQ(error_of(exports), LoadError::kBadManifest);
  exports.manifest->magic[0] = 'E';
  EXPECT_EQ(error_of(exports), LoadError::kAbiMajorMismatch);
  exports.manifest->abi_major = ENTRE_SDK_ABI_MAJOR;
  EXPECT_EQ(error_of(exports), LoadError::kAbiMinorNewer);
  exports.manifest->abi_minor = ENTRE_SDK_ABI_MINOR;
  EXPECT_EQ(error_of(exports), LoadError::kBoostMismatch);
  exports.manifest->boost_version = BOOST_VERSION;
  EXPECT_EQ(error_of(exports), std::nullopt);
}

TEST(ManifestCheck, ManifestInfoIsSafeOnUnterminatedStrings) {
  sdk::PluginManifest m = *good_exports().manifest;
  std::memset(m.id, 'a', sizeof(m.id));
  std::memset(m.summary, 's', sizeof(m.summary));
  const ManifestInfo info = manifest_info(m);
  EXPECT_EQ(info.id, std::string(sdk::kPluginIdBytes, 'a'));
  EXPECT_EQ(info.summary, std::string(sdk::kPluginSummaryBytes, 's'));
  EXPECT_EQ(info.version, "1.2.3");
  EXPECT_EQ(info.kind, sdk::PluginKind::kCodec);
  EXPECT_EQ(info.boost_version, static_cast<uint32_t>(BOOST_VERSION));
}

TEST(LoaderNames, ErrorNamesAreDistinctKebabCase) {
  const std::regex kebab("[a-z]+(-[a-z]+)*");
  std::set<std::string> names;
  for (int e = static_cast<int>(LoadError::kFileNotFound);
       e <= static_cast<int>(LoadError::kInterfaceMissing); ++e) {
    const std::string name = load_error_name(static_cast<LoadError>(e));
    EXPECT_TRUE(std::regex_match(name, kebab)) << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), 14u);
  EXPECT_STREQ(load_error_name(LoadError::kBoostMismatch), "boost-version-mismatch");
  EXPECT_STREQ(load_error_name(LoadError::kNotSharedObject), "not-a-shared-object");
}

TEST(LoaderNames, FailureString) {
  EXPECT_EQ((LoadFailure{LoadError::kDuplicateId, "a/b.so", "why"}.str()),
            "a/b.so: duplicate-id: why");
  EXPECT_EQ((LoadFailure{LoadError::kFileNotFound, {}, "why"}.str()), "file-not-found: why");
}

TEST(LoaderNames, PluginIds) {
  for (const char* id : {"entre.codec.pcm", "org.example.codec-mulaw", "a.b", "x9.y_z.0",
                         "entre.transport.tcp-relay"}) {
    EXPECT_TRUE(is_valid_plugin_id(id)) << id;
  }
  for (const char* id :
       {"", "entre", "a-b", "A.b", "a..b", "a.-b", "-a.b", "a.b_", "a.b/c", "a.b c", "a.b\n"}) {
    EXPECT_FALSE(is_valid_plugin_id(id)) << id;
  }
  EXPECT_TRUE(is_valid_plugin_id("a." + std::string(sdk::kPluginIdBytes - 3, 'b')));
  EXPECT_FALSE(is_valid_plugin_id("a." + std::string(sdk::kPluginIdBytes - 2, 'b')));
}

TEST(LoaderNames, FileNameForId) {
  EXPECT_EQ(PluginLoader::file_name_for_id("entre.codec.pcm"), "entre-codec-pcm.so");
  EXPECT_EQ(PluginLoader::file_name_for_id("org.example.tcp_relay"), "org-example-tcp_relay.so");
}

TEST(LoaderNames, BoostVersionString) {
  EXPECT_EQ(boost_version_string(107400), "1.74.0");
  EXPECT_EQ(boost_version_string(108302), "1.83.2");
  EXPECT_EQ(boost_version_string(100000), "1.0.0");
}

// Sets an environment variable for the scope of a test and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) {
      old_ = old;
    }
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(SearchPath, ProfileThenEnvironmentThenExecutableThenInstall) {
  const ScopedEnv env("ENTRE_PLUGIN_PATH", "/env/one::/env/two/:/profile/a:");
  const auto paths = PluginLoader::default_search_paths({"/profile/a", "/profile/b/"});
  ASSERT_GE(paths.size(), 5u);
  EXPECT_EQ(paths[0], "/profile/a");
  EXPECT_EQ(paths[1], "/profile/b");
  EXPECT_EQ(paths[2], "/env/one");
  EXPECT_EQ(paths[3], "/env/two"); // "/profile/a" again is dropped, empty entries ignored
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe");
  const auto beside_exe =
      (exe.parent_path() / ".." / "lib" / "entre" / "plugins").lexically_normal();
  EXPECT_EQ(paths[4], beside_exe);
  EXPECT_EQ(paths.back(),
            std::filesystem::path(ENTRE_INSTALL_PLUGIN_DIR_FOR_TESTS).lexically_normal());
  const std::set<std::filesystem::path> unique(paths.begin(), paths.end());
  EXPECT_EQ(unique.size(), paths.size());
}

TEST(SearchPath, WithoutEnvironment) {
  const ScopedEnv env("ENTRE_PLUGIN_PATH", nullptr);
  const auto paths = PluginLoader::default_search_paths({});
  ASSERT_GE(paths.size(), 1u);
  EXPECT_EQ(paths.back(),
            std::filesystem::path(ENTRE_INSTALL_PLUGIN_DIR_FOR_TESTS).lexically_normal());
}

TEST(SearchPath, ResolveRefusesInvalidIds) {
  const PluginLoader loader({"/"});
  EXPECT_EQ(loader.resolve("../etc/passwd"), std::nullopt);
  EXPECT_EQ(loader.resolve("etc"), std::nullopt);
}

} // namespace
} // namespace entre
