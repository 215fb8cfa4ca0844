#include <entre/node.hpp>

#include "loader/loader.hpp"
#include "node/event_queue.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "profile/config_view.hpp"
#include "profile/profile.hpp"

#include <entre/sdk/codec.hpp>
#include <entre/sdk/transport.hpp>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <system_error>

namespace entre {

namespace {

spdlog::level::level_enum to_spdlog(LogLevelSetting level) {
  switch (level) {
  case LogLevelSetting::kTrace:
    return spdlog::level::trace;
  case LogLevelSetting::kDebug:
    return spdlog::level::debug;
  case LogLevelSetting::kInfo:
    return spdlog::level::info;
  case LogLevelSetting::kWarn:
    return spdlog::level::warn;
  case LogLevelSetting::kError:
    return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::shared_ptr<spdlog::logger> make_logger(const Profile& profile, std::string& error) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (profile.log.file) {
    try {
      std::filesystem::create_directories(profile.log.file->parent_path());
      sinks.push_back(
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(profile.log.file->string()));
    } catch (const std::exception& e) {
      error = profile.log.file->string() + ": cannot open log file: " + e.what();
      return nullptr;
    }
  }
  auto logger = std::make_shared<spdlog::logger>("entre", sinks.begin(), sinks.end());
  logger->set_level(to_spdlog(profile.log.level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
  logger->flush_on(spdlog::level::info);
  return logger;
}

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

std::string split_lines_first(std::string_view text, std::vector<std::string>& out) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    if (end > start) {
      out.emplace_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return out.empty() ? std::string() : out.front();
}

} // namespace

// Receives a transport's callbacks and turns them into kernel events.
class TransportSink final : public sdk::TransportEvents {
 public:
  TransportSink(std::string plugin_id, EventQueue& events, std::shared_ptr<spdlog::logger> logger)
      : plugin_id_(std::move(plugin_id)), events_(events), logger_(std::move(logger)) {}

  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    frames_received_.fetch_add(1, std::memory_order_relaxed);
    try {
      logger_->trace("[{}] frame of {} bytes from {}", plugin_id_, frame.size, endpoint.str());
    } catch (...) {
    }
  }
  void on_link(sdk::StringView endpoint, sdk::LinkState state) noexcept override {
    try {
      events_.push(
          LinkStateChanged{plugin_id_, std::string(endpoint.str()), state == sdk::LinkState::kUp});
    } catch (...) {
    }
  }
  void on_discovered(sdk::StringView endpoint, sdk::ByteView beacon) noexcept override {
    try {
      logger_->trace("[{}] beacon of {} bytes from {}", plugin_id_, beacon.size, endpoint.str());
    } catch (...) {
    }
  }

  [[nodiscard]] uint64_t frames_received() const { return frames_received_.load(); }

 private:
  std::string plugin_id_;
  EventQueue& events_;
  std::shared_ptr<spdlog::logger> logger_;
  std::atomic<uint64_t> frames_received_{0};
};

struct PluginInstance {
  PluginStatus status;
  sdk::PluginKind kind = sdk::PluginKind::kTransport;
  std::unique_ptr<PluginHost> host;
  std::unique_ptr<TransportSink> sink;
  PluginPtr<sdk::Plugin> root; // destroyed before host and sink
  void* interface = nullptr;
  bool started = false;
};

struct Node::Impl {
  Profile profile;
  std::shared_ptr<spdlog::logger> logger;
  // Declared before the runtime and the instances so that libraries unload last: after every
  // plugin object is destroyed and after the io_context has destroyed any handler plugin code left.
  std::vector<std::shared_ptr<const LoadedLibrary>> libraries;
  Runtime runtime;
  std::vector<PluginInstance> instances;
  EventQueue events{Node::kEventQueueLimit};
  mutable std::mutex mu;
  bool started = false;

  Impl(Profile p, std::shared_ptr<spdlog::logger> log)
      : profile(std::move(p)), logger(std::move(log)),
        runtime(profile.node->threads, profile.node->workers) {}

  ~Impl() {
    stop();
    for (auto it = instances.rbegin(); it != instances.rend(); ++it) {
      if (it->root) {
        logger->debug("destroying plugin {}", it->status.id);
        it->root.reset();
      }
    }
    instances.clear();
  }

  void stop() {
    std::lock_guard lock(mu);
    if (!started) {
      return;
    }
    runtime.run_on_loop([this] {
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
  auto logger = make_logger(profile, log_error);
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

  auto impl = std::make_unique<Impl>(std::move(profile), logger);
  const Profile& p = impl->profile;
  logger->info("node '{}' from profile {}", p.node->name, p.source.string());

  PluginLoader loader(PluginLoader::default_search_paths(p.search_paths));
  for (std::size_t index = 0; index < p.plugins.size(); ++index) {
    const PluginEntry& entry = p.plugins[index];
    PluginInstance inst;
    inst.status.id = entry.id;
    inst.status.required = entry.required;

    auto fail = [&](const std::string& why) {
      inst.status.error = why;
      if (entry.required) {
        result.errors.push_back(why);
        logger->error("required plugin {} refused: {}", entry.id, why);
      } else {
        logger->warn("optional plugin {} skipped: {}", entry.id, why);
      }
    };

    LoadOutcome outcome = loader.load(entry.id, entry.file);
    if (!outcome.library) {
      inst.status.file = outcome.failure->file;
      fail(outcome.failure->str());
      impl->instances.push_back(std::move(inst));
      continue;
    }
    const LoadedLibrary& lib = *outcome.library;
    impl->libraries.push_back(outcome.library);
    inst.kind = lib.manifest().kind;
    inst.status.file = lib.file();
    inst.status.version = lib.manifest().version;
    inst.status.summary = lib.manifest().summary;
    inst.status.kind = sdk::plugin_kind_name(lib.manifest().kind);

    const std::filesystem::path plugin_dir = p.node->data_dir / "plugins" / entry.id;
    std::filesystem::create_directories(plugin_dir, ec);
    if (ec) {
      fail(plugin_dir.string() + ": cannot create the plugin's data directory: " + ec.message());
      impl->instances.push_back(std::move(inst));
      continue;
    }
    inst.host = std::make_unique<PluginHost>(
        entry.id, std::make_unique<TomlConfigView>(entry.config, p.source.string(), index),
        plugin_dir, impl->runtime, logger);

    sdk::Plugin* root = nullptr;
    sdk::Status st = lib.factory()(*inst.host, &root);
    if (!st.is_ok() || root == nullptr) {
      if (root != nullptr) {
        PluginPtr<sdk::Plugin>(root, outcome.library).reset();
      }
      const std::string why =
          st.is_ok() ? std::string("the factory returned no object") : std::string(st.text());
      fail(lib.file().string() + ": " + load_error_name(LoadError::kFactoryFailed) + ": " + why);
      impl->instances.push_back(std::move(inst));
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
      impl->instances.push_back(std::move(inst));
      continue;
    }

    inst.interface = root->query_interface(interface_for(inst.kind));
    if (inst.interface == nullptr) {
      inst.root.reset();
      fail(lib.file().string() + ": " + load_error_name(LoadError::kInterfaceMissing) + ": a " +
           inst.status.kind + " plugin must offer the " + inst.status.kind +
           " interface v1 through query_interface");
      impl->instances.push_back(std::move(inst));
      continue;
    }
    inst.status.loaded = true;
    logger->info("loaded {} {} ({}) from {}", entry.id, inst.status.version, inst.status.kind,
                 lib.file().string());
    impl->instances.push_back(std::move(inst));
  }

  // Each role the profile assigns must be filled by a plugin of the matching kind.
  auto check_role = [&](const std::string& id, sdk::PluginKind want, const char* key) {
    for (const auto& inst : impl->instances) {
      if (inst.status.id == id && inst.status.loaded && inst.kind != want) {
        result.errors.push_back(inst.status.file.string() + ": " +
                                load_error_name(LoadError::kKindMismatch) + ": " + key +
                                " names '" + id + "', a " + inst.status.kind + " plugin, where a " +
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
  result.node.reset(new Node(std::move(impl)));
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
  bool required_failed = false;
  d.runtime.run_on_loop([&] {
    // Transports start in the profile's preference order, then any others.
    std::vector<PluginInstance*> transports;
    for (const auto& id : d.profile.transport.order) {
      for (auto& inst : d.instances) {
        if (inst.status.id == id && inst.status.loaded &&
            inst.kind == sdk::PluginKind::kTransport) {
          transports.push_back(&inst);
        }
      }
    }
    for (auto& inst : d.instances) {
      if (inst.status.loaded && inst.kind == sdk::PluginKind::kTransport &&
          std::find(transports.begin(), transports.end(), &inst) == transports.end()) {
        transports.push_back(&inst);
      }
    }
    for (PluginInstance* inst : transports) {
      auto* transport = static_cast<sdk::Transport*>(inst->interface);
      inst->sink = std::make_unique<TransportSink>(inst->status.id, d.events, d.logger);
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
        split_lines_first(text, endpoints);
      }
      std::string joined;
      for (const auto& e : endpoints) {
        joined += (joined.empty() ? "" : ", ") + e;
      }
      d.logger->info("transport {} started{}{}", inst->status.id, joined.empty() ? "" : " at ",
                     joined);
      d.events.push(TransportStateChanged{inst->status.id, true, std::move(endpoints)});
    }
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
  }
  return out;
}

std::optional<Event> Node::poll_event() { return impl_->events.pop(std::chrono::milliseconds(0)); }

std::optional<Event> Node::wait_event(std::chrono::milliseconds timeout) {
  return impl_->events.pop(timeout);
}

} // namespace entre
