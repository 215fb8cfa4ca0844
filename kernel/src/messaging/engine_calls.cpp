// The messaging engine's part in calls: call signals over the best link, the route and key of a
// call's media, and the call history (one sealed setting).
#include "calls/call_history.hpp"
#include "messaging/engine_internal.hpp"

#include <algorithm>

namespace entre {

using namespace engine_detail;
using calls::decode_calls;
using calls::encode_calls;
using calls::kMaxCallRecords;

namespace {

constexpr std::string_view kSettingCalls = "calls.history";
constexpr std::string_view kCallsLabel = "entre calls v1";

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
  return MediaRoute{l.transport, l.endpoint, l.rtt_ms, path_of(l)};
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
    return std::vector<CallRecord>{}; // not `return {}`: that is nullopt, "could not be read"
  }
  auto records = decode_calls(*plain);
  wire::wipe(*plain);
  if (!records) {
    out_.log(2, "the stored call history is malformed; starting a new one");
    return std::vector<CallRecord>{};
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
