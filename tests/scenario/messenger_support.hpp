// Whole messaging nodes on the scenario network: the real Engine with the real crypto-sodium and
// storage plugin files (loaded through the kernel's loader), a SimTransport, and the FakeClock as
// the only clock. Each input is a batch: the node flushes after it and re-arms its timer.
#pragma once

#include "loader/loader.hpp"
#include "messaging/engine.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "sim/fake_clock.hpp"
#include "sim/sim_network.hpp"
#include "sim/sim_transport.hpp"

#include <entre/sdk/crypto.hpp>
#include <entre/sdk/storage.hpp>

#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace entre::scenario {

inline constexpr int64_t kWallBaseMs = 1'790'000'000'000;

// The plugin files, loaded once per test.
struct PluginFiles {
  PluginLoader loader{{}};
  std::shared_ptr<const LoadedLibrary> sodium;
  std::shared_ptr<const LoadedLibrary> memory;
  std::shared_ptr<const LoadedLibrary> sqlite;

  PluginFiles() {
    sodium = load("entre.crypto.sodium", ENTRE_SODIUM_PLUGIN);
    memory = load("entre.storage.memory", ENTRE_MEMORY_PLUGIN);
    sqlite = load("entre.storage.sqlite", ENTRE_SQLITE_PLUGIN);
  }
  std::shared_ptr<const LoadedLibrary> load(const char* id, const char* file) {
    LoadOutcome outcome = loader.load(id, std::filesystem::path(file));
    EXPECT_TRUE(outcome.library) << (outcome.failure ? outcome.failure->str() : "");
    return outcome.library;
  }
};

// A messenger node. `db` empty: storage-memory; otherwise storage-sqlite in that directory, which
// survives crash() and a new SimMessenger on the same directory.
class SimMessenger final : public EngineOutput {
 public:
  // `transports` SimTransports named "<name>", "<name>-2", ...; the first is the most preferred.
  // `transport_flags`: what the SimTransports' info() reports (sdk::TransportFlags).
  SimMessenger(sim::SimNetwork& net, std::string name, PluginFiles& files,
               std::filesystem::path db = {}, EngineConfig config = fast_config(),
               std::size_t transports = 1, uint32_t transport_flags = 0)
      : net_(net), name_(std::move(name)), files_(files), db_(std::move(db)),
        config_(std::move(config)), transport_count_(transports),
        transport_flags_(transport_flags) {
    boot();
  }
  ~SimMessenger() { shutdown(); }

  static EngineConfig fast_config() {
    EngineConfig c;
    c.kdf = sdk::KdfCost{sdk::KdfStrength::kInteractive, 1, 64 * 1024};
    return c;
  }

  void boot() {
    const std::filesystem::path dir = db_.empty() ? std::filesystem::temp_directory_path() : db_;
    crypto_host_ = make_host("entre.crypto.sodium", dir);
    storage_host_ = make_host(db_.empty() ? "entre.storage.memory" : "entre.storage.sqlite", dir);
    crypto_root_ = create(files_.sodium, *crypto_host_);
    storage_root_ = create(db_.empty() ? files_.memory : files_.sqlite, *storage_host_);
    crypto = sdk::query<sdk::CryptoSuite>(*crypto_root_, sdk::InterfaceId::kCryptoSuiteV1);
    storage = sdk::query<sdk::Storage>(*storage_root_, sdk::InterfaceId::kStorageV1);
    const sdk::Status st = storage->open(crypto->suite_id());
    EXPECT_TRUE(st.is_ok()) << st.text();
    EngineClock clock{[this] { return net_.clock().now_ms(); },
                      [this] {
                        return kWallBaseMs + wall_offset_ms +
                               static_cast<int64_t>(net_.clock().now_ms());
                      }};
    engine = std::make_unique<Engine>(*crypto, *storage, *this, clock, config_);
    for (std::size_t i = 0; i < transport_count_; ++i) {
      transports_.push_back(std::make_unique<sim::SimTransport>(
          net_, transport_name(i), sim::kSimDefaultMaxPayloadBytes, transport_flags_));
      sinks_.push_back(std::make_unique<Sink>(this, i));
      engine->add_transport(transports_.back().get(), "sim");
      EXPECT_TRUE(transports_.back()->start(*sinks_.back()).is_ok());
    }
  }

  [[nodiscard]] std::string transport_name(std::size_t i) const {
    return i == 0 ? name_ : name_ + "-" + std::to_string(i + 1);
  }

  // Ends the process as a crash would: the open transaction is rolled back, nothing is flushed.
  void crash() { shutdown(); }
  void restart(const std::string& passphrase = "pw") {
    boot();
    const auto r = engine->unlock(passphrase);
    EXPECT_TRUE(r.ok()) << r.error.message;
    poke();
  }

  void shutdown() {
    if (timer_) {
      net_.clock().cancel(*timer_);
      timer_.reset();
    }
    for (auto& t : transports_) {
      t->stop();
    }
    engine.reset();
    transports_.clear();
    sinks_.clear();
    storage_root_.reset();
    crypto_root_.reset();
    storage = nullptr;
    crypto = nullptr;
  }

