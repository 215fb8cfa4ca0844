// The SDK's header-only helpers: what plugins and the kernel rely on at the boundary.
#include <entre/sdk/sdk.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <string>

namespace entre::sdk {
namespace {

TEST(Version, MacrosAndRuntimeFunctionsAgree) {
  EXPECT_EQ(abi_major(), static_cast<uint32_t>(ENTRE_SDK_ABI_MAJOR));
  EXPECT_EQ(abi_minor(), static_cast<uint32_t>(ENTRE_SDK_ABI_MINOR));
  EXPECT_EQ(std::string(version_string()), std::to_string(ENTRE_SDK_ABI_MAJOR) + "." +
                                               std::to_string(ENTRE_SDK_ABI_MINOR) + "." +
                                               std::to_string(ENTRE_SDK_VERSION_PATCH));
}

TEST(Version, CompatibilityNeedsSameMajorAndNoNewerMinor) {
  EXPECT_TRUE(abi_is_compatible({1, 0}, {1, 0}));
  EXPECT_TRUE(abi_is_compatible({1, 0}, {1, 3}));
  EXPECT_FALSE(abi_is_compatible({1, 4}, {1, 3}));
  EXPECT_FALSE(abi_is_compatible({2, 0}, {1, 9}));
  EXPECT_FALSE(abi_is_compatible({0, 9}, {1, 0}));
}

TEST(Status, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status::ok().is_ok());
  EXPECT_TRUE(Status::ok().text().empty());
  const Status s = Status::error(StatusCode::kAuthFailed, "mac mismatch");
  EXPECT_FALSE(s.is_ok());
  EXPECT_FALSE(static_cast<bool>(s));
  EXPECT_EQ(s.code, StatusCode::kAuthFailed);
  EXPECT_EQ(s.text(), "mac mismatch");
  EXPECT_STREQ(status_code_name(s.code), "authentication failed");
}

TEST(Status, LongMessagesAreTruncatedAndStayTerminated) {
  const std::string long_text(500, 'x');
  const Status s = Status::error(StatusCode::kInternal, long_text);
  EXPECT_EQ(s.text().size(), kStatusMessageBytes - 1);
  EXPECT_EQ(s.message[kStatusMessageBytes - 1], '\0');
}

TEST(Status, EveryCodeHasADistinctName) {
  std::set<std::string> names;
  for (uint32_t c = 0; c <= static_cast<uint32_t>(StatusCode::kInternal); ++c) {
    names.insert(status_code_name(static_cast<StatusCode>(c)));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(StatusCode::kInternal) + 1);
  EXPECT_EQ(names.count("unknown status"), 0u);
}

TEST(Result, OfAndFail) {
  auto r = Result<int64_t>::of(42);
  EXPECT_TRUE(r.is_ok());
  EXPECT_EQ(r.value, 42);
  auto f = Result<int64_t>::fail(StatusCode::kNotFound, "no key 'port'");
  EXPECT_FALSE(f.is_ok());
  EXPECT_EQ(f.status.text(), "no key 'port'");
  EXPECT_EQ(f.value, 0);
}

TEST(Views, ConvertFromStandardTypes) {
  const std::string s = "udp:127.0.0.1:7400";
  const StringView v(s);
  EXPECT_EQ(v.str(), s);
  const StringView lit("abc");
  EXPECT_EQ(lit.size, 3u);
  const StringView null_cstr(static_cast<const char*>(nullptr));
  EXPECT_TRUE(null_cstr.empty());
  const std::vector<uint8_t> bytes = {1, 2, 3};
  const ByteView b(bytes);
  EXPECT_EQ(b.size, 3u);
  EXPECT_EQ(b.span()[2], 3);
}

TEST(ByteSink, AppendsReservesAndCommits) {
  std::vector<uint8_t> out;
  VectorSink sink(out);
  const uint8_t a[] = {1, 2, 3};
  ASSERT_TRUE(sink.append(ByteView(a, 3)));
  MutableByteView region = sink.reserve(10);
  ASSERT_EQ(region.size, 10u);
  region.data[0] = 9;
  region.data[1] = 8;
  sink.commit(2); // keep only what was written
  EXPECT_EQ(out, (std::vector<uint8_t>{1, 2, 3, 9, 8}));
}

TEST(ByteSink, RefusesToGrowPastItsLimit) {
  std::string out;
  StringSink sink(out, 8);
  EXPECT_TRUE(sink.append(StringView("12345")));
  EXPECT_FALSE(sink.append(StringView("6789")));
  EXPECT_EQ(out, "12345");
  EXPECT_TRUE(sink.reserve(4).empty());
  EXPECT_TRUE(sink.append(StringView("678")));
  EXPECT_EQ(out, "12345678");
}

TEST(ByteSink, CommitNeverKeepsMoreThanReserved) {
  std::vector<uint8_t> out;
  VectorSink sink(out);
  (void)sink.reserve(2);
  sink.commit(100);
  EXPECT_EQ(out.size(), 2u);
}

TEST(Manifest, LayoutIsFrozen) {
  EXPECT_EQ(sizeof(PluginManifest), 288u);
  EXPECT_EQ(offsetof(PluginManifest, manifest_bytes), 8u);
  EXPECT_EQ(offsetof(PluginManifest, abi_major), 12u);
  EXPECT_EQ(offsetof(PluginManifest, boost_version), 20u);
  EXPECT_EQ(offsetof(PluginManifest, kind), 24u);
  EXPECT_EQ(offsetof(PluginManifest, id), 32u);
  EXPECT_EQ(offsetof(PluginManifest, version), 96u);
  EXPECT_EQ(offsetof(PluginManifest, summary), 128u);
}

TEST(Manifest, KindNamesAreDistinct) {
  EXPECT_STREQ(plugin_kind_name(PluginKind::kTransport), "transport");
  EXPECT_STREQ(plugin_kind_name(PluginKind::kCrypto), "crypto");
  EXPECT_STREQ(plugin_kind_name(PluginKind::kCodec), "codec");
  EXPECT_STREQ(plugin_kind_name(PluginKind::kStorage), "storage");
  EXPECT_STREQ(plugin_kind_name(PluginKind::kAudio), "audio");
  EXPECT_STREQ(plugin_kind_name(static_cast<PluginKind>(99)), "unknown");
}

} // namespace
} // namespace entre::sdk
