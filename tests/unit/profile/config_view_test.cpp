// TomlConfigView: typed getters, error codes and messages, locations, and unread-key reporting.
#include "profile/config_view.hpp"

#include <toml++/toml.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace entre {
namespace {

using sdk::StatusCode;

// Line numbers below refer to this text (line 1 is "[node]").
constexpr std::string_view kProfile = R"([node]
name = "n"
data_dir = "d"

[[plugins]]
id = "entre.codec.pcm"

[[plugins]]
id = "entre.transport.udp"
  [plugins.config]
  bind = "0.0.0.0:7400"
  port = 7400
  ratio = 0.5
  enabled = true
  prot = 9
  relays = ["relay:a.example:443", "relay:b.example:443"]
  mixed = ["x", 1]
  empty = []
  [plugins.config.limits]
  max_frame_bytes = 1200
  burst = 4
)";

class ConfigViewTest : public testing::Test {
 protected:
  void SetUp() override {
    auto result = parse_profile(kProfile, "test.toml", "/x");
    ASSERT_TRUE(result.profile);
    ASSERT_EQ(result.profile->plugins.size(), 2U);
    // The view keeps the table alive on its own; the profile goes away.
    view_ = std::make_unique<TomlConfigView>(result.profile->plugins[1].config, "test.toml", 1);
  }

  [[nodiscard]] const TomlConfigView& view() const { return *view_; }

  std::unique_ptr<TomlConfigView> view_;
};

std::string text(const sdk::Status& status) { return std::string(status.text()); }

TEST_F(ConfigViewTest, ReadsEachType) {
  const auto port = view().get_int("port");
  ASSERT_TRUE(port.is_ok()) << text(port.status);
  EXPECT_EQ(port.value, 7400);

  const auto ratio = view().get_double("ratio");
  ASSERT_TRUE(ratio.is_ok());
  EXPECT_DOUBLE_EQ(ratio.value, 0.5);

  const auto enabled = view().get_bool("enabled");
  ASSERT_TRUE(enabled.is_ok());
  EXPECT_TRUE(enabled.value);

  const auto bind = view().get_string("bind");
  ASSERT_TRUE(bind.is_ok());
  EXPECT_EQ(bind.value.str(), "0.0.0.0:7400");

  const auto nested = view().get_int("limits.max_frame_bytes");
  ASSERT_TRUE(nested.is_ok()) << text(nested.status);
  EXPECT_EQ(nested.value, 1200);
}

