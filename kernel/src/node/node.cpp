#include <entre/node.hpp>

#include "calls/call_service.hpp"
#include "loader/loader.hpp"
#include "messaging/wire.hpp"
#include "node/event_queue.hpp"
#include "node/identity_proof.hpp"
#include "node/logging.hpp"
#include "node/messenger_thread.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "profile/config_view.hpp"
#include "profile/profile.hpp"

#include <entre/passphrase.hpp>
#include <entre/sdk/audio.hpp>
#include <entre/sdk/codec.hpp>
#include <entre/sdk/crypto.hpp>
#include <entre/sdk/discovery.hpp>
#include <entre/sdk/storage.hpp>
#include <entre/sdk/transport.hpp>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <system_error>

namespace entre {

namespace {

sdk::InterfaceId interface_for(sdk::PluginKind kind) {
  switch (kind) {
  case sdk::PluginKind::kTransport:
    return sdk::InterfaceId::kTransportV1;
  case sdk::PluginKind::kCrypto:
    return sdk::InterfaceId::kCryptoSuiteV1;
  case sdk::PluginKind::kCodec:
    return sdk::InterfaceId::kCodecV1;
  case sdk::PluginKind::kStorage:
    return sdk::InterfaceId::kStorageV1;
  case sdk::PluginKind::kAudio:
    return sdk::InterfaceId::kAudioDeviceV1;
  }
  return sdk::InterfaceId::kTransportV1;
}

} // namespace

// Receives a transport's callbacks and turns them into kernel events.
class TransportSink final : public sdk::TransportEvents {
 public:
  TransportSink(std::string plugin_id, EventQueue& events, std::shared_ptr<spdlog::logger> logger,
                MessengerThread* messenger, std::size_t index, calls::CallService* calls,
                PluginHost& host)
      : plugin_id_(std::move(plugin_id)), events_(events), logger_(std::move(logger)),
        messenger_(messenger), index_(index), calls_(calls), host_(host) {}

  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    frames_received_.fetch_add(1, std::memory_order_relaxed);
    try {
      // A call's media frames go straight to the call service, never through the message queue.
      if (calls_ != nullptr && frame.size != 0 && frame.data[0] == calls::kMediaFrameKind) {
        calls_->on_media_frame(endpoint.str(), frame.span(),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
        return;
      }
      if (messenger_ != nullptr) {
        messenger_->post_frame(index_, endpoint.str(), frame.span());
      }
    } catch (...) {
    }
  }
  void on_link(sdk::StringView endpoint, sdk::LinkState state) noexcept override {
    try {
      if (state == sdk::LinkState::kUp) {
        host_.clear_problem();
      }
      events_.push(
          LinkStateChanged{plugin_id_, std::string(endpoint.str()), state == sdk::LinkState::kUp});
    } catch (...) {
    }
  }
  void on_discovered(sdk::StringView endpoint, sdk::ByteView beacon) noexcept override {
    try {
      if (messenger_ != nullptr) {
        messenger_->post_discovered(index_, endpoint.str(), beacon.span());
      }
    } catch (...) {
    }
  }

  [[nodiscard]] uint64_t frames_received() const { return frames_received_.load(); }

 private:
  std::string plugin_id_;
  EventQueue& events_;
  std::shared_ptr<spdlog::logger> logger_;
  MessengerThread* messenger_;
  std::size_t index_;
  calls::CallService* calls_;
  PluginHost& host_;
  std::atomic<uint64_t> frames_received_{0};
};

// Media frames from the call service to the transports, through the messenger's event loop post.
class MediaToTransports final : public calls::MediaSink {
 public:
  explicit MediaToTransports(MessengerThread& messenger) : messenger_(messenger) {}
  void send_media(std::size_t transport, const std::string& endpoint,
                  std::vector<uint8_t> frame) override {
    messenger_.send_direct(transport, endpoint, std::move(frame));
  }

