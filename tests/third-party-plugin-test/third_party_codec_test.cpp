// The out-of-tree mu-law plugin, loaded through the kernel's real loader and host, encodes and
// decodes speech-band audio within G.711's expected quality.
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"

#include <entre/sdk/codec.hpp>

#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <numbers>

namespace entre {
namespace {

std::filesystem::path plugin_path() {
  const char* p = std::getenv("ENTRE_THIRD_PARTY_PLUGIN");
  return p == nullptr ? std::filesystem::path() : std::filesystem::path(p);
}

TEST(ThirdPartyPlugin, LoadsThroughTheKernelLoaderAndRoundTripsAudio) {
  const auto path = plugin_path();
  ASSERT_FALSE(path.empty()) << "ENTRE_THIRD_PARTY_PLUGIN is not set";
  PluginLoader loader({});
  LoadOutcome outcome = loader.load("org.example.codec.mulaw", path);
  ASSERT_TRUE(outcome.library) << outcome.failure->str();
  EXPECT_EQ(outcome.library->manifest().kind, sdk::PluginKind::kCodec);
  EXPECT_EQ(outcome.library->manifest().version, "1.0.0");

  Runtime runtime(1, 1);
  PluginHost host("org.example.codec.mulaw",
                  std::make_unique<TomlConfigView>(nullptr, "test.toml", 0),
                  std::filesystem::temp_directory_path(), runtime, spdlog::default_logger());
  sdk::Plugin* root = nullptr;
  ASSERT_TRUE(outcome.library->factory()(host, &root).is_ok());
  PluginPtr<sdk::Plugin> plugin(root, outcome.library);
  auto* codec = sdk::query<sdk::Codec>(*plugin, sdk::InterfaceId::kCodecV1);
  ASSERT_NE(codec, nullptr);
  EXPECT_STREQ(codec->info().name, "pcmu");

  sdk::Encoder* enc_raw = nullptr;
  sdk::Decoder* dec_raw = nullptr;
  ASSERT_TRUE(codec->create_encoder({8000, 1, 160, 64000, 0, 0}, &enc_raw).is_ok());
  ASSERT_TRUE(codec->create_decoder({8000, 1, 160}, &dec_raw).is_ok());
  PluginPtr<sdk::Encoder> enc(enc_raw, outcome.library);
  PluginPtr<sdk::Decoder> dec(dec_raw, outcome.library);
  EXPECT_FALSE(codec->create_encoder({48000, 1, 160, 64000, 0, 0}, &enc_raw).is_ok());

  double signal = 0;
  double noise = 0;
  std::vector<int16_t> in(160);
  std::vector<int16_t> out(160);
  std::vector<uint8_t> packet(160);
  for (int frame = 0; frame < 50; ++frame) {
    for (int i = 0; i < 160; ++i) {
      const double t = (frame * 160 + i) / 8000.0;
      in[i] = static_cast<int16_t>(8000 * std::sin(2 * std::numbers::pi * 440 * t) +
                                   3000 * std::sin(2 * std::numbers::pi * 1250 * t));
    }
    uint64_t written = 0;
    ASSERT_TRUE(enc->encode(in.data(), {packet.data(), packet.size()}, &written).is_ok());
    ASSERT_EQ(written, 160u);
    ASSERT_TRUE(dec->decode({packet.data(), written}, out.data()).is_ok());
    for (int i = 0; i < 160; ++i) {
      signal += double(in[i]) * in[i];
      noise += double(in[i] - out[i]) * (in[i] - out[i]);
    }
  }
  const double snr_db = 10 * std::log10(signal / noise);
  EXPECT_GT(snr_db, 30.0) << "G.711 mu-law gives about 38 dB on a loud tone";
  EXPECT_FALSE(dec->decode({packet.data(), 10}, out.data()).is_ok());
}

} // namespace
} // namespace entre
