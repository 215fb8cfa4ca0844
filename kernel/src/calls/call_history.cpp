#include "calls/call_history.hpp"

#include <algorithm>
#include <string>

namespace entre::calls {

namespace {

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
}

void put_text(std::vector<uint8_t>& out, const std::string& s) {
  const std::size_t n = std::min(s.size(), kMaxCallTextBytes);
  out.push_back(static_cast<uint8_t>(n));
  out.insert(out.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
}

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool u64(uint64_t& v) {
    if (b_.size() - at_ < 8) {
      return false;
    }
    v = 0;
    for (int i = 0; i < 8; ++i) {
      v = (v << 8) | b_[at_++];
    }
    return true;
  }
  bool i64(int64_t& v) {
    uint64_t u = 0;
    if (!u64(u)) {
      return false;
    }
    v = static_cast<int64_t>(u);
    return true;
  }
  bool text(std::string& s) {
    if (at_ >= b_.size()) {
      return false;
    }
    const std::size_t n = b_[at_++];
    if (b_.size() - at_ < n) {
      return false;
    }
    s.assign(reinterpret_cast<const char*>(b_.data() + at_), n);
    at_ += n;
    return true;
  }
  bool byte(uint8_t& v) {
    if (at_ >= b_.size()) {
      return false;
    }
    v = b_[at_++];
    return true;
  }
  [[nodiscard]] bool done() const { return at_ == b_.size(); }

 private:
  std::span<const uint8_t> b_;
  std::size_t at_ = 0;
};

} // namespace

std::vector<uint8_t> encode_calls(std::span<const CallRecord> records) {
  std::vector<uint8_t> out{kCallHistoryFormat};
  put_u64(out, records.size());
  for (const CallRecord& r : records) {
    put_text(out, r.id);
    put_text(out, r.contact);
    out.push_back(r.outgoing ? 1 : 0);
    put_u64(out, static_cast<uint64_t>(r.started_ms));
    put_u64(out, static_cast<uint64_t>(r.answered_ms));
    put_u64(out, static_cast<uint64_t>(r.ended_ms));
    put_text(out, r.end);
    put_text(out, r.codec);
  }
  return out;
}

std::optional<std::vector<CallRecord>> decode_calls(std::span<const uint8_t> bytes) {
  Reader in(bytes);
  uint8_t format = 0;
  uint64_t count = 0;
  if (!in.byte(format) || format != kCallHistoryFormat || !in.u64(count) ||
      count > kMaxCallRecords) {
    return std::nullopt;
  }
  std::vector<CallRecord> out(count);
  for (CallRecord& r : out) {
    uint8_t outgoing = 0;
    if (!in.text(r.id) || !in.text(r.contact) || !in.byte(outgoing) || outgoing > 1 ||
        !in.i64(r.started_ms) || !in.i64(r.answered_ms) || !in.i64(r.ended_ms) || !in.text(r.end) ||
        !in.text(r.codec)) {
      return std::nullopt;
    }
    r.outgoing = outgoing == 1;
  }
  if (!in.done()) {
    return std::nullopt;
  }
  return out;
}

} // namespace entre::calls