 private:
  MessengerThread& messenger_;
};

struct PluginInstance {
  PluginStatus status;
  sdk::PluginKind kind = sdk::PluginKind::kTransport;
  std::unique_ptr<PluginHost> host;
  std::unique_ptr<TransportSink> sink;
  PluginPtr<sdk::Plugin> root; // destroyed before host and sink
  void* interface = nullptr;
  bool started = false;
  std::size_t engine_index = 0;             // the transport's index in the messaging engine
  sdk::RelayedTransport* relayed = nullptr; // kTransportRelayed transports
  bool attached = false;                    // relayed: holds the node's IdentityProof
};

namespace {

// Loads every plugin the profile names, creates each one's root object with its settings (the
// factory reads and checks them) and checks its interface, without starting anything; then checks
// that each role the profile assigns is filled by a plugin of the matching kind. Returns the
// errors that stop a node (required plugins, roles); optional plugins that fail are logged and
// marked in their status. `create_dirs`: make each plugin's data directory (a check only names
// it).
std::vector<std::string> load_plugins(const Profile& p, bool create_dirs, Runtime& runtime,
                                      const std::shared_ptr<spdlog::logger>& logger,
                                      std::vector<std::shared_ptr<const LoadedLibrary>>& libraries,
                                      std::vector<PluginInstance>& instances) {
  std::vector<std::string> errors;
  PluginLoader loader(PluginLoader::default_search_paths(p.search_paths));
  for (std::size_t index = 0; index < p.plugins.size(); ++index) {
    const PluginEntry& entry = p.plugins[index];
    PluginInstance inst;
    inst.status.id = entry.id;
    inst.status.required = entry.required;

    auto fail = [&](const std::string& why) {
      inst.status.error = why;
      if (entry.required) {
        errors.push_back(why);
        logger->error("required plugin {} refused: {}", entry.id, why);
      } else {
        logger->warn("optional plugin {} skipped: {}", entry.id, why);
      }
    };

    LoadOutcome outcome = loader.load(entry.id, entry.file);
    if (!outcome.library) {
      inst.status.file = outcome.failure->file;
      fail(outcome.failure->str());
      instances.push_back(std::move(inst));
      continue;
    }
    const LoadedLibrary& lib = *outcome.library;
    libraries.push_back(outcome.library);
    inst.kind = lib.manifest().kind;
    inst.status.file = lib.file();
    inst.status.version = lib.manifest().version;
    inst.status.summary = lib.manifest().summary;
    inst.status.kind = sdk::plugin_kind_name(lib.manifest().kind);

    const std::filesystem::path plugin_dir = p.node->data_dir / "plugins" / entry.id;
    std::error_code ec;
    if (create_dirs) {
      std::filesystem::create_directories(plugin_dir, ec);
    }
    if (ec) {
      fail(plugin_dir.string() + ": cannot create the plugin's data directory: " + ec.message());
      instances.push_back(std::move(inst));
      continue;
    }
    inst.host = std::make_unique<PluginHost>(
        entry.id, std::make_unique<TomlConfigView>(entry.config, p.source.string(), index),
        plugin_dir, runtime, logger);

    sdk::Plugin* root = nullptr;
    sdk::Status st = lib.factory()(*inst.host, &root);
    if (!st.is_ok() || root == nullptr) {
      if (root != nullptr) {
        PluginPtr<sdk::Plugin>(root, outcome.library).reset();
      }
      const std::string why =
          st.is_ok() ? std::string("the factory returned no object") : std::string(st.text());
      fail(lib.file().string() + ": " + load_error_name(LoadError::kFactoryFailed) + ": " + why);
      instances.push_back(std::move(inst));
      continue;
    }
    inst.root = PluginPtr<sdk::Plugin>(root, outcome.library);

    std::vector<ProfileError> unknown = inst.host->config_view().unread_keys();
    if (!unknown.empty()) {
      std::string why;
      for (const auto& e : unknown) {
        why += (why.empty() ? "" : "; ") + e.str();
      }
      inst.root.reset();
      fail(why);
      instances.push_back(std::move(inst));
      continue;
    }

    inst.interface = root->query_interface(interface_for(inst.kind));
    if (inst.interface == nullptr) {
      inst.root.reset();
      fail(lib.file().string() + ": " + load_error_name(LoadError::kInterfaceMissing) + ": a " +
           inst.status.kind + " plugin must offer the " + inst.status.kind +
           " interface v1 through query_interface");
      instances.push_back(std::move(inst));
      continue;
    }
    if (inst.kind == sdk::PluginKind::kTransport) {
      const uint32_t max_payload =
          static_cast<sdk::Transport*>(inst.interface)->info().max_payload_bytes;
      if (max_payload < sdk::kTransportMinPayloadBytes) {
        inst.root.reset();
        inst.interface = nullptr;
        fail(lib.file().string() + ": the transport's max_payload_bytes is " +
             std::to_string(max_payload) + ", below the " +
             std::to_string(sdk::kTransportMinPayloadBytes) +
             " bytes of the largest frame the kernel cannot split (a link's first handshake "
             "message): it could never link; raise its max_payload_bytes");
        instances.push_back(std::move(inst));
        continue;
      }
    }
    inst.status.loaded = true;
    logger->info("loaded {} {} ({}) from {}", entry.id, inst.status.version, inst.status.kind,
                 lib.file().string());
    instances.push_back(std::move(inst));
  }

  // Each role the profile assigns must be filled by a plugin of the matching kind.
  auto check_role = [&](const std::string& id, sdk::PluginKind want, const char* key) {
    for (const auto& inst : instances) {
      if (inst.status.id == id && inst.status.loaded && inst.kind != want) {
        errors.push_back(inst.status.file.string() + ": " +
                         load_error_name(LoadError::kKindMismatch) + ": " + key + " names '" + id +
                         "', a " + inst.status.kind + " plugin, where a " +
                         sdk::plugin_kind_name(want) + " plugin is needed");
      }
    }
  };
  for (const auto& id : p.transport.order) {
    check_role(id, sdk::PluginKind::kTransport, "transport.order");
  }
  for (const auto& id : p.codec.preferred) {
    check_role(id, sdk::PluginKind::kCodec, "codec.preferred");
  }
  if (!p.crypto.suite.empty()) {
    check_role(p.crypto.suite, sdk::PluginKind::kCrypto, "crypto.suite");
  }
  if (!p.storage.plugin.empty()) {
    check_role(p.storage.plugin, sdk::PluginKind::kStorage, "storage.plugin");
  }
  if (!p.audio.plugin.empty()) {
    check_role(p.audio.plugin, sdk::PluginKind::kAudio, "audio.plugin");
  }

  return errors;
}

} // namespace

struct Node::Impl {
  Profile profile;
  std::shared_ptr<spdlog::logger> logger;
  // Declared before the runtime and the instances so that libraries unload last: after every
  // plugin object is destroyed and after the io_context has destroyed any handler plugin code left.
  std::vector<std::shared_ptr<const LoadedLibrary>> libraries;
  Runtime runtime;
  std::vector<PluginInstance> instances;
  EventQueue events{Node::kEventQueueLimit};
  std::unique_ptr<KernelIdentityProof> proof; // outlives every attach (destroyed after the plugins)
  std::unique_ptr<MessengerThread> messenger; // stopped and destroyed before the plugins
  std::unique_ptr<MediaToTransports> media_sink;
  std::unique_ptr<calls::CallService> calls; // destroyed after the messenger, before the plugins
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> recent; // the latest log lines, for frontends
  mutable std::mutex mu;
  bool started = false;

