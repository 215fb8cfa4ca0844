// Status and Result: how every SDK call reports failure.
//
// Contract
// - No exception crosses the plugin boundary. Every fallible SDK call returns a Status (or a
//   Result<T>, a Status plus a value). A plugin catches its own exceptions and turns them into a
//   Status; the kernel does the same for calls into plugins it implements (Host, event sinks).
// - Status is a trivially copyable value: a code and a NUL-terminated message of at most
//   kStatusMessageBytes - 1 bytes, truncated if longer. Messages are for people (logs, error
//   dialogs); programs branch on the code. A message never contains secret material.
// - Result<T> is only defined for trivially copyable T, so it has the same layout on both sides.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace entre::sdk {

enum class StatusCode : uint32_t {
  kOk = 0,
  kInvalidArgument = 1,  // the caller passed something malformed
  kOutOfRange = 2,       // a value or length outside the documented bounds
  kNotFound = 3,         // no such key, contact, device, endpoint
  kAlreadyExists = 4,    // duplicate id or key
  kPermissionDenied = 5, // refused by policy (network scope, blocked contact)
  kUnavailable = 6,      // temporarily impossible (link down, device busy); may succeed later
  kIoError = 7,          // the operating system said no (socket, file)
  kCorrupt = 8,          // stored or received data failed an integrity check
  kAuthFailed = 9,       // a MAC, signature or handshake did not verify
  kUnsupported = 10,     // valid request this implementation does not offer
  kBufferTooSmall = 11,  // an output buffer was too small; nothing was written
  kTimeout = 12,         // a deadline passed
  kClosed = 13,          // the object was stopped or closed
  kInternal = 14,        // a bug; the message says where
};

[[nodiscard]] constexpr const char* status_code_name(StatusCode code) noexcept {
  switch (code) {
  case StatusCode::kOk:
    return "ok";
  case StatusCode::kInvalidArgument:
    return "invalid argument";
  case StatusCode::kOutOfRange:
    return "out of range";
  case StatusCode::kNotFound:
    return "not found";
  case StatusCode::kAlreadyExists:
    return "already exists";
  case StatusCode::kPermissionDenied:
    return "permission denied";
  case StatusCode::kUnavailable:
    return "unavailable";
  case StatusCode::kIoError:
    return "i/o error";
  case StatusCode::kCorrupt:
    return "corrupt";
  case StatusCode::kAuthFailed:
    return "authentication failed";
  case StatusCode::kUnsupported:
    return "unsupported";
  case StatusCode::kBufferTooSmall:
    return "buffer too small";
  case StatusCode::kTimeout:
    return "timeout";
  case StatusCode::kClosed:
    return "closed";
  case StatusCode::kInternal:
    return "internal error";
  }
  return "unknown status";
}

inline constexpr std::size_t kStatusMessageBytes = 120;

struct Status {
  StatusCode code = StatusCode::kOk;
  char message[kStatusMessageBytes] = {};

  [[nodiscard]] static Status ok() noexcept { return Status{}; }

  // Copies `text`, truncating it to fit; never fails.
  [[nodiscard]] static Status error(StatusCode code, std::string_view text) noexcept {
    Status s;
    s.code = code;
    const std::size_t n =
        text.size() < kStatusMessageBytes - 1 ? text.size() : kStatusMessageBytes - 1;
    if (n > 0) {
      std::memcpy(s.message, text.data(), n);
    }
    s.message[n] = '\0';
    return s;
  }

  [[nodiscard]] bool is_ok() const noexcept { return code == StatusCode::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  [[nodiscard]] std::string_view text() const noexcept {
    return std::string_view(message, ::strnlen(message, kStatusMessageBytes));
  }
};

static_assert(std::is_trivially_copyable_v<Status> && std::is_standard_layout_v<Status>);

template <typename T> struct Result {
  static_assert(std::is_trivially_copyable_v<T>, "Result<T> crosses the ABI: T must be POD-like");
  Status status;
  T value{};

  [[nodiscard]] static Result of(T v) noexcept { return Result{Status::ok(), v}; }
  [[nodiscard]] static Result fail(StatusCode code, std::string_view text) noexcept {
    return Result{Status::error(code, text), T{}};
  }
  [[nodiscard]] bool is_ok() const noexcept { return status.is_ok(); }
  explicit operator bool() const noexcept { return status.is_ok(); }
};

} // namespace entre::sdk
