#include "calls/media_session.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>

#include <pthread.h>
#include <sodium.h>

namespace entre::calls {

namespace {

float peak(const int16_t* pcm, std::size_t n) {
  int m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    m = std::max(m, std::abs(static_cast<int>(pcm[i])));
  }
  return static_cast<float>(m) / 32768.0f;
}

template <typename T> void destroy(T*& object) {
  if (object != nullptr) {
    object->destroy();
    object = nullptr;
  }
}

constexpr std::size_t kCaptureSlots = 16;  // frames waiting for the encoder
constexpr std::size_t kReceiveSlots = 128; // packets waiting for the playback callback

} // namespace

class MediaSession::Capture final : public sdk::AudioCallback {
 public:
  explicit Capture(MediaSession& s) : s_(s) {}
  void on_audio(int16_t* pcm, uint32_t frame_samples) noexcept override {
    if (frame_samples != s_.frame_samples_) {
      s_.c_.capture_overruns.fetch_add(1, std::memory_order_relaxed); // not a frame of ours
      return;
    }
    const std::size_t bytes = std::size_t{frame_samples} * sizeof(int16_t);
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    if (!s_.captured_.push(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(pcm), bytes),
                           0, now)) {
      s_.c_.capture_overruns.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    s_.wake_.release();
  }

 private:
  MediaSession& s_;
};

class MediaSession::Playback final : public sdk::AudioCallback {
 public:
  explicit Playback(MediaSession& s) : s_(s) {}
  void on_audio(int16_t* pcm, uint32_t frame_samples) noexcept override {
    s_.play(pcm, frame_samples);
  }

 private:
  MediaSession& s_;
};

MediaSession::MediaSession(MediaParams params, MediaSink& sink)
    : p_(std::move(params)), sink_(sink), frame_samples_(p_.sample_rate * p_.frame_ms / 1000),
      timestamp_step_(48 * p_.frame_ms),
      captured_(kCaptureSlots, std::size_t{p_.sample_rate * p_.frame_ms / 1000} * 2),
      received_(kReceiveSlots, p_.max_packet_bytes) {}

std::unique_ptr<MediaSession> MediaSession::start(MediaParams params, MediaSink& sink,
                                                  std::string& error) {
  std::unique_ptr<MediaSession> s(new MediaSession(std::move(params), sink));
  MediaParams& p = s->p_;
  auto fail = [&](const std::string& what, const sdk::Status& st) {
    error = what + ": " + std::string(st.text());
    return nullptr;
  };
  sdk::Status st = p.crypto->create_media_cipher(
      sdk::ByteView(p.media_key.data(), p.media_key.size()), p.caller ? 0 : 1, &s->tx_);
  if (st.is_ok()) {
    st = p.crypto->create_media_cipher(sdk::ByteView(p.media_key.data(), p.media_key.size()),
                                       p.caller ? 1 : 0, &s->rx_);
  }
  sodium_memzero(p.media_key.data(), p.media_key.size());
  p.media_key.clear();
  if (!st.is_ok()) {
    return fail("media cipher", st);
  }
  const sdk::CodecInfo info = p.codec->info();
  sdk::EncoderParams ep{p.sample_rate,
                        1,
                        s->frame_samples_,
                        p.bitrate_bps,
                        0,
                        (p.fec ? uint32_t{sdk::kCodecFec} : 0u) |
                            (p.dtx ? uint32_t{sdk::kCodecDtx} : 0u)};
  ep.flags &= info.flags;
  if (info.max_bitrate_bps != 0) {
    ep.bitrate_bps = std::clamp(ep.bitrate_bps, info.min_bitrate_bps, info.max_bitrate_bps);
  }
  st = p.codec->create_encoder(ep, &s->encoder_);
  if (!st.is_ok()) {
    return fail("encoder", st);
  }
  st = p.codec->create_decoder(sdk::DecoderParams{p.sample_rate, 1, s->frame_samples_},
                               &s->decoder_);
  if (!st.is_ok()) {
    return fail("decoder", st);
  }
  s->packet_.resize(std::max<std::size_t>(info.max_packet_bytes, 64));
  JitterConfig jc = p.jitter;
  jc.frame_ms = p.frame_ms;
  jc.max_packet_bytes = p.max_packet_bytes;
  jc.fec = (ep.flags & sdk::kCodecFec) != 0;
  s->receiver_ =
      std::make_unique<AudioReceiver>(jc, *s->decoder_, s->frame_samples_, s->timestamp_step_);
  s->opened_.reserve(p.max_packet_bytes + kMediaTagBytes);
  s->capture_cb_ = std::make_unique<Capture>(*s);
  s->playback_cb_ = std::make_unique<Playback>(*s);
  const sdk::AudioParams ap{p.sample_rate, 1, s->frame_samples_};
  st = p.audio->open(sdk::AudioDirection::kPlayback, sdk::StringView(p.playback_device), ap,
                     *s->playback_cb_, &s->playback_stream_);
  if (!st.is_ok()) {
    return fail("playback device '" + p.playback_device + "'", st);
  }
  st = p.audio->open(sdk::AudioDirection::kCapture, sdk::StringView(p.capture_device), ap,
                     *s->capture_cb_, &s->capture_stream_);
  if (!st.is_ok()) {
    return fail("capture device '" + p.capture_device + "'", st);
  }
  MediaSession* raw = s.get();
  s->thread_ = std::thread([raw] {
    pthread_setname_np(pthread_self(), "entre-media");
    raw->media_loop();
  });
  st = s->playback_stream_->start();
  if (!st.is_ok()) {
    return fail("playback device", st);
  }
  st = s->capture_stream_->start();
  if (!st.is_ok()) {
    return fail("capture device", st);
  }
  return s;
}