  // On a loop thread: hands the unlocked identity to every started relayed transport, or takes it
  // back from all of them (`on` false).
  void attach_relayed(bool on) {
    for (auto& inst : instances) {
      const bool attach = on && inst.started && proof && proof->ready();
      if (inst.relayed == nullptr || attach == inst.attached) {
        continue;
      }
      inst.relayed->attach(attach ? proof.get() : nullptr);
      inst.attached = attach;
      logger->info("transport {} {} the node's identity", inst.status.id,
                   attach ? "was given" : "gave back");
    }
  }

  // Runs `open` (create or unlock the identity) on the messenger thread; on success hands the
  // identity to the IdentityProof there, then to the relayed transports on the loop.
  ApiStatus unlock_with(const std::function<ApiStatus(Engine&)>& open) {
    KernelIdentityProof* kept = proof.get();
    ApiStatus st = call<std::monostate>([&](Engine& e) {
      ApiStatus r = open(e);
      if (r.ok()) {
        kept->set(e.identity_secret(), e.my_key());
      }
      return r;
    });
    std::lock_guard lock(mu);
    if (st.ok() && started) {
      runtime.run_on_loop([this] { attach_relayed(true); });
    }
    return st;
  }

  template <typename T> ApiResult<T> call(std::function<ApiResult<T>(Engine&)> fn) {
    if (!messenger) {
      return ApiResult<T>::fail(sdk::StatusCode::kUnavailable,
                                "messaging needs a crypto suite and a storage plugin in the "
                                "profile ([crypto] suite, [storage] plugin)");
    }
    return messenger->call<ApiResult<T>>(
        std::move(fn), ApiResult<T>::fail(sdk::StatusCode::kIoError,
                                          "storage failed or the node is stopping; nothing was "
                                          "changed"));
  }

  template <typename T>
  ApiResult<T> call_service(std::function<ApiResult<T>(calls::CallService&, Engine&)> fn) {
    if (!calls) {
      return call<T>([](Engine&) {
        return ApiResult<T>::fail(sdk::StatusCode::kUnavailable,
                                  "calls need a crypto suite and a storage plugin in the "
                                  "profile ([crypto] suite, [storage] plugin)");
      });
    }
    calls::CallService* service = calls.get();
    return call<T>([&fn, service](Engine& e) {
      if (!e.unlocked()) {
        return ApiResult<T>::fail(sdk::StatusCode::kClosed, "the identity is locked");
      }
      return fn(*service, e);
    });
  }

  Impl(Profile p, std::shared_ptr<spdlog::logger> log)
      : profile(std::move(p)), logger(std::move(log)),
        runtime(profile.node->threads, profile.node->workers) {}

  ~Impl() {
    stop();
    // The messenger thread stops first (no signal or API call reaches the call service any more),
    // then the call service and its media (whose frames still go through the messenger's post),
    // then the messenger itself.
    if (messenger) {
      messenger->stop();
    }
    calls.reset();
    messenger.reset();
    for (auto it = instances.rbegin(); it != instances.rend(); ++it) {
      if (it->root) {
        logger->debug("destroying plugin {}", it->status.id);
        it->root.reset();
      }
    }
    instances.clear();
  }

