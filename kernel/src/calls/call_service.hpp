// The call service: one node's calls, from the first invite to the stored record.
//
// Signalling runs on the node's messenger thread, next to the engine: the API's calls (place,
// answer, hang up, mute), the peer's call signals (which arrive as envelopes of the contact's
// message channel) and the timers all come in there, drive a CallMachine, and send its signals
// back through the engine. When a call becomes active the service derives the call's media key
// from the contact's session, picks the sample rate for the agreed codec and starts a
// MediaSession, whose frames go to the transport and endpoint of the contact's best link (looked
// up again every tick, so a call follows the contact to a better path).
//
// About once a second during a call it reads the media counters, sends the peer a report of the
// frames it lost (which the peer feeds its encoder as the expected loss, so FEC follows the
// network) and queues a CallStatsUpdated event. A call that ends is stored in the call history.
//
// Thread safety: every member runs on the messenger thread, except on_media_frame(), which any
// network thread may call.
#pragma once

#include "calls/call_machine.hpp"
#include "calls/media_session.hpp"
#include "messaging/engine.hpp"

#include <entre/calls.hpp>
#include <entre/events.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace entre::calls {

struct CallCodec {
  std::string plugin_id;
  std::string name; // CodecInfo::name
  sdk::Codec* codec = nullptr;
};

struct CallServiceConfig {
  uint32_t frame_ms = 20;
  uint32_t bitrate_bps = 24000;
  bool fec = true;
  bool dtx = false;
  std::string capture_device;
  std::string playback_device;
  CallTimeouts timeouts;
  JitterConfig jitter;
  uint32_t tick_ms = 250;     // route refresh
  uint32_t stats_ms = 1000;   // statistics and loss reports
  bool private_scope = false; // network_scope "private": frames from off the local network are
                              // dropped (and counted as foreign)
  // Schemes of transports with kTransportLocalOnly, whose endpoints are in the private scope
  // whatever their text.
  std::vector<std::string> local_only_schemes;
};

// The sample rate a call with this codec runs at: 48 kHz for a codec with a bitrate range (Opus);
// for fixed-rate codecs (PCM) the highest supported rate whose frame fits kMaxFixedRateFrameBytes,
// or the lowest supported rate when none does.
inline constexpr uint32_t kMaxFixedRateFrameBytes = 900;
[[nodiscard]] uint32_t call_sample_rate(const sdk::CodecInfo& info, uint32_t frame_ms);

class CallService {
 public:
  using EventSink = std::function<void(Event)>;
  using LogSink = std::function<void(int, const std::string&)>;

  // `codecs`: in the profile's preference order. `audio` may be null (calls ring, but cannot be
  // placed or answered).
  CallService(std::vector<CallCodec> codecs, sdk::AudioDevice* audio, sdk::CryptoSuite& crypto,
              CallServiceConfig config, MediaSink& media, EventSink events, LogSink log);
  ~CallService();
  CallService(const CallService&) = delete;
  CallService& operator=(const CallService&) = delete;

  ApiResult<CallInfo> place(Engine& engine, const std::string& contact);
  // `id` empty: the incoming call, whichever it is.
  ApiResult<CallInfo> answer(Engine& engine, const std::string& id);
  ApiResult<CallInfo> hang_up(Engine& engine, const std::string& id);
  ApiResult<CallInfo> set_muted(bool muted);
  [[nodiscard]] std::optional<CallInfo> current() const;
  // The active call's statistics now (rates and loss since the last report).
  [[nodiscard]] std::optional<CallStats> stats(Engine& engine) { return measure(engine, false); }

  void on_signal(Engine& engine, const std::string& contact, std::span<const uint8_t> bytes);
  [[nodiscard]] std::optional<uint64_t> next_timer_ms() const;
  void on_timer(Engine& engine);
  // Hangs up a call in progress (the node is stopping).
  void shutdown(Engine& engine);
  // The devices the next call opens.
  void set_devices(const std::string& capture, const std::string& playback) {
    config_.capture_device = capture;
    config_.playback_device = playback;
  }
  // After shutdown(): calls are refused until this (the node started again).
  void reopen() { closed_ = false; }

  // Any thread: a frame whose first byte is kMediaFrameKind, from `endpoint`. `arrival_ms`:
  // steady clock.
  void on_media_frame(std::string_view endpoint, std::span<const uint8_t> frame,
                      int64_t arrival_ms);
  // Any thread: media frames received and dropped (malformed, foreign, replayed, forged, or no
  // room), over the node's life; the node adds them to its frame counters.
  [[nodiscard]] uint64_t frames_received() const { return frames_in_.load(); }
  [[nodiscard]] uint64_t frames_dropped() const { return frames_bad_.load(); }

 private:
  struct Call;
  void send(Engine& engine, const std::string& contact, std::vector<CallSignal>& signals);
  void sync(Engine& engine);
  bool start_media(Engine& engine, std::string& error);
  void stop_media();
  void refresh_route(Engine& engine);
  void report(Engine& engine);
  std::optional<CallStats> measure(Engine& engine, bool advance);
  void end_with(Engine& engine, const std::string& why);
  [[nodiscard]] const CallCodec* codec_named(const std::string& name) const;

  std::vector<CallCodec> codecs_;
  sdk::AudioDevice* audio_;
  sdk::CryptoSuite& crypto_;
  CallServiceConfig config_;
  MediaSink& media_sink_;
  EventSink events_;
  LogSink log_;

  std::unique_ptr<Call> call_; // messenger thread
  bool closed_ = false;        // messenger thread
  std::mutex media_mu_;
  std::shared_ptr<MediaSession> media_; // read by network threads under media_mu_
  uint64_t media_call_id_ = 0;          // under media_mu_
  std::atomic<uint64_t> foreign_{0};
  std::atomic<uint64_t> malformed_{0};
  std::atomic<uint64_t> frames_in_{0};
  std::atomic<uint64_t> frames_bad_{0};
};

} // namespace entre::calls