MediaSession::~MediaSession() {
  if (capture_stream_ != nullptr) {
    capture_stream_->stop();
  }
  if (playback_stream_ != nullptr) {
    playback_stream_->stop();
  }
  stopping_.store(true);
  wake_.release();
  if (thread_.joinable()) {
    thread_.join();
  }
  destroy(capture_stream_);
  destroy(playback_stream_);
  destroy(encoder_);
  destroy(decoder_);
  destroy(tx_);
  destroy(rx_);
}

void MediaSession::set_route(std::size_t transport, const std::string& endpoint) {
  std::lock_guard lock(route_mu_);
  route_transport_ = transport;
  route_endpoint_ = endpoint;
  have_route_ = true;
}

void MediaSession::media_loop() {
  std::vector<int16_t> pcm(frame_samples_);
  while (!stopping_.load()) {
    (void)wake_.try_acquire_for(std::chrono::milliseconds(100));
    SpscRing::Item item;
    while (!stopping_.load() && captured_.front(item)) {
      std::memcpy(pcm.data(), item.data.data(),
                  std::min(item.data.size(), pcm.size() * sizeof(int16_t)));
      captured_.pop();
      send_one(pcm);
    }
  }
}

void MediaSession::send_one(std::span<const int16_t> pcm_in) {
  const uint32_t loss = std::min<uint32_t>(expected_loss_.load(), 100);
  if (loss != applied_loss_ && encoder_->set_expected_loss(loss).is_ok()) {
    applied_loss_ = loss;
  }
  std::array<int16_t, 48 * 60 * 2> silent{};
  const int16_t* pcm = pcm_in.data();
  if (muted_.load(std::memory_order_relaxed)) {
    pcm = silent.data();
    c_.input_level.store(0, std::memory_order_relaxed);
  } else {
    c_.input_level.store(peak(pcm, pcm_in.size()), std::memory_order_relaxed);
  }
  uint64_t written = 0;
  const uint64_t index = frame_index_++;
  const sdk::Status st =
      encoder_->encode(pcm, sdk::MutableByteView(packet_.data(), packet_.size()), &written);
  if (!st.is_ok() || written == 0) {
    return;
  }
  // With DTX the encoder marks silence with packets of at most 2 bytes: those are not sent.
  if (p_.dtx && written <= 2) {
    paused_ = true;
    return;
  }
  MediaHeader h;
  h.call_id = p_.call_id;
  h.counter = tx_counter_++;
  h.timestamp = static_cast<uint32_t>(index * timestamp_step_);
  h.flags = paused_ ? kMediaFlagAfterPause : 0;
  paused_ = false;
  std::vector<uint8_t> frame(kMediaHeaderBytes);
  write_media_header(h, std::span<uint8_t, kMediaHeaderBytes>(frame.data(), kMediaHeaderBytes));
  sdk::VectorSink sink(frame);
  if (!tx_->seal(h.counter, sdk::ByteView(frame.data(), kMediaHeaderBytes),
                 sdk::ByteView(packet_.data(), written), sink)
           .is_ok()) {
    return;
  }
  std::size_t transport = 0;
  std::string endpoint;
  {
    std::lock_guard lock(route_mu_);
    if (!have_route_) {
      return;
    }
    transport = route_transport_;
    endpoint = route_endpoint_;
  }
  c_.frames_sent.fetch_add(1, std::memory_order_relaxed);
  c_.bytes_sent.fetch_add(written, std::memory_order_relaxed);
  sink_.send_media(transport, endpoint, std::move(frame));
}

