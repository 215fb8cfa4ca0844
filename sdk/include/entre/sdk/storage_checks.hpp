// Argument checks for storage plugins: the limits storage.hpp states, checked the same way by
// every plugin, so that all of them refuse the same inputs with the same codes.
//
// Header-only helpers compiled into each plugin; nothing here crosses the plugin boundary, so this
// file is not part of the ABI. Messages start with the plugin's short name ("sqlite: ...").
#pragma once

#include <entre/sdk/storage.hpp>

#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>

namespace entre::sdk {

class StorageArgChecks {
 public:
  constexpr explicit StorageArgChecks(const char* plugin) noexcept : plugin_(plugin) {}

  // A view may be empty, but a non-empty one needs data.
  [[nodiscard]] Status view(const void* data, uint64_t size, const char* what) const {
    if (data == nullptr && size > 0) {
      return fail(StatusCode::kInvalidArgument, std::string("null ") + what);
    }
    return Status::ok();
  }
  [[nodiscard]] Status contact_key(ByteView key) const {
    if (key.size == 0 || key.size > kMaxContactKeyBytes) {
      return fail(StatusCode::kInvalidArgument, "contact key must be 1 to 1024 bytes");
    }
    return view(key.data, key.size, "contact key");
  }
  [[nodiscard]] Status value(const void* data, uint64_t size, const char* what) const {
    if (size > kMaxStoredValueBytes) {
      return fail(StatusCode::kOutOfRange,
                  std::string(what) + " is larger than kMaxStoredValueBytes");
    }
    return view(data, size, what);
  }
  [[nodiscard]] Status value(ByteView v, const char* what) const {
    return value(v.data, v.size, what);
  }
  [[nodiscard]] Status value(StringView v, const char* what) const {
    return value(v.data, v.size, what);
  }
  [[nodiscard]] Status id(const uint8_t* message_id) const {
    return message_id == nullptr ? fail(StatusCode::kInvalidArgument, "null message id")
                                 : Status::ok();
  }
  [[nodiscard]] Status setting_key(StringView key) const {
    if (key.size == 0 || key.size > kMaxSettingKeyBytes) {
      return fail(StatusCode::kInvalidArgument, "setting key must be 1 to 256 bytes");
    }
    return view(key.data, key.size, "setting key");
  }
  [[nodiscard]] Status direction(MessageDirection d) const {
    if (d != MessageDirection::kOutgoing && d != MessageDirection::kIncoming) {
      return fail(StatusCode::kInvalidArgument, "unknown message direction");
    }
    return Status::ok();
  }
  // 1 to kMaxSuiteIdBytes printable ASCII characters, no spaces.
  [[nodiscard]] static bool suite_id_well_formed(std::string_view suite_id) noexcept {
    if (suite_id.empty() || suite_id.size() > kMaxSuiteIdBytes) {
      return false;
    }
    for (const char c : suite_id) {
      if (c < 0x21 || c > 0x7e) {
        return false;
      }
    }
    return true;
  }

 private:
  [[nodiscard]] Status fail(StatusCode code, std::string_view text) const {
    return Status::error(code, std::string(plugin_) + ": " + std::string(text));
  }
  const char* plugin_;
};

// Runs `body`, turning any exception into a failed Status (or failed Result<T>), so that nothing
// crosses the plugin boundary. `out_of_memory` is a static message (no allocation on that path).
template <typename F>
auto guard_exceptions(const F& body, const char* out_of_memory) noexcept -> decltype(body()) {
  using R = decltype(body());
  auto failure = [](StatusCode code, std::string_view text) -> R {
    if constexpr (std::is_same_v<R, Status>) {
      return Status::error(code, text);
    } else {
      return R::fail(code, text);
    }
  };
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return failure(StatusCode::kUnavailable, out_of_memory);
  } catch (const std::exception& e) {
    return failure(StatusCode::kInternal, e.what());
  }
}

// The first failed Status of several checks, or ok.
template <typename... S> [[nodiscard]] Status first_error(const S&... statuses) {
  Status result = Status::ok();
  ((result.is_ok() && !statuses.is_ok() ? (void)(result = statuses) : (void)0), ...);
  return result;
}

} // namespace entre::sdk