  // Transports in the profile's preference order, then any others.
  std::vector<PluginInstance*> transports_in_order() {
    std::vector<PluginInstance*> transports;
    for (const auto& id : profile.transport.order) {
      for (auto& inst : instances) {
        if (inst.status.id == id && inst.status.loaded &&
            inst.kind == sdk::PluginKind::kTransport) {
          transports.push_back(&inst);
        }
      }
    }
    for (auto& inst : instances) {
      if (inst.status.loaded && inst.kind == sdk::PluginKind::kTransport &&
          std::find(transports.begin(), transports.end(), &inst) == transports.end()) {
        transports.push_back(&inst);
      }
    }
    return transports;
  }

  void stop() {
    std::lock_guard lock(mu);
    if (!started) {
      return;
    }
    if (calls && messenger) {
      calls::CallService* service = calls.get();
      (void)messenger->call<bool>(
          [service](Engine& e) {
            service->shutdown(e);
            return true;
          },
          false);
    }
    // Goodbyes first, on the loop before the transports stop, so that contacts show this node
    // offline at once.
    const std::vector<MessengerThread::OutFrame> goodbyes =
        messenger ? messenger->farewell() : std::vector<MessengerThread::OutFrame>{};
    runtime.run_on_loop([this, &goodbyes] {
      if (messenger) {
        messenger->send_now(goodbyes);
      }
      attach_relayed(false);
      for (auto it = instances.rbegin(); it != instances.rend(); ++it) {
        if (it->started && it->kind == sdk::PluginKind::kTransport) {
          static_cast<sdk::Transport*>(it->interface)->stop();
          it->started = false;
          events.push(TransportStateChanged{it->status.id, false, {}});
          logger->info("transport {} stopped", it->status.id);
        }
      }
    });
    runtime.stop();
    for (auto& inst : instances) {
      if (inst.host) {
        inst.host->set_problem_sink(nullptr);
      }
    }
    started = false;
  }
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() = default;

NodeCreateResult Node::create(const std::filesystem::path& profile_path) {
  NodeCreateResult result;
  ProfileLoadResult loaded = load_profile_file(profile_path);
  if (!loaded.profile) {
    for (const auto& e : loaded.errors) {
      result.errors.push_back(e.str());
    }
    return result;
  }
  Profile& profile = *loaded.profile;
  if (!profile.node) {
    result.errors.push_back(profile.source.string() +
                            ": the profile has no [node] table (a relay profile is run by "
                            "entre-relay, not by a node)");
    return result;
  }
  std::string log_error;
  auto logger = make_profile_logger(profile, "entre", log_error);
  if (!logger) {
    result.errors.push_back(log_error);
    return result;
  }
  std::error_code ec;
  std::filesystem::create_directories(profile.node->data_dir, ec);
  if (ec) {
    result.errors.push_back(profile.node->data_dir.string() +
                            ": cannot create the data directory: " + ec.message());
    return result;
  }

  auto recent = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(512);
  logger->sinks().push_back(recent);
  auto impl = std::make_unique<Impl>(std::move(profile), logger);
  impl->recent = recent;
  const Profile& p = impl->profile;
  logger->info("node '{}' from profile {}", p.node->name, p.source.string());

  result.errors = load_plugins(p, true, impl->runtime, logger, impl->libraries, impl->instances);

  for (auto& inst : impl->instances) {
    if (inst.status.loaded && inst.kind == sdk::PluginKind::kCodec) {
      const sdk::CodecInfo info = static_cast<sdk::Codec*>(inst.interface)->info();
      const std::string_view name(info.name, ::strnlen(info.name, sizeof info.name));
      logger->info("codec {}: '{}', up to {} channel(s), packets up to {} bytes", inst.status.id,
                   name, info.max_channels, info.max_packet_bytes);
    }
  }

  if (!result.errors.empty()) {
    return result; // impl is destroyed here: objects first, then libraries
  }

  // Messaging: the crypto suite and storage the profile names, and every loaded transport in the
  // profile's preference order.
  sdk::CryptoSuite* crypto = nullptr;
  sdk::Storage* storage = nullptr;
  for (auto& inst : impl->instances) {
    if (!inst.status.loaded) {
      continue;
    }
    if (inst.kind == sdk::PluginKind::kCrypto && inst.status.id == p.crypto.suite) {
      crypto = static_cast<sdk::CryptoSuite*>(inst.interface);
    } else if (inst.kind == sdk::PluginKind::kStorage && inst.status.id == p.storage.plugin) {
      storage = static_cast<sdk::Storage*>(inst.interface);
    }
  }
  if (crypto != nullptr && storage != nullptr) {
    const sdk::Status st = storage->open(crypto->suite_id());
    if (!st.is_ok()) {
      result.errors.push_back(p.storage.plugin +
                              ": cannot open the store: " + std::string(st.text()));
      return result;
    }
    impl->proof = std::make_unique<KernelIdentityProof>(*crypto);
    EngineConfig config;
    config.keepalive_ms = p.transport.keepalive_ms;
    config.link_timeout_ms = p.transport.link_timeout_ms;
    config.kdf.strength = p.crypto.kdf == KdfStrength::kInteractive ? sdk::KdfStrength::kInteractive
                          : p.crypto.kdf == KdfStrength::kSensitive ? sdk::KdfStrength::kSensitive
                                                                    : sdk::KdfStrength::kModerate;
    config.discovery_epoch_ms = uint64_t{p.discovery.epoch_seconds} * 1000;
    config.beacon_entries = p.discovery.beacon_entries;
    config.private_scope = p.node && p.node->network_scope == NetworkScope::kPrivate;
    config.allow_meeting = p.discovery.allow_meeting;
    config.meeting_name = p.node ? p.node->name : std::string();
    Impl* raw = impl.get();
    impl->messenger = std::make_unique<MessengerThread>(
        *crypto, *storage, impl->runtime.io(), config,
        [raw](Event e) { raw->events.push(std::move(e)); },
        [raw](int level, const std::string& message) {
          static constexpr spdlog::level::level_enum kLevels[] = {
              spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err};
          raw->logger->log(kLevels[std::clamp(level, 0, 3)], "{}", message);
        });
    for (PluginInstance* inst : impl->transports_in_order()) {
      auto* transport = static_cast<sdk::Transport*>(inst->interface);
      const uint32_t flags = transport->info().flags;
      sdk::Discovery* discovery =
          (flags & sdk::kTransportDiscovery) != 0
              ? sdk::query<sdk::Discovery>(*inst->root, sdk::InterfaceId::kDiscoveryV1)
              : nullptr;
      if ((flags & sdk::kTransportRelayed) != 0) {
        inst->relayed =
            sdk::query<sdk::RelayedTransport>(*inst->root, sdk::InterfaceId::kRelayedTransportV1);
        if (inst->relayed == nullptr) {
          logger->warn("transport {} says it is relayed but offers no RelayedTransport interface",
                       inst->status.id);
        }
      }
      inst->engine_index =
          impl->messenger->add_transport(transport, inst->status.id, discovery, inst->relayed);
    }
    for (auto& inst : impl->instances) {
      if (inst.status.loaded && inst.kind == sdk::PluginKind::kCrypto &&
          inst.status.id == p.crypto.suite) {
        impl->messenger->enable_discovery(
            sdk::query<sdk::PairwiseKeys>(*inst.root, sdk::InterfaceId::kPairwiseKeysV1));
      }
      if (inst.status.loaded && inst.kind == sdk::PluginKind::kStorage &&
          inst.status.id == p.storage.plugin) {
        impl->messenger->enable_message_paths(
            sdk::query<sdk::MessagePaths>(*inst.root, sdk::InterfaceId::kMessagePathsV1));
      }
    }
    std::vector<calls::CallCodec> codecs;
    for (const auto& id : p.codec.preferred) {
      for (auto& inst : impl->instances) {
        if (inst.status.id == id && inst.status.loaded && inst.kind == sdk::PluginKind::kCodec) {
          auto* codec = static_cast<sdk::Codec*>(inst.interface);
          const sdk::CodecInfo info = codec->info();
          codecs.push_back(
              {id, std::string(info.name, ::strnlen(info.name, sizeof info.name)), codec});
        }
      }
    }
    sdk::AudioDevice* audio = nullptr;
    for (auto& inst : impl->instances) {
      if (inst.status.loaded && inst.kind == sdk::PluginKind::kAudio &&
          inst.status.id == p.audio.plugin) {
        audio = static_cast<sdk::AudioDevice*>(inst.interface);
      }
    }
    calls::CallServiceConfig cc;
    cc.frame_ms = p.codec.frame_ms;
    cc.bitrate_bps = p.codec.bitrate_bps;
    cc.fec = p.codec.fec;
    cc.dtx = p.codec.dtx;
    cc.capture_device = p.audio.capture_device;
    cc.playback_device = p.audio.playback_device;
    cc.private_scope = config.private_scope;
    for (PluginInstance* inst : impl->transports_in_order()) {
      const sdk::TransportInfo info = static_cast<sdk::Transport*>(inst->interface)->info();
      if ((info.flags & sdk::kTransportLocalOnly) != 0) {
        cc.local_only_schemes.emplace_back(info.scheme, ::strnlen(info.scheme, sizeof info.scheme));
      }
    }
    impl->media_sink = std::make_unique<MediaToTransports>(*impl->messenger);
    impl->calls = std::make_unique<calls::CallService>(
        std::move(codecs), audio, *crypto, cc, *impl->media_sink,
        [raw](Event e) { raw->events.push(std::move(e)); },
        [raw](int level, const std::string& message) {
          static constexpr spdlog::level::level_enum kLevels[] = {
              spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err};
          raw->logger->log(kLevels[std::clamp(level, 0, 3)], "{}", message);
        });
    impl->messenger->set_calls(impl->calls.get());
    if (config.private_scope) {
      logger->info("network scope: private: no packet goes to, and no contact is added with, an "
                   "address outside the local network (private, link-local or loopback)");
    }
    impl->messenger->start();
    logger->info("messaging: crypto suite {}, storage {}", p.crypto.suite, p.storage.plugin);
  } else {
    logger->info("messaging is off: the profile names no {}",
                 crypto == nullptr ? "crypto suite" : "storage plugin");
  }
  result.node.reset(new Node(std::move(impl)));
  return result;
}

NodeCheckResult Node::check(const std::filesystem::path& profile_path) {
  NodeCheckResult result;
  ProfileLoadResult loaded = load_profile_file(profile_path);
  if (!loaded.profile) {
    for (const auto& e : loaded.errors) {
      result.errors.push_back(e.str());
    }
    return result;
  }
  const Profile& p = *loaded.profile;
  if (!p.node) {
    return result; // a relay profile: nothing to load
  }
  // Plugins' own log lines go nowhere: what matters is in the statuses and errors.
  auto logger = std::make_shared<spdlog::logger>("entre-check");
  logger->set_level(spdlog::level::off);
  // In the order of Node::Impl: the libraries unload after the io_context is gone.
  std::vector<std::shared_ptr<const LoadedLibrary>> libraries;
  Runtime runtime(1, 1); // never started: a factory only keeps a reference to its io_context
  std::vector<PluginInstance> instances;
  result.errors = load_plugins(p, false, runtime, logger, libraries, instances);
  for (auto it = instances.rbegin(); it != instances.rend(); ++it) {
    it->root.reset(); // objects first, then (with `libraries`) the code
  }
  for (const PluginInstance& inst : instances) {
    result.plugins.push_back(inst.status);
  }
  return result;
}

std::vector<std::string> Node::start() {
  std::vector<std::string> errors;
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mu);
    if (d.started) {
      return errors;
    }
    d.runtime.start();
    d.started = true;
  }
  if (d.calls && d.messenger) {
    calls::CallService* service = d.calls.get();
    (void)d.messenger->call<bool>(
        [service](Engine&) {
          service->reopen();
          return true;
        },
        false);
  }
  bool required_failed = false;
  // A plugin's problems at run time (a relay it cannot reach, say) reach the frontends.
  for (auto& inst : d.instances) {
    if (inst.host) {
      inst.host->set_problem_sink([&events = d.events, id = inst.status.id](const std::string& m) {
        events.push(PluginError{id, m});
      });
    }
  }
  d.runtime.run_on_loop([&] {
    for (PluginInstance* inst : d.transports_in_order()) {
      auto* transport = static_cast<sdk::Transport*>(inst->interface);
      inst->sink =
          std::make_unique<TransportSink>(inst->status.id, d.events, d.logger, d.messenger.get(),
                                          inst->engine_index, d.calls.get(), *inst->host);
      sdk::Status st = transport->start(*inst->sink);
      if (!st.is_ok()) {
        const std::string why =
            inst->status.file.string() + ": transport failed to start: " + std::string(st.text());
        errors.push_back(why);
        d.logger->error("{}", why);
        inst->status.error = why;
        required_failed = required_failed || inst->status.required;
        continue;
      }
      inst->started = true;
      std::string text;
      sdk::StringSink sink(text, 4096);
      std::vector<std::string> endpoints;
      if (transport->local_endpoints(sink).is_ok()) {
        endpoints = wire::split_lines(text);
      }
      std::string joined;
      for (const auto& e : endpoints) {
        joined += (joined.empty() ? "" : ", ") + e;
      }
      d.logger->info("transport {} started{}{}", inst->status.id, joined.empty() ? "" : " at ",
                     joined);
      d.events.push(TransportStateChanged{inst->status.id, true, std::move(endpoints)});
    }
    d.attach_relayed(true);
  });
  if (required_failed) {
    d.stop();
    return errors;
  }
  d.events.push(NodeStarted{d.profile.node->name});
  d.logger->info("node '{}' running", d.profile.node->name);
  return errors;
}

