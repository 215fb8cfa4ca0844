// Profile schema tests: every broken profile in bad/ produces the error its header promises, every
// shipped profile in configs/ loads cleanly, and defaults, paths and suggestions behave as
// docs/profiles.md says.
#include "profile/profile.hpp"

#include <toml++/toml.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace entre {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir{ENTRE_SOURCE_DIR};
const fs::path kBadDir = kSourceDir / "tests" / "unit" / "profile" / "bad";
const fs::path kConfigsDir = kSourceDir / "configs";

std::string all_errors(const ProfileLoadResult& result) {
  std::string out;
  for (const auto& error : result.errors) {
    out += "  " + error.str() + "\n";
  }
  return out;
}

std::vector<std::string> toml_files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".toml") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Sets or unsets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
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
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A strict UTF-8 check, independent of toml++, to prove the invalid-UTF-8 case really is invalid.
bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1;
      code = lead & 0x1FU;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2;
      code = lead & 0x0FU;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3;
      code = lead & 0x07U;
    } else {
      return false;
    }
    if (i + extra >= text.size()) {
      return false; // truncated sequence
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) {
        return false;
      }
      code = (code << 6) | (next & 0x3FU);
    }
    static constexpr uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Broken profiles: bad/NAME.toml states its expectation in header comments:
//   # expect-line: N          an error is reported on line N ...
//   # expect: TEXT            ... whose str() contains TEXT
//   # expect-not: TEXT        (optional) no error's str() contains TEXT
//   # expect-errors: N        (optional) exactly N errors in total

struct Expectation {
  uint32_t line = 0;
  std::string text;
  std::optional<std::string> absent_text;
  std::optional<std::size_t> error_count;
};

std::optional<Expectation> read_expectation(const fs::path& path) {
  std::istringstream in(read_bytes(path));
  Expectation expectation;
  bool has_line = false;
  std::string line;
  const auto value_after = [&line](std::string_view prefix) -> std::optional<std::string> {
    if (line.rfind(prefix, 0) != 0) {
      return std::nullopt;
    }
    return line.substr(prefix.size());
  };
  while (std::getline(in, line) && line.rfind("#", 0) == 0) {
    if (auto v = value_after("# expect-line: ")) {
      expectation.line = static_cast<uint32_t>(std::stoul(*v));
      has_line = true;
    } else if (auto v = value_after("# expect: ")) {
      expectation.text = *v;
    } else if (auto v = value_after("# expect-not: ")) {
      expectation.absent_text = *v;
    } else if (auto v = value_after("# expect-errors: ")) {
      expectation.error_count = std::stoul(*v);
    }
  }
  if (!has_line || expectation.text.empty()) {
    return std::nullopt;
  }
  return expectation;
}

class BadProfileTest : public testing::TestWithParam<std::string> {};

TEST_P(BadProfileTest, ReportsTheExpectedError) {
  const fs::path path = kBadDir / (GetParam() + ".toml");
  const auto expectation = read_expectation(path);
  ASSERT_TRUE(expectation) << path << " lacks '# expect-line:' and '# expect:' header lines";

  const ProfileLoadResult result = load_profile_file(path);
  EXPECT_FALSE(result.profile) << "a profile with errors must not be returned";
  ASSERT_FALSE(result.errors.empty()) << path << " loaded without errors";

  const bool found = std::any_of(result.errors.begin(), result.errors.end(), [&](const auto& e) {
    return e.where.line == expectation->line &&
           e.str().find(expectation->text) != std::string::npos;
  });
  EXPECT_TRUE(found) << "expected on line " << expectation->line << ": " << expectation->text
                     << "\ngot:\n"
                     << all_errors(result);
  if (expectation->absent_text) {
    for (const auto& error : result.errors) {
      EXPECT_EQ(error.str().find(*expectation->absent_text), std::string::npos) << error.str();
    }
  }
  if (expectation->error_count) {
    EXPECT_EQ(result.errors.size(), *expectation->error_count) << all_errors(result);
  }
  for (const auto& error : result.errors) {
    EXPECT_EQ(error.where.file, path.string());
    EXPECT_GT(error.where.line, 0U) << error.str();
    EXPECT_GT(error.where.column, 0U) << error.str();
  }
}

