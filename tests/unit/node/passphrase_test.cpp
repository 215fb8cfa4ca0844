// The one passphrase rule every frontend applies, and the cost phrase said before a key
// derivation.
#include <entre/passphrase.hpp>

#include <gtest/gtest.h>

namespace entre {
namespace {

TEST(Passphrase, RatesLengthVarietyAndWellKnownChoices) {
  EXPECT_EQ(passphrase_strength("").score, 0);
  EXPECT_EQ(passphrase_strength("password1").score, 0);
  EXPECT_EQ(passphrase_strength("aaaaaaaaaaaaaaaa").score, 0) << "one repeated character";
  EXPECT_EQ(passphrase_strength("abcdefghijklmnop").score, 0) << "one run";
  EXPECT_LE(passphrase_strength("tiger7").score, 1);
  EXPECT_GE(passphrase_strength("correct horse battery staple").score, 3);
  EXPECT_EQ(passphrase_strength("Vq8#r2!Lm9@x,Zt4").score, 4);
  EXPECT_FALSE(passphrase_strength("x").text.empty());
}

// One rule: what entre-host's prompt refuses, entre-gui refuses, and the reason says why.
TEST(Passphrase, TheRuleRefusesScoreZeroWithItsReason) {
  for (const char* weak : {"", "abc", "aaaa1234", "letmein2024", "1234567890"}) {
    const PassphraseStrength s = passphrase_strength(weak);
    EXPECT_FALSE(s.acceptable) << weak;
    EXPECT_EQ(s.score, 0) << weak;
    EXPECT_FALSE(s.text.empty()) << weak;
  }
  for (const char* fine : {"staple battery", "first secret", "tr0ub4dor&3", "Vq8#r2!Lm9@x"}) {
    const PassphraseStrength s = passphrase_strength(fine);
    EXPECT_TRUE(s.acceptable) << fine << ": " << s.text;
    EXPECT_GE(s.score, kMinPassphraseScore) << fine;
  }
  EXPECT_NE(passphrase_strength("aaaa1234").text.find("sequential"), std::string::npos);
}

TEST(Passphrase, TheCostOfADerivationReadsAsTimeAndMemory) {
  EXPECT_EQ(key_derivation_cost_text("sensitive", 0), "several seconds and about 1 GiB of memory");
  EXPECT_EQ(key_derivation_cost_text("moderate", 0), "about a second and about 256 MiB of memory");
  EXPECT_EQ(key_derivation_cost_text("interactive", 0),
            "well under a second and about 64 MiB of memory");
  EXPECT_EQ(key_derivation_cost_text("interactive", 64 * 1024),
            "well under a second and about 64 KiB of memory");
}

} // namespace
} // namespace entre