void Node::stop() { impl_->stop(); }

bool Node::running() const {
  std::lock_guard lock(impl_->mu);
  return impl_->started;
}

std::string Node::name() const { return impl_->profile.node->name; }

std::filesystem::path Node::data_dir() const { return impl_->profile.node->data_dir; }

std::filesystem::path Node::profile_path() const { return impl_->profile.source; }

std::vector<PluginStatus> Node::plugins() const {
  std::vector<PluginStatus> out;
  for (const auto& inst : impl_->instances) {
    out.push_back(inst.status);
    if (inst.host) {
      out.back().problem = inst.host->problem();
    }
  }
  return out;
}

bool Node::messaging_available() const { return impl_->messenger != nullptr; }

bool Node::has_identity() {
  auto r = impl_->call<bool>([](Engine& e) { return ApiResult<bool>::of(e.has_identity()); });
  return r.value.value_or(false);
}

ApiStatus Node::create_identity(const std::string& passphrase) {
  return impl_->unlock_with([&](Engine& e) { return e.create_identity(passphrase); });
}

Node::KeyDerivation Node::key_derivation() {
  auto r = impl_->call<sdk::KdfCost>(
      [](Engine& e) { return ApiResult<sdk::KdfCost>::of(e.identity_kdf()); });
  const sdk::KdfCost cost = r.value.value_or(sdk::KdfCost{sdk::KdfStrength::kModerate, 0, 0});
  const char* level = cost.strength == sdk::KdfStrength::kInteractive ? "interactive"
                      : cost.strength == sdk::KdfStrength::kSensitive ? "sensitive"
                                                                      : "moderate";
  return KeyDerivation{level, key_derivation_cost_text(level, cost.mem_limit_bytes)};
}