INSTANTIATE_TEST_SUITE_P(Files, BadProfileTest, testing::ValuesIn(toml_files_in(kBadDir)),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(BadProfiles, DirectoryHoldsAtLeastThirtyFiveCases) {
  EXPECT_GE(toml_files_in(kBadDir).size(), 35U);
}

TEST(BadProfiles, InvalidUtf8CaseReallyIsInvalidUtf8) {
  const std::string bytes = read_bytes(kBadDir / "invalid_utf8.toml");
  ASSERT_FALSE(bytes.empty());
  EXPECT_FALSE(is_valid_utf8(bytes));
  EXPECT_TRUE(is_valid_utf8("caf\xc3\xa9")); // the checker itself accepts real UTF-8
}

TEST(Utf8, EveryKindOfInvalidSequenceIsReportedAsInvalidUtf8) {
  const std::vector<std::string> samples = {
      std::string("[node]\nname = \"a\x80z\"\ndata_dir = \"d\"\n"),            // lone continuation
      std::string("[node]\nname = \"a\xc3\"\ndata_dir = \"d\"\n"),             // truncated sequence
      std::string("[node]\nname = \"a\xc0\xaf\"\ndata_dir = \"d\"\n"),         // overlong '/'
      std::string("[node]\nname = \"a\xed\xa0\x80\"\ndata_dir = \"d\"\n"),     // UTF-16 surrogate
      std::string("# comment \xff\n[node]\nname = \"a\"\ndata_dir = \"d\"\n"), // in a comment
  };
  for (const auto& text : samples) {
    ASSERT_FALSE(is_valid_utf8(text));
    const auto result = parse_profile(text, "mem.toml", "/tmp");
    ASSERT_EQ(result.errors.size(), 1U) << all_errors(result);
    EXPECT_NE(result.errors[0].message.find("invalid UTF-8"), std::string::npos)
        << result.errors[0].str();
    EXPECT_TRUE(result.errors[0].key.empty());
  }
}

// ---------------------------------------------------------------------------------------------
// Shipped profiles.

class ShippedProfileTest : public testing::TestWithParam<std::string> {};

TEST_P(ShippedProfileTest, LoadsWithoutErrors) {
  ScopedEnv home("HOME", "/home/tester"); // "~/" paths must not depend on the test environment
  const ProfileLoadResult result = load_profile_file(kConfigsDir / (GetParam() + ".toml"));
  EXPECT_TRUE(result.errors.empty()) << all_errors(result);
  EXPECT_TRUE(result.profile);
}

INSTANTIATE_TEST_SUITE_P(Configs, ShippedProfileTest, testing::ValuesIn(toml_files_in(kConfigsDir)),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(ShippedProfiles, TheExpectedFilesExist) {
  const auto names = toml_files_in(kConfigsDir);
  for (const char* expected : {"default", "lan-only", "restrictive", "relay", "bot"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

TEST(ShippedProfiles, DefaultNamesOnlyThePluginsThatExist) {
  ScopedEnv home("HOME", "/home/tester");
  const auto result = load_profile_file(kConfigsDir / "default.toml");
  ASSERT_TRUE(result.profile) << all_errors(result);
  const Profile& profile = *result.profile;
  ASSERT_TRUE(profile.node);
  EXPECT_EQ(profile.node->name, "me");
  EXPECT_EQ(profile.node->data_dir, fs::path("/home/tester/.local/share/entre/default"));
  ASSERT_EQ(profile.plugins.size(), 6U);
  EXPECT_EQ(profile.plugins[0].id, "entre.transport.udp");
  EXPECT_TRUE(profile.plugins[0].required);
  EXPECT_EQ(profile.plugins[1].id, "entre.crypto.sodium");
  EXPECT_TRUE(profile.plugins[1].required);
  EXPECT_EQ(profile.plugins[2].id, "entre.storage.sqlite");
  EXPECT_TRUE(profile.plugins[2].required);
  EXPECT_EQ(profile.plugins[3].id, "entre.codec.opus");
  EXPECT_TRUE(profile.plugins[3].required);
  EXPECT_EQ(profile.plugins[4].id, "entre.codec.pcm");
  EXPECT_TRUE(profile.plugins[4].required);
  EXPECT_EQ(profile.plugins[5].id, "entre.audio.sdl2");
  EXPECT_FALSE(profile.plugins[5].required) << "a node without sound must still start";
  EXPECT_EQ(profile.transport.order, std::vector<std::string>{"entre.transport.udp"});
  EXPECT_EQ(profile.codec.preferred,
            (std::vector<std::string>{"entre.codec.opus", "entre.codec.pcm"}));
  EXPECT_EQ(profile.crypto.suite, "entre.crypto.sodium");
  EXPECT_EQ(profile.crypto.kdf, KdfStrength::kModerate);
  EXPECT_EQ(profile.storage.plugin, "entre.storage.sqlite");
  EXPECT_EQ(profile.audio.plugin, "entre.audio.sdl2");
  EXPECT_TRUE(profile.codec.fec);
  EXPECT_FALSE(profile.codec.dtx);
  EXPECT_FALSE(profile.relay);

  const toml::table& udp = *profile.plugins[0].config;
  EXPECT_EQ(udp["bind"].value<std::string>(), "0.0.0.0:7400");
  EXPECT_TRUE(udp["max_payload_bytes"].is_integer());
  EXPECT_EQ(udp.size(), 2U); // only keys the udp plugin reads
  EXPECT_TRUE(profile.plugins[1].config->empty());
  EXPECT_EQ(profile.source, (kConfigsDir / "default.toml").lexically_normal());
}

TEST(ShippedProfiles, RelayHasNoNodeAndItsLimits) {
  const auto result = load_profile_file(kConfigsDir / "relay.toml");
  ASSERT_TRUE(result.profile) << all_errors(result);
  EXPECT_FALSE(result.profile->node);
  ASSERT_TRUE(result.profile->relay);
  EXPECT_EQ(result.profile->relay->port, 443);
  EXPECT_TRUE(result.profile->relay->static_key_file.is_absolute());
  EXPECT_GE(result.profile->relay->client_burst_bytes, result.profile->relay->max_frame_bytes);
}

TEST(ShippedProfiles, BotLogsToAFileNextToItsProfile) {
  const auto result = load_profile_file(kConfigsDir / "bot.toml");
  ASSERT_TRUE(result.profile) << all_errors(result);
  ASSERT_TRUE(result.profile->log.file);
  EXPECT_EQ(*result.profile->log.file, (kConfigsDir / "logs" / "bot.log").lexically_normal());
  EXPECT_EQ(result.profile->storage.plugin, "entre.storage.sqlite");
  EXPECT_EQ(result.profile->crypto.suite, "entre.crypto.sodium");
  EXPECT_EQ(result.profile->crypto.kdf, KdfStrength::kInteractive);
}

TEST(ShippedProfiles, LanOnlyIsPrivate) {
  ScopedEnv home("HOME", "/home/tester");
  const auto result = load_profile_file(kConfigsDir / "lan-only.toml");
  ASSERT_TRUE(result.profile) << all_errors(result);
  ASSERT_TRUE(result.profile->node);
  EXPECT_EQ(result.profile->node->network_scope, NetworkScope::kPrivate);
  EXPECT_EQ(result.profile->transport.order, std::vector<std::string>{"entre.transport.lan"});
}

// ---------------------------------------------------------------------------------------------
// Defaults and values.

constexpr std::string_view kMinimal = R"(
[node]
name = "n"
data_dir = "/var/lib/entre"
)";

TEST(Defaults, AreAppliedToEveryOmittedKey) {
  const auto result = parse_profile(kMinimal, "min.toml", "/etc/entre");
  ASSERT_TRUE(result.profile) << all_errors(result);
  const Profile& p = *result.profile;
  ASSERT_TRUE(p.node);
  EXPECT_EQ(p.node->threads, 2U);
  EXPECT_EQ(p.node->workers, 2U);
  EXPECT_EQ(p.node->network_scope, NetworkScope::kAny);
  EXPECT_EQ(p.log.level, LogLevelSetting::kInfo);
  EXPECT_FALSE(p.log.file);
  EXPECT_TRUE(p.search_paths.empty());
  EXPECT_TRUE(p.plugins.empty());
  EXPECT_TRUE(p.transport.order.empty());
  EXPECT_EQ(p.transport.keepalive_ms, 15000U);
  EXPECT_EQ(p.transport.link_timeout_ms, 45000U);
  EXPECT_EQ(p.discovery.epoch_seconds, 600U);
  EXPECT_EQ(p.discovery.beacon_entries, 16U);
  EXPECT_EQ(p.crypto.kdf, KdfStrength::kModerate);
  EXPECT_EQ(p.codec.bitrate_bps, 24000U);
  EXPECT_EQ(p.codec.frame_ms, 20U);
  EXPECT_FALSE(p.relay);
  EXPECT_EQ(p.source, fs::path("/etc/entre/min.toml"));
}

TEST(Defaults, RelayDefaults) {
  const auto result =
      parse_profile("[relay]\nstatic_key_file = \"relay.key\"\n", "relay.toml", "/etc/entre");
  ASSERT_TRUE(result.profile) << all_errors(result);
  ASSERT_TRUE(result.profile->relay);
  const RelaySection& r = *result.profile->relay;
  EXPECT_EQ(r.listen, "0.0.0.0");
  EXPECT_EQ(r.port, 443);
  EXPECT_EQ(r.static_key_file, fs::path("/etc/entre/relay.key"));
  EXPECT_EQ(r.max_connections, 1024U);
  EXPECT_EQ(r.max_connections_per_address, 16U);
  EXPECT_EQ(r.handshakes_per_second, 50U);
  EXPECT_EQ(r.max_frame_bytes, 16384U);
  EXPECT_EQ(r.client_rate_bytes_per_second, 1048576U);
  EXPECT_EQ(r.client_burst_bytes, 262144U);
  EXPECT_EQ(r.queue_depth_frames, 256U);
  EXPECT_EQ(r.idle_timeout_ms, 120000U);
  EXPECT_EQ(r.handshake_timeout_ms, 5000U);
  EXPECT_EQ(r.udp_reflect_port, 0);
  EXPECT_FALSE(result.profile->node);
}

TEST(Values, EverySettingIsRead) {
  constexpr std::string_view kText = R"(
[node]
name = "desk"
data_dir = "/data"
threads = 64
workers = 1
network_scope = "private"

[log]
level = "trace"

[[plugins]]
id = "entre.transport.udp"
file = "/opt/entre/libudp.so"
required = false
config = { bind = "127.0.0.1:9000" }

[[plugins]]
id = "entre.crypto.sodium"

[[plugins]]
id = "entre.codec.opus"

[[plugins]]
id = "entre.storage.memory"

[[plugins]]
id = "entre.audio.file"

[transport]
order = ["entre.transport.udp"]
keepalive_ms = 1000
link_timeout_ms = 3600000

[discovery]
epoch_seconds = 86400
beacon_entries = 64

[crypto]
suite = "entre.crypto.sodium"
kdf = "sensitive"

[codec]
preferred = ["entre.codec.opus"]
bitrate_bps = 510000
frame_ms = 60

[storage]
plugin = "entre.storage.memory"

[audio]
plugin = "entre.audio.file"
capture_device = "in.wav"
playback_device = "out.wav"

[relay]
listen = "::"
port = 65535
static_key_file = "/k"
max_connections = 1000000
max_connections_per_address = 65535
handshakes_per_second = 100000
max_frame_bytes = 117
client_rate_bytes_per_second = 1073741824
client_burst_bytes = 1024
queue_depth_frames = 65536
idle_timeout_ms = 86400000
handshake_timeout_ms = 60000
udp_reflect_port = 65535
)";
  const auto result = parse_profile(kText, "all.toml", "/");
  ASSERT_TRUE(result.profile) << all_errors(result);
  const Profile& p = *result.profile;
  EXPECT_EQ(p.node->name, "desk");
  EXPECT_EQ(p.node->threads, 64U);
  EXPECT_EQ(p.node->workers, 1U);
  EXPECT_EQ(p.node->network_scope, NetworkScope::kPrivate);
  EXPECT_EQ(p.log.level, LogLevelSetting::kTrace);
  ASSERT_EQ(p.plugins.size(), 5U);
  EXPECT_FALSE(p.plugins[0].required);
  EXPECT_EQ(p.plugins[0].file, fs::path("/opt/entre/libudp.so"));
  EXPECT_EQ(p.plugins[0].where.line, 12U);
  EXPECT_EQ((*p.plugins[0].config)["bind"].value<std::string>(), "127.0.0.1:9000");
  EXPECT_FALSE(p.plugins[1].file);
  EXPECT_EQ(p.transport.keepalive_ms, 1000U);
  EXPECT_EQ(p.transport.link_timeout_ms, 3600000U);
  EXPECT_EQ(p.discovery.epoch_seconds, 86400U);
  EXPECT_EQ(p.discovery.beacon_entries, 64U);
  EXPECT_EQ(p.crypto.suite, "entre.crypto.sodium");
  EXPECT_EQ(p.crypto.kdf, KdfStrength::kSensitive);
  EXPECT_EQ(p.codec.preferred, std::vector<std::string>{"entre.codec.opus"});
  EXPECT_EQ(p.codec.bitrate_bps, 510000U);
  EXPECT_EQ(p.codec.frame_ms, 60U);
  EXPECT_EQ(p.storage.plugin, "entre.storage.memory");
  EXPECT_EQ(p.audio.plugin, "entre.audio.file");
  EXPECT_EQ(p.audio.capture_device, "in.wav");
  EXPECT_EQ(p.audio.playback_device, "out.wav");
  ASSERT_TRUE(p.relay);
  EXPECT_EQ(p.relay->listen, "::");
  EXPECT_EQ(p.relay->port, 65535);
  EXPECT_EQ(p.relay->max_connections, 1000000U);
  EXPECT_EQ(p.relay->max_connections_per_address, 65535U);
  EXPECT_EQ(p.relay->handshakes_per_second, 100000U);
  EXPECT_EQ(p.relay->max_frame_bytes, 117U);
  EXPECT_EQ(p.relay->client_rate_bytes_per_second, 1073741824U);
  EXPECT_EQ(p.relay->client_burst_bytes, 1024U);
  EXPECT_EQ(p.relay->queue_depth_frames, 65536U);
  EXPECT_EQ(p.relay->idle_timeout_ms, 86400000U);
  EXPECT_EQ(p.relay->handshake_timeout_ms, 60000U);
  EXPECT_EQ(p.relay->udp_reflect_port, 65535);

  ASSERT_NE(p.find_plugin("entre.codec.opus"), nullptr);
  EXPECT_EQ(p.find_plugin("entre.codec.opus")->id, "entre.codec.opus");
  EXPECT_EQ(p.find_plugin("entre.codec.pcm"), nullptr);
}

TEST(Values, LogLevelNames) {
  EXPECT_STREQ(log_level_name(LogLevelSetting::kTrace), "trace");
  EXPECT_STREQ(log_level_name(LogLevelSetting::kDebug), "debug");
  EXPECT_STREQ(log_level_name(LogLevelSetting::kInfo), "info");
  EXPECT_STREQ(log_level_name(LogLevelSetting::kWarn), "warn");
  EXPECT_STREQ(log_level_name(LogLevelSetting::kError), "error");
}

TEST(Values, PluginConfigKeepsItsSourcePositions) {
  constexpr std::string_view kText = R"([node]
name = "n"
data_dir = "d"

[[plugins]]
id = "entre.transport.udp"
  [plugins.config]
  bind = "0.0.0.0:1"
  limits = { max = 5 }
)";
  auto result = parse_profile(kText, "p.toml", "/x");
  ASSERT_TRUE(result.profile) << all_errors(result);
  const auto config = result.profile->plugins.at(0).config;
  result = {}; // the config table must outlive the profile that produced it
  ASSERT_NE(config, nullptr);
  EXPECT_EQ((*config)["bind"].node()->source().begin.line, 8U);
  EXPECT_EQ((*config)["limits"]["max"].value<int64_t>(), 5);
  // Contents of a config table are not validated by the schema: unknown keys are the plugin's.
  EXPECT_EQ(config->size(), 2U);
}

// ---------------------------------------------------------------------------------------------
// Paths.

TEST(Paths, RelativePathsResolveAgainstTheProfileDirectory) {
  constexpr std::string_view kText = R"(
[node]
name = "n"
data_dir = "state/../data"

[log]
file = "logs/node.log"

[loader]
search_paths = ["plugins", "/usr/lib/entre/extra", "../shared"]

[[plugins]]
id = "entre.codec.pcm"
file = "build/libpcm.so"
)";
  const auto result = parse_profile(kText, "p.toml", "/srv/entre");
  ASSERT_TRUE(result.profile) << all_errors(result);
  const Profile& p = *result.profile;
  EXPECT_EQ(p.node->data_dir, fs::path("/srv/entre/data"));
  EXPECT_EQ(p.log.file, fs::path("/srv/entre/logs/node.log"));
  ASSERT_EQ(p.search_paths.size(), 3U);
  EXPECT_EQ(p.search_paths[0], fs::path("/srv/entre/plugins"));
  EXPECT_EQ(p.search_paths[1], fs::path("/usr/lib/entre/extra"));
  EXPECT_EQ(p.search_paths[2], fs::path("/srv/shared"));
  EXPECT_EQ(p.plugins.at(0).file, fs::path("/srv/entre/build/libpcm.so"));
}

TEST(Paths, LoadProfileFileResolvesAgainstTheFilesDirectory) {
  const auto result =
      load_profile_file(kBadDir / ".." / ".." / ".." / ".." / "configs" / "bot.toml");
  ASSERT_TRUE(result.profile) << all_errors(result);
  EXPECT_EQ(result.profile->node->data_dir, (kConfigsDir / "state" / "bot").lexically_normal());
  ASSERT_EQ(result.profile->search_paths.size(), 1U);
  EXPECT_EQ(result.profile->search_paths[0], (kConfigsDir / "plugins").lexically_normal());
  EXPECT_TRUE(result.profile->source.is_absolute());
}

TEST(Paths, TildeExpandsToHome) {
  ScopedEnv home("HOME", "/home/alice");
  constexpr std::string_view kText = R"(
[node]
name = "n"
data_dir = "~/.local/share/entre"
[loader]
search_paths = ["~", "~/plugins"]
)";
  const auto result = parse_profile(kText, "p.toml", "/etc/entre");
  ASSERT_TRUE(result.profile) << all_errors(result);
  EXPECT_EQ(result.profile->node->data_dir, fs::path("/home/alice/.local/share/entre"));
  ASSERT_EQ(result.profile->search_paths.size(), 2U);
  EXPECT_EQ(result.profile->search_paths[0], fs::path("/home/alice"));
  EXPECT_EQ(result.profile->search_paths[1], fs::path("/home/alice/plugins"));
}

