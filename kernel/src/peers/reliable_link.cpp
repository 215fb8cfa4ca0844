#include "peers/reliable_link.hpp"

#include <algorithm>
#include <cmath>

namespace entre {

namespace {

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
  }
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t get64(const uint8_t* p) { return (uint64_t{get32(p)} << 32) | get32(p + 4); }

// The 64-bit counter nearest to `reference` whose low 32 bits are `wire`; nullopt below zero.
std::optional<uint64_t> unwrap(uint32_t wire, uint64_t reference) {
  const auto delta = static_cast<int32_t>(wire - static_cast<uint32_t>(reference));
  if (delta < 0 && static_cast<uint64_t>(-static_cast<int64_t>(delta)) > reference) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(static_cast<int64_t>(reference) + delta);
}

} // namespace

ReliableLink::ReliableLink(ReliableLinkConfig config, PacketSink emit, MessageSink deliver,
                           MessageSink deliver_datagram)
    : config_(config), emit_(std::move(emit)), deliver_(std::move(deliver)),
      deliver_datagram_(std::move(deliver_datagram)) {
  config_.max_packet_bytes = std::max<uint32_t>(config_.max_packet_bytes, kAckBytes + 16);
  config_.min_rto_ms = std::max<uint32_t>(config_.min_rto_ms, 1);
  config_.max_window_packets = std::max<uint32_t>(config_.max_window_packets, 2);
  window_ = std::clamp<double>(config_.initial_window_packets, 2, config_.max_window_packets);
  ssthresh_ = config_.max_window_packets;
  rto_ms_ = std::clamp(config_.initial_rto_ms, config_.min_rto_ms, config_.max_rto_ms);
  const uint32_t per_packet = config_.max_packet_bytes - static_cast<uint32_t>(kDataHeaderBytes);
  max_fragments_ = std::min<uint32_t>(
      kMaxFragments,
      std::max<uint32_t>(1, (config_.max_message_bytes + per_packet - 1) / per_packet));
  stats_.rto_ms = rto_ms_;
  stats_.window_packets = static_cast<uint32_t>(window_);
}

std::optional<std::string> ReliableLink::send(std::span<const uint8_t> message, uint64_t now_ms,
                                              bool pump_now) {
  if (message.empty()) {
    return "an empty message cannot be sent";
  }
  if (message.size() > config_.max_message_bytes) {
    return "a message of " + std::to_string(message.size()) +
           " bytes is larger than the maximum of " + std::to_string(config_.max_message_bytes) +
           " bytes";
  }
  const std::size_t per_packet = config_.max_packet_bytes - kDataHeaderBytes;
  const std::size_t count = (message.size() + per_packet - 1) / per_packet;
  if (count > kMaxFragments) {
    return "a message of " + std::to_string(message.size()) + " bytes needs more than " +
           std::to_string(kMaxFragments) + " packets";
  }
  if (buffered_bytes_ + message.size() > config_.send_buffer_bytes) {
    return "the send buffer is full (" + std::to_string(buffered_bytes_) + " bytes queued)";
  }
  buffered_bytes_ += message.size();
  if (count == 1 && append_to_unsent(message)) {
    if (pump_now) {
      pump(now_ms);
    }
    return std::nullopt;
  }
  const uint64_t first = next_seq_;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t offset = i * per_packet;
    const std::size_t n = std::min(per_packet, message.size() - offset);
    Outgoing out;
    out.packet.resize(kDataHeaderBytes + n);
    out.packet[0] = kData;
    put32(&out.packet[1], static_cast<uint32_t>(next_seq_));
    put32(&out.packet[5], static_cast<uint32_t>(first));
    put16(&out.packet[9], static_cast<uint16_t>(count));
    std::copy_n(message.data() + offset, n, out.packet.begin() + kDataHeaderBytes);
    out.payload_bytes = n;
    outgoing_.emplace(next_seq_++, std::move(out));
  }
  if (pump_now) {
    pump(now_ms);
  }
  return std::nullopt;
}

