#include "messaging/wire.hpp"

#include <sodium.h>

#include <algorithm>

namespace entre::wire {

namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

uint32_t get_u32(std::span<const uint8_t> in) {
  uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    v = (v << 8) | in[i];
  }
  return v;
}

uint64_t get_u64(std::span<const uint8_t> in) {
  uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    v = (v << 8) | in[i];
  }
  return v;
}

std::vector<uint8_t> start(uint8_t type) {
  std::vector<uint8_t> out;
  out.reserve(64);
  out.push_back(type);
  return out;
}

int nibble(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

bool exchangeable_endpoint(std::string_view e) {
  return !e.empty() && e.size() <= kMaxEndpointBytes &&
         std::all_of(e.begin(), e.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string printable(std::string_view text) {
  static constexpr char kDigits[] = "0123456789abcdef";
  constexpr std::size_t kMaxShown = 256;
  std::string out;
  for (const char c : text.substr(0, kMaxShown)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte > 0x20 && byte < 0x7f && byte != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kDigits[byte >> 4]);
      out.push_back(kDigits[byte & 0xf]);
    }
  }
  return text.size() > kMaxShown ? out + "..." : out;
}

std::string hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

bool unhex(std::string_view text, std::span<uint8_t> out) {
  if (text.size() != out.size() * 2) {
    return false;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(text[2 * i]);
    const int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    if (end > start) {
      out.emplace_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return out;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    out += (out.empty() ? "" : "\n") + l;
  }
  return out;
}

void wipe(std::span<uint8_t> bytes) {
  if (!bytes.empty()) {
    sodium_memzero(bytes.data(), bytes.size());
  }
}

std::vector<uint8_t> encode_kdf(const sdk::KdfCost& cost) {
  std::vector<uint8_t> out;
  put_u32(out, static_cast<uint32_t>(cost.strength));
  put_u64(out, cost.ops_limit);
  put_u64(out, cost.mem_limit_bytes);
  return out;
}

std::optional<sdk::KdfCost> decode_kdf(std::span<const uint8_t> bytes) {
  if (bytes.size() != 20) {
    return std::nullopt;
  }
  const uint32_t strength = get_u32(bytes);
  if (strength < 1 || strength > 3) {
    return std::nullopt;
  }
  return sdk::KdfCost{static_cast<sdk::KdfStrength>(strength), get_u64(bytes.subspan(4)),
                      get_u64(bytes.subspan(12))};
}

std::vector<uint8_t> hs1(uint32_t sender, std::span<const uint8_t> noise) {
  std::vector<uint8_t> out = start(kFrameHs1);
  put_u32(out, sender);
  out.insert(out.end(), noise.begin(), noise.end());
  return out;
}

std::vector<uint8_t> hs2(uint32_t receiver, uint32_t sender, std::span<const uint8_t> noise,
                         bool refused) {
  std::vector<uint8_t> out = start(refused ? kFrameRefused : kFrameHs2);
  put_u32(out, receiver);
  put_u32(out, sender);
  out.insert(out.end(), noise.begin(), noise.end());
  return out;
}

std::vector<uint8_t> sealed_header(uint32_t receiver, uint64_t counter) {
  std::vector<uint8_t> out = start(kFrameSealed);
  put_u32(out, receiver);
  put_u64(out, counter);
  return out;
}

std::vector<uint8_t> ping(uint8_t type, uint64_t stamp) {
  std::vector<uint8_t> out = start(type);
  put_u64(out, stamp);
  return out;
}

std::vector<uint8_t> message_header(const MessageId& id, int64_t timestamp_ms) {
  std::vector<uint8_t> out = start(kEnvMessage);
  out.insert(out.end(), id.begin(), id.end());
  put_u64(out, static_cast<uint64_t>(timestamp_ms));
  return out;
}

std::vector<uint8_t> ack(std::span<const MessageId> ids) {
  std::vector<uint8_t> out = start(kEnvAck);
  out.push_back(static_cast<uint8_t>(ids.size() >> 8));
  out.push_back(static_cast<uint8_t>(ids.size()));
  for (const MessageId& id : ids) {
    out.insert(out.end(), id.begin(), id.end());
  }
  return out;
}

std::optional<Hs1> parse_hs1(std::span<const uint8_t> frame) {
  if (frame.size() < 1 + 4 + 1 || frame[0] != kFrameHs1) {
    return std::nullopt;
  }
  return Hs1{get_u32(frame.subspan(1)), frame.subspan(5)};
}

std::optional<Hs2> parse_hs2(std::span<const uint8_t> frame) {
  if (frame.size() < 1 + 8 + 1 || (frame[0] != kFrameHs2 && frame[0] != kFrameRefused)) {
    return std::nullopt;
  }
  const bool refused = frame[0] == kFrameRefused;
  const uint32_t sender = get_u32(frame.subspan(5));
  if (refused && sender != 0) {
    return std::nullopt;
  }
  return Hs2{get_u32(frame.subspan(1)), sender, frame.subspan(9), refused};
}

std::optional<Sealed> parse_sealed(std::span<const uint8_t> frame) {
  if (frame.size() < kSealedHeaderBytes + kAeadTagBytes || frame[0] != kFrameSealed) {
    return std::nullopt;
  }
  return Sealed{get_u32(frame.subspan(1)), get_u64(frame.subspan(5)),
                frame.subspan(kSealedHeaderBytes)};
}

std::optional<uint64_t> parse_ping(std::span<const uint8_t> packet) {
  if (packet.size() != 9 || (packet[0] != kPing && packet[0] != kPong)) {
    return std::nullopt;
  }
  return get_u64(packet.subspan(1));
}

std::optional<Message> parse_message(std::span<const uint8_t> envelope) {
  if (envelope.size() <= kMessageHeaderBytes || envelope[0] != kEnvMessage) {
    return std::nullopt;
  }
  Message m;
  std::copy_n(envelope.begin() + 1, m.id.size(), m.id.begin());
  m.timestamp_ms = static_cast<int64_t>(get_u64(envelope.subspan(17)));
  m.ciphertext = envelope.subspan(kMessageHeaderBytes);
  return m;
}

std::optional<std::vector<MessageId>> parse_ack(std::span<const uint8_t> envelope) {
  if (envelope.size() < 3 || envelope[0] != kEnvAck) {
    return std::nullopt;
  }
  const std::size_t count = static_cast<std::size_t>(envelope[1]) << 8 | envelope[2];
  if (count == 0 || count > kMaxAckIds || envelope.size() != 3 + count * 16) {
    return std::nullopt;
  }
  std::vector<MessageId> ids(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::copy_n(envelope.begin() + 3 + i * 16, 16, ids[i].begin());
  }
  return ids;
}

std::vector<uint8_t> endpoints(const std::vector<std::string>& list) {
  std::vector<uint8_t> out = start(kEnvEndpoints);
  out.push_back(0);
  for (const std::string& e : list) {
    if (!exchangeable_endpoint(e) || out[1] == kMaxEndpointsExchanged) {
      continue;
    }
    out.push_back(static_cast<uint8_t>(e.size()));
    out.insert(out.end(), e.begin(), e.end());
    ++out[1];
  }
  return out;
}

std::optional<std::vector<std::string>> parse_endpoints(std::span<const uint8_t> envelope) {
  if (envelope.size() < 2 || envelope[0] != kEnvEndpoints || envelope[1] > kMaxEndpointsExchanged) {
    return std::nullopt;
  }
  std::vector<std::string> list;
  std::size_t at = 2;
  for (std::size_t i = 0; i < envelope[1]; ++i) {
    if (at >= envelope.size()) {
      return std::nullopt;
    }
    const std::size_t n = envelope[at++];
    if (n == 0 || n > kMaxEndpointBytes || envelope.size() - at < n) {
      return std::nullopt;
    }
    std::string e(envelope.begin() + static_cast<std::ptrdiff_t>(at),
                  envelope.begin() + static_cast<std::ptrdiff_t>(at + n));
    if (!exchangeable_endpoint(e)) {
      return std::nullopt;
    }
    list.push_back(std::move(e));
    at += n;
  }
  if (at != envelope.size()) {
    return std::nullopt;
  }
  return list;
}

} // namespace entre::wire