TEST(Paths, TildeWithoutHomeIsAnError) {
  ScopedEnv home("HOME", nullptr);
  const auto result =
      parse_profile("[node]\nname = \"n\"\ndata_dir = \"~/x\"\n", "p.toml", "/etc/entre");
  EXPECT_FALSE(result.profile);
  ASSERT_EQ(result.errors.size(), 1U) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "node.data_dir");
  EXPECT_EQ(result.errors[0].where.line, 3U);
  EXPECT_NE(result.errors[0].message.find("HOME is not set"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Errors.

TEST(Errors, AllErrorsAreCollectedInFileOrder) {
  constexpr std::string_view kText = R"([node]
name = ""
data_dir = "d"
threads = 0
colour = "blue"

[[plugins]]
id = "entre.codec.pcm"

[codec]
preferred = ["entre.codec.opus"]
frame_ms = 15

[relay]
static_key_file = "k"
port = 70000
)";
  const auto result = parse_profile(kText, "many.toml", "/x");
  EXPECT_FALSE(result.profile);
  ASSERT_EQ(result.errors.size(), 6U) << all_errors(result);
  const std::vector<std::pair<uint32_t, std::string>> expected = {
      {2, "node.name"},           {4, "node.threads"},    {5, "node.colour"},
      {11, "codec.preferred[0]"}, {12, "codec.frame_ms"}, {16, "relay.port"},
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(result.errors[i].where.line, expected[i].first) << result.errors[i].str();
    EXPECT_EQ(result.errors[i].key, expected[i].second) << result.errors[i].str();
    EXPECT_EQ(result.errors[i].where.file, "many.toml");
  }
}

TEST(Errors, PointAtTheValueColumn) {
  const auto result =
      parse_profile("[relay]\nstatic_key_file = \"k\"\nport   = 70000\n", "col.toml", "/x");
  ASSERT_EQ(result.errors.size(), 1U) << all_errors(result);
  EXPECT_EQ(result.errors[0].where.line, 3U);
  EXPECT_EQ(result.errors[0].where.column, 10U);
  EXPECT_EQ(result.errors[0].str(),
            "col.toml:3:10: relay.port: must be between 0 and 65535, found 70000");
}

TEST(Errors, SyntaxErrorIsOneErrorWithoutKey) {
  const auto result =
      parse_profile("[node]\nname = \"n\"\nthreads = = 2\nworkers = 0\n", "syntax.toml", "/x");
  ASSERT_EQ(result.errors.size(), 1U) << all_errors(result);
  EXPECT_TRUE(result.errors[0].key.empty());
  EXPECT_EQ(result.errors[0].where.line, 3U);
  EXPECT_EQ(result.errors[0].str().rfind("syntax.toml:3:", 0), 0U) << result.errors[0].str();
}

TEST(Errors, TrulyEmptyTextNeedsANode) {
  const auto result = parse_profile("", "empty.toml", "/x");
  ASSERT_EQ(result.errors.size(), 1U) << all_errors(result);
  EXPECT_EQ(result.errors[0].key, "node");
  EXPECT_EQ(result.errors[0].where.line, 1U);
  EXPECT_EQ(result.errors[0].where.column, 1U);
}

TEST(Errors, MissingFileIsReported) {
  const auto result = load_profile_file(kBadDir / "no-such-profile.toml");
  EXPECT_FALSE(result.profile);
  ASSERT_EQ(result.errors.size(), 1U);
  EXPECT_NE(result.errors[0].str().find("no such file"), std::string::npos);
  EXPECT_NE(result.errors[0].str().find("no-such-profile.toml"), std::string::npos);
}

TEST(Errors, StrLeavesOutUnknownParts) {
  ProfileError full{SourceLocation{"a.toml", 3, 7}, "node.name", "must not be empty"};
  EXPECT_EQ(full.str(), "a.toml:3:7: node.name: must not be empty");
  ProfileError no_key{SourceLocation{"a.toml", 1, 2}, "", "syntax error: x"};
  EXPECT_EQ(no_key.str(), "a.toml:1:2: syntax error: x");
  ProfileError no_line{SourceLocation{"a.toml", 0, 0}, "", "cannot open"};
  EXPECT_EQ(no_line.str(), "a.toml: cannot open");
  ProfileError nothing{SourceLocation{}, "", "bare"};
  EXPECT_EQ(nothing.str(), "bare");
}

TEST(Errors, MissingReferenceSuggestsAListedId) {
  const auto result = parse_profile(R"([node]
name = "n"
data_dir = "d"
[[plugins]]
id = "entre.storage.sqlite"
[storage]
plugin = "entre.storage.sqlit"
)",
                                    "s.toml", "/x");
  ASSERT_EQ(result.errors.size(), 1U) << all_errors(result);
  EXPECT_EQ(result.errors[0].message,
            "storage.plugin names plugin 'entre.storage.sqlit', which is not listed in "
            "[[plugins]] (did you mean 'entre.storage.sqlite'?)");
}

