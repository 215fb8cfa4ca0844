// org.example.transport.unix: frames between nodes on one machine, over Unix datagram sockets.
//
// A third-party transport plugin, built out of the Entre tree against the installed SDK only.
// Each instance binds one socket at a path of its choosing; a peer is reached at the path it
// bound, so the endpoint a frame came from is the endpoint to answer to.
//
// Endpoints: "unix:<absolute path>", the path 1 to 107 bytes (the size of sun_path) of printable
// ASCII without spaces (transport.hpp, endpoint rules). Every endpoint is on this machine, so the
// transport sets kTransportLocalOnly: a node with network_scope = "private" accepts them.
//
// Settings (the plugin's [plugins.config] table), all read in the factory:
//   path               required   where to bind; relative to the instance's data directory
//                                 unless absolute. A socket left there by an earlier run is
//                                 replaced; any other file is an error.
//   max_payload_bytes  8192       largest frame sent or accepted
//                                 (sdk::kTransportMinPayloadBytes to 65000)
//
// Threading: send() may run on any loop thread; one receive is in flight at a time, so callbacks
// never overlap. stop() waits for a callback in progress, and none starts after it.
#include <entre/sdk/plugin.hpp>
#include <entre/sdk/transport.hpp>

#include <boost/asio/local/datagram_protocol.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace example {

namespace sdk = entre::sdk;
using Protocol = boost::asio::local::datagram_protocol;

constexpr std::string_view kScheme = "unix";
constexpr std::size_t kMaxPathBytes = sizeof(sockaddr_un{}.sun_path) - 1;
constexpr int64_t kDefaultMaxPayload = 8192;
constexpr int64_t kLargestPayload = 65000;

bool printable_without_spaces(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The socket path of "unix:/abs/path", or "" when the endpoint is not one.
std::string path_of(std::string_view endpoint) {
  if (endpoint.size() <= kScheme.size() + 1 || !endpoint.starts_with(kScheme) ||
      endpoint[kScheme.size()] != ':') {
    return {};
  }
  const std::string_view path = endpoint.substr(kScheme.size() + 1);
  if (path.front() != '/' || path.size() > kMaxPathBytes || !printable_without_spaces(path)) {
    return {};
  }
  return std::string(path);
}

struct Settings {
  std::string path;
  uint32_t max_payload_bytes = 0;
};

sdk::Status setting_error(const sdk::ConfigView& config, const char* key, const std::string& why) {
  const std::string where(config.location(sdk::StringView(key)).str());
  return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                            std::string(key) + ": " + why + (where.empty() ? "" : " at " + where));
}

sdk::Status read_settings(const sdk::ConfigView& config, std::string_view data_dir, Settings& out) {
  const auto path = config.get_string("path");
  if (!path.is_ok()) {
    return path.status.code == sdk::StatusCode::kNotFound
               ? sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                                    "path: required (where to bind the socket)")
               : path.status;
  }
  out.path = std::string(path.value.str());
  if (!out.path.empty() && out.path.front() != '/') {
    out.path = std::string(data_dir) + "/" + out.path;
  }
  if (out.path.empty() || out.path.size() > kMaxPathBytes || !printable_without_spaces(out.path)) {
    return setting_error(config, "path",
                         "must name a socket path of at most " + std::to_string(kMaxPathBytes) +
                             " bytes of printable ASCII without spaces");
  }
  const auto payload = config.get_int_or("max_payload_bytes", kDefaultMaxPayload);
  if (!payload.is_ok()) {
    return payload.status;
  }
  if (payload.value < sdk::kTransportMinPayloadBytes || payload.value > kLargestPayload) {
    return setting_error(config, "max_payload_bytes",
                         "must be between " + std::to_string(sdk::kTransportMinPayloadBytes) +
                             " and " + std::to_string(kLargestPayload));
  }
  out.max_payload_bytes = static_cast<uint32_t>(payload.value);
  return sdk::Status::ok();
}

// What the receive handlers share with the transport object; it lives until the last handler is
// done, so a handler that completes after stop() finds `stopped` instead of freed memory.
struct State {
  explicit State(boost::asio::io_context& io) : socket(io) {}

  // Held while a callback runs, by send() and by stop(); recursive so that a kernel that sends
  // from inside a callback does not deadlock.
  std::recursive_mutex mu;
  Protocol::socket socket;
  sdk::TransportEvents* events = nullptr;
  bool stopped = true;
  std::vector<uint8_t> buffer;
  Protocol::endpoint sender;
};

void receive(const std::shared_ptr<State>& state) {
  state->socket.async_receive_from(
      boost::asio::buffer(state->buffer), state->sender,
      [state](const boost::system::error_code& error, std::size_t size) {
        std::lock_guard lock(state->mu);
        if (state->stopped) {
          return;
        }
        // MSG_TRUNC is not asked for: a datagram longer than the buffer (max_payload_bytes + 1)
        // arrives cut to the buffer's size, which marks it as oversized.
        if (!error && size < state->buffer.size() && state->sender.path().size() != 0) {
          const std::string from = std::string(kScheme) + ":" + state->sender.path();
          if (path_of(from) == state->sender.path()) {
            state->events->on_frame(sdk::StringView(from),
                                    sdk::ByteView(state->buffer.data(), size));
          }
        }
        receive(state);
      });
}

