// SimTransport: an sdk::Transport on a SimNetwork, compiled into the kernel (not a plugin), so that
// scenario tests run the kernel's real code over a network they control.
//
// Scheme "sim", endpoints "sim:<name>" (see sim_network.hpp), datagram semantics (flags 0): frames
// may be lost, duplicated or reordered as the network's links say. Empty frames are accepted and
// delivered as empty frames, like UDP's empty datagrams. A received frame larger than this
// transport's max_payload_bytes is dropped and counted (dropped_oversize()).
//
// The "event loop" of a SimTransport is the FakeClock's thread: send(), start() and stop() are
// called on the test's thread, and TransportEvents callbacks arrive on it, inside the clock's
// run_* calls. It passes the transport conformance suite (SimTransportFactory below) like any
// plugin does.
#pragma once

#include "conformance/transport_conformance.hpp"
#include "sim/sim_network.hpp"

#include <entre/sdk/transport.hpp>

#include <cstdint>
#include <string>

namespace entre::sim {

inline constexpr uint32_t kSimDefaultMaxPayloadBytes = 1200;

class SimTransport final : public sdk::Transport, private SimNode {
 public:
  // `flags`: the sdk::TransportFlags info() reports (the behaviour stays a datagram transport's),
  // e.g. kTransportLocalOnly for the kernel's private network scope.
  SimTransport(SimNetwork& network, std::string name,
               uint32_t max_payload_bytes = kSimDefaultMaxPayloadBytes, uint32_t flags = 0);
  ~SimTransport();
  SimTransport(const SimTransport&) = delete;
  SimTransport& operator=(const SimTransport&) = delete;

  [[nodiscard]] sdk::TransportInfo info() const noexcept override;
  // kInvalidArgument if already started or the name is not a valid sim name; kAlreadyExists if
  // another node of the network has the name.
  sdk::Status start(sdk::TransportEvents& events) noexcept override;
  void stop() noexcept override;
  sdk::Status send(sdk::StringView endpoint, sdk::ByteView frame) noexcept override;
  sdk::Status local_endpoints(sdk::ByteSink& out) const noexcept override;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::string endpoint() const { return sim_endpoint(name_); }
  [[nodiscard]] uint64_t dropped_oversize() const { return dropped_oversize_; }

 private:
  void deliver(std::string_view from, std::span<const uint8_t> frame) override;

  SimNetwork& network_;
  std::string name_;
  uint32_t max_payload_bytes_;
  uint32_t flags_;
  sdk::TransportEvents* events_ = nullptr; // set while started
  uint64_t dropped_oversize_ = 0;
};

// Creates SimTransports named "<prefix><n>" on one network for the transport conformance suite.
// run_on_loop() runs inline (the test's thread is the loop); wait_until() advances the network's
// clock one millisecond at a time.
class SimTransportFactory final : public TransportFactory {
 public:
  explicit SimTransportFactory(SimNetwork& network,
                               uint32_t max_payload_bytes = kSimDefaultMaxPayloadBytes,
                               std::string name_prefix = "conformance-");

  [[nodiscard]] sdk::Status create_started(sdk::TransportEvents& events,
                                           StartedTransport& out) override;
  void run_on_loop(const std::function<void()>& fn) override;
  [[nodiscard]] bool wait_until(const std::function<bool()>& done, uint32_t timeout_ms) override;

 private:
  SimNetwork& network_;
  uint32_t max_payload_bytes_;
  std::string name_prefix_;
  uint64_t created_ = 0;
};

} // namespace entre::sim
