// Test support for scenarios on the simulated network: a peer (SimTransport + an inbox that
// records each frame with the fake time it arrived) and numbered frames.
#pragma once

#include "sim/fake_clock.hpp"
#include "sim/sim_network.hpp"
#include "sim/sim_transport.hpp"

#include <entre/sdk/transport.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace entre::scenario {

struct Arrival {
  uint64_t at_ms = 0;
  std::string from;
  std::vector<uint8_t> frame;
};

class Inbox final : public sdk::TransportEvents {
 public:
  explicit Inbox(const sim::FakeClock& clock) : clock_(clock) {}
  void on_frame(sdk::StringView endpoint, sdk::ByteView frame) noexcept override {
    arrivals.push_back({clock_.now_ms(), std::string(endpoint.str()),
                        std::vector<uint8_t>(frame.data, frame.data + frame.size)});
  }
  void on_link(sdk::StringView, sdk::LinkState) noexcept override {}
  void on_discovered(sdk::StringView, sdk::ByteView) noexcept override {}

  std::vector<Arrival> arrivals;

 private:
  const sim::FakeClock& clock_;
};

// A started node of the network. The inbox is declared first: it outlives the transport.
struct Peer {
  Peer(sim::SimNetwork& network, const std::string& name,
       uint32_t max_payload_bytes = sim::kSimDefaultMaxPayloadBytes)
      : inbox(network.clock()), transport(network, name, max_payload_bytes) {
    start_status = transport.start(inbox);
  }

  [[nodiscard]] std::string endpoint() const { return transport.endpoint(); }
  [[nodiscard]] sdk::Status send(const Peer& to, const std::vector<uint8_t>& frame) {
    return transport.send(sdk::StringView(to.endpoint()), sdk::ByteView(frame));
  }

  Inbox inbox;
  sim::SimTransport transport;
  sdk::Status start_status;
};

// A frame carrying `seq` in its first four bytes, padded to `size_bytes` (at least 4).
inline std::vector<uint8_t> numbered(uint32_t seq, std::size_t size_bytes = 8) {
  std::vector<uint8_t> frame(size_bytes < 4 ? 4 : size_bytes, static_cast<uint8_t>(seq * 7));
  for (int k = 0; k < 4; ++k) {
    frame[static_cast<std::size_t>(k)] = static_cast<uint8_t>(seq >> (8 * k));
  }
  return frame;
}

inline uint32_t number_of(const std::vector<uint8_t>& frame) {
  uint32_t seq = 0;
  for (int k = 0; k < 4 && static_cast<std::size_t>(k) < frame.size(); ++k) {
    seq |= uint32_t{frame[static_cast<std::size_t>(k)]} << (8 * k);
  }
  return seq;
}

} // namespace entre::scenario
