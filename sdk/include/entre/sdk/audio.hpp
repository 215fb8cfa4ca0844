// Audio-device plugins: capture and playback streams.
//
// Contract
// - Audio is interleaved signed 16-bit PCM at the rate and channel count the stream was opened
// with.
// - The AudioCallback runs on the device's own real-time thread. It must return quickly, never
// block
//   (no locks that the network or disk may hold, no allocation), and is never called after stop()
//   has returned.
// - Devices are named by UTF-8 strings; an empty name selects the default device.
// - AudioStream objects are owned by the caller and released with destroy() (after stop()).
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

enum class AudioDirection : uint32_t { kCapture = 1, kPlayback = 2 };

struct AudioParams {
  uint32_t sample_rate;
  uint32_t channels;
  uint32_t frame_samples; // per channel, per callback
};

// Implemented by the kernel.
class AudioCallback {
 public:
  // Capture: `pcm` holds a frame the device recorded. Playback: fill `pcm` with the next frame.
  virtual void on_audio(int16_t* pcm, uint32_t frame_samples) noexcept = 0;

 protected:
  ~AudioCallback() = default;
};

class AudioStream {
 public:
  virtual Status start() noexcept = 0;
  virtual void stop() noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  ~AudioStream() = default;
};

class AudioDevice {
 public:
  // Appends the names of the devices in `direction` to `out`, separated by '\n'.
  virtual Status list_devices(AudioDirection direction, ByteSink& out) noexcept = 0;
  virtual Status open(AudioDirection direction, StringView device_name, const AudioParams& params,
                      AudioCallback& callback, AudioStream** out) noexcept = 0;

 protected:
  ~AudioDevice() = default;
};

} // namespace entre::sdk