bool ReliableLink::append_to_unsent(std::span<const uint8_t> message) {
  if (next_unsent_ >= next_seq_ || outgoing_.empty()) {
    return false;
  }
  const auto last = std::prev(outgoing_.end());
  if (last->first != next_seq_ - 1) {
    return false;
  }
  std::vector<uint8_t>& packet = last->second.packet;
  const bool whole =
      packet[0] == kData && get32(&packet[1]) == get32(&packet[5]) && get16(&packet[9]) == 1;
  if ((packet[0] != kBundle && !whole) || (packet[0] == kBundle && get16(&packet[5]) == 0xFFFF)) {
    return false; // not a whole message, or a bundle whose count is at its limit
  }
  const std::size_t grown =
      packet[0] == kBundle
          ? packet.size() + 2 + message.size()
          : kBundleHeaderBytes + 2 + (packet.size() - kDataHeaderBytes) + 2 + message.size();
  if (grown > config_.max_packet_bytes || message.size() > 0xFFFF) {
    return false;
  }
  if (packet[0] != kBundle) {
    // The single message becomes the bundle's first entry.
    std::vector<uint8_t> bundle(kBundleHeaderBytes);
    bundle[0] = kBundle;
    std::copy_n(packet.begin() + 1, 4, bundle.begin() + 1);
    put16(&bundle[5], 1);
    const std::size_t n = packet.size() - kDataHeaderBytes;
    bundle.resize(kBundleHeaderBytes + 2 + n);
    put16(&bundle[kBundleHeaderBytes], static_cast<uint16_t>(n));
    std::copy(packet.begin() + kDataHeaderBytes, packet.end(),
              bundle.begin() + kBundleHeaderBytes + 2);
    packet = std::move(bundle);
  }
  const std::size_t at = packet.size();
  packet.resize(at + 2 + message.size());
  put16(&packet[at], static_cast<uint16_t>(message.size()));
  std::copy(message.begin(), message.end(), packet.begin() + static_cast<std::ptrdiff_t>(at) + 2);
  put16(&packet[5], static_cast<uint16_t>(get16(&packet[5]) + 1));
  last->second.payload_bytes += message.size();
  return true;
}

void ReliableLink::flush(uint64_t now_ms) { pump(now_ms); }

bool ReliableLink::send_datagram(std::span<const uint8_t> payload) {
  if (payload.size() + 1 > config_.max_packet_bytes) {
    return false;
  }
  std::vector<uint8_t> packet(payload.size() + 1);
  packet[0] = kDatagram;
  std::copy(payload.begin(), payload.end(), packet.begin() + 1);
  ++stats_.packets_sent;
  emit_(packet);
  return true;
}

void ReliableLink::pump(uint64_t now_ms) {
  // After a timeout every outstanding packet counts as lost; they go first, oldest first, as the
  // window allows (slow start from the reduced window), like go-back-N without resending what
  // the selective acks have already confirmed.
  for (auto it = outgoing_.begin();
       lost_count_ > 0 && it != outgoing_.end() && in_flight_ < static_cast<uint32_t>(window_);
       ++it) {
    if (it->second.lost) {
      transmit(it->first, it->second, now_ms);
    }
  }
  while (next_unsent_ < next_seq_ && in_flight_ < static_cast<uint32_t>(window_)) {
    auto it = outgoing_.find(next_unsent_);
    if (it != outgoing_.end()) {
      transmit(it->first, it->second, now_ms);
    }
    ++next_unsent_;
  }
  stats_.in_flight_packets = in_flight_;
  stats_.window_packets = static_cast<uint32_t>(window_);
}

void ReliableLink::transmit(uint64_t, Outgoing& out, uint64_t now_ms) {
  if (out.sent) {
    out.retransmitted = true;
    ++stats_.retransmissions;
    if (out.lost) {
      out.lost = false;
      --lost_count_;
      ++in_flight_;
    }
  } else {
    out.sent = true;
    ++in_flight_;
  }
  out.sent_ms = now_ms;
  out.acked_past = 0;
  out.tx_order = ++transmissions_;
  ++stats_.packets_sent;
  emit_(out.packet);
}

