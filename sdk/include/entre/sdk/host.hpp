// The host: what the kernel offers a plugin.
//
// Contract
// - The kernel creates one Host per plugin instance and passes it to the plugin's factory. The Host
//   outlives every object the plugin creates; the plugin never deletes it.
// - Threading: log() and config() may be called from any thread. io_context() is the kernel's one
//   event loop, run by a small thread pool: handlers posted to it may run on any of those threads,
//   so a plugin that keeps shared state uses a strand. A plugin never runs its own loop for network
//   I/O and never blocks a loop thread (no disk, no key derivation, no sleeping): blocking work
//   goes to post_blocking(), which runs it on the kernel's worker pool.
// - Errors: config getters return a Result whose status is kNotFound when the key is absent and
//   kInvalidArgument when it has another type; the message names the key and its file:line:column.
// - Config keys are dotted paths inside the plugin's own `config` table of the profile
//   (`[plugins.config]`), e.g. "bind" or "limits.max_frame_bytes". A plugin reads all of its keys
//   in its factory: any key present in the table that the plugin never asked for is reported to the
//   admin as an unknown key (with a "did you mean" suggestion) and the plugin is refused.
// - Strings returned by config() stay valid until the plugin is destroyed.
//
// Boost.Asio's io_context is the one Boost type that crosses the boundary; the manifest records the
// Boost version a plugin was built with and the loader refuses any other.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>
#include <entre/sdk/version.hpp>

#include <cstdint>

namespace boost::asio {
class io_context;
}

namespace entre::sdk {

enum class LogLevel : uint32_t { kTrace = 0, kDebug = 1, kInfo = 2, kWarn = 3, kError = 4 };

class ConfigView {
 public:
  [[nodiscard]] virtual bool has(StringView key) const noexcept = 0;
  [[nodiscard]] virtual Result<int64_t> get_int(StringView key) const noexcept = 0;
  [[nodiscard]] virtual Result<double> get_double(StringView key) const noexcept = 0;
  [[nodiscard]] virtual Result<bool> get_bool(StringView key) const noexcept = 0;
  [[nodiscard]] virtual Result<StringView> get_string(StringView key) const noexcept = 0;
  // Arrays of strings: the number of elements (kNotFound / kInvalidArgument as above) and one
  // element.
  [[nodiscard]] virtual Result<uint64_t> get_array_size(StringView key) const noexcept = 0;
  [[nodiscard]] virtual Result<StringView> get_string_at(StringView key,
                                                         uint64_t index) const noexcept = 0;
  // "file:line:column" of the key in the profile, for a plugin's own error messages; empty if the
  // key is absent.
  [[nodiscard]] virtual StringView location(StringView key) const noexcept = 0;

  // Typed helpers with defaults; a present key of the wrong type is still an error.
  [[nodiscard]] Result<int64_t> get_int_or(StringView key, int64_t fallback) const noexcept {
    return has(key) ? get_int(key) : Result<int64_t>::of(fallback);
  }
  [[nodiscard]] Result<bool> get_bool_or(StringView key, bool fallback) const noexcept {
    return has(key) ? get_bool(key) : Result<bool>::of(fallback);
  }
  [[nodiscard]] Result<StringView> get_string_or(StringView key,
                                                 StringView fallback) const noexcept {
    return has(key) ? get_string(key) : Result<StringView>::of(fallback);
  }

 protected:
  ~ConfigView() = default;
};

// A unit of blocking work for the worker pool. The kernel calls run() once on a worker thread, then
// done() once on the event loop, then never touches the object again; the plugin owns it.
class BlockingTask {
 public:
  virtual void run() noexcept = 0;
  virtual void done() noexcept = 0;

 protected:
  ~BlockingTask() = default;
};

class Host {
 public:
  // Writes to the kernel's log, prefixed with the plugin id. Never pass secrets or message content.
  virtual void log(LogLevel level, StringView message) noexcept = 0;
  [[nodiscard]] virtual const ConfigView& config() const noexcept = 0;
  // A directory private to this plugin instance, for files it keeps: created by the kernel before
  // the factory runs, except under `entre-host --check`, which only names it (the factory must
  // not write there; see plugin.hpp).
  [[nodiscard]] virtual StringView data_dir() const noexcept = 0;
  [[nodiscard]] virtual boost::asio::io_context& io_context() noexcept = 0;
  // Runs `task` on the worker pool. Returns kClosed if the node is shutting down (task not run).
  virtual Status post_blocking(BlockingTask& task) noexcept = 0;
  [[nodiscard]] virtual AbiVersion kernel_abi() const noexcept = 0;
  // The id under which the profile loaded this plugin.
  [[nodiscard]] virtual StringView plugin_id() const noexcept = 0;

 protected:
  ~Host() = default;
};

} // namespace entre::sdk
