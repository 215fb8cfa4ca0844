#include "relay_wire.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace entre::plugins::relay_wire {

namespace {

constexpr char kRequestMagic[8] = {'E', 'N', 'T', 'R', 'E', 'R', 'Q', '1'};
constexpr char kResponseMagic[8] = {'E', 'N', 'T', 'R', 'E', 'R', 'S', '1'};

void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

uint32_t get32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void put64(std::vector<uint8_t>& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | p[i];
  }
  return v;
}

std::string type_text(uint8_t type) {
  static constexpr char kDigits[] = "0123456789abcdef";
  return std::string("0x") + kDigits[type >> 4] + kDigits[type & 15];
}

bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == ':';
  });
}

} // namespace

const char* reason_name(Reason reason) {
  switch (reason) {
  case Reason::kVersion:
    return "unsupported version";
  case Reason::kBusy:
    return "too many connections";
  case Reason::kHandshakeRate:
    return "too many handshakes";
  case Reason::kProtocol:
    return "protocol error";
  case Reason::kAuthFailed:
    return "authentication failed";
  case Reason::kFrameTooLarge:
    return "frame too large";

  case Reason::kSlowConsumer:
    return "slow consumer";
  case Reason::kIdle:
    return "idle";
  case Reason::kShutdown:
    return "relay shutting down";
  case Reason::kReplaced:
    return "replaced by a newer connection with the same key";
  }
  return "unknown reason";
}