void ReliableLink::on_packet(std::span<const uint8_t> packet, uint64_t now_ms) {
  if (packet.empty()) {
    ++stats_.malformed_dropped;
    return;
  }
  switch (packet[0]) {
  case kData:
    handle_data(packet, now_ms);
    break;
  case kBundle:
    handle_bundle(packet, now_ms);
    break;
  case kAck:
    handle_ack(packet, now_ms);
    break;
  case kDatagram:
    ++stats_.packets_received;
    if (deliver_datagram_) {
      deliver_datagram_(std::vector<uint8_t>(packet.begin() + 1, packet.end()));
    }
    break;
  default:
    ++stats_.malformed_dropped;
  }
}

void ReliableLink::handle_data(std::span<const uint8_t> packet, uint64_t now_ms) {
  if (packet.size() <= kDataHeaderBytes || packet.size() > config_.max_packet_bytes) {
    ++stats_.malformed_dropped;
    return;
  }
  const auto seq = unwrap(get32(&packet[1]), next_expected_);
  const uint16_t count = get16(&packet[9]);
  const auto first = seq ? unwrap(get32(&packet[5]), *seq) : std::nullopt;
  if (!seq || !first || count == 0 || count > max_fragments_ || *first > *seq ||
      *seq - *first >= count || *first < deliver_from_) {
    if (seq && *seq < next_expected_) {
      ++stats_.duplicates_dropped; // an old retransmission: tell the sender again
      send_ack();
      return;
    }
    ++stats_.malformed_dropped;
    return;
  }
  accept(*seq, *first, count, packet.subspan(kDataHeaderBytes), false, now_ms);
}

void ReliableLink::handle_bundle(std::span<const uint8_t> packet, uint64_t now_ms) {
  if (packet.size() < kBundleHeaderBytes || packet.size() > config_.max_packet_bytes ||
      get16(&packet[5]) == 0 ||
      bundle_entries(packet.subspan(kBundleHeaderBytes)) != get16(&packet[5])) {
    ++stats_.malformed_dropped;
    return;
  }
  const auto seq = unwrap(get32(&packet[1]), next_expected_);
  if (!seq || *seq < deliver_from_) {
    if (seq) {
      ++stats_.duplicates_dropped; // an old retransmission: tell the sender again
      send_ack();
      return;
    }
    ++stats_.malformed_dropped;
    return;
  }
  accept(*seq, *seq, 1, packet.subspan(kBundleHeaderBytes), true, now_ms);
}

std::size_t ReliableLink::bundle_entries(std::span<const uint8_t> entries) {
  std::size_t n = 0;
  while (!entries.empty()) {
    if (entries.size() < 2) {
      return 0;
    }
    const std::size_t len = get16(entries.data());
    if (len == 0 || entries.size() - 2 < len) {
      return 0;
    }
    entries = entries.subspan(2 + len);
    ++n;
  }
  return n;
}

void ReliableLink::accept(uint64_t seq, uint64_t first, uint16_t count,
                          std::span<const uint8_t> payload, bool bundle, uint64_t now_ms) {
  ++stats_.packets_received;
  if (seq < next_expected_ || received_.count(seq) != 0) {
    ++stats_.duplicates_dropped;
    send_ack();
    return;
  }
  if (first + count > next_expected_ + kReceiveWindowPackets) {
    ++stats_.out_of_window_dropped;
    send_ack();
    return;
  }
  // Fragments of one message must agree on where it starts and how long it is: a fragment that
  // contradicts a stored neighbour is refused, so a forged packet cannot swallow real ones.
  const auto before = received_.lower_bound(seq);
  for (auto it : {before, before == received_.begin() ? received_.end() : std::prev(before)}) {
    if (it == received_.end()) {
      continue;
    }
    const Fragment& other = it->second;
    const bool same_message = other.first == first && other.count == count;
    const bool overlaps = it->first >= first && it->first < first + count;
    const bool inside_other = seq >= other.first && seq < other.first + other.count;
    if (!same_message && (overlaps || inside_other)) {
      ++stats_.malformed_dropped;
      return;
    }
  }
  const bool in_order = seq == next_expected_;
  received_.emplace(seq, Fragment{first, count, bundle, {payload.begin(), payload.end()}});
  while (received_.count(next_expected_) != 0) {
    ++next_expected_;
  }
  deliver_ready();
  ++unacked_received_;
  if (!in_order || unacked_received_ >= 2) {
    send_ack();
  } else if (!ack_due_ms_) {
    ack_due_ms_ = now_ms + config_.ack_delay_ms;
  }
}

