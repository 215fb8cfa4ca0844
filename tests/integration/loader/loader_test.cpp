// PluginLoader against real fixture plugins (tests/fixtures/plugins).
//
// The fixtures that must be refused carry a static constructor that aborts the process. Every
// test here that loads one and then goes on running has therefore shown that the loader refused
// the file without mapping it, i.e. without running any of its code.
#include "loader/loader.hpp"

#include <entre/sdk/codec.hpp>
#include <entre/sdk/plugin.hpp>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <dlfcn.h>
#include <elf.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numbers>
#include <set>
#include <string>
#include <vector>

namespace entre {
namespace {

namespace fs = std::filesystem;

// A Host that records what the plugin logs and offers nothing else.
class FakeHost final : public sdk::Host {
 public:
  class EmptyConfig final : public sdk::ConfigView {
   public:
    bool has(sdk::StringView) const noexcept override { return false; }
    sdk::Result<int64_t> get_int(sdk::StringView) const noexcept override {
      return absent<int64_t>();
    }
    sdk::Result<double> get_double(sdk::StringView) const noexcept override {
      return absent<double>();
    }
    sdk::Result<bool> get_bool(sdk::StringView) const noexcept override { return absent<bool>(); }
    sdk::Result<sdk::StringView> get_string(sdk::StringView) const noexcept override {
      return absent<sdk::StringView>();
    }
    sdk::Result<uint64_t> get_array_size(sdk::StringView) const noexcept override {
      return absent<uint64_t>();
    }
    sdk::Result<sdk::StringView> get_string_at(sdk::StringView, uint64_t) const noexcept override {
      return absent<sdk::StringView>();
    }
    sdk::StringView location(sdk::StringView) const noexcept override { return {}; }

   private:
    template <typename T> static sdk::Result<T> absent() {
      return sdk::Result<T>::fail(sdk::StatusCode::kNotFound, "no config in tests");
    }
  };

  void log(sdk::LogLevel, sdk::StringView message) noexcept override {
    logs.emplace_back(message.str());
  }
  const sdk::ConfigView& config() const noexcept override { return config_; }
  sdk::StringView data_dir() const noexcept override { return "/nonexistent"; }
  boost::asio::io_context& io_context() noexcept override { return io_; }
  sdk::Status post_blocking(sdk::BlockingTask&) noexcept override {
    return sdk::Status::error(sdk::StatusCode::kClosed, "no worker pool in tests");
  }
  sdk::AbiVersion kernel_abi() const noexcept override {
    return {ENTRE_SDK_ABI_MAJOR, ENTRE_SDK_ABI_MINOR};
  }
  sdk::StringView plugin_id() const noexcept override { return "entre.fixture.good"; }

  std::vector<std::string> logs;