void append_record(std::vector<uint8_t>& out, std::span<const uint8_t> body) {
  out.push_back(static_cast<uint8_t>(body.size() >> 8));
  out.push_back(static_cast<uint8_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
}

void RecordReader::feed(std::span<const uint8_t> bytes) {
  if (start_ > 0 && start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  } else if (start_ > 65536 && start_ * 2 > buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
    start_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

std::optional<std::span<const uint8_t>> RecordReader::next() {
  if (!error_.empty() || buffered() < 2) {
    return std::nullopt;
  }
  const std::size_t length = (std::size_t{buffer_[start_]} << 8) | buffer_[start_ + 1];
  if (length == 0 || length > max_body_) {
    kind_ = length == 0 ? Error::kEmpty : Error::kTooLarge;
    error_ = "record of " + std::to_string(length) + " bytes (allowed 1 to " +
             std::to_string(max_body_) + ")";
    return std::nullopt;
  }
  if (buffered() < 2 + length) {
    return std::nullopt;
  }
  std::span<const uint8_t> body(buffer_.data() + start_ + 2, length);
  start_ += 2 + length;
  return body;
}

std::vector<uint8_t> client_hello(std::span<const uint8_t> noise_message) {
  std::vector<uint8_t> out{static_cast<uint8_t>(Type::kClientHello), kVersion};
  out.insert(out.end(), noise_message.begin(), noise_message.end());
  return out;
}

std::vector<uint8_t> relay_hello(std::span<const uint8_t> noise_message) {
  std::vector<uint8_t> out{static_cast<uint8_t>(Type::kRelayHello)};
  out.insert(out.end(), noise_message.begin(), noise_message.end());
  return out;
}

std::vector<uint8_t> refused(Reason reason, std::string_view text) {
  std::vector<uint8_t> out{static_cast<uint8_t>(Type::kRefused), static_cast<uint8_t>(reason)};
  text = text.substr(0, kMaxRefusalTextBytes);
  for (const char c : text) {
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<uint8_t>(c) : '?');
  }
  return out;
}

std::optional<ClearRecord> parse_clear(std::span<const uint8_t> body, std::string& error) {
  if (body.empty()) {
    error = "empty record";
    return std::nullopt;
  }
  ClearRecord r;
  r.type = static_cast<Type>(body[0]);
  const auto rest = body.subspan(1);
  switch (r.type) {
  case Type::kClientHello:
  case Type::kRelayHello: {
    const std::size_t head = r.type == Type::kClientHello ? 1 : 0;
    if (rest.size() < head + 1 || body.size() > kMaxHelloBytes) {
      error = "hello record of " + std::to_string(body.size()) + " bytes";
      return std::nullopt;
    }
    r.version = head == 1 ? rest[0] : kVersion;
    r.data = rest.subspan(head);
    return r;
  }
  case Type::kRefused:
    if (rest.empty() || rest.size() > 1 + kMaxRefusalTextBytes) {
      error = "refusal record of " + std::to_string(body.size()) + " bytes";
      return std::nullopt;
    }
    if (!std::all_of(rest.begin() + 1, rest.end(),
                     [](uint8_t c) { return c >= 0x20 && c < 0x7f; })) {
      error = "refusal text is not printable ASCII";
      return std::nullopt;
    }
    r.reason = static_cast<Reason>(rest[0]);
    r.data = rest.subspan(1);
    return r;
  default:
    error = "unexpected record type " + type_text(body[0]) + " before the handshake completed";
    return std::nullopt;
  }
}

std::vector<uint8_t> encode(const Message& m) {
  std::vector<uint8_t> out{static_cast<uint8_t>(m.type)};
  switch (m.type) {
  case Type::kSend:
  case Type::kDeliver:
    return encode_frame(m.type, m.key, m.frame);
  case Type::kUnreachable:
    out.insert(out.end(), m.key.begin(), m.key.end());
    break;
  case Type::kWelcome:
    put32(out, m.max_frame);
    put32(out, m.idle_ms);
    break;
  case Type::kPing:
  case Type::kPong:
    put64(out, m.nonce);
    break;
  case Type::kClosing:
    out.push_back(static_cast<uint8_t>(m.reason));
    break;
  default:
    break;
  }
  return out;
}

std::vector<uint8_t> encode_frame(Type type, const Key& key, std::span<const uint8_t> frame) {
  std::vector<uint8_t> out;
  out.reserve(1 + kKeyBytes + frame.size());
  out.push_back(static_cast<uint8_t>(type));
  out.insert(out.end(), key.begin(), key.end());
  out.insert(out.end(), frame.begin(), frame.end());
  return out;
}

std::size_t head_bytes(std::span<const uint8_t> message) {
  const bool framed = !message.empty() && (message[0] == static_cast<uint8_t>(Type::kSend) ||
                                           message[0] == static_cast<uint8_t>(Type::kDeliver));
  return framed && message.size() > 1 + kKeyBytes ? 1 + kKeyBytes : message.size();
}

std::optional<Message> parse_message(std::span<const uint8_t> plain, std::size_t max_frame,
                                     std::string& error) {
  const std::size_t head = head_bytes(plain);
  return parse_message(plain.subspan(0, head), plain.subspan(head), max_frame, error);
}

std::optional<Message> parse_message(std::span<const uint8_t> head, std::span<const uint8_t> frame,
                                     std::size_t max_frame, std::string& error) {
  if (head.empty()) {
    error = "empty message";
    return std::nullopt;
  }
  Message m;
  m.type = static_cast<Type>(head[0]);
  const auto rest = head.subspan(1);
  const bool framed = m.type == Type::kSend || m.type == Type::kDeliver;
  if (!framed && !frame.empty()) {
    error = "message " + type_text(head[0]) + " carries a frame";
    return std::nullopt;
  }
  auto exact = [&](std::size_t n) {
    if (rest.size() != n) {
      error = "message " + type_text(head[0]) + " of " + std::to_string(head.size()) +
              " bytes (expected " + std::to_string(n + 1) + ")";
      return false;
    }
    return true;
  };
  switch (m.type) {
  case Type::kAuth:
    return exact(0) ? std::optional(m) : std::nullopt;
  case Type::kWelcome:
    if (!exact(8)) {
      return std::nullopt;
    }
    m.max_frame = get32(rest.data());
    m.idle_ms = get32(rest.data() + 4);
    return m;
  case Type::kSend:
  case Type::kDeliver:
    if (!exact(kKeyBytes)) {
      return std::nullopt;
    }
    if (frame.empty()) {
      error = "frame message without a frame";
      return std::nullopt;
    }
    if (frame.size() > max_frame) {
      error = "frame of " + std::to_string(frame.size()) + " bytes (limit " +
              std::to_string(max_frame) + ")";
      return std::nullopt;
    }
    std::memcpy(m.key.data(), rest.data(), kKeyBytes);
    m.frame = frame;
    return m;
  case Type::kUnreachable:
    if (!exact(kKeyBytes)) {
      return std::nullopt;
    }
    std::memcpy(m.key.data(), rest.data(), kKeyBytes);
    return m;
  case Type::kPing:
  case Type::kPong:
    if (!exact(kNonceBytes)) {
      return std::nullopt;
    }
    m.nonce = get64(rest.data());
    return m;
  case Type::kClosing:
    if (!exact(1)) {
      return std::nullopt;
    }
    m.reason = static_cast<Reason>(rest[0]);
    return m;
  default:
    error = "unknown message type " + type_text(head[0]);
    return std::nullopt;
  }
}

std::optional<SealedParts> split_sealed(std::span<const uint8_t> body, std::string& error) {
  if (body.empty() || body[0] < kMinSealedHeadBytes || body.size() - 1 < body[0]) {
    error = "sealed record with a head of " +
            (body.empty() ? std::string("no") : std::to_string(body[0])) + " bytes in " +
            std::to_string(body.size());
    return std::nullopt;
  }
  return SealedParts{body.subspan(1, body[0]), body.subspan(1 + body[0])};
}

bool append_sealed_record(std::vector<uint8_t>& out, sdk::MediaCipher& tx, uint64_t counter,
                          std::span<const uint8_t> message) {
  const std::size_t head = head_bytes(message);
  return append_sealed_record(out, tx, counter, message.subspan(0, head), message.subspan(head));
}

bool append_sealed_record(std::vector<uint8_t>& out, sdk::MediaCipher& tx, uint64_t counter,
                          std::span<const uint8_t> head, std::span<const uint8_t> frame) {
  const std::size_t start = out.size();
  out.resize(start + 3); // length (2), head-length (1)
  out.reserve(start + 3 + head.size() + kSealOverheadBytes + frame.size());
  sdk::VectorSink sink(out, out.size() + head.size() + 64);
  if (!tx.seal(counter, sdk::ByteView(frame), sdk::ByteView(head), sink).is_ok() ||
      out.size() - start - 3 > kMaxSealedHeadBytes) {
    out.resize(start);
    return false;
  }
  out[start + 2] = static_cast<uint8_t>(out.size() - start - 3);
  out.insert(out.end(), frame.begin(), frame.end());
  const std::size_t body = out.size() - start - 2;
  out[start] = static_cast<uint8_t>(body >> 8);
  out[start + 1] = static_cast<uint8_t>(body);
  return true;
}

std::optional<Message> open_sealed_record(sdk::MediaCipher& rx, uint64_t counter,
                                          std::span<const uint8_t> body,
                                          std::vector<uint8_t>& head_plain, std::size_t max_frame,
                                          std::string& error, bool& unverified) {
  unverified = false;
  const auto parts = split_sealed(body, error);
  if (!parts) {
    return std::nullopt;
  }
  head_plain.clear();
  sdk::VectorSink sink(head_plain, parts->head.size());
  if (!rx.open(counter, sdk::ByteView(parts->frame), sdk::ByteView(parts->head), sink).is_ok()) {
    unverified = true;
    error = "a sealed record did not open";
    return std::nullopt;
  }
  return parse_message(head_plain, parts->frame, max_frame, error);
}

std::string hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

bool parse_hex_key(std::string_view text, Key& out) {
  if (text.size() != kKeyBytes * 2) {
    return false;
  }
  for (std::size_t i = 0; i < kKeyBytes; ++i) {
    uint8_t v = 0;
    const auto r = std::from_chars(text.data() + 2 * i, text.data() + 2 * i + 2, v, 16);
    if (r.ec != std::errc() || r.ptr != text.data() + 2 * i + 2) {
      return false;
    }
    out[i] = v;
  }
  return true;
}

std::string RelayAddress::place() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string RelayAddress::text() const { return hex(key) + "@" + place(); }

std::optional<RelayAddress> parse_relay(std::string_view text, std::string& error) {
  const auto at = text.find('@');
  if (at == std::string_view::npos) {
    error = "expected <relay key>@<host>:<port>, found no '@'";
    return std::nullopt;
  }
  RelayAddress r;
  if (!parse_hex_key(text.substr(0, at), r.key)) {
    error = "the relay key before '@' must be 64 hexadecimal digits";
    return std::nullopt;
  }
  std::string_view place = text.substr(at + 1);
  std::string_view port_text;
  if (!place.empty() && place.front() == '[') {
    const auto close = place.find(']');
    if (close == std::string_view::npos || close + 1 >= place.size() || place[close + 1] != ':') {
      error = "expected [<IPv6 address>]:<port> after '@'";
      return std::nullopt;
    }
    r.host = std::string(place.substr(1, close - 1));
    port_text = place.substr(close + 2);
  } else {
    const auto colon = place.rfind(':');
    if (colon == std::string_view::npos) {
      error = "expected <host>:<port> after '@', found no port";
      return std::nullopt;
    }
    r.host = std::string(place.substr(0, colon));
    port_text = place.substr(colon + 1);
    if (r.host.find(':') != std::string::npos) {
      error = "an IPv6 relay address goes in brackets: [<address>]:<port>";
      return std::nullopt;
    }
  }
  if (!valid_host(r.host)) {
    error = "'" + r.host.substr(0, 64) + "' is not a host name or IP address";
    return std::nullopt;
  }
  unsigned port = 0;
  const auto pr = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (pr.ec != std::errc() || pr.ptr != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    error = "the port must be a number from 1 to 65535";
    return std::nullopt;
  }
  r.port = static_cast<uint16_t>(port);
  return r;
}

std::string RelayEndpoint::text() const { return "relay:" + relay.text() + "/" + hex(peer); }

std::optional<RelayEndpoint> parse_endpoint(std::string_view text, std::string& error) {
  constexpr std::string_view kScheme = "relay:";
  if (text.substr(0, kScheme.size()) != kScheme) {
    error = "a relay endpoint starts with 'relay:'";
    return std::nullopt;
  }
  text.remove_prefix(kScheme.size());
  const auto slash = text.rfind('/');
  if (slash == std::string_view::npos) {
    error = "a relay endpoint ends with /<peer key>";
    return std::nullopt;
  }
  RelayEndpoint e;
  if (!parse_hex_key(text.substr(slash + 1), e.peer)) {
    error = "the peer key after '/' must be 64 hexadecimal digits";
    return std::nullopt;
  }
  auto relay = parse_relay(text.substr(0, slash), error);
  if (!relay) {
    return std::nullopt;
  }
  e.relay = std::move(*relay);
  return e;
}

std::vector<uint8_t> reflect_request(const ReflectNonce& nonce) {
  std::vector<uint8_t> out(kReflectRequestBytes, 0);
  std::memcpy(out.data(), kRequestMagic, sizeof kRequestMagic);
  std::memcpy(out.data() + sizeof kRequestMagic, nonce.data(), nonce.size());
  return out;
}

std::optional<ReflectNonce> parse_reflect_request(std::span<const uint8_t> d) {
  if (d.size() != kReflectRequestBytes || std::memcmp(d.data(), kRequestMagic, 8) != 0) {
    return std::nullopt;
  }
  ReflectNonce nonce;
  std::memcpy(nonce.data(), d.data() + 8, nonce.size());
  return nonce;
}

std::vector<uint8_t> reflect_response(const ReflectNonce& nonce, const Reflected& seen) {
  std::vector<uint8_t> out(kResponseMagic, kResponseMagic + 8);
  out.insert(out.end(), nonce.begin(), nonce.end());
  out.push_back(seen.v6 ? 6 : 4);
  out.push_back(static_cast<uint8_t>(seen.port >> 8));
  out.push_back(static_cast<uint8_t>(seen.port));
  out.insert(out.end(), seen.address.begin(), seen.address.begin() + (seen.v6 ? 16 : 4));
  return out;
}

bool looks_like_reflect_response(std::span<const uint8_t> d) {
  return d.size() >= 8 && std::memcmp(d.data(), kResponseMagic, 8) == 0;
}

std::optional<Reflected> parse_reflect_response(std::span<const uint8_t> d,
                                                const ReflectNonce& nonce) {
  constexpr std::size_t kHead = 8 + kReflectNonceBytes + 3;
  if (d.size() < kHead || !looks_like_reflect_response(d) ||
      std::memcmp(d.data() + 8, nonce.data(), nonce.size()) != 0) {
    return std::nullopt;
  }
  Reflected r;
  const uint8_t family = d[8 + kReflectNonceBytes];
  r.port = static_cast<uint16_t>((d[kHead - 2] << 8) | d[kHead - 1]);
  if ((family != 4 && family != 6) || d.size() != kHead + (family == 6 ? 16 : 4) || r.port == 0) {
    return std::nullopt;
  }
  r.v6 = family == 6;
  std::memcpy(r.address.data(), d.data() + kHead, d.size() - kHead);
  return r;
}

} // namespace entre::plugins::relay_wire