void ReliableLink::deliver_ready() {
  while (true) {
    auto it = received_.find(deliver_from_);
    if (it == received_.end()) {
      return;
    }
    const uint64_t first = it->second.first;
    const uint16_t count = it->second.count;
    const bool bundle = it->second.bundle;
    if (first != deliver_from_) {
      // A fragment that claims a message start it is not at: drop it and move past it.
      ++stats_.malformed_dropped;
      received_.erase(it);
      ++deliver_from_;
      continue;
    }
    if (next_expected_ < first + count) {
      return; // fragments still missing
    }
    std::vector<uint8_t> message;
    bool consistent = true;
    for (uint64_t s = first; s < first + count; ++s) {
      auto frag = received_.find(s);
      if (frag == received_.end() || frag->second.first != first || frag->second.count != count) {
        consistent = false;
        break;
      }
      message.insert(message.end(), frag->second.payload.begin(), frag->second.payload.end());
    }
    for (uint64_t s = first; s < first + count; ++s) {
      received_.erase(s);
    }
    deliver_from_ = first + count;
    if (!consistent) {
      ++stats_.malformed_dropped;
      continue;
    }
    if (bundle) {
      std::span<const uint8_t> entries(message);
      while (!entries.empty()) {
        const std::size_t len = get16(entries.data());
        ++stats_.messages_delivered;
        deliver_(std::vector<uint8_t>(entries.begin() + 2,
                                      entries.begin() + 2 + static_cast<std::ptrdiff_t>(len)));
        entries = entries.subspan(2 + len);
      }
      continue;
    }
    ++stats_.messages_delivered;
    deliver_(std::move(message));
  }
}

void ReliableLink::handle_ack(std::span<const uint8_t> packet, uint64_t now_ms) {
  if (packet.size() != kAckBytes) {
    ++stats_.malformed_dropped;
    return;
  }
  const auto next = unwrap(get32(&packet[1]), send_base_);
  const uint64_t sack = get64(&packet[5]);
  // An ack may not cover anything never sent.
  if (!next || *next > next_unsent_ ||
      (sack != 0 && *next + 1 + (63 - __builtin_clzll(sack)) >= next_unsent_)) {
    ++stats_.malformed_dropped;
    return;
  }
  ++stats_.packets_received;
  uint64_t highest = 0;
  uint64_t newest_tx = 0; // the latest transmission this ack newly covers
  auto newly_acked = [&](uint64_t seq) {
    const auto it = outgoing_.find(seq);
    if (it != outgoing_.end() && it->second.sent) {
      newest_tx = std::max(newest_tx, it->second.tx_order);
    }
    acknowledge(seq, now_ms);
  };
  while (!outgoing_.empty() && outgoing_.begin()->first < *next) {
    highest = outgoing_.begin()->first;
    newly_acked(outgoing_.begin()->first);
  }
  for (int i = 0; i < 64; ++i) {
    if ((sack >> i) & 1u) {
      const uint64_t s = *next + 1 + static_cast<uint64_t>(i);
      if (outgoing_.count(s) != 0) {
        newly_acked(s);
      }
      highest = std::max(highest, s);
    }
  }
  send_base_ = outgoing_.empty() ? next_seq_ : outgoing_.begin()->first;
  if (newest_tx != 0) {
    // A hole is lost once three acks covered packets transmitted after it (so a retransmission
    // gets a round trip to arrive before it is counted again): retransmit it now.
    for (auto& [seq, out] : outgoing_) {
      if (seq >= highest || !out.sent) {
        break;
      }
      if (out.tx_order < newest_tx && ++out.acked_past == 3) {
        on_loss(now_ms);
        transmit(seq, out, now_ms);
      }
    }
  }
  pump(now_ms);
}

