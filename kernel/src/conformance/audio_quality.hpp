// Objective audio quality for tests and conformance suites: how far a decoded signal is from the
// one that went in, after finding the delay between them.
//
// log_spectral_distance: the root-mean-square difference, in dB, between the two signals' power
// spectra, over frames of about 20 ms (Hann window, half overlap) and frequencies up to 8 kHz,
// counting only frames where the input is within 40 dB of its loudest frame, and within a frame
// only the 40 dB under its strongest input bin (what lies below is masked). It ignores phase and
// small gain changes the way a listener does, so it suits parametric and waveform codecs alike:
// 0 dB is identical; Opus at 32 kbit/s stays under 1 dB on a voice; noise, silence or another
// voice in its place are above 6 dB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace entre::quality {

// Channel `channel` of interleaved 16-bit audio, as floats.
[[nodiscard]] std::vector<float> channel_of(const std::vector<int16_t>& interleaved,
                                            uint32_t channels, uint32_t channel = 0);

// The delay of `out` behind `in` (0..max_lag samples) that maximises their normalised
// cross-correlation, computed from `skip` on.
[[nodiscard]] std::size_t find_delay(const std::vector<float>& in, const std::vector<float>& out,
                                     std::size_t max_lag, std::size_t skip = 0);

// Log-spectral distance in dB of `out` (delayed by `delay`) from `in`, from sample `skip` of the
// input on; `frames_out` (optional) receives the distance of each analysed frame with its first
// input sample.
struct FrameDistance {
  std::size_t start;
  double db;
};
[[nodiscard]] double log_spectral_distance(const std::vector<float>& in,
                                           const std::vector<float>& out, std::size_t delay,
                                           uint32_t sample_rate, std::size_t skip = 0,
                                           std::vector<FrameDistance>* frames_out = nullptr);

} // namespace entre::quality
