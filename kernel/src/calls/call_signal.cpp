#include "calls/call_signal.hpp"

#include <entre/sdk/codec.hpp>

#include <algorithm>

namespace entre::calls {

namespace {

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= kMaxCodecNameBytes &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
         });
}

void put_name(std::vector<uint8_t>& out, const std::string& name) {
  out.push_back(static_cast<uint8_t>(name.size()));
  out.insert(out.end(), name.begin(), name.end());
}

} // namespace

std::vector<uint8_t> encode_signal(const CallSignal& s) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(s.type));
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<uint8_t>(s.call_id >> (8 * i)));
  }
  switch (s.type) {
  case SignalType::kInvite:
    out.push_back(s.frame_ms);
    out.push_back(static_cast<uint8_t>(s.codecs.size()));
    for (const auto& c : s.codecs) {
      put_name(out, c);
    }
    break;
  case SignalType::kAccept:
    put_name(out, s.codecs.empty() ? std::string() : s.codecs.front());
    for (int i = 0; i < 4; ++i) {
      out.push_back(static_cast<uint8_t>(s.sample_rate >> (8 * i)));
    }
    out.insert(out.end(), s.salt.begin(), s.salt.end());
    break;
  case SignalType::kReject:
    out.push_back(static_cast<uint8_t>(s.reason));
    break;
  case SignalType::kReport:
    out.push_back(s.loss_percent);
    break;
  case SignalType::kRinging:
  case SignalType::kBusy:
  case SignalType::kHangup:
    break;
  }
  return out;
}

bool parse_signal(std::span<const uint8_t> bytes, CallSignal& out, std::string& error) {
  if (bytes.size() < 9) {
    error = "call signal shorter than its type and call id";
    return false;
  }
  const uint8_t type = bytes[0];
  if (type < 1 || type > 7) {
    error = "unknown call signal type " + std::to_string(type);
    return false;
  }
  CallSignal s;
  s.type = static_cast<SignalType>(type);
  for (int i = 7; i >= 0; --i) {
    s.call_id = (s.call_id << 8) | bytes[1 + static_cast<std::size_t>(i)];
  }
  std::size_t at = 9;
  auto name = [&](std::string& into) {
    if (at >= bytes.size()) {
      error = "codec name missing";
      return false;
    }
    const std::size_t len = bytes[at++];
    if (len == 0 || len > kMaxCodecNameBytes || len > bytes.size() - at) {
      error = "codec name of " + std::to_string(len) + " bytes";
      return false;
    }
    into.assign(reinterpret_cast<const char*>(bytes.data() + at), len);
    at += len;
    if (!valid_name(into)) {
      error = "codec name with a character other than a-z, 0-9 and '-'";
      return false;
    }
    return true;
  };
  switch (s.type) {
  case SignalType::kInvite: {
    if (bytes.size() < at + 2) {
      error = "invite without frame length and codecs";
      return false;
    }
    s.frame_ms = bytes[at++];
    if (s.frame_ms != 10 && s.frame_ms != 20 && s.frame_ms != 40 && s.frame_ms != 60) {
      error = "invite with " + std::to_string(s.frame_ms) + " ms frames";
      return false;
    }
    const std::size_t count = bytes[at++];
    if (count == 0 || count > kMaxOfferedCodecs) {
      error = "invite offering " + std::to_string(count) + " codecs (1 to 8)";
      return false;
    }
    for (std::size_t i = 0; i < count; ++i) {
      std::string c;
      if (!name(c)) {
        return false;
      }
      if (std::find(s.codecs.begin(), s.codecs.end(), c) != s.codecs.end()) {
        error = "invite offering codec '" + c + "' twice";
        return false;
      }
      s.codecs.push_back(std::move(c));
    }
    break;
  }
  case SignalType::kAccept: {
    std::string c;
    if (!name(c)) {
      return false;
    }
    s.codecs.push_back(std::move(c));
    if (bytes.size() - at < 4 + s.salt.size()) {
      error = "accept without a sample rate and salt";
      return false;
    }
    for (int i = 3; i >= 0; --i) {
      s.sample_rate = (s.sample_rate << 8) | bytes[at + static_cast<std::size_t>(i)];
    }
    at += 4;
    if (s.sample_rate < sdk::kCallMinSampleRateHz || s.sample_rate > sdk::kCallMaxSampleRateHz) {
      error = "accept with a sample rate of " + std::to_string(s.sample_rate) + " Hz";
      return false;
    }
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), s.salt.size(), s.salt.begin());
    at += s.salt.size();
    break;
  }
  case SignalType::kReject:
    if (at >= bytes.size() || (bytes[at] != 1 && bytes[at] != 2)) {
      error = "reject without a known reason";
      return false;
    }
    s.reason = static_cast<RejectReason>(bytes[at++]);
    break;
  case SignalType::kReport:
    if (at >= bytes.size() || bytes[at] > 100) {
      error = "report without a loss of 0 to 100 percent";
      return false;
    }
    s.loss_percent = bytes[at++];
    break;
  case SignalType::kRinging:
  case SignalType::kBusy:
  case SignalType::kHangup:
    break;
  }
  if (at != bytes.size()) {
    error = std::to_string(bytes.size() - at) + " bytes after the call signal";
    return false;
  }
  out = std::move(s);
  return true;
}

} // namespace entre::calls
