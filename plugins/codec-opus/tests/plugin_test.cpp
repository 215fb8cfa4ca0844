// The codec plugins as the kernel sees them: the real plugin files through the kernel's loader,
// driven by the generic codec conformance suite (SDK interface only).
#include "conformance/codec_conformance.hpp"
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"

#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

namespace entre {
namespace {

struct CodecCase {
  const char* id;
  const char* file;
  std::size_t min_checks;
};

class CodecPlugin : public ::testing::TestWithParam<CodecCase> {};

TEST_P(CodecPlugin, PassesTheGenericConformanceSuite) {
  PluginLoader loader{{}};
  LoadOutcome outcome = loader.load(GetParam().id, std::filesystem::path(GetParam().file));
  ASSERT_TRUE(outcome.library) << outcome.failure->str();
  EXPECT_EQ(outcome.library->manifest().kind, sdk::PluginKind::kCodec);
  Runtime runtime{1, 1};
  PluginHost host{GetParam().id, std::make_unique<TomlConfigView>(nullptr, "t.toml", 0),
                  std::filesystem::temp_directory_path(), runtime, spdlog::default_logger()};
  sdk::Plugin* root = nullptr;
  ASSERT_TRUE(outcome.library->factory()(host, &root).is_ok());
  PluginPtr<sdk::Plugin> plugin(root, outcome.library);
  auto* codec = sdk::query<sdk::Codec>(*plugin, sdk::InterfaceId::kCodecV1);
  ASSERT_NE(codec, nullptr);
  const auto checks = run_codec_conformance(*codec);
  EXPECT_GE(checks.size(), GetParam().min_checks);
  for (const auto& check : checks) {
    EXPECT_TRUE(check.passed) << check.name << ": " << check.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(InTree, CodecPlugin,
                         ::testing::Values(CodecCase{"entre.codec.opus", ENTRE_OPUS_PLUGIN, 10},
                                           CodecCase{"entre.codec.pcm", ENTRE_PCM_PLUGIN, 9}),
                         [](const auto& info) {
                           return std::string(info.param.id).substr(12); // "opus", "pcm"
                         });

} // namespace
} // namespace entre