ApiStatus Node::unlock(const std::string& passphrase) {
  return impl_->unlock_with([&](Engine& e) { return e.unlock(passphrase); });
}

std::string Node::my_id() {
  auto r =
      impl_->call<std::string>([](Engine& e) { return ApiResult<std::string>::of(e.my_id()); });
  return r.value.value_or("");
}

ApiStatus Node::set_display_name(const std::string& name) {
  return impl_->call<std::monostate>([&](Engine& e) { return e.set_display_name(name); });
}

std::string Node::display_name() {
  auto r = impl_->call<std::string>(
      [](Engine& e) { return ApiResult<std::string>::of(e.unlocked() ? e.display_name() : ""); });
  return r.value.value_or("");
}

ApiResult<std::string> Node::contact_code(const std::vector<std::string>& hints) {
  return impl_->call<std::string>([&](Engine& e) { return e.contact_code(hints); });
}

ApiResult<ContactInfo> Node::add_contact(const std::string& code, const std::string& name) {
  return impl_->call<ContactInfo>([&](Engine& e) { return e.add_contact(code, name); });
}

std::vector<ContactInfo> Node::contacts() {
  auto r = impl_->call<std::vector<ContactInfo>>(
      [](Engine& e) { return ApiResult<std::vector<ContactInfo>>::of(e.contacts()); });
  return r.value.value_or(std::vector<ContactInfo>{});
}