TEST_F(ConfigViewTest, DoubleAcceptsIntegersButIntRejectsFloats) {
  const auto as_double = view().get_double("port");
  ASSERT_TRUE(as_double.is_ok());
  EXPECT_DOUBLE_EQ(as_double.value, 7400.0);

  const auto as_int = view().get_int("ratio");
  EXPECT_EQ(as_int.status.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(text(as_int.status),
            "plugins[1].config.ratio: expected an integer, found a floating-point number "
            "(test.toml:13:11)");
}

TEST_F(ConfigViewTest, WrongTypeNamesKeyAndLocation) {
  const auto port = view().get_string("port");
  EXPECT_EQ(port.status.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(text(port.status),
            "plugins[1].config.port: expected a string, found an integer (test.toml:12:10)");
  EXPECT_EQ(view().get_bool("bind").status.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(view().get_int("enabled").status.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(view().get_double("bind").status.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(view().get_int("limits").status.code, StatusCode::kInvalidArgument);
}

TEST_F(ConfigViewTest, AbsentKeyIsNotFound) {
  const auto missing = view().get_int("timeout_ms");
  EXPECT_EQ(missing.status.code, StatusCode::kNotFound);
  EXPECT_NE(text(missing.status).find("plugins[1].config.timeout_ms"), std::string::npos)
      << text(missing.status);
  EXPECT_NE(text(missing.status).find("test.toml:10:"), std::string::npos) << text(missing.status);
  EXPECT_EQ(view().get_string("limits.nope").status.code, StatusCode::kNotFound);
  EXPECT_EQ(view().get_string("").status.code, StatusCode::kNotFound);
  EXPECT_FALSE(view().has("timeout_ms"));
  EXPECT_TRUE(view().has("bind"));
  EXPECT_TRUE(view().has("limits"));
  EXPECT_TRUE(view().has("limits.burst"));
}

TEST_F(ConfigViewTest, PathThroughANonTableIsInvalid) {
  const auto through = view().get_int("bind.port");
  EXPECT_EQ(through.status.code, StatusCode::kInvalidArgument);
  EXPECT_NE(text(through.status).find("plugins[1].config.bind: expected a table, found a string"),
            std::string::npos)
      << text(through.status);
}

TEST_F(ConfigViewTest, HelpersWithDefaults) {
  EXPECT_EQ(view().get_int_or("timeout_ms", 30).value, 30);
  EXPECT_EQ(view().get_int_or("port", 30).value, 7400);
  EXPECT_EQ(view().get_int_or("bind", 30).status.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(view().get_string_or("iface", "eth0").value.str(), "eth0");
  EXPECT_FALSE(view().get_bool_or("verbose", false).value);
}

TEST_F(ConfigViewTest, StringArrays) {
  const auto size = view().get_array_size("relays");
  ASSERT_TRUE(size.is_ok()) << text(size.status);
  EXPECT_EQ(size.value, 2U);
  EXPECT_EQ(view().get_string_at("relays", 1).value.str(), "relay:b.example:443");
  EXPECT_EQ(view().get_string_at("relays", 0).value.str(), "relay:a.example:443");
  EXPECT_EQ(view().get_string_at("relays", 2).status.code, StatusCode::kOutOfRange);

  const auto empty = view().get_array_size("empty");
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(empty.value, 0U);

  const auto mixed = view().get_array_size("mixed");
  EXPECT_EQ(mixed.status.code, StatusCode::kInvalidArgument);
  EXPECT_NE(text(mixed.status).find("plugins[1].config.mixed[1]: expected a string"),
            std::string::npos)
      << text(mixed.status);
  EXPECT_EQ(view().get_string_at("mixed", 0).status.code, StatusCode::kInvalidArgument);

  EXPECT_EQ(view().get_array_size("bind").status.code, StatusCode::kInvalidArgument);
  EXPECT_EQ(view().get_array_size("nothing").status.code, StatusCode::kNotFound);
  EXPECT_EQ(view().get_string_at("nothing", 0).status.code, StatusCode::kNotFound);
}

TEST_F(ConfigViewTest, LocationIsStableAndOwnedByTheView) {
  const sdk::StringView first = view().location("port");
  EXPECT_EQ(first.str(), "test.toml:12:10");
  const sdk::StringView again = view().location("port");
  EXPECT_EQ(again.data, first.data); // cached, not rebuilt
  EXPECT_EQ(view().location("limits.burst").str(), "test.toml:21:11");
  EXPECT_EQ(first.str(), "test.toml:12:10"); // still valid after other lookups
  EXPECT_TRUE(view().location("absent").empty());
  EXPECT_TRUE(view().location("bind.x").empty());
}

TEST_F(ConfigViewTest, UnreadKeysAreReportedWithSuggestions) {
  // What a plugin would do: read what it knows ("port" is present; "prot" is the admin's typo
  // for the "proto" key the plugin also reads).
  (void)view().get_string("bind");
  (void)view().get_int("port");
  (void)view().get_string("proto");
  (void)view().get_array_size("relays");
  (void)view().has("limits.max_frame_bytes");
  (void)view().get_int("limits.bursts");

  const std::vector<ProfileError> unread = view().unread_keys();
  std::vector<std::string> keys;
  for (const auto& error : unread) {
    keys.push_back(error.key);
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{"plugins[1].config.empty", "plugins[1].config.enabled",
                                      "plugins[1].config.limits.burst", "plugins[1].config.mixed",
                                      "plugins[1].config.prot", "plugins[1].config.ratio"}));

  const auto find = [&unread](std::string_view key) -> const ProfileError* {
    for (const auto& error : unread) {
      if (error.key == key) {
        return &error;
      }
    }
    return nullptr;
  };
  const ProfileError* prot = find("plugins[1].config.prot");
  ASSERT_NE(prot, nullptr);
  EXPECT_EQ(prot->message, "unknown key 'prot' in plugin config (did you mean 'proto'?)");
  EXPECT_EQ(prot->where.file, "test.toml");
  EXPECT_EQ(prot->where.line, 15U);
  EXPECT_EQ(prot->where.column, 3U);

  const ProfileError* burst = find("plugins[1].config.limits.burst");
  ASSERT_NE(burst, nullptr);
  EXPECT_EQ(burst->message,
            "unknown key 'limits.burst' in plugin config (did you mean 'limits.bursts'?)");
  EXPECT_EQ(burst->where.line, 21U);

  const ProfileError* ratio = find("plugins[1].config.ratio");
  ASSERT_NE(ratio, nullptr);
  EXPECT_EQ(ratio->message, "unknown key 'ratio' in plugin config");
}

TEST_F(ConfigViewTest, SuggestionFallsBackToKeysThatArePresent) {
  (void)view().get_int("port");
  const auto unread = view().unread_keys();
  bool saw_prot = false;
  for (const auto& error : unread) {
    if (error.key == "plugins[1].config.prot") {
      saw_prot = true;
      EXPECT_EQ(error.message, "unknown key 'prot' in plugin config (did you mean 'port'?)");
    }
  }
  EXPECT_TRUE(saw_prot);
}

TEST_F(ConfigViewTest, NothingUnreadAfterEveryKeyWasRead) {
  for (const char* key : {"bind", "port", "ratio", "enabled", "prot", "relays", "mixed", "empty",
                          "limits.max_frame_bytes", "limits.burst"}) {
    (void)view().has(key);
  }
  const auto unread = view().unread_keys();
  EXPECT_TRUE(unread.empty()) << unread.front().str();
}

TEST_F(ConfigViewTest, ConcurrentReadersAgree) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, &failures] {
      for (int i = 0; i < 200; ++i) {
        if (view().get_int("port").value != 7400 ||
            view().location("bind").str() != "test.toml:11:10" ||
            view().get_string("bind").value.str() != "0.0.0.0:7400" || view().has("absent")) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

TEST(ConfigViewNull, NoTableMeansEverythingIsAbsent) {
  const TomlConfigView view(nullptr, "none.toml", 0);
  EXPECT_FALSE(view.has("bind"));
  const auto bind = view.get_string("bind");
  EXPECT_EQ(bind.status.code, StatusCode::kNotFound);
  EXPECT_NE(text(bind.status).find("plugins[0].config.bind"), std::string::npos);
  EXPECT_EQ(view.get_array_size("x").status.code, StatusCode::kNotFound);
  EXPECT_TRUE(view.location("bind").empty());
  EXPECT_TRUE(view.unread_keys().empty());
}

TEST(ConfigViewEmpty, AbsentConfigTableIsEmpty) {
  const auto result = parse_profile(kProfile, "test.toml", "/x");
  ASSERT_TRUE(result.profile);
  const TomlConfigView view(result.profile->plugins[0].config, "test.toml", 0);
  EXPECT_EQ(view.get_int("port").status.code, StatusCode::kNotFound);
  EXPECT_TRUE(view.unread_keys().empty());
}

} // namespace
} // namespace entre