class UnixTransport final : public sdk::Plugin, public sdk::Transport {
 public:
  UnixTransport(sdk::Host& host, Settings settings)
      : host_(host), settings_(std::move(settings)),
        state_(std::make_shared<State>(host.io_context())) {}

  void* query_interface(sdk::InterfaceId id) noexcept override {
    return id == sdk::InterfaceId::kTransportV1 ? static_cast<sdk::Transport*>(this) : nullptr;
  }
  void destroy() noexcept override { delete this; }

  sdk::TransportInfo info() const noexcept override {
    sdk::TransportInfo info{};
    std::memcpy(info.scheme, kScheme.data(), kScheme.size());
    info.flags = sdk::kTransportLocalOnly;
    info.max_payload_bytes = settings_.max_payload_bytes;
    return info;
  }

  sdk::Status start(sdk::TransportEvents& events) noexcept override {
    try {
      struct stat existing {};
      if (::lstat(settings_.path.c_str(), &existing) == 0) {
        if (!S_ISSOCK(existing.st_mode)) {
          return sdk::Status::error(sdk::StatusCode::kIoError,
                                    "unix: " + settings_.path + " exists and is not a socket");
        }
        ::unlink(settings_.path.c_str()); // left by an earlier run
      }
      std::lock_guard lock(state_->mu);
      state_->socket.open();
      state_->socket.bind(Protocol::endpoint(settings_.path));
      state_->socket.non_blocking(true);
      state_->buffer.resize(std::size_t{settings_.max_payload_bytes} + 1);
      state_->events = &events;
      state_->stopped = false;
      bound_.store(true);
      receive(state_);
    } catch (const std::exception& error) {
      return sdk::Status::error(sdk::StatusCode::kIoError,
                                "unix: cannot bind " + settings_.path + ": " + error.what());
    }
    host_.log(sdk::LogLevel::kInfo, sdk::StringView("unix: bound " + settings_.path));
    return sdk::Status::ok();
  }

  void stop() noexcept override {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) {
      return;
    }
    state_->stopped = true;
    boost::system::error_code ignored;
    state_->socket.close(ignored);
    ::unlink(settings_.path.c_str());
  }

  sdk::Status send(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    const std::string path = path_of(endpoint.str());
    if (path.empty()) {
      return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                                "unix: not an endpoint of the form unix:/absolute/path");
    }
    if (frame.size > settings_.max_payload_bytes) {
      return sdk::Status::error(sdk::StatusCode::kOutOfRange, "unix: frame over max_payload_bytes");
    }
    if (frame.size == 0) {
      return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "unix: empty frame");
    }
    std::lock_guard lock(state_->mu);
    if (state_->stopped) {
      return sdk::Status::error(sdk::StatusCode::kClosed, "unix: stopped");
    }
    sockaddr_un to{};
    to.sun_family = AF_UNIX;
    std::memcpy(to.sun_path, path.data(), path.size());
    const ssize_t sent = ::sendto(state_->socket.native_handle(), frame.data, frame.size,
                                  MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    if (sent >= 0) {
      return sdk::Status::ok();
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      return sdk::Status::error(sdk::StatusCode::kUnavailable, "unix: the receiver is full");
    }
    // No socket at that path (any more): like a datagram to a closed port, it is lost.
    return sdk::Status::ok();
  }

  sdk::Status local_endpoints(sdk::ByteSink& out) const noexcept override {
    if (!bound_.load()) {
      return sdk::Status::ok();
    }
    const std::string endpoint = std::string(kScheme) + ":" + settings_.path;
    return out.append(sdk::StringView(endpoint))
               ? sdk::Status::ok()
               : sdk::Status::error(sdk::StatusCode::kBufferTooSmall, "unix: endpoint too long");
  }

 private:
  ~UnixTransport() override { stop(); }

  sdk::Host& host_;
  const Settings settings_;
  std::shared_ptr<State> state_;
  std::atomic<bool> bound_{false}; // read by local_endpoints() from any thread
};

sdk::Status create(sdk::Host& host, sdk::Plugin** out) {
  Settings settings;
  const sdk::Status read = read_settings(host.config(), host.data_dir().str(), settings);
  if (!read.is_ok()) {
    return read;
  }
  *out = new (std::nothrow) UnixTransport(host, std::move(settings));
  return *out != nullptr ? sdk::Status::ok()
                         : sdk::Status::error(sdk::StatusCode::kInternal, "out of memory");
}

} // namespace example

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kTransport, "org.example.transport.unix", "1.0.0",
                      "frames between nodes on one machine over Unix datagram sockets");
ENTRE_PLUGIN_FACTORY(example::create);
