// Transport plugins: move opaque frames between endpoints.
//
// A transport sees only ciphertext: the kernel hands it frames that are already encrypted and
// framed, and it hands received frames back unchanged. It knows nothing of contacts or messages.
//
// Endpoints are strings the transport parses itself, prefixed with its scheme:
//   udp:203.0.113.5:7400   relay:relay.example.org:443   lan:192.168.1.20:7401
// A transport rejects an endpoint it cannot parse with kInvalidArgument and a message naming it.
//
// Contract
// - Lifecycle: the kernel calls start() once, then send() any number of times, then stop() once,
//   then destroys the root plugin object. After stop() returns, no more callbacks arrive.
// - Threading: start(), send() and stop() are called on event-loop threads (Host::io_context()).
//   send() never blocks: it queues or drops and returns; a transport keeps its own bounded queue
//   and returns kUnavailable when it is full. TransportEvents callbacks are made on event-loop
//   threads, never concurrently for the same transport unless the transport documents otherwise.
// - Ownership: the TransportEvents object belongs to the kernel and outlives stop(). Views passed
// to
//   callbacks are valid only during the callback.
// - Bounds: a frame longer than info().max_payload_bytes is refused with kOutOfRange (send) or
//   dropped and counted (receive); a transport never delivers a frame larger than it declared.
#pragma once

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <cstdint>

namespace entre::sdk {

enum TransportFlags : uint32_t {
  kTransportReliable = 1u << 0,  // ordered reliable stream (TCP); else datagrams that may be lost
  kTransportLanOnly = 1u << 1,   // only reaches the local network
  kTransportDiscovery = 1u << 2, // reports peers through on_discovered()
  kTransportRelayed = 1u << 3,   // SDK 1.2: reaches peers through a server (relay.hpp)
};

struct TransportInfo {
  char scheme[16];            // endpoint prefix without the colon, e.g. "udp"
  uint32_t flags;             // TransportFlags
  uint32_t max_payload_bytes; // largest frame send() accepts
};

enum class LinkState : uint32_t { kUp = 1, kDown = 2 };

// Implemented by the kernel.
class TransportEvents {
 public:
  virtual void on_frame(StringView endpoint, ByteView frame) noexcept = 0;
  virtual void on_link(StringView endpoint, LinkState state) noexcept = 0;
  // A discovery transport saw `beacon` from `endpoint`; the kernel decides whether it is a contact.
  virtual void on_discovered(StringView endpoint, ByteView beacon) noexcept = 0;

 protected:
  ~TransportEvents() = default;
};

class Transport {
 public:
  [[nodiscard]] virtual TransportInfo info() const noexcept = 0;
  virtual Status start(TransportEvents& events) noexcept = 0;
  virtual void stop() noexcept = 0;
  virtual Status send(StringView endpoint, ByteView frame) noexcept = 0;
  // The endpoints at which peers may reach this node (e.g. the bound address), one per call to
  // `out` separated by '\n'.
  virtual Status local_endpoints(ByteSink& out) const noexcept = 0;

 protected:
  ~Transport() = default;
};

} // namespace entre::sdk