void ReliableLink::acknowledge(uint64_t seq, uint64_t now_ms) {
  auto it = outgoing_.find(seq);
  if (it == outgoing_.end()) {
    return;
  }
  Outgoing& out = it->second;
  if (out.lost) {
    --lost_count_; // acked after all (the original arrived late)
  } else if (out.sent) {
    --in_flight_;
    if (!out.retransmitted && now_ms >= out.sent_ms) {
      rtt_sample(static_cast<double>(now_ms - out.sent_ms));
    }
  }
  buffered_bytes_ -= out.payload_bytes;
  window_ += window_ < ssthresh_ ? 1.0 : 1.0 / window_;
  window_ = std::min<double>(window_, config_.max_window_packets);
  outgoing_.erase(it);
}

void ReliableLink::rtt_sample(double sample_ms) {
  if (!have_rtt_) {
    srtt_ms_ = sample_ms;
    rttvar_ms_ = sample_ms / 2;
    have_rtt_ = true;
  } else {
    rttvar_ms_ = 0.75 * rttvar_ms_ + 0.25 * std::abs(srtt_ms_ - sample_ms);
    srtt_ms_ = 0.875 * srtt_ms_ + 0.125 * sample_ms;
  }
  const double rto = srtt_ms_ + std::max(1.0, 4 * rttvar_ms_);
  rto_ms_ =
      std::clamp(static_cast<uint32_t>(std::ceil(rto)), config_.min_rto_ms, config_.max_rto_ms);
  stats_.srtt_ms = static_cast<uint32_t>(srtt_ms_);
  stats_.rto_ms = rto_ms_;
}

void ReliableLink::on_loss(uint64_t) {
  if (send_base_ < recovery_end_seq_) {
    return; // one cut per window of data
  }
  ssthresh_ = std::max(2.0, window_ / 2);
  window_ = ssthresh_;
  recovery_end_seq_ = next_seq_;
}

void ReliableLink::on_timer(uint64_t now_ms) {
  if (ack_due_ms_ && now_ms >= *ack_due_ms_) {
    send_ack();
  }
  bool timed_out = false;
  for (const auto& [seq, out] : outgoing_) {
    if (out.sent && !out.lost && now_ms >= out.sent_ms + rto_ms_) {
      timed_out = true;
      break;
    }
  }
  if (timed_out) {
    // RFC 6298 5.5-5.7 with a window: back the timer off once, collapse the window, and treat
    // everything outstanding as lost; pump() resends it as acks reopen the window.
    ++stats_.timeouts;
    ssthresh_ = std::max(2.0, window_ / 2);
    window_ = 2;
    rto_ms_ = std::min(rto_ms_ * 2, config_.max_rto_ms);
    stats_.rto_ms = rto_ms_;
    recovery_end_seq_ = next_seq_;
    for (auto& [seq, out] : outgoing_) {
      if (out.sent && !out.lost) {
        out.lost = true;
        ++lost_count_;
        --in_flight_;
      }
    }
  }
  pump(now_ms);
}

std::optional<uint64_t> ReliableLink::next_timer_ms() const {
  std::optional<uint64_t> at = ack_due_ms_;
  for (const auto& [seq, out] : outgoing_) {
    if (!out.sent) {
      break;
    }
    if (out.lost) {
      continue; // waits for the window, not for a timer
    }
    const uint64_t due = out.sent_ms + rto_ms_;
    at = at ? std::min(*at, due) : due;
  }
  return at;
}

void ReliableLink::send_ack() {
  uint8_t packet[kAckBytes];
  packet[0] = kAck;
  put32(&packet[1], static_cast<uint32_t>(next_expected_));
  uint64_t sack = 0;
  for (auto it = received_.upper_bound(next_expected_); it != received_.end(); ++it) {
    const uint64_t bit = it->first - next_expected_ - 1;
    if (bit >= 64) {
      break;
    }
    sack |= uint64_t{1} << bit;
  }
  put64(&packet[5], sack);
  unacked_received_ = 0;
  ack_due_ms_.reset();
  ++stats_.packets_sent;
  emit_(std::span<const uint8_t>(packet, kAckBytes));
}

} // namespace entre
