#include "calls/call_service.hpp"

#include <entre/sdk/codec.hpp>
#include <entre/sdk/net.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace entre::calls {

namespace {

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string id_text(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

std::array<uint8_t, 8> id_bytes(uint64_t id) {
  std::array<uint8_t, 8> b{};
  for (std::size_t i = 0; i < 8; ++i) {
    b[i] = static_cast<uint8_t>(id >> (8 * i));
  }
  return b;
}

CallPhase phase_of(CallState s) {
  switch (s) {
  case CallState::kCalling:
    return CallPhase::kCalling;
  case CallState::kRinging:
    return CallPhase::kRinging;
  case CallState::kIncoming:
    return CallPhase::kIncoming;
  case CallState::kActive:
    return CallPhase::kActive;
  case CallState::kEnded:
    return CallPhase::kEnded;
  }
  return CallPhase::kEnded;
}

template <typename T> ApiResult<T> failed(sdk::StatusCode code, std::string why) {
  return ApiResult<T>::fail(code, std::move(why));
}

} // namespace

uint32_t call_sample_rate(const sdk::CodecInfo& info, uint32_t frame_ms) {
  uint32_t best = 0;
  for (uint32_t rate : info.sample_rates) {
    if (rate == 0) {
      break;
    }
    const bool fits = info.max_bitrate_bps != 0 ||
                      uint64_t{rate} * frame_ms / 1000 * 2 <= kMaxFixedRateFrameBytes;
    if (fits && rate >= sdk::kCallMinSampleRateHz && rate <= sdk::kCallMaxSampleRateHz) {
      best = std::max(best, rate);
    }
  }
  if (best == 0) {
    // Nothing fits: the lowest usable rate the codec has (larger frames, which UDP still
    // carries).
    for (uint32_t rate : info.sample_rates) {
      if (rate == 0) {
        break;
      }
      if (rate < sdk::kCallMinSampleRateHz || rate > sdk::kCallMaxSampleRateHz) {
        continue;
      }
      best = best == 0 ? rate : std::min(best, rate);
    }
  }
  return best;
}

struct CallService::Call {
  CallMachine machine;
  std::string contact;
  CallInfo info;
  int64_t next_tick_ms = 0;
  int64_t next_stats_ms = 0;
  MediaCounters last{};
  int64_t last_ms = 0; // when `last` was taken
  double peer_loss = 0;
  std::string end_override; // why, when the service itself ended the call
};

CallService::CallService(std::vector<CallCodec> codecs, sdk::AudioDevice* audio,
                         sdk::CryptoSuite& crypto, CallServiceConfig config, MediaSink& media,
                         EventSink events, LogSink log)
    : codecs_(std::move(codecs)), audio_(audio), crypto_(crypto), config_(std::move(config)),
      media_sink_(media), events_(std::move(events)), log_(std::move(log)) {}

CallService::~CallService() { stop_media(); }

const CallCodec* CallService::codec_named(const std::string& name) const {
  for (const auto& c : codecs_) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

std::optional<CallInfo> CallService::current() const {
  if (!call_) {
    return std::nullopt;
  }
  return call_->info;
}

void CallService::send(Engine& engine, const std::string& contact,
                       std::vector<CallSignal>& signals) {
  for (const CallSignal& s : signals) {
    const std::vector<uint8_t> bytes = encode_signal(s);
    const ApiStatus st = engine.send_call_signal(contact, bytes);
    if (!st.ok()) {
      log_(0, "call signal to " + contact.substr(0, 16) + " not sent: " + st.error.message);
    }
  }
  signals.clear();
}

ApiResult<CallInfo> CallService::place(Engine& engine, const std::string& contact) {
  if (closed_) {
    return failed<CallInfo>(sdk::StatusCode::kClosed, "the node is stopping");
  }
  if (audio_ == nullptr) {
    return failed<CallInfo>(sdk::StatusCode::kUnavailable,
                            "calls need an audio plugin in the profile ([audio] plugin)");
  }
  if (codecs_.empty()) {
    return failed<CallInfo>(sdk::StatusCode::kUnavailable,
                            "calls need a codec in the profile ([codec] preferred)");
  }
  if (call_) {
    return failed<CallInfo>(sdk::StatusCode::kAlreadyExists,
                            "a call is in progress (" + call_->info.id + ")");
  }
  ApiResult<ContactInfo> who = engine.contact(contact);
  if (!who.ok()) {
    return ApiResult<CallInfo>{std::nullopt, who.error};
  }
  if (who.value->blocked) {
    return failed<CallInfo>(sdk::StatusCode::kPermissionDenied, "the contact is blocked");
  }
  if (!who.value->online) {
    return failed<CallInfo>(sdk::StatusCode::kUnavailable, "the contact is offline");
  }
  const std::string canonical = who.value->id; // lowercase, as signals name it
  uint64_t id = 0;
  while (id == 0) {
    crypto_.random_bytes(sdk::MutableByteView(reinterpret_cast<uint8_t*>(&id), sizeof id));
  }
  std::vector<std::string> offer;
  for (const auto& c : codecs_) {
    if (offer.size() < kMaxOfferedCodecs &&
        std::find(offer.begin(), offer.end(), c.name) == offer.end()) {
      offer.push_back(c.name);
    }
  }
  std::vector<CallSignal> out;
  auto call = std::make_unique<Call>(
      Call{CallMachine::outgoing(id, offer, static_cast<uint8_t>(config_.frame_ms), mono_ms(),
                                 config_.timeouts, out),
           canonical,
           CallInfo{},
           0,
           0,
           {},
           0,
           0,
           {}});
  call->info.id = id_text(id);
  call->info.contact = canonical;
  call->info.outgoing = true;
  call->info.phase = CallPhase::kCalling;
  call->info.frame_ms = config_.frame_ms;
  call->info.started_ms = wall_ms();
  call_ = std::move(call);
  send(engine, canonical, out);
  log_(1, "calling " + canonical.substr(0, 16) + " (call " + call_->info.id + ")");
  events_(CallChanged{call_->info});
  return ApiResult<CallInfo>::of(call_->info);
}

ApiResult<CallInfo> CallService::answer(Engine& engine, const std::string& id) {
  if (!call_ || call_->info.phase != CallPhase::kIncoming ||
      (!id.empty() && id != call_->info.id)) {
    return failed<CallInfo>(sdk::StatusCode::kNotFound,
                            id.empty() ? "no incoming call" : "no incoming call " + id);
  }
  if (closed_) {
    return failed<CallInfo>(sdk::StatusCode::kClosed, "the node is stopping");
  }
  if (audio_ == nullptr) {
    return failed<CallInfo>(sdk::StatusCode::kUnavailable,
                            "calls need an audio plugin in the profile ([audio] plugin)");
  }
  const CallCodec* codec = codec_named(call_->machine.codec());
  if (codec == nullptr) {
    return failed<CallInfo>(sdk::StatusCode::kUnavailable, "no codec for the call");
  }
  std::array<uint8_t, 16> salt{};
  crypto_.random_bytes(sdk::MutableByteView(salt.data(), salt.size()));
  const uint32_t rate = call_sample_rate(codec->codec->info(), call_->info.frame_ms);
  std::vector<CallSignal> out;
  if (!call_->machine.answer(mono_ms(), rate, salt, out)) {
    return failed<CallInfo>(sdk::StatusCode::kNotFound, "the call can no longer be answered");
  }
  send(engine, call_->contact, out);
  const CallInfo before = call_->info;
  sync(engine);
  if (!call_) {
    return failed<CallInfo>(sdk::StatusCode::kUnavailable, "the call ended at once: " + before.id);
  }
  return ApiResult<CallInfo>::of(call_->info);
}

ApiResult<CallInfo> CallService::hang_up(Engine& engine, const std::string& id) {
  if (!call_ || (!id.empty() && id != call_->info.id)) {
    return failed<CallInfo>(sdk::StatusCode::kNotFound,
                            id.empty() ? "no call in progress" : "no call " + id);
  }
  std::vector<CallSignal> out;
  call_->machine.hang_up(mono_ms(), out);
  send(engine, call_->contact, out);
  CallInfo info = call_->info;
  sync(engine);
  info.phase = CallPhase::kEnded;
  return ApiResult<CallInfo>::of(info);
}

ApiResult<CallInfo> CallService::set_muted(bool muted) {
  if (!call_) {
    return failed<CallInfo>(sdk::StatusCode::kNotFound, "no call in progress");
  }
  call_->info.muted = muted;
  {
    std::lock_guard lock(media_mu_);
    if (media_) {
      media_->set_muted(muted);
    }
  }
  events_(CallChanged{call_->info});
  return ApiResult<CallInfo>::of(call_->info);
}

void CallService::on_signal(Engine& engine, const std::string& contact,
                            std::span<const uint8_t> bytes) {
  CallSignal s;
  std::string error;
  if (!parse_signal(bytes, s, error)) {
    log_(2, "call signal from " + contact.substr(0, 16) + " refused: " + error);
    return;
  }
  const int64_t now = mono_ms();
  std::vector<CallSignal> out;
  if (s.type == SignalType::kInvite) {
    if (call_ || closed_) {
      if (call_->contact != contact || call_->machine.call_id() != s.call_id) {
        CallSignal busy;
        busy.type = SignalType::kBusy;
        busy.call_id = s.call_id;
        out.push_back(busy);
        send(engine, contact, out);
        log_(1, "call from " + contact.substr(0, 16) + " refused: busy");
      }
      return;
    }
    std::vector<std::string> names;
    for (const auto& c : codecs_) {
      names.push_back(c.name);
    }
    auto call =
        std::make_unique<Call>(Call{CallMachine::incoming(s, names, now, config_.timeouts, out),
                                    contact,
                                    CallInfo{},
                                    0,
                                    0,
                                    {},
                                    0,
                                    0,
                                    {}});
    call->info.id = id_text(s.call_id);
    call->info.contact = contact;
    call->info.outgoing = false;
    call->info.phase = CallPhase::kIncoming;
    call->info.frame_ms = s.frame_ms;
    call->info.started_ms = wall_ms();
    call_ = std::move(call);
    send(engine, contact, out);
    log_(1, "incoming call from " + contact.substr(0, 16) + " (call " + call_->info.id + ")");
    events_(CallChanged{call_->info});
    sync(engine);
    return;
  }
  if (!call_ || call_->contact != contact || call_->machine.call_id() != s.call_id) {
    return; // a late signal of an earlier call
  }
  if (s.type == SignalType::kReport) {
    if (call_->info.phase == CallPhase::kActive) {
      std::lock_guard lock(media_mu_);
      if (media_) {
        media_->set_expected_loss(s.loss_percent);
      }
      call_->peer_loss = s.loss_percent;
    }
    return;
  }
  call_->machine.on_signal(s, now, out);
  send(engine, contact, out);
  sync(engine);
}

void CallService::sync(Engine& engine) {
  if (!call_) {
    return;
  }
  Call& c = *call_;
  const CallPhase phase = phase_of(c.machine.state());
  if (phase == c.info.phase) {
    return;
  }
  if (phase == CallPhase::kActive) {
    c.info.codec = c.machine.codec();
    c.info.sample_rate = c.machine.sample_rate();
    c.info.answered_ms = wall_ms();
    c.info.phase = CallPhase::kActive;
    std::string error;
    if (!start_media(engine, error)) {
      log_(3, "call " + c.info.id + ": the media did not start: " + error);
      end_with(engine, "media failed: " + error);
      return;
    }
    c.last_ms = mono_ms();
    c.next_tick_ms = mono_ms() + config_.tick_ms;
    c.next_stats_ms = mono_ms() + config_.stats_ms;
    log_(1, "call " + c.info.id + " active: " + c.info.codec + " at " +
                std::to_string(c.info.sample_rate) + " Hz, " + std::to_string(c.info.frame_ms) +
                " ms frames");
    events_(CallChanged{c.info});
    return;
  }
  if (phase == CallPhase::kEnded) {
    stop_media();
    c.info.phase = CallPhase::kEnded;
    c.info.end = c.end_override.empty() ? call_end_name(c.machine.end()) : c.end_override;
    CallRecord r{c.info.id,          c.info.contact, c.info.outgoing, c.info.started_ms,
                 c.info.answered_ms, wall_ms(),      c.info.end,      c.info.codec};
    const ApiStatus st = engine.store_call(r);
    if (!st.ok()) {
      log_(2, "call " + c.info.id + " not stored in the history: " + st.error.message);
    }
    log_(1, "call " + c.info.id + " ended: " + c.info.end);
    events_(CallChanged{c.info});
    call_.reset();
    return;
  }
  c.info.phase = phase;
  events_(CallChanged{c.info});
}

void CallService::end_with(Engine& engine, const std::string& why) {
  if (!call_) {
    return;
  }
  call_->end_override = why;
  std::vector<CallSignal> out;
  call_->machine.hang_up(mono_ms(), out);
  send(engine, call_->contact, out);
  sync(engine);
}

bool CallService::start_media(Engine& engine, std::string& error) {
  Call& c = *call_;
  const CallCodec* codec = codec_named(c.info.codec);
  if (codec == nullptr) {
    error = "no codec named '" + c.info.codec + "'";
    return false;
  }
  if (audio_ == nullptr) {
    error = "no audio plugin";
    return false;
  }
  const sdk::CodecInfo info = codec->codec->info();
  // The rate the callee chose must be one this codec has, with frames a media frame can carry.
  const uint32_t rate = c.info.sample_rate;
  const bool supported = std::find(std::begin(info.sample_rates), std::end(info.sample_rates),
                                   rate) != std::end(info.sample_rates) &&
                         rate != 0;
  const bool fits = info.max_bitrate_bps != 0 ||
                    uint64_t{rate} * c.info.frame_ms / 1000 * 2 <= kMaxMediaPacketBytes;
  if (!supported || !fits) {
    error = "the peer chose " + std::to_string(rate) + " Hz for " + c.info.codec +
            ", which this node cannot carry";
    return false;
  }
  MediaParams p;
  p.call_id = c.machine.call_id();
  p.caller = c.info.outgoing;
  p.codec = codec->codec;
  p.sample_rate = c.info.sample_rate;
  p.frame_ms = c.info.frame_ms;
  p.bitrate_bps = config_.bitrate_bps;
  p.fec = config_.fec;
  p.dtx = config_.dtx;
  p.max_packet_bytes =
      static_cast<uint32_t>(std::min<std::size_t>(info.max_packet_bytes, kMaxMediaPacketBytes));
  p.crypto = &crypto_;
  p.media_key.assign(sdk::kMediaKeyBytes, 0);
  std::array<uint8_t, 24> id{}; // call id (8, little-endian) || the callee's salt (16)
  const auto call_id = id_bytes(p.call_id);
  std::copy(call_id.begin(), call_id.end(), id.begin());
  std::copy(c.machine.salt().begin(), c.machine.salt().end(), id.begin() + 8);
  const ApiStatus key = engine.call_media_key(c.contact, id, p.media_key);
  if (!key.ok()) {
    error = key.error.message;
    return false;
  }
  p.audio = audio_;
  p.capture_device = config_.capture_device;
  p.playback_device = config_.playback_device;
  p.jitter = config_.jitter;
  std::unique_ptr<MediaSession> session = MediaSession::start(std::move(p), media_sink_, error);
  if (!session) {
    return false;
  }
  session->set_muted(c.info.muted);
  // Until the peer's first report, the encoder expects the loss the link has seen lately.
  if (auto who = engine.contact(c.contact); who.ok()) {
    session->set_expected_loss(
        static_cast<uint32_t>(std::clamp(who.value->loss * 100.0 + 0.5, 0.0, 100.0)));
  }
  {
    std::lock_guard lock(media_mu_);
    media_ = std::move(session);
    media_call_id_ = c.machine.call_id();
  }
  foreign_.store(0);
  malformed_.store(0);
  refresh_route(engine);
  return true;
}

void CallService::stop_media() {
  std::shared_ptr<MediaSession> old;
  {
    std::lock_guard lock(media_mu_);
    old = std::move(media_);
    media_.reset();
    media_call_id_ = 0;
  }
  old.reset(); // a network thread may hold it a moment longer; the last owner stops it
}

void CallService::refresh_route(Engine& engine) {
  if (!call_) {
    return;
  }
  auto route = engine.media_route(call_->contact);
  std::lock_guard lock(media_mu_);
  if (route && media_) {
    media_->set_route(route->transport, route->endpoint);
  }
}

std::optional<uint64_t> CallService::next_timer_ms() const {
  if (!call_) {
    return std::nullopt;
  }
  if (call_->info.phase == CallPhase::kActive) {
    return static_cast<uint64_t>(std::min(call_->next_tick_ms, call_->next_stats_ms));
  }
  if (auto d = call_->machine.deadline()) {
    return static_cast<uint64_t>(*d);
  }
  return std::nullopt;
}

void CallService::on_timer(Engine& engine) {
  if (!call_) {
    return;
  }
  const int64_t now = mono_ms();
  std::vector<CallSignal> out;
  call_->machine.on_timer(now, out);
  send(engine, call_->contact, out);
  sync(engine);
  if (!call_ || call_->info.phase != CallPhase::kActive) {
    return;
  }
  if (now >= call_->next_tick_ms) {
    refresh_route(engine);
    call_->next_tick_ms = now + config_.tick_ms;
  }
  if (now >= call_->next_stats_ms) {
    report(engine);
    call_->next_stats_ms = now + config_.stats_ms;
  }
}

std::optional<CallStats> CallService::measure(Engine& engine, bool advance) {
  if (!call_ || call_->info.phase != CallPhase::kActive) {
    return std::nullopt;
  }
  Call& c = *call_;
  MediaCounters m;
  bool muted = false;
  {
    std::lock_guard lock(media_mu_);
    if (!media_) {
      return std::nullopt;
    }
    m = media_->counters();
    muted = media_->muted();
  }
  // Loss from the peer's frame counters: the frames it numbered since the last report that never
  // opened here, or opened too late to play (DTX pauses send no frames and so count for nothing).
  const uint64_t expected = m.highest_counter - c.last.highest_counter;
  const uint64_t got = m.received - c.last.received;
  const uint64_t late = m.late - c.last.late;
  const uint64_t missing = (expected > got ? expected - got : 0) + late;
  const double loss =
      expected == 0
          ? 0.0
          : std::min(100.0, 100.0 * static_cast<double>(missing) / static_cast<double>(expected));
  const int64_t now = mono_ms();
  const int64_t span = std::max<int64_t>(now - c.last_ms, 1);
  CallStats s;
  s.id = c.info.id;
  s.contact = c.contact;
  if (auto route = engine.media_route(c.contact)) {
    s.rtt_ms = route->rtt_ms;
  }
  s.loss_percent = loss;
  s.peer_loss_percent = c.peer_loss;
  s.jitter_ms = m.jitter_ms;
  s.buffer_ms = m.target_delay_ms;
  s.bitrate_bps = static_cast<uint32_t>((m.bytes_sent - c.last.bytes_sent) * 8 * 1000 /
                                        static_cast<uint64_t>(span));
  s.frames_sent = m.frames_sent;
  s.frames_received = m.received;
  s.frames_played = m.played;
  s.frames_concealed = m.concealed;
  s.frames_recovered = m.recovered;
  s.frames_late = m.late + m.receive_overruns;
  s.frames_replayed = m.replayed;
  s.frames_forged = m.forged;
  s.frames_malformed = m.malformed + malformed_.load();
  s.frames_foreign = foreign_.load();
  s.input_level = m.input_level;
  s.output_level = m.output_level;
  s.muted = muted;
  if (advance) {
    c.last = m;
    c.last_ms = now;
  }
  return s;
}

void CallService::report(Engine& engine) {
  std::optional<CallStats> s = measure(engine, true);
  if (!s) {
    return;
  }
  CallSignal r;
  r.type = SignalType::kReport;
  r.call_id = call_->machine.call_id();
  r.loss_percent = static_cast<uint8_t>(std::clamp(s->loss_percent + 0.5, 0.0, 100.0));
  std::vector<CallSignal> out{r};
  send(engine, call_->contact, out);
  events_(CallStatsUpdated{*s});
}

void CallService::shutdown(Engine& engine) {
  closed_ = true;
  if (call_) {
    end_with(engine, "the node stopped");
  }
  stop_media();
}

void CallService::on_media_frame(std::string_view endpoint, std::span<const uint8_t> frame,
                                 int64_t arrival_ms) {
  frames_in_.fetch_add(1, std::memory_order_relaxed);
  if (config_.private_scope &&
      std::find(config_.local_only_schemes.begin(), config_.local_only_schemes.end(),
                endpoint.substr(0, endpoint.find(':'))) == config_.local_only_schemes.end()) {
    const auto host = sdk::endpoint_host(endpoint);
    if (!host || !sdk::is_local_network(*host)) {
      foreign_.fetch_add(1, std::memory_order_relaxed);
      frames_bad_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  MediaFrameView view;
  if (parse_media_frame(frame, view) != MediaParse::kOk) {
    malformed_.fetch_add(1, std::memory_order_relaxed);
    frames_bad_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::shared_ptr<MediaSession> media;
  {
    std::lock_guard lock(media_mu_);
    if (media_ && media_call_id_ == view.header.call_id) {
      media = media_;
    }
  }
  if (!media) {
    foreign_.fetch_add(1, std::memory_order_relaxed);
    frames_bad_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!media->on_frame(view, arrival_ms)) {
    frames_bad_.fetch_add(1, std::memory_order_relaxed);
  }
}

} // namespace entre::calls

namespace entre {

const char* call_phase_name(CallPhase phase) {
  switch (phase) {
  case CallPhase::kCalling:
    return "calling";
  case CallPhase::kRinging:
    return "ringing";
  case CallPhase::kIncoming:
    return "incoming";
  case CallPhase::kActive:
    return "active";
  case CallPhase::kEnded:
    return "ended";
  }
  return "unknown";
}

} // namespace entre
