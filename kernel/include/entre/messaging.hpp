// Messaging values of the kernel's public API: contacts, messages, delivery states and results.
//
// Contract
// - Every type here is a plain value: copying or keeping one never touches the node.
// - Contacts are named by their id: the lowercase hex of the contact's public key (64 characters
//   with crypto-sodium). Messages are named by their id: 32 lowercase hex characters, 128 bits
//   made by the sender (its clock in milliseconds, then 80 random bits; docs/protocol.md). Treat
//   an id as opaque: its order says nothing that a message's order does not.
// - Text is UTF-8 and at most kMaxMessageTextBytes bytes; send() refuses longer text.
#pragma once

#include <entre/sdk/status.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace entre {

inline constexpr std::size_t kMaxMessageTextBytes = 64 * 1024;
inline constexpr std::size_t kMaxDisplayNameBytes = 256;

// The states a message goes through, in order. Outgoing messages start queued (stored, waiting for
// a link), become sent (handed to a link), delivered (the peer stored it and acknowledged it) and
// read (the peer's user read it). Incoming messages start delivered and become read when mark_read
// covers them.
enum class MessageState : uint32_t { kQueued = 1, kSent = 2, kDelivered = 3, kRead = 4 };

[[nodiscard]] const char* message_state_name(MessageState state);

struct ContactInfo {
  std::string id;   // hex public key
  std::string name; // display name chosen locally
  bool verified = false;
  bool blocked = false;
  bool online = false; // a confirmed link is up
  std::string path;    // the link in use ("udp:...", "relay:..."), empty when offline
  uint32_t rtt_ms = 0; // smoothed round trip of the link in use (0: not measured yet)
  double loss = 0;     // share of that link's packets that had to be sent again (0..1)
  uint64_t unread = 0;
  bool not_added = false; // its node answered but has not added this node (ContactNotAdded)
  int64_t added_ms = 0;   // Unix epoch milliseconds
  std::vector<std::string> endpoints; // where the contact may be reached (from its contact code)
};

struct MessageInfo {
  std::string id;
  std::string contact; // contact id of the conversation
  bool outgoing = false;
  MessageState state = MessageState::kQueued;
  uint64_t order = 0;       // position in the conversation, 1 for the first message
  int64_t timestamp_ms = 0; // the sender's clock
  int64_t local_ms = 0;     // local clock when sent or received
  std::string text;
  std::string path; // incoming: the path it arrived on
};

// An error from the public API: a code and a message that says what went wrong.
struct ApiError {
  sdk::StatusCode code = sdk::StatusCode::kOk;
  std::string message;
};

template <typename T> struct ApiResult {
  std::optional<T> value;
  ApiError error;

  [[nodiscard]] static ApiResult of(T v) { return ApiResult{std::move(v), {}}; }
  [[nodiscard]] static ApiResult fail(sdk::StatusCode code, std::string message) {
    return ApiResult{std::nullopt, ApiError{code, std::move(message)}};
  }
  [[nodiscard]] bool ok() const { return value.has_value(); }
  explicit operator bool() const { return ok(); }
};

using ApiStatus = ApiResult<std::monostate>;

} // namespace entre
