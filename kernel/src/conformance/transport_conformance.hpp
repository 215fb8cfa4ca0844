// A generic conformance suite for transports, driven through the SDK interface only
// (sdk::Transport, sdk::TransportEvents). It runs on transport plugins (entre-plugin-check
// --conformance, the plugins' own tests) and on the kernel's SimTransport, which proves its own
// conformance with it.
//
// What it checks, each check with fresh instances:
//   info_is_sane                         scheme non-empty, NUL-terminated, no ':'; max payload at
//                                        least sdk::kTransportMinPayloadBytes (117)
//   local_endpoint_has_the_scheme        local_endpoints() gives "<scheme>:..." endpoints, each
//                                        1-200 bytes of printable ASCII without spaces
//   frame_arrives_with_a_replyable_sender  A -> B arrives intact; B replies to the endpoint it was
//                                          told and A gets the reply from B's endpoint
//   distinct_senders_are_told_apart      A and B -> C: C sees two endpoints, replies reach the
//                                        right sender
//   max_payload_frame_arrives_intact     a frame of exactly max_payload_bytes
//   oversized_frame_is_refused           max + 1 (and far more) -> kOutOfRange
//   empty_frame_is_consistent            an empty frame is either always accepted and delivered as
//                                        an empty frame, or always refused (kInvalidArgument or
//                                        kOutOfRange); never delivered as something else
//   unparsable_endpoints_are_refused     kInvalidArgument for "", "<scheme>", "<scheme>:", another
//                                        scheme, junk or a NUL after a valid endpoint, ...
//   burst_arrives_without_duplicates_or_corruption  1,000 frames of varied sizes; a datagram
//                                        transport may lose up to 2% (loopback), a reliable one
//                                        nothing and keeps the order; no duplicate, no changed
//                                        byte, nothing over max_payload_bytes, no concurrent
//                                        callbacks
//   send_after_stop_is_closed            kClosed
//   no_callback_after_stop               frames in flight when stop() returns are never reported
//   stop_is_idempotent                   a second and third stop() are harmless
#pragma once

#include "conformance/conformance.hpp"

#include <entre/sdk/crypto.hpp>
#include <entre/sdk/transport.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
}

namespace entre {

class LoadedLibrary;
class Runtime;
class ScratchDirectory;

// How the suite gets instances of the transport under test, and lets them work.
class TransportFactory {
 public:
  // Owns one instance; destroying it destroys the transport object. The suite stops the transport
  // (on the loop) before it lets go, and keeps its TransportEvents alive until then.
  using Instance = std::unique_ptr<sdk::Transport, std::function<void(sdk::Transport*)>>;

  struct StartedTransport {
    Instance transport;
    std::string endpoint; // where the other instances reach this one
  };

  virtual ~TransportFactory() = default;

  // Creates a fresh instance bound to loopback (or the transport's equivalent), starts it with
  // `events` on the loop and fills `out`. Called off the loop.
  [[nodiscard]] virtual sdk::Status create_started(sdk::TransportEvents& events,
                                                   StartedTransport& out) = 0;
  // Runs `fn` where transports may be used (an event-loop thread) and returns once it has run.
  virtual void run_on_loop(const std::function<void()>& fn) = 0;
  // Lets the transports work until `done()` is true or `timeout_ms` have passed (real time, or the
  // transport's own clock); returns the last value of done(). `done` may be called from any
  // thread.
  [[nodiscard]] virtual bool wait_until(const std::function<bool()>& done, uint32_t timeout_ms) = 0;
};

// The first line of t.local_endpoints(), or "" if there is none. Call it on the loop.
[[nodiscard]] std::string first_local_endpoint(const sdk::Transport& t);

// `config_toml` with every "{instance}" replaced by `instance` (decimal) and every "{data_dir}" by
// `data_dir`, as plain text: a transport bound to a fixed name (a Unix socket path, a named
// pipe) gets a distinct one per instance, e.g. `path = "{data_dir}/sock"`.
[[nodiscard]] std::string expand_transport_config(std::string_view config_toml, uint32_t instance,
                                                  const std::filesystem::path& data_dir);

// Instances of a loaded transport plugin, each created by the plugin's factory with its own Host
// whose config table is `config_toml` (e.g. `bind = "127.0.0.1:0"` for transport-udp) expanded by
// expand_transport_config() for that instance, on `runtime`'s loop, which must be running. Each
// instance gets its own data directory (Host::data_dir()): a fresh subdirectory "instance-<n>" of
// a scratch directory the factory makes under the system's temporary directory and removes when
// it is destroyed. Instances are numbered from 1 in the order they are made. The endpoint given to
// the suite is the first of local_endpoints(). Instances are destroyed off the loop, before this
// factory.
// A relayed transport (kTransportRelayed) gets a fresh identity made with `identities` (required
// for such transports) attached after start, and counts as started once it reports its own link up.
class PluginTransportFactory final : public TransportFactory {
 public:
  PluginTransportFactory(std::shared_ptr<const LoadedLibrary> library, Runtime& runtime,
                         std::string config_toml, std::shared_ptr<spdlog::logger> logger = nullptr,
                         sdk::CryptoSuite* identities = nullptr);
  ~PluginTransportFactory() override;

  [[nodiscard]] sdk::Status create_started(sdk::TransportEvents& events,
                                           StartedTransport& out) override;
  void run_on_loop(const std::function<void()>& fn) override;
  [[nodiscard]] bool wait_until(const std::function<bool()>& done, uint32_t timeout_ms) override;

 private:
  std::shared_ptr<const LoadedLibrary> library_;
  Runtime& runtime_;
  std::string config_toml_;
  std::shared_ptr<spdlog::logger> logger_;
  sdk::CryptoSuite* identities_;
  std::unique_ptr<ScratchDirectory> scratch_;
  uint32_t instances_ = 0;
};

// Runs every check; each reports its name, whether it passed, and why not.
[[nodiscard]] std::vector<ConformanceCheck> run_transport_conformance(TransportFactory& factory);

} // namespace entre