// Plugin id syntax, through whole profiles.
struct IdCase {
  const char* id;
  bool valid;
};

class PluginIdTest : public testing::TestWithParam<IdCase> {};

TEST_P(PluginIdTest, SyntaxIsChecked) {
  const std::string text =
      std::string("[node]\nname = \"n\"\ndata_dir = \"d\"\n[[plugins]]\nid = \"") + GetParam().id +
      "\"\n";
  const auto result = parse_profile(text, "id.toml", "/x");
  EXPECT_EQ(result.errors.empty(), GetParam().valid) << GetParam().id << "\n" << all_errors(result);
  if (!GetParam().valid) {
    ASSERT_FALSE(result.errors.empty());
    EXPECT_EQ(result.errors[0].key, "plugins[0].id");
    EXPECT_NE(result.errors[0].message.find("invalid plugin id"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ids, PluginIdTest,
    testing::Values(
        IdCase{"entre.transport.udp", true}, IdCase{"entre.transport.tcp-relay", true},
        IdCase{"org.example_x.my-plugin2", true}, IdCase{"a.b", true}, IdCase{"x1.y2", true},
        // 63 bytes: the longest id allowed
        IdCase{"entre.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},
        IdCase{"entre.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
        IdCase{"", false}, IdCase{"entre", false}, IdCase{"entre-udp", false},
        IdCase{"entre..udp", false}, IdCase{".entre.udp", false}, IdCase{"entre.udp.", false},
        IdCase{"entre.udp-", false}, IdCase{"entre.-udp", false}, IdCase{"entre.UDP", false},
        IdCase{"entre.u dp", false}, IdCase{"entre.udp/x", false}));

// ---------------------------------------------------------------------------------------------
// did_you_mean.

const std::vector<std::string> kNodeKeys = {"name", "data_dir", "threads", "workers",
                                            "network_scope"};

TEST(DidYouMean, OneEditOnAShortWord) {
  EXPECT_EQ(did_you_mean("nme", kNodeKeys), "name");
  EXPECT_EQ(did_you_mean("namee", kNodeKeys), "name");
  EXPECT_EQ(did_you_mean("nsme", kNodeKeys), "name");
}

TEST(DidYouMean, TranspositionCountsAsOneEdit) {
  EXPECT_EQ(did_you_mean("prot", {"port", "listen"}), "port");
  EXPECT_EQ(did_you_mean("thraeds", kNodeKeys), "threads");
}

TEST(DidYouMean, CaseDoesNotCount) {
  EXPECT_EQ(did_you_mean("Name", kNodeKeys), "name");
  EXPECT_EQ(did_you_mean("DATA_DIR", kNodeKeys), "data_dir");
}

TEST(DidYouMean, LongerWordsAllowMoreEdits) {
  // 11 letters: up to 3 edits.
  EXPECT_EQ(did_you_mean("netwrk_scpe", kNodeKeys), "network_scope");
  EXPECT_EQ(did_you_mean("keepalive", {"order", "keepalive_ms", "link_timeout_ms"}),
            "keepalive_ms");
}

TEST(DidYouMean, TooFarIsNoSuggestion) {
  EXPECT_EQ(did_you_mean("metrics", kNodeKeys), std::nullopt);
  EXPECT_EQ(did_you_mean("abcdef", {"abcxyz"}), std::nullopt); // 3 edits on 6 letters
  EXPECT_EQ(did_you_mean("abcdef", {"abcdxy"}), "abcdxy");     // 2 edits on 6 letters
  EXPECT_EQ(did_you_mean("x", {"id"}), std::nullopt);
  EXPECT_EQ(did_you_mean("a", {"b"}), std::nullopt); // nothing in common
  EXPECT_EQ(did_you_mean("", {"a"}), std::nullopt);
  EXPECT_EQ(did_you_mean("name", {}), std::nullopt);
}

TEST(DidYouMean, ClosestWinsAndTiesGoToTheFirst) {
  EXPECT_EQ(did_you_mean("workrs", {"network_scope", "workers"}), "workers");
  EXPECT_EQ(did_you_mean("cat", {"bat", "hat"}), "bat");
  EXPECT_EQ(did_you_mean("cat", {"hat", "bat"}), "hat");
  EXPECT_EQ(did_you_mean("bitrate_bp", {"bitrate_bps", "bitrate_b"}), "bitrate_bps");
}

} // namespace
} // namespace entre