bool MediaSession::on_frame(const MediaFrameView& f, int64_t arrival_ms) {
  std::lock_guard lock(rx_mu_);
  opened_.clear();
  sdk::VectorSink sink(opened_, p_.max_packet_bytes);
  const sdk::Status st =
      rx_->open(f.header.counter, sdk::ByteView(f.header_bytes.data(), f.header_bytes.size()),
                sdk::ByteView(f.sealed.data(), f.sealed.size()), sink);
  if (!st.is_ok()) {
    auto& counter = st.code == sdk::StatusCode::kOutOfRange   ? c_.replayed
                    : st.code == sdk::StatusCode::kAuthFailed ? c_.forged
                                                              : c_.malformed;
    counter.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  c_.received.fetch_add(1, std::memory_order_relaxed);
  if (f.header.counter > c_.highest_counter.load(std::memory_order_relaxed)) {
    c_.highest_counter.store(f.header.counter, std::memory_order_relaxed);
  }
  if (!received_.push(opened_, f.header.timestamp, arrival_ms)) {
    c_.receive_overruns.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void MediaSession::play(int16_t* pcm, uint32_t samples) {
  SpscRing::Item item;
  while (received_.front(item)) {
    receiver_->receive(static_cast<uint32_t>(item.tag), item.when, item.data);
    received_.pop();
  }
  const bool ok = receiver_->play(pcm, samples);
  const ReceiverCounters& rc = receiver_->counters();
  const JitterStats& js = receiver_->jitter();
  c_.played.store(rc.played, std::memory_order_relaxed);
  c_.concealed.store(rc.concealed, std::memory_order_relaxed);
  c_.recovered.store(rc.recovered, std::memory_order_relaxed);
  c_.late.store(js.late + js.duplicates + js.too_far + rc.untimely, std::memory_order_relaxed);
  c_.target_delay_ms.store(js.target_delay_ms, std::memory_order_relaxed);
  c_.jitter_ms.store(js.jitter_ms, std::memory_order_relaxed);
  c_.output_level.store(ok ? peak(pcm, std::min(samples, frame_samples_)) : 0.0f,
                        std::memory_order_relaxed);
}

MediaCounters MediaSession::counters() const {
  MediaCounters m;
  m.frames_sent = c_.frames_sent.load();
  m.bytes_sent = c_.bytes_sent.load();
  m.capture_overruns = c_.capture_overruns.load();
  m.received = c_.received.load();
  m.replayed = c_.replayed.load();
  m.forged = c_.forged.load();
  m.malformed = c_.malformed.load();
  m.receive_overruns = c_.receive_overruns.load();
  m.played = c_.played.load();
  m.concealed = c_.concealed.load();
  m.recovered = c_.recovered.load();
  m.late = c_.late.load();
  m.highest_counter = c_.highest_counter.load();
  m.target_delay_ms = c_.target_delay_ms.load();
  m.jitter_ms = c_.jitter_ms.load();
  m.input_level = c_.input_level.load();
  m.output_level = c_.output_level.load();
  return m;
}

} // namespace entre::calls