ApiResult<ContactInfo> Node::contact(const std::string& id) {
  return impl_->call<ContactInfo>([&](Engine& e) { return e.contact(id); });
}

ApiStatus Node::rename_contact(const std::string& id, const std::string& name) {
  return impl_->call<std::monostate>([&](Engine& e) { return e.rename_contact(id, name); });
}

ApiStatus Node::remove_contact(const std::string& id) {
  return impl_->call<std::monostate>([&](Engine& e) { return e.remove_contact(id); });
}

ApiStatus Node::set_blocked(const std::string& id, bool blocked) {
  return impl_->call<std::monostate>([&](Engine& e) { return e.set_blocked(id, blocked); });
}

ApiStatus Node::set_verified(const std::string& id, bool verified) {
  return impl_->call<std::monostate>([&](Engine& e) { return e.set_verified(id, verified); });
}

ApiResult<std::string> Node::safety_number(const std::string& id) {
  return impl_->call<std::string>([&](Engine& e) { return e.safety_number(id); });
}

ApiResult<MessageInfo> Node::send(const std::string& contact, const std::string& text) {
  return impl_->call<MessageInfo>([&](Engine& e) { return e.send(contact, text); });
}

ApiResult<std::vector<MessageInfo>> Node::send_batch(const std::string& contact,
                                                     const std::vector<std::string>& texts) {
  return impl_->call<std::vector<MessageInfo>>(
      [&](Engine& e) { return e.send_batch(contact, texts); });
}

ApiResult<std::vector<MessageInfo>> Node::history(const std::string& contact, uint64_t before_order,
                                                  uint32_t limit) {
  return impl_->call<std::vector<MessageInfo>>(
      [&](Engine& e) { return e.history(contact, before_order, limit); });
}

ApiResult<uint64_t> Node::mark_read(const std::string& contact) {
  return impl_->call<uint64_t>([&](Engine& e) { return e.mark_read(contact); });
}

ApiStatus Node::open_meeting(std::chrono::seconds duration) {
  const auto ms = static_cast<uint32_t>(
      std::clamp<int64_t>(duration.count(), 0, int64_t{UINT32_MAX} / 1000) * 1000);
  return impl_->call<std::monostate>([ms](Engine& e) { return e.open_meeting(ms); });
}

ApiStatus Node::close_meeting() {
  return impl_->call<std::monostate>([](Engine& e) { return e.close_meeting(); });
}

