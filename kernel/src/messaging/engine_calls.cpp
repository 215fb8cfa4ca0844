// The messaging engine's part in calls: call signals over the best link, the route and key of a
// call's media, and the call history (one sealed setting).
#include "messaging/engine_internal.hpp"

#include <algorithm>

namespace entre {

using namespace engine_detail;

namespace {

constexpr std::string_view kSettingCalls = "calls.history";
constexpr std::string_view kCallsLabel = "entre calls v1";
constexpr std::size_t kMaxCallRecords = 500;
constexpr uint8_t kCallsFormat = 1;

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
}

void put_text(std::vector<uint8_t>& out, const std::string& s) {
  const std::size_t n = std::min<std::size_t>(s.size(), 255);
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

std::vector<uint8_t> encode_calls(const std::vector<CallRecord>& records) {
  std::vector<uint8_t> out{kCallsFormat};
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
  if (!in.byte(format) || format != kCallsFormat || !in.u64(count) || count > kMaxCallRecords) {
    return std::nullopt;
  }
  std::vector<CallRecord> out(count);
  for (CallRecord& r : out) {
    uint8_t outgoing = 0;
    if (!in.text(r.id) || !in.text(r.contact) || !in.byte(outgoing) || !in.i64(r.started_ms) ||
        !in.i64(r.answered_ms) || !in.i64(r.ended_ms) || !in.text(r.end) || !in.text(r.codec)) {
      return std::nullopt;
    }
    r.outgoing = outgoing != 0;
  }
  if (!in.done()) {
    return std::nullopt;
  }
  return out;
}

} // namespace

ApiStatus Engine::send_call_signal(const std::string& contact, std::span<const uint8_t> signal) {
  ApiError e;
  Contact* c = find_contact(contact, e);
  if (c == nullptr) {
    return ApiStatus{std::nullopt, e};
  }
  if (c->blocked()) {
    return ApiStatus::fail(sdk::StatusCode::kPermissionDenied, "the contact is blocked");
  }
  auto it = links_.find(c->best);
  if (it == links_.end() || !it->second->rel) {
    return ApiStatus::fail(sdk::StatusCode::kUnavailable, "the contact is offline");
  }
  std::vector<uint8_t> env{wire::kEnvCall};
  env.insert(env.end(), signal.begin(), signal.end());
  send_envelope(*it->second, std::move(env));
  return ApiStatus::of({});
}

void Engine::handle_call(Contact& c, std::span<const uint8_t> env) {
  out_.call_signal(c.hex, std::vector<uint8_t>(env.begin() + 1, env.end()));
}

std::optional<Engine::MediaRoute> Engine::media_route(const std::string& contact) {
  ApiError e;
  Contact* c = find_contact(contact, e);
  if (c == nullptr || c->blocked()) {
    return std::nullopt;
  }
  auto it = links_.find(c->best);
  if (it == links_.end()) {
    return std::nullopt;
  }
  const Link& l = *it->second;
  return MediaRoute{l.transport, l.endpoint, l.rel ? l.rel->stats().srtt_ms : l.rtt_ms, path_of(l)};
}

ApiStatus Engine::call_media_key(const std::string& contact, std::span<const uint8_t> call_id,
                                 std::span<uint8_t> key_out) {
  ApiError e;
  Contact* c = find_contact(contact, e);
  if (c == nullptr) {
    return ApiStatus{std::nullopt, e};
  }
  SessionSlot* s = session_of(*c);
  if (s == nullptr) {
    return ApiStatus::fail(sdk::StatusCode::kUnavailable, "no session with the contact yet");
  }
  const sdk::Status st = s->session->derive_media_key(
      bv(call_id), sdk::MutableByteView(key_out.data(), key_out.size()));
  if (!st.is_ok()) {
    return ApiStatus::fail(st.code, "media key: " + std::string(st.text()));
  }
  return ApiStatus::of({});
}

std::optional<std::vector<CallRecord>> Engine::load_calls() {
  std::vector<uint8_t> sealed;
  sdk::VectorSink sink(sealed);
  const sdk::Status st = storage_.get_setting(sdk::StringView(kSettingCalls), sink);
  if (st.code == sdk::StatusCode::kNotFound) {
    return std::vector<CallRecord>{};
  }
  if (!st.is_ok()) {
    out_.log(2, "the call history could not be read: " + std::string(st.text()));
    return std::nullopt; // not "empty": a write now would lose the stored calls
  }
  auto plain = open(kCallsLabel, {}, sealed);
  if (!plain) {
    out_.log(2, "the stored call history does not open; starting a new one");
    return {};
  }
  auto records = decode_calls(*plain);
  wire::wipe(*plain);
  if (!records) {
    out_.log(2, "the stored call history is malformed; starting a new one");
    return {};
  }
  return *records;
}

ApiStatus Engine::store_call(const CallRecord& record) {
  if (!unlocked_) {
    return ApiStatus::fail(sdk::StatusCode::kClosed, "the identity is locked");
  }
  std::optional<std::vector<CallRecord>> loaded = load_calls();
  if (!loaded) {
    return ApiStatus::fail(sdk::StatusCode::kIoError, "the call history could not be read");
  }
  std::vector<CallRecord>& records = *loaded;
  records.push_back(record);
  if (records.size() > kMaxCallRecords) {
    records.erase(records.begin(),
                  records.begin() + static_cast<std::ptrdiff_t>(records.size() - kMaxCallRecords));
  }
  std::vector<uint8_t> plain = encode_calls(records);
  std::vector<uint8_t> sealed = seal(kCallsLabel, {}, plain);
  wire::wipe(plain);
  if (sealed.empty() || !txn()) {
    return ApiStatus::fail(sdk::StatusCode::kIoError, "the call history was not stored");
  }
  const sdk::Status st = storage_.put_setting(sdk::StringView(kSettingCalls), bv(sealed));
  if (!st.is_ok()) {
    storage_failed("put_setting", st);
    return ApiStatus{std::nullopt, api_error(st, "storing the call history")};
  }
  return ApiStatus::of({});
}

ApiResult<std::vector<CallRecord>> Engine::call_history(const std::string& contact,
                                                        uint32_t limit) {
  if (!unlocked_) {
    return ApiResult<std::vector<CallRecord>>::fail(sdk::StatusCode::kClosed,
                                                    "the identity is locked");
  }
  std::string hex; // the contact's id as stored: lowercase
  if (!contact.empty()) {
    ApiError e;
    const Contact* c = find_contact(contact, e);
    if (c == nullptr) {
      return ApiResult<std::vector<CallRecord>>{std::nullopt, e};
    }
    hex = c->hex;
  }
  std::optional<std::vector<CallRecord>> loaded = load_calls();
  if (!loaded) {
    return ApiResult<std::vector<CallRecord>>::fail(sdk::StatusCode::kIoError,
                                                    "the call history could not be read");
  }
  std::vector<CallRecord>& all = *loaded;
  std::vector<CallRecord> out;
  for (auto it = all.rbegin(); it != all.rend() && out.size() < limit; ++it) {
    if (hex.empty() || it->contact == hex) {
      out.push_back(std::move(*it));
    }
  }
  return ApiResult<std::vector<CallRecord>>::of(std::move(out));
}

} // namespace entre
