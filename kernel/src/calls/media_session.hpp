// The media of one active call: capture -> encode -> seal -> send, and receive -> open -> jitter
// buffer -> decode -> playback.
//
// Threads
// - The capture callback (the audio device's thread) copies each frame into a ring and wakes the
//   media thread; it never blocks, locks or allocates.
// - The media thread encodes, seals and hands frames to the network (MediaSink) at once.
// - on_frame() runs on a network thread: it opens the frame (the only user of the receiving
//   cipher, under a lock no audio thread takes) and hands the packet to the playback callback
//   through a second ring.
// - The playback callback (the device's thread) owns the jitter buffer and the decoder: it drains
//   the ring into the buffer and decodes or conceals one frame per call, never blocking.
// - Everything else (route, mute, expected loss, statistics) crosses threads as atomics or under a
//   lock only the media and control threads take.
#pragma once

#include "calls/audio_receiver.hpp"
#include "calls/jitter_buffer.hpp"
#include "calls/media_frame.hpp"
#include "calls/spsc_ring.hpp"

#include <entre/sdk/audio.hpp>
#include <entre/sdk/codec.hpp>
#include <entre/sdk/crypto.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

namespace entre::calls {

// Where sealed frames go; called on the media thread.
class MediaSink {
 public:
  virtual void send_media(std::size_t transport, const std::string& endpoint,
                          std::vector<uint8_t> frame) = 0;

 protected:
  ~MediaSink() = default;
};

struct MediaParams {
  uint64_t call_id = 0;
  bool caller = false; // seals direction 0 (the callee direction 1)
  sdk::Codec* codec = nullptr;
  uint32_t sample_rate = 48000;
  uint32_t frame_ms = 20;
  uint32_t bitrate_bps = 24000;
  bool fec = true;
  bool dtx = false;
  uint32_t max_packet_bytes = 1500;
  sdk::CryptoSuite* crypto = nullptr;
  std::vector<uint8_t> media_key; // wiped once the ciphers exist
  sdk::AudioDevice* audio = nullptr;
  std::string capture_device;
  std::string playback_device;
  JitterConfig jitter;
};

// Counters of one call, read by the control thread at any time.
struct MediaCounters {
  uint64_t frames_sent = 0;
  uint64_t bytes_sent = 0; // codec payload
  uint64_t capture_overruns = 0;
  uint64_t received = 0;        // opened
  uint64_t highest_counter = 0; // the highest counter opened
  uint64_t replayed = 0;
  uint64_t forged = 0;
  uint64_t malformed = 0;
  uint64_t receive_overruns = 0;
  uint64_t played = 0;
  uint64_t concealed = 0;
  uint64_t recovered = 0;
  uint64_t late = 0;
  uint32_t target_delay_ms = 0;
  double jitter_ms = 0;
  float input_level = 0;
  float output_level = 0;
};

class MediaSession {
 public:
  // Opens the ciphers, the codec and both audio streams and starts them; null with `error`.
  static std::unique_ptr<MediaSession> start(MediaParams params, MediaSink& sink,
                                             std::string& error);
  ~MediaSession(); // stops the streams and the media thread, then destroys every object
  MediaSession(const MediaSession&) = delete;
  MediaSession& operator=(const MediaSession&) = delete;

  void set_route(std::size_t transport, const std::string& endpoint);
  void set_muted(bool muted) { muted_.store(muted); }
  [[nodiscard]] bool muted() const { return muted_.load(); }
  // The share of this side's frames the peer lost lately (0..100): fed to the encoder.
  void set_expected_loss(uint32_t percent) { expected_loss_.store(percent); }

  // A frame of this call (the caller checked the call id). `arrival_ms`: steady clock. False when
  // it was dropped (it did not open, or the hand-off ring was full).
  bool on_frame(const MediaFrameView& frame, int64_t arrival_ms);
  [[nodiscard]] MediaCounters counters() const;

 private:
  class Capture;
  class Playback;
  explicit MediaSession(MediaParams params, MediaSink& sink);
  void media_loop();
  void send_one(std::span<const int16_t> pcm);
  void play(int16_t* pcm, uint32_t samples);

  MediaParams p_;
  MediaSink& sink_;
  uint32_t frame_samples_ = 0;
  uint32_t timestamp_step_ = 0; // 48 kHz units per frame

  sdk::MediaCipher* tx_ = nullptr;
  sdk::MediaCipher* rx_ = nullptr;
  sdk::Encoder* encoder_ = nullptr;
  sdk::Decoder* decoder_ = nullptr;
  sdk::AudioStream* capture_stream_ = nullptr;
  sdk::AudioStream* playback_stream_ = nullptr;
  std::unique_ptr<Capture> capture_cb_;
  std::unique_ptr<Playback> playback_cb_;

  // capture -> media thread
  SpscRing captured_;
  std::counting_semaphore<1024> wake_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  // media thread state
  uint64_t tx_counter_ = 1;
  uint64_t frame_index_ = 0;
  bool paused_ = false;
  uint32_t applied_loss_ = 0;
  std::vector<uint8_t> packet_;
  std::mutex route_mu_;
  std::size_t route_transport_ = 0;
  std::string route_endpoint_;
  bool have_route_ = false;

  // network -> playback
  std::mutex rx_mu_;
  std::vector<uint8_t> opened_;
  SpscRing received_;
  // playback state (audio thread only), made once the decoder exists
  std::unique_ptr<AudioReceiver> receiver_;

  std::atomic<bool> muted_{false};
  std::atomic<uint32_t> expected_loss_{0};
  struct Atomics {
    std::atomic<uint64_t> frames_sent{0}, bytes_sent{0}, capture_overruns{0};
    std::atomic<uint64_t> received{0}, replayed{0}, forged{0}, malformed{0}, receive_overruns{0};
    std::atomic<uint64_t> played{0}, concealed{0}, recovered{0}, late{0};
    std::atomic<uint64_t> highest_counter{0};
    std::atomic<uint32_t> target_delay_ms{0};
    std::atomic<double> jitter_ms{0};
    std::atomic<float> input_level{0}, output_level{0};
  } c_;
};

} // namespace entre::calls