  void create_identity(const std::string& passphrase = "pw") {
    const auto r = engine->create_identity(passphrase);
    ASSERT_TRUE(r.ok()) << r.error.message;
    poke();
  }
  std::string code() {
    std::vector<std::string> hints;
    for (std::size_t i = 0; i < transport_count_; ++i) {
      hints.push_back(sim::sim_endpoint(transport_name(i)));
    }
    auto r = engine->contact_code(hints);
    EXPECT_TRUE(r.ok()) << r.error.message;
    return r.value.value_or("");
  }
  std::string add(SimMessenger& other, const std::string& name) {
    auto r = engine->add_contact(other.code(), name);
    EXPECT_TRUE(r.ok()) << r.error.message;
    poke();
    return r.ok() ? r.value->id : std::string();
  }
  std::string send(const std::string& contact, const std::string& text) {
    auto r = engine->send(contact, text);
    EXPECT_TRUE(r.ok()) << r.error.message;
    poke();
    return r.ok() ? r.value->id : std::string();
  }

  // After every input: commit, send, and re-arm the timer.
  void poke() {
    if (!engine) {
      return;
    }
    engine->flush();
    if (timer_) {
      net_.clock().cancel(*timer_);
      timer_.reset();
    }
    if (auto due = engine->next_timer_ms()) {
      timer_ = net_.clock().schedule(*due, [this] {
        timer_.reset();
        engine->on_timer();
        poke();
      });
    }
  }

  // EngineOutput
  void send_frame(std::size_t transport, const std::string& endpoint,
                  std::vector<uint8_t> frame) override {
    if (record_sent) {
      sent.push_back(frame);
    }
    (void)transports_.at(transport)->send(sdk::StringView(endpoint), sdk::ByteView(frame));
  }
  void send_beacon(std::size_t, std::vector<uint8_t>) override {} // SimTransport has no Discovery
  void event(Event e) override {
    if (auto* m = std::get_if<MessageReceived>(&e)) {
      received.push_back(m->message);
    } else if (auto* s = std::get_if<MessageStateChanged>(&e)) {
      states.push_back(*s);
    } else if (auto* p = std::get_if<ContactPresenceChanged>(&e)) {
      presence.push_back(*p);
    } else if (auto* n = std::get_if<ContactNotAdded>(&e)) {
      not_added.push_back(n->contact);
    }
  }
  void log(int level, const std::string& message) override {
    if (level >= 2 || verbose) {
      logs.push_back(std::to_string(net_.clock().now_ms()) + " " + name_ + ": " + message);
    }
  }

  void on_frame(std::size_t transport, sdk::StringView endpoint, sdk::ByteView frame) {
    if (engine) {
      engine->on_frame(transport, endpoint.str(), frame.span());
      poke();
    }
  }

  [[nodiscard]] const std::string& name() const { return name_; }

  std::unique_ptr<Engine> engine;
  sdk::CryptoSuite* crypto = nullptr;
  sdk::Storage* storage = nullptr;
  std::vector<MessageInfo> received;
  // Added to this node's wall clock (not to the network's time): a clock set back or ahead.
  int64_t wall_offset_ms = 0;
  std::vector<MessageStateChanged> states;
  std::vector<ContactPresenceChanged> presence;
  std::vector<std::string> not_added; // ContactNotAdded events, by contact
  std::vector<std::string> logs;
  bool verbose = false;
  // While record_sent: every frame this node sends, as it left (a test may play one again).
  bool record_sent = false;
  std::vector<std::vector<uint8_t>> sent;

 private:
  struct Sink final : sdk::TransportEvents {
    Sink(SimMessenger* m, std::size_t i) : owner(m), index(i) {}
    void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
      owner->on_frame(index, endpoint, frame);
    }
    void on_link(sdk::StringView, sdk::LinkState) noexcept override {}
    void on_discovered(sdk::StringView, sdk::ByteView) noexcept override {}
    SimMessenger* owner;
    std::size_t index;
  };

  std::unique_ptr<PluginHost> make_host(const std::string& id, const std::filesystem::path& dir) {
    return std::make_unique<PluginHost>(
        id, std::make_unique<TomlConfigView>(nullptr, "scenario.toml", 0), dir, runtime_,
        spdlog::default_logger());
  }
  static PluginPtr<sdk::Plugin> create(const std::shared_ptr<const LoadedLibrary>& lib,
                                       PluginHost& host) {
    sdk::Plugin* root = nullptr;
    const sdk::Status st = lib->factory()(host, &root);
    EXPECT_TRUE(st.is_ok()) << st.text();
    return PluginPtr<sdk::Plugin>(root, lib);
  }

  sim::SimNetwork& net_;
  std::string name_;
  PluginFiles& files_;
  std::filesystem::path db_;
  EngineConfig config_;
  Runtime runtime_{1, 1};
  std::unique_ptr<PluginHost> crypto_host_;
  std::unique_ptr<PluginHost> storage_host_;
  PluginPtr<sdk::Plugin> crypto_root_;
  PluginPtr<sdk::Plugin> storage_root_;
  std::size_t transport_count_;
  uint32_t transport_flags_ = 0;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::vector<std::unique_ptr<sim::SimTransport>> transports_;
  std::optional<sim::FakeClock::TimerId> timer_;
};

} // namespace entre::scenario