 private:
  EmptyConfig config_;
  boost::asio::io_context io_;
};

// A fresh directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "entre-loader-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed";
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

LoadFailure expect_failure(PluginLoader& loader, const fs::path& file, LoadError expected,
                           std::string_view expected_id = {}) {
  const LoadOutcome outcome = loader.load(expected_id, file);
  EXPECT_FALSE(outcome.library) << file;
  if (!outcome.failure) {
    ADD_FAILURE() << file << " loaded, expected " << load_error_name(expected);
    return LoadFailure{expected, file, ""};
  }
  EXPECT_EQ(outcome.failure->error, expected) << outcome.failure->str();
  EXPECT_EQ(outcome.failure->file, file);
  EXPECT_NE(outcome.failure->str().find(file.filename().string()), std::string::npos)
      << outcome.failure->str();
  EXPECT_NE(outcome.failure->str().find(load_error_name(expected)), std::string::npos);
  return *outcome.failure;
}

std::shared_ptr<const LoadedLibrary> expect_load(PluginLoader& loader, const fs::path& file,
                                                 std::string_view expected_id = {}) {
  LoadOutcome outcome = loader.load(expected_id, file);
  EXPECT_TRUE(outcome.library) << (outcome.failure ? outcome.failure->str() : "");
  EXPECT_FALSE(outcome.failure);
  return outcome.library;
}

// Calls the library's factory and wraps the root object so it is destroyed before the library.
PluginPtr<sdk::Plugin> create(const std::shared_ptr<const LoadedLibrary>& library,
                              sdk::Host& host) {
  sdk::Plugin* raw = nullptr;
  const sdk::Status status = library->factory()(host, &raw);
  EXPECT_TRUE(status.is_ok()) << status.text();
  return PluginPtr<sdk::Plugin>(raw, library);
}

TEST(PluginLoader, EachBrokenFixtureIsRefusedWithItsOwnError) {
  TempDir temp;
  const fs::path text = temp.path() / "x.so";
  const std::string text_contents = "not a plugin, just text\n";
  write_file(text, text_contents.data(), text_contents.size());

  struct Case {
    fs::path file;
    LoadError error;
  };
  const std::vector<Case> cases = {
      {temp.path() / "absent.so", LoadError::kFileNotFound},
      {temp.path(), LoadError::kFileNotFound},
      {text, LoadError::kNotSharedObject},
      {FIXTURE_OBJECT, LoadError::kNotSharedObject},
      {FIXTURE_NO_MANIFEST, LoadError::kMissingManifest},
      {FIXTURE_NO_FACTORY, LoadError::kMissingFactory},
      {FIXTURE_SHORT_MANIFEST, LoadError::kBadManifest},
      {FIXTURE_BAD_MAGIC, LoadError::kBadManifest},
      {FIXTURE_ABI_MAJOR, LoadError::kAbiMajorMismatch},
      {FIXTURE_ABI_MINOR, LoadError::kAbiMinorNewer},
      {FIXTURE_BOOST_VERSION, LoadError::kBoostMismatch},
  };
  std::set<std::string> messages;
  for (const Case& c : cases) {
    PluginLoader loader({});
    messages.insert(expect_failure(loader, c.file, c.error).str());
  }
  EXPECT_EQ(messages.size(), cases.size()); // no two failures read the same
}

TEST(PluginLoader, FailureDetailsSayWhatIsWrong) {
  PluginLoader loader({});
  EXPECT_NE(expect_failure(loader, FIXTURE_ABI_MAJOR, LoadError::kAbiMajorMismatch)
                .detail.find("plugin built for SDK ABI " + std::to_string(ENTRE_SDK_ABI_MAJOR + 1) +
                             "." + std::to_string(ENTRE_SDK_ABI_MINOR) + ", kernel offers " +
                             std::to_string(ENTRE_SDK_ABI_MAJOR) + "." +
                             std::to_string(ENTRE_SDK_ABI_MINOR)),
            std::string::npos);
  EXPECT_NE(
      expect_failure(loader, FIXTURE_BOOST_VERSION, LoadError::kBoostMismatch).detail.find("1.0.0"),
      std::string::npos);
  EXPECT_NE(expect_failure(loader, FIXTURE_SHORT_MANIFEST, LoadError::kBadManifest)
                .detail.find("100 bytes"),
            std::string::npos);
  EXPECT_NE(expect_failure(loader, FIXTURE_NO_FACTORY, LoadError::kMissingFactory)
                .detail.find("entre_plugin_factory"),
            std::string::npos);
}

TEST(PluginLoader, GoodCodecLoadsAndWorks) {
  PluginLoader loader({});
  const auto library = expect_load(loader, FIXTURE_GOOD, "entre.fixture.good");
  ASSERT_TRUE(library);
  EXPECT_EQ(library->file(), fs::path(FIXTURE_GOOD));
  const ManifestInfo& info = library->manifest();
  EXPECT_EQ(info.id, "entre.fixture.good");
  EXPECT_EQ(info.version, "1.0.0");
  EXPECT_EQ(info.kind, sdk::PluginKind::kCodec);
  EXPECT_EQ(info.abi_major, static_cast<uint32_t>(ENTRE_SDK_ABI_MAJOR));
  ASSERT_NE(library->factory(), nullptr);

  FakeHost host;
  PluginPtr<sdk::Plugin> plugin = create(library, host);
  ASSERT_TRUE(plugin);
  EXPECT_EQ(plugin->query_interface(sdk::InterfaceId::kTransportV1), nullptr);
  auto* codec = sdk::query<sdk::Codec>(*plugin, sdk::InterfaceId::kCodecV1);
  ASSERT_NE(codec, nullptr);
  const sdk::CodecInfo codec_info = codec->info();
  EXPECT_STREQ(codec_info.name, "mulaw");
  EXPECT_EQ(codec_info.sample_rates[0], 8000u);

  constexpr uint32_t kFrame = 160; // 20 ms at 8 kHz
  sdk::Encoder* raw_encoder = nullptr;
  sdk::Decoder* raw_decoder = nullptr;
  ASSERT_TRUE(codec->create_encoder({8000, 1, kFrame, 64000, 0, 0}, &raw_encoder).is_ok());
  ASSERT_TRUE(codec->create_decoder({8000, 1, kFrame}, &raw_decoder).is_ok());
  const PluginPtr<sdk::Encoder> encoder(raw_encoder, library);
  const PluginPtr<sdk::Decoder> decoder(raw_decoder, library);

  std::vector<int16_t> pcm(kFrame);
  for (uint32_t i = 0; i < kFrame; ++i) {
    pcm[i] = static_cast<int16_t>(20000.0 * std::sin(2.0 * std::numbers::pi * 440.0 * i / 8000.0));
  }
  pcm[0] = INT16_MIN; // the extremes too
  pcm[1] = INT16_MAX;
  std::vector<uint8_t> packet(codec_info.max_packet_bytes);
  uint64_t written = 0;
  ASSERT_TRUE(encoder->encode(pcm.data(), std::span<uint8_t>(packet), &written).is_ok());
  EXPECT_EQ(written, kFrame);
  std::vector<int16_t> decoded(kFrame);
  ASSERT_TRUE(decoder->decode(sdk::ByteView(packet.data(), written), decoded.data()).is_ok());
  for (uint32_t i = 0; i < kFrame; ++i) {
    // mu-law keeps four mantissa bits: the error stays within 1/16 of the magnitude (plus the
    // clipping of the two extremes at 32635).
    const int error = std::abs(int{pcm[i]} - int{decoded[i]});
    EXPECT_LE(error, std::abs(int{pcm[i]}) / 16 + 140) << "sample " << i;
  }
  // Sign and rough shape survive.
  EXPECT_LT(decoded[0], -30000);
  EXPECT_GT(decoded[1], 30000);

  std::vector<uint8_t> small(kFrame - 1);
  EXPECT_EQ(encoder->encode(pcm.data(), std::span<uint8_t>(small), &written).code,
            sdk::StatusCode::kBufferTooSmall);
  sdk::Encoder* unsupported = nullptr;
  EXPECT_EQ(codec->create_encoder({48000, 2, 960, 64000, 0, 0}, &unsupported).code,
            sdk::StatusCode::kUnsupported);
  EXPECT_EQ(unsupported, nullptr);
}

TEST(PluginLoader, ObjectsAreDestroyedBeforeTheLibraryIsUnloaded) {
  FakeHost host;
  std::weak_ptr<const LoadedLibrary> weak;
  {
    PluginLoader loader({});
    PluginPtr<sdk::Plugin> plugin;
    {
      auto library = expect_load(loader, FIXTURE_GOOD);
      ASSERT_TRUE(library);
      weak = library;
      plugin = create(library, host);
    }
    // The loader keeps nothing mapped; only the object holds the library now.
    EXPECT_FALSE(weak.expired());
    void* handle = ::dlopen(fs::absolute(FIXTURE_GOOD).c_str(), RTLD_LAZY | RTLD_NOLOAD);
    EXPECT_NE(handle, nullptr) << "the library should still be mapped";
    if (handle != nullptr) {
      ::dlclose(handle);
    }
    ASSERT_EQ(host.logs, std::vector<std::string>{"fixture: created"});
    plugin.reset(); // runs the plugin's destroy(), which still needs its code mapped
  }
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(host.logs, (std::vector<std::string>{"fixture: created", "fixture: destroyed"}));
  void* handle = ::dlopen(fs::absolute(FIXTURE_GOOD).c_str(), RTLD_LAZY | RTLD_NOLOAD);
  EXPECT_EQ(handle, nullptr) << "the library should be unmapped after its last object";
  if (handle != nullptr) {
    ::dlclose(handle);
  }
}

TEST(PluginLoader, PluginPtrMovesOwnership) {
  FakeHost host;
  PluginLoader loader({});
  const auto library = expect_load(loader, FIXTURE_GOOD);
  ASSERT_TRUE(library);
  PluginPtr<sdk::Plugin> first = create(library, host);
  PluginPtr<sdk::Plugin> second = std::move(first);
  EXPECT_FALSE(first); // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_TRUE(second);
  EXPECT_EQ(second.library(), library);
  second = PluginPtr<sdk::Plugin>();
  EXPECT_EQ(host.logs, (std::vector<std::string>{"fixture: created", "fixture: destroyed"}));
}

TEST(PluginLoader, SameIdTwiceIsADuplicate) {
  PluginLoader loader({});
  const auto library = expect_load(loader, FIXTURE_GOOD);
  ASSERT_TRUE(library);
  // Another file with the same id: refused before mapping (it aborts if mapped).
  const LoadFailure other = expect_failure(loader, FIXTURE_DUPLICATE, LoadError::kDuplicateId);
  EXPECT_NE(other.detail.find(fs::path(FIXTURE_GOOD).string()), std::string::npos) << other.detail;
  // The same file again.
  expect_failure(loader, FIXTURE_GOOD, LoadError::kDuplicateId);
  // A fresh loader (another node) starts with no ids.
  PluginLoader fresh({});
  EXPECT_TRUE(expect_load(fresh, FIXTURE_GOOD));
}

TEST(PluginLoader, HandWrittenManifestWithNothingChangedLoads) {
  PluginLoader loader({});
  EXPECT_TRUE(expect_load(loader, FIXTURE_HAND, "entre.fixture.hand"));
}

TEST(PluginLoader, IdMustBeTheOneAskedFor) {
  PluginLoader loader({});
  const LoadFailure failure =
      expect_failure(loader, FIXTURE_GOOD, LoadError::kIdMismatch, "entre.fixture.other");
  EXPECT_NE(failure.detail.find("entre.fixture.other"), std::string::npos);
  EXPECT_NE(failure.detail.find("entre.fixture.good"), std::string::npos);
  // A refused load does not reserve the id.
  EXPECT_TRUE(expect_load(loader, FIXTURE_GOOD, "entre.fixture.good"));
}

TEST(PluginLoader, DlopenRefusalIsOpenFailed) {
  // A copy of the good plugin that passes every check on its symbols and manifest, but whose
  // program header entry size the dynamic linker rejects.
  TempDir temp;
  std::vector<uint8_t> bytes = read_file(FIXTURE_GOOD);
  const uint16_t bad_phentsize = 20;
  std::memcpy(bytes.data() + offsetof(Elf64_Ehdr, e_phentsize), &bad_phentsize,
              sizeof(bad_phentsize));
  const fs::path broken = temp.path() / "entre-fixture-good.so";
  write_file(broken, bytes.data(), bytes.size());

  PluginLoader loader({});
  const LoadFailure failure = expect_failure(loader, broken, LoadError::kOpenFailed);
  EXPECT_FALSE(failure.detail.empty());
  EXPECT_EQ(failure.detail.find("/proc/self/fd"), std::string::npos)
      << "the detail names the descriptor the file was mapped through: " << failure.detail;
  // The id was not registered, so the real file still loads.
  EXPECT_TRUE(expect_load(loader, FIXTURE_GOOD));
}

TEST(PluginLoader, TheCheckedFileIsTheMappedFileEvenIfThePathIsReplacedInBetween) {
  // The good plugin is checked; before it is mapped, a plugin with the same id whose static
  // constructor aborts the process is renamed over its path. Mapping by path would run it.
  TempDir temp;
  const fs::path path = temp.path() / "entre-fixture-good.so";
  const fs::path swap = temp.path() / "swap.so";
  const std::vector<uint8_t> good = read_file(FIXTURE_GOOD);
  const std::vector<uint8_t> evil = read_file(FIXTURE_DUPLICATE);
  write_file(path, good.data(), good.size());
  write_file(swap, evil.data(), evil.size());

  PluginLoader loader({});
  int replaced = 0;
  loader.set_before_map([&](const fs::path& at) {
    EXPECT_EQ(at, path);
    fs::rename(swap, at);
    ++replaced;
  });
  const auto library = expect_load(loader, path, "entre.fixture.good");
  ASSERT_TRUE(library);
  EXPECT_EQ(replaced, 1);
  EXPECT_EQ(read_file(path), evil) << "the file at the path was replaced";
  EXPECT_EQ(library->file(), path) << "and the library still reports the path it was asked for";
  FakeHost host;
  PluginPtr<sdk::Plugin> plugin = create(library, host);
  ASSERT_TRUE(plugin);
  EXPECT_NE(sdk::query<sdk::Codec>(*plugin, sdk::InterfaceId::kCodecV1), nullptr);
}

TEST(PluginLoader, FactoryErrorsComeBackAsStatus) {
  PluginLoader loader({});
  const auto library = expect_load(loader, FIXTURE_FACTORY_FAILS, "entre.fixture.factory-fails");
  ASSERT_TRUE(library);
  FakeHost host;
  sdk::Plugin* out = nullptr;
  const sdk::Status status = library->factory()(host, &out);
  EXPECT_EQ(status.code, sdk::StatusCode::kUnavailable);
  EXPECT_EQ(status.text(), "fixture: this factory always fails");
  EXPECT_EQ(out, nullptr); // untouched, as the contract says
}

TEST(PluginLoader, TransportWithoutItsInterfaceLoadsButOffersNothing) {
  PluginLoader loader({});
  const auto library = expect_load(loader, FIXTURE_NO_INTERFACE);
  ASSERT_TRUE(library);
  EXPECT_EQ(library->manifest().kind, sdk::PluginKind::kTransport);
  FakeHost host;
  const PluginPtr<sdk::Plugin> plugin = create(library, host);
  ASSERT_TRUE(plugin);
  EXPECT_EQ(plugin->query_interface(sdk::InterfaceId::kTransportV1), nullptr);
  EXPECT_EQ(plugin->query_interface(sdk::InterfaceId::kCodecV1), nullptr);
}

TEST(PluginLoader, ResolvesIdsThroughTheSearchPath) {
  const fs::path fixture_dir = fs::path(FIXTURE_GOOD).parent_path();
  PluginLoader loader({"/nonexistent/entre/plugins", fixture_dir});
  ASSERT_EQ(loader.resolve("entre.fixture.good"), fixture_dir / "entre-fixture-good.so");
  const LoadOutcome outcome = loader.load("entre.fixture.good", std::nullopt);
  ASSERT_TRUE(outcome.library) << outcome.failure->str();
  EXPECT_EQ(outcome.library->file(), fixture_dir / "entre-fixture-good.so");
  EXPECT_EQ(outcome.library->manifest().id, "entre.fixture.good");
}

TEST(PluginLoader, ResolvesIdsThroughEntrePluginPath) {
  const fs::path fixture_dir = fs::path(FIXTURE_GOOD).parent_path();
  const std::string value = "/nonexistent/one::" + fixture_dir.string();
  ::setenv("ENTRE_PLUGIN_PATH", value.c_str(), 1);
  const auto paths = PluginLoader::default_search_paths({});
  ::unsetenv("ENTRE_PLUGIN_PATH");
  PluginLoader loader(paths);
  const LoadOutcome outcome = loader.load("entre.fixture.good", std::nullopt);
  ASSERT_TRUE(outcome.library) << outcome.failure->str();
  EXPECT_EQ(outcome.library->file(), fixture_dir.lexically_normal() / "entre-fixture-good.so");
}

TEST(PluginLoader, AMissingPluginsLibPrefixedTwinIsPointedAt) {
  // fixture_plain is built with add_library(SHARED): libentre-fixture-plain.so, where the id
  // entre.fixture.plain names entre-fixture-plain.so.
  const fs::path twin(FIXTURE_PLAIN);
  ASSERT_EQ(twin.filename(), "libentre-fixture-plain.so");
  PluginLoader loader({twin.parent_path()});
  const LoadOutcome by_id = loader.load("entre.fixture.plain", std::nullopt);
  ASSERT_TRUE(by_id.failure);
  EXPECT_EQ(by_id.failure->error, LoadError::kFileNotFound);
  EXPECT_NE(by_id.failure->detail.find("but " + twin.string() + " exists"), std::string::npos)
      << by_id.failure->detail;
  const LoadOutcome by_file = loader.load("", twin.parent_path() / "entre-fixture-plain.so");
  ASSERT_TRUE(by_file.failure);
  EXPECT_EQ(by_file.failure->error, LoadError::kFileNotFound);
  EXPECT_NE(by_file.failure->detail.find("but " + twin.string() + " exists"), std::string::npos)
      << by_file.failure->detail;
  // Without a twin, no such hint.
  const LoadOutcome absent = loader.load("", twin.parent_path() / "entre-fixture-absent.so");
  ASSERT_TRUE(absent.failure);
  EXPECT_EQ(absent.failure->detail.find("exists"), std::string::npos) << absent.failure->detail;
}

TEST(PluginLoader, FileNotFoundByIdListsTheDirectoriesSearched) {
  TempDir temp;
  PluginLoader loader({"/nonexistent/entre/plugins", temp.path()});
  const LoadOutcome outcome = loader.load("entre.fixture.missing", std::nullopt);
  ASSERT_TRUE(outcome.failure);
  EXPECT_EQ(outcome.failure->error, LoadError::kFileNotFound);
  const std::string message = outcome.failure->str();
  EXPECT_NE(message.find("entre-fixture-missing.so"), std::string::npos) << message;
  EXPECT_NE(message.find("/nonexistent/entre/plugins"), std::string::npos) << message;
  EXPECT_NE(message.find(temp.path().string()), std::string::npos) << message;

  PluginLoader empty({});
  const LoadOutcome none = empty.load("entre.fixture.missing", std::nullopt);
  ASSERT_TRUE(none.failure);
  EXPECT_EQ(none.failure->error, LoadError::kFileNotFound);
  // An id that could climb out of the search directory is not looked up at all.
  const LoadOutcome climbing = loader.load("../../etc/passwd", std::nullopt);
  ASSERT_TRUE(climbing.failure);
  EXPECT_EQ(climbing.failure->error, LoadError::kFileNotFound);
}

TEST(PluginLoader, ResolvedFileStillHasToPassTheChecks) {
  // A file named for the id it asks about, carrying another plugin's broken manifest.
  TempDir temp;
  fs::copy_file(FIXTURE_ABI_MAJOR, temp.path() / "entre-fixture-abi-major.so");
  PluginLoader loader({temp.path()});
  const LoadOutcome outcome = loader.load("entre.fixture.abi-major", std::nullopt);
  ASSERT_TRUE(outcome.failure);
  EXPECT_EQ(outcome.failure->error, LoadError::kAbiMajorMismatch);
  EXPECT_EQ(outcome.failure->file, temp.path() / "entre-fixture-abi-major.so");
}

} // namespace
} // namespace entre
