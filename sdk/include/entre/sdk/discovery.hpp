// Discovery beside a transport (InterfaceId::kDiscoveryV1, SDK 1.1).
//
// A transport whose info() has kTransportDiscovery also answers query_interface(kDiscoveryV1)
// with this interface. The kernel composes every beacon (opaque bytes to the transport, which
// hold nothing a stranger can tie to a node) and hands it over once per beacon interval; the
// transport announces it to its neighbourhood (e.g. a multicast group) so that the datagram's
// source is the endpoint at which the node takes frames. Beacons the transport receives go to
// TransportEvents::on_discovered with that source endpoint.
//
// Contract
// - Threading: as Transport; send_beacon() is called on event-loop threads and never blocks.
// - Bounds: send_beacon refuses a beacon over max_beacon_bytes() with kOutOfRange; the transport
//   drops received beacons over that size, and beyond its rate limit, counting both, before any
//   callback. A flood therefore costs the kernel at most the transport's rate limit.
// - Errors: kClosed before start() or after stop(); kUnavailable when no interface could send.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

class Discovery {
 public:
  // The largest beacon accepted and delivered.
  [[nodiscard]] virtual uint32_t max_beacon_bytes() const noexcept = 0;
  // How often the kernel should call send_beacon (from the transport's profile table).
  [[nodiscard]] virtual uint32_t beacon_interval_ms() const noexcept = 0;
  // Announces `beacon` once, now, on every interface the transport serves. Copies the bytes.
  virtual Status send_beacon(ByteView beacon) noexcept = 0;

 protected:
  ~Discovery() = default;
};

} // namespace entre::sdk
