// The objective audio measure the codec suite and the call tests rely on: it must tell a signal
// from a copy, a delayed copy, a slightly changed copy, and from things that are not the signal.
#include "conformance/audio_quality.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

namespace entre::quality {
namespace {

constexpr uint32_t kRate = 16000;

std::vector<float> voice(std::size_t samples, double pitch_base = 140) {
  std::vector<float> x(samples);
  double phase = 0;
  for (std::size_t i = 0; i < samples; ++i) {
    const double t = static_cast<double>(i) / kRate;
    const double pitch = pitch_base + 40 * std::sin(2 * std::numbers::pi * 1.3 * t);
    phase += 2 * std::numbers::pi * pitch / kRate;
    double v = 0;
    for (int h = 1; h <= 12; ++h) {
      v += std::sin(h * phase) / h;
    }
    x[i] = static_cast<float>(6000 * (0.55 + 0.45 * std::sin(2 * std::numbers::pi * 4 * t)) * v);
  }
  return x;
}

std::vector<float> delayed(const std::vector<float>& x, std::size_t by) {
  std::vector<float> y(by, 0.0F);
  y.insert(y.end(), x.begin(), x.end());
  return y;
}

TEST(AudioQuality, FindsTheDelay) {
  const auto x = voice(kRate);
  EXPECT_EQ(find_delay(x, x, 400), 0u);
  EXPECT_EQ(find_delay(x, delayed(x, 123), 400), 123u);
  EXPECT_EQ(find_delay(x, delayed(x, 399), 400), 399u);
}

TEST(AudioQuality, ACopyIsAtZeroAndSmallChangesStayClose) {
  const auto x = voice(kRate);
  EXPECT_LT(log_spectral_distance(x, x, 0, kRate), 0.001);
  EXPECT_LT(log_spectral_distance(x, delayed(x, 77), 77, kRate), 0.001);
  std::vector<float> quieter = x;
  std::mt19937 rng(1);
  std::normal_distribution<float> noise(0, 30); // about 40 dB below the voice
  for (auto& v : quieter) {
    v = v * 0.9F + noise(rng);
  }
  EXPECT_LT(log_spectral_distance(x, quieter, 0, kRate), 1.5);
}

TEST(AudioQuality, WhatIsNotTheSignalIsFarAway) {
  const auto x = voice(kRate);
  std::vector<float> noise(x.size());
  std::mt19937 rng(2);
  std::normal_distribution<float> n(0, 2000);
  for (auto& v : noise) {
    v = n(rng);
  }
  EXPECT_GT(log_spectral_distance(x, noise, 0, kRate), 6.0);
  EXPECT_GT(log_spectral_distance(x, std::vector<float>(x.size(), 0.0F), 0, kRate), 6.0);
  EXPECT_GT(log_spectral_distance(x, voice(kRate, 190), 0, kRate), 6.0); // another voice
}

TEST(AudioQuality, ReportsEachFrame) {
  const auto x = voice(kRate);
  std::vector<float> y = x;
  for (std::size_t i = 8000; i < 8320; ++i) {
    y[i] = 0; // one 20 ms hole
  }
  std::vector<FrameDistance> frames;
  (void)log_spectral_distance(x, y, 0, kRate, 0, &frames);
  ASSERT_FALSE(frames.empty());
  double worst = 0;
  std::size_t worst_start = 0;
  for (const auto& f : frames) {
    if (f.db > worst) {
      worst = f.db;
      worst_start = f.start;
    }
  }
  EXPECT_GT(worst, 3.0);
  EXPECT_NEAR(static_cast<double>(worst_start), 8000.0, 400.0);
}

} // namespace
} // namespace entre::quality
