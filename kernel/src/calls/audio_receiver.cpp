#include "calls/audio_receiver.hpp"

#include <algorithm>
#include <cstring>

namespace entre::calls {

AudioReceiver::AudioReceiver(const JitterConfig& config, sdk::Decoder& decoder,
                             uint32_t frame_samples, uint32_t timestamp_step)
    : jitter_(config), decoder_(decoder), frame_samples_(std::max<uint32_t>(frame_samples, 1)),
      timestamp_step_(std::max<uint32_t>(timestamp_step, 1)), fec_(config.fec),
      decoded_(frame_samples_) {}

void AudioReceiver::receive(uint32_t timestamp, int64_t arrival_ms,
                            std::span<const uint8_t> packet) {
  // Frame positions from the 32-bit timestamp, unwrapped against the last one seen.
  if (!have_ts_) {
    have_ts_ = true;
    last_ts_ = timestamp;
    ext_ts_ = 0;
  }
  const auto delta = static_cast<int32_t>(timestamp - last_ts_);
  const int64_t ext = ext_ts_ + delta;
  if (ext < 0 || ext % timestamp_step_ != 0) {
    ++counters_.untimely;
    return;
  }
  (void)jitter_.insert(static_cast<uint64_t>(ext / timestamp_step_), arrival_ms, packet);
  if (ext > ext_ts_) {
    ext_ts_ = ext;
    last_ts_ = timestamp;
  }
}

bool AudioReceiver::play(int16_t* pcm, uint32_t samples) {
  last_ = jitter_.pop();
  const std::size_t n = std::min<std::size_t>(samples, frame_samples_);
  // The decoder writes a whole frame: straight into the device's buffer when it asked for one.
  int16_t* into = samples >= frame_samples_ ? pcm : decoded_.data();
  bool ok = false;
  switch (last_.kind) {
  case JitterBuffer::Playout::Kind::kFrame:
    ok = decoder_.decode(sdk::ByteView(last_.packet.data(), last_.packet.size()), into).is_ok();
    ++counters_.played;
    break;
  case JitterBuffer::Playout::Kind::kLost: {
    const bool fec = fec_ && !last_.next.empty();
    ok = decoder_
             .conceal(fec ? sdk::ByteView(last_.next.data(), last_.next.size()) : sdk::ByteView(),
                      into)
             .is_ok();
    ++counters_.concealed;
    if (fec) {
      ++counters_.recovered;
    }
    break;
  }
  case JitterBuffer::Playout::Kind::kWaiting:
    break;
  }
  if (!ok) {
    std::memset(pcm, 0, std::size_t{samples} * sizeof(int16_t));
  } else if (into != pcm) {
    std::memcpy(pcm, into, n * sizeof(int16_t));
  } else if (samples > n) {
    std::memset(pcm + n, 0, (samples - n) * sizeof(int16_t));
  }
  return ok;
}

} // namespace entre::calls
