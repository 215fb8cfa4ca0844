// crypto-sodium through the SDK only: the real plugin file, the kernel's loader and host, and the
// generic conformance suite, plus the suite's own promises that the conformance suite does not
// make.
#include "conformance/crypto_conformance.hpp"
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"

#include <entre/sdk/crypto.hpp>

#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

namespace entre {
namespace {

class SodiumSuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    outcome_ = loader_.load("entre.crypto.sodium", std::filesystem::path(ENTRE_SODIUM_PLUGIN));
    ASSERT_TRUE(outcome_.library) << outcome_.failure->str();
    EXPECT_EQ(outcome_.library->manifest().kind, sdk::PluginKind::kCrypto);
    sdk::Plugin* root = nullptr;
    ASSERT_TRUE(outcome_.library->factory()(host_, &root).is_ok());
    plugin_ = PluginPtr<sdk::Plugin>(root, outcome_.library);
    suite_ = sdk::query<sdk::CryptoSuite>(*plugin_, sdk::InterfaceId::kCryptoSuiteV1);
    ASSERT_NE(suite_, nullptr);
  }

  PluginLoader loader_{{}};
  LoadOutcome outcome_;
  Runtime runtime_{1, 1};
  PluginHost host_{"entre.crypto.sodium", std::make_unique<TomlConfigView>(nullptr, "t.toml", 0),
                   std::filesystem::temp_directory_path(), runtime_, spdlog::default_logger()};
  PluginPtr<sdk::Plugin> plugin_;
  sdk::CryptoSuite* suite_ = nullptr;
};

TEST_F(SodiumSuiteTest, PassesTheGenericConformanceSuite) {
  auto* pairwise = sdk::query<sdk::PairwiseKeys>(*plugin_, sdk::InterfaceId::kPairwiseKeysV1);
  ASSERT_NE(pairwise, nullptr) << "crypto-sodium offers PairwiseKeys";
  const auto checks = run_crypto_conformance(*suite_, pairwise);
  EXPECT_EQ(checks.size(), 16u);
  for (const auto& check : checks) {
    EXPECT_TRUE(check.passed) << check.name << ": " << check.detail;
  }
}

TEST_F(SodiumSuiteTest, HasAStableSuiteId) {
  EXPECT_EQ(suite_->suite_id().str(), "entre-sodium-v1");
}

TEST_F(SodiumSuiteTest, RefusesUnknownPatternsAndBadKeys) {
  sdk::Handshake* hs = nullptr;
  sdk::HandshakeParams params{
      static_cast<sdk::HandshakePattern>(99), sdk::HandshakeRole::kInitiator, {}, {}, {}, {}};
  EXPECT_EQ(suite_->create_handshake(params, &hs).code, sdk::StatusCode::kInvalidArgument);
  const uint8_t short_key[5] = {};
  params = {sdk::HandshakePattern::kNN,
            sdk::HandshakeRole::kInitiator,
            {},
            sdk::ByteView(short_key, sizeof short_key),
            {},
            {}};
  EXPECT_FALSE(suite_->create_handshake(params, &hs).is_ok());
  params = {sdk::HandshakePattern::kNNpsk0, sdk::HandshakeRole::kInitiator, {}, {}, {}, {}};
  EXPECT_FALSE(suite_->create_handshake(params, &hs).is_ok()) << "psk pattern without a psk";
  sdk::Session* session = nullptr;
  const uint8_t junk[40] = {1, 2, 3};
  EXPECT_FALSE(suite_->restore_session(sdk::ByteView(junk, sizeof junk), &session).is_ok());
  sdk::MediaCipher* media = nullptr;
  EXPECT_FALSE(suite_->create_media_cipher(sdk::ByteView(junk, 5), 0, &media).is_ok());
}

TEST_F(SodiumSuiteTest, ResponderCannotSendBeforeTheInitiatorsFirstMessage) {
  // Documented in docs/protocol.md: the initiator speaks first after the handshake.
  std::vector<uint8_t> a_secret;
  std::vector<uint8_t> b_secret;
  std::vector<uint8_t> a_id(32);
  std::vector<uint8_t> b_id(32);
  sdk::VectorSink sa(a_secret);
  sdk::VectorSink sb(b_secret);
  ASSERT_TRUE(suite_->generate_identity(sa, {a_id.data(), 32}).is_ok());
  ASSERT_TRUE(suite_->generate_identity(sb, {b_id.data(), 32}).is_ok());
  sdk::Handshake* init = nullptr;
  sdk::Handshake* resp = nullptr;
  ASSERT_TRUE(suite_
                  ->create_handshake({sdk::HandshakePattern::kIK,
                                      sdk::HandshakeRole::kInitiator,
                                      sdk::ByteView(a_secret),
                                      sdk::ByteView(b_id),
                                      {},
                                      {}},
                                     &init)
                  .is_ok());
  ASSERT_TRUE(suite_
                  ->create_handshake({sdk::HandshakePattern::kIK,
                                      sdk::HandshakeRole::kResponder,
                                      sdk::ByteView(b_secret),
                                      {},
                                      {},
                                      {}},
                                     &resp)
                  .is_ok());
  std::vector<uint8_t> m1;
  std::vector<uint8_t> m2;
  std::vector<uint8_t> p;
  sdk::VectorSink s1(m1);
  sdk::VectorSink s2(m2);
  sdk::VectorSink sp(p);
  ASSERT_TRUE(init->write_message({}, s1).is_ok());
  ASSERT_TRUE(resp->read_message(sdk::ByteView(m1), sp).is_ok());
  ASSERT_TRUE(resp->write_message({}, s2).is_ok());
  ASSERT_TRUE(init->read_message(sdk::ByteView(m2), sp).is_ok());
  sdk::Session* alice = nullptr;
  sdk::Session* bob = nullptr;
  ASSERT_TRUE(init->split(&alice).is_ok());
  ASSERT_TRUE(resp->split(&bob).is_ok());
  EXPECT_FALSE(init->split(&alice).is_ok()) << "split twice";
  std::vector<uint8_t> out;
  sdk::VectorSink so(out);
  const uint8_t hello[] = {'h', 'i'};
  EXPECT_EQ(bob->encrypt({}, sdk::ByteView(hello, 2), so).code, sdk::StatusCode::kUnavailable);
  EXPECT_TRUE(alice->encrypt({}, sdk::ByteView(hello, 2), so).is_ok());
  std::vector<uint8_t> got;
  sdk::VectorSink sg(got);
  EXPECT_TRUE(bob->decrypt({}, sdk::ByteView(out), sg).is_ok());
  out.clear();
  sdk::VectorSink so2(out);
  EXPECT_TRUE(bob->encrypt({}, sdk::ByteView(hello, 2), so2).is_ok());
  init->destroy();
  resp->destroy();
  alice->destroy();
  bob->destroy();
}

} // namespace
} // namespace entre