NodeCounters Node::counters() {
  auto r = impl_->call<NodeCounters>([](Engine& e) {
    const EngineCounters& c = e.counters();
    NodeCounters n;
    n.frames_received = c.frames_received;
    n.frames_dropped = c.frames_dropped;
    n.handshakes_completed = c.handshakes_completed;
    n.handshakes_refused = c.handshakes_refused;
    n.messages_sent = c.messages_sent;
    n.messages_received = c.messages_received;
    n.duplicates_dropped = c.duplicates_dropped;
    n.decrypt_failures = c.decrypt_failures;
    n.storage_failures = c.storage_failures;
    n.beacons_sent = c.beacons_sent;
    n.beacons_recognised = c.beacons_recognised;
    n.beacons_refused = c.beacons_refused;
    n.scope_refusals = c.scope_refusals;
    n.links = e.link_count();
    n.outbox = e.outbox_size();
    return ApiResult<NodeCounters>::of(n);
  });
  NodeCounters n = r.value.value_or(NodeCounters{});
  if (impl_->messenger) {
    n.frames_dropped += impl_->messenger->frames_dropped_queue_full();
  }
  if (impl_->calls) {
    // Media frames bypass the engine (they go straight to the call service).
    n.frames_received += impl_->calls->frames_received();
    n.frames_dropped += impl_->calls->frames_dropped();
  }
  return n;
}

ApiResult<CallInfo> Node::call(const std::string& contact) {
  return impl_->call_service<CallInfo>(
      [&](calls::CallService& c, Engine& e) { return c.place(e, contact); });
}

ApiResult<CallInfo> Node::answer(const std::string& call_id) {
  return impl_->call_service<CallInfo>(
      [&](calls::CallService& c, Engine& e) { return c.answer(e, call_id); });
}

ApiResult<CallInfo> Node::hang_up(const std::string& call_id) {
  return impl_->call_service<CallInfo>(
      [&](calls::CallService& c, Engine& e) { return c.hang_up(e, call_id); });
}

ApiResult<CallInfo> Node::set_muted(bool muted) {
  return impl_->call_service<CallInfo>(
      [&](calls::CallService& c, Engine&) { return c.set_muted(muted); });
}

std::optional<CallInfo> Node::current_call() {
  auto r = impl_->call_service<CallInfo>([](calls::CallService& c, Engine&) {
    auto now = c.current();
    return now ? ApiResult<CallInfo>::of(*now)
               : ApiResult<CallInfo>::fail(sdk::StatusCode::kNotFound, "no call");
  });
  return r.value;
}

std::optional<CallStats> Node::call_stats() {
  auto r = impl_->call_service<CallStats>([](calls::CallService& c, Engine& e) {
    auto s = c.stats(e);
    return s ? ApiResult<CallStats>::of(*s)
             : ApiResult<CallStats>::fail(sdk::StatusCode::kNotFound, "no active call");
  });
  return r.value;
}

ApiResult<Node::AudioDevices> Node::audio_devices() {
  sdk::AudioDevice* audio = nullptr;
  for (auto& inst : impl_->instances) {
    if (inst.status.loaded && inst.kind == sdk::PluginKind::kAudio &&
        inst.status.id == impl_->profile.audio.plugin) {
      audio = static_cast<sdk::AudioDevice*>(inst.interface);
    }
  }
  if (audio == nullptr) {
    return ApiResult<AudioDevices>::fail(sdk::StatusCode::kUnavailable,
                                         "no audio plugin loaded ([audio] plugin)");
  }
  AudioDevices out;
  for (const bool capture : {true, false}) {
    std::string text;
    sdk::StringSink sink(text, 64 * 1024);
    const sdk::Status st = audio->list_devices(
        capture ? sdk::AudioDirection::kCapture : sdk::AudioDirection::kPlayback, sink);
    if (!st.is_ok()) {
      return ApiResult<AudioDevices>::fail(st.code, std::string(st.text()));
    }
    (capture ? out.capture : out.playback) = wire::split_lines(text);
  }
  return ApiResult<AudioDevices>::of(std::move(out));
}

ApiStatus Node::set_audio_devices(const std::string& capture, const std::string& playback) {
  return impl_->call_service<std::monostate>([&](calls::CallService& c, Engine&) {
    c.set_devices(capture, playback);
    return ApiStatus::of({});
  });
}

std::vector<Node::LogLine> Node::recent_log() {
  std::vector<LogLine> out;
  if (!impl_->recent) {
    return out;
  }
  for (const auto& m : impl_->recent->last_raw()) {
    LogLine l;
    l.time_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(m.time.time_since_epoch()).count();
    const auto name = spdlog::level::to_string_view(m.level);
    l.level.assign(name.data(), name.size());
    l.text.assign(m.payload.data(), m.payload.size());
    out.push_back(std::move(l));
  }
  return out;
}

ApiResult<std::vector<CallRecord>> Node::call_history(const std::string& contact, uint32_t limit) {
  return impl_->call<std::vector<CallRecord>>(
      [&](Engine& e) { return e.call_history(contact, limit); });
}

std::optional<Event> Node::poll_event() { return impl_->events.pop(std::chrono::milliseconds(0)); }

std::optional<Event> Node::wait_event(std::chrono::milliseconds timeout) {
  return impl_->events.pop(timeout);
}

} // namespace entre
