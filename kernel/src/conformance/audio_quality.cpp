#include "conformance/audio_quality.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>

namespace entre::quality {

namespace {

// In-place radix-2 FFT; `data.size()` is a power of two.
void fft(std::vector<std::complex<double>>& data) {
  const std::size_t n = data.size();
  for (std::size_t i = 1, j = 0; i < n; ++i) {
    std::size_t bit = n >> 1;
    for (; (j & bit) != 0; bit >>= 1) {
      j ^= bit;
    }
    j ^= bit;
    if (i < j) {
      std::swap(data[i], data[j]);
    }
  }
  for (std::size_t len = 2; len <= n; len <<= 1) {
    const double angle = -2 * std::numbers::pi / static_cast<double>(len);
    const std::complex<double> step(std::cos(angle), std::sin(angle));
    for (std::size_t i = 0; i < n; i += len) {
      std::complex<double> w(1, 0);
      for (std::size_t k = 0; k < len / 2; ++k) {
        const std::complex<double> a = data[i + k];
        const std::complex<double> b = data[i + k + len / 2] * w;
        data[i + k] = a + b;
        data[i + k + len / 2] = a - b;
        w *= step;
      }
    }
  }
}

std::vector<double> power_spectrum(const std::vector<float>& x, std::size_t start, std::size_t n,
                                   std::size_t bins) {
  std::vector<std::complex<double>> buf(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double hann = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * static_cast<double>(i) /
                                             static_cast<double>(n));
    const std::size_t at = start + i;
    buf[i] = at < x.size() ? x[at] * hann : 0.0;
  }
  fft(buf);
  std::vector<double> p(bins);
  for (std::size_t k = 0; k < bins; ++k) {
    p[k] = std::norm(buf[k]);
  }
  return p;
}

} // namespace

std::vector<float> channel_of(const std::vector<int16_t>& interleaved, uint32_t channels,
                              uint32_t channel) {
  std::vector<float> out;
  out.reserve(interleaved.size() / channels);
  for (std::size_t i = channel; i < interleaved.size(); i += channels) {
    out.push_back(interleaved[i]);
  }
  return out;
}

std::size_t find_delay(const std::vector<float>& in, const std::vector<float>& out,
                       std::size_t max_lag, std::size_t skip) {
  std::size_t best_lag = 0;
  double best = -2;
  for (std::size_t lag = 0; lag <= max_lag; ++lag) {
    double xy = 0;
    double xx = 0;
    double yy = 0;
    for (std::size_t i = skip + lag; i < out.size() && i - lag < in.size(); ++i) {
      const double x = in[i - lag];
      const double y = out[i];
      xy += x * y;
      xx += x * x;
      yy += y * y;
    }
    if (xx > 0 && yy > 0) {
      const double c = xy / std::sqrt(xx * yy);
      if (c > best) {
        best = c;
        best_lag = lag;
      }
    }
  }
  return best_lag;
}

double log_spectral_distance(const std::vector<float>& in, const std::vector<float>& out,
                             std::size_t delay, uint32_t sample_rate, std::size_t skip,
                             std::vector<FrameDistance>* frames_out) {
  std::size_t n = 64;
  while (n < sample_rate / 50) {
    n <<= 1;
  }
  const std::size_t hop = n / 2;
  const double max_hz = std::min(8000.0, 0.45 * sample_rate);
  const auto bins = static_cast<std::size_t>(max_hz * static_cast<double>(n) / sample_rate);
  struct Frame {
    std::size_t start;
    std::vector<double> pin;
    std::vector<double> pout;
    double energy;
  };
  std::vector<Frame> frames;
  double loudest = 0;
  for (std::size_t s = skip; s + n <= in.size() && s + delay + n <= out.size(); s += hop) {
    Frame f{s, power_spectrum(in, s, n, bins), power_spectrum(out, s + delay, n, bins), 0};
    for (double v : f.pin) {
      f.energy += v;
    }
    loudest = std::max(loudest, f.energy);
    frames.push_back(std::move(f));
  }
  if (frames.empty() || loudest <= 0) {
    return 100;
  }
  // Bins 60 dB under the loudest frame's mean bin count as that level, on both sides.
  const double floor = loudest / static_cast<double>(bins) * 1e-6;
  double sum = 0;
  std::size_t counted = 0;
  for (const Frame& f : frames) {
    if (f.energy < loudest * 1e-4) {
      continue; // more than 40 dB below the loudest frame: a pause
    }
    // Within a frame, bins more than 40 dB under the input's strongest bin count as that level:
    // what lies that far below a voice's harmonics is inaudible under them.
    const double frame_floor =
        std::max(floor, *std::max_element(f.pin.begin() + 1, f.pin.end()) * 1e-4);
    double d2 = 0;
    for (std::size_t k = 1; k < bins; ++k) {
      const double diff =
          10 * std::log10(std::max(f.pin[k], frame_floor) / std::max(f.pout[k], frame_floor));
      d2 += diff * diff;
    }
    const double db = std::sqrt(d2 / static_cast<double>(bins - 1));
    if (frames_out != nullptr) {
      frames_out->push_back({f.start, db});
    }
    sum += db;
    ++counted;
  }
  return counted == 0 ? 100 : sum / static_cast<double>(counted);
}

} // namespace entre::quality
