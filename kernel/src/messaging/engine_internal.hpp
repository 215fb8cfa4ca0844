// Internals shared by the engine's source files (engine.cpp: construction, identity, contacts and
// the driver; engine_links.cpp: links and handshakes; engine_messages.cpp: sessions, messages and
// envelopes): constants, small helpers and the definitions of the engine's private records.
// Not a public header: only those three files include it.
#pragma once

#include "messaging/engine.hpp"
#include "messaging/wire.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace entre::engine_detail {

constexpr uint32_t kFlagVerified = 1u << 0;
constexpr uint32_t kFlagBlocked = 1u << 1;

constexpr std::string_view kPrologue = "entre link v1";
constexpr std::string_view kLinkKeyLabel = "entre link key v1";
constexpr std::string_view kSettingSalt = "identity.salt";
constexpr std::string_view kSettingKdf = "identity.kdf";
constexpr std::string_view kSettingIdentity = "identity.sealed";
constexpr std::string_view kSettingDisplayName = "identity.name";
constexpr std::string_view kDisplayNameLabel = "entre display name v1";
constexpr std::string_view kReadPrefix = "read.";
constexpr std::size_t kMaxHandshakeFrameBytes = 1024;
constexpr std::size_t kMaxUnconfirmedPerContact = 4;
// Refusals (docs/protocol.md "Refusals"): at most one per initiator key in this time, at most
// kMaxRefusalsPerSecond in all, and kMaxRefusalsKept keys remembered (the oldest forgotten).
constexpr uint64_t kRefusalIntervalMs = 30000;
constexpr uint32_t kMaxRefusalsPerSecond = 8;
constexpr std::size_t kMaxRefusalsKept = 256;
constexpr std::size_t kMessageIdTimeBytes = 6;
// Endpoints learned for a contact (LAN beacons, endpoints it told over a relayed link), newest
// kept.
constexpr std::size_t kMaxDiscoveredEndpoints = 8;
// While a contact is reached only through a relay: how often its direct endpoints are told again
// and dialled again.
constexpr uint64_t kDirectRetryMs = 30000;

inline sdk::ByteView bv(std::span<const uint8_t> s) { return sdk::ByteView(s.data(), s.size()); }
inline sdk::ByteView bv(std::string_view s) {
  return sdk::ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

template <typename Record, typename Base, typename Fn> class Visitor final : public Base {
 public:
  explicit Visitor(Fn fn) : fn_(std::move(fn)) {}
  bool visit(const Record& r) noexcept override {
    try {
      return fn_(r);
    } catch (...) {
      return false;
    }
  }

 private:
  Fn fn_;
};

template <typename Fn> auto contact_visitor(Fn fn) {
  return Visitor<sdk::ContactRecord, sdk::ContactVisitor, Fn>(std::move(fn));
}
template <typename Fn> auto message_visitor(Fn fn) {
  return Visitor<sdk::MessageRecord, sdk::MessageVisitor, Fn>(std::move(fn));
}
template <typename Fn> auto outbox_visitor(Fn fn) {
  return Visitor<sdk::OutboxRecord, sdk::OutboxVisitor, Fn>(std::move(fn));
}

inline ApiError api_error(const sdk::Status& st, std::string_view what) {
  return ApiError{st.code, std::string(what) + ": " + std::string(st.text())};
}

} // namespace entre::engine_detail

namespace entre {

struct Engine::SessionSlot {
  using Sid = std::array<uint8_t, wire::kSessionIdBytes>;
  sdk::Session* session = nullptr;
  Sid sid{};
  bool dirty = false;
  uint64_t used = 0;
  // When this session came from a handshake in this run: the session ids that handshake exchanged.
  bool from_handshake = false;
  std::optional<Sid> origin_local;
  std::optional<Sid> origin_remote;
  ~SessionSlot() {
    if (session != nullptr) {
      session->destroy();
    }
  }
};

struct Engine::Contact {
  Key key{};
  std::string hex;
  std::string name;
  uint32_t flags = 0;
  int64_t added_ms = 0;
  std::vector<std::string> hints;
  std::vector<std::string> discovered; // endpoints its beacons came from, newest last (bounded)
  std::deque<OutItem> outbox;
  std::vector<uint32_t> links;
  uint32_t best = 0; // link index, 0: none
  bool online = false;
  std::string path;
  uint32_t backoff_ms = 0;
  uint64_t reconnect_at = 0;
  std::unique_ptr<SessionSlot> session;
  bool session_absent = false; // storage has none (checked)
  std::vector<MessageId> acks;
  bool hello_requested = false;
  uint64_t progress_ms = 0; // the last end-to-end ack, or the last hand-over to a link
  bool not_added = false;   // its node refused our handshake; cleared when a link comes up
  // Every outbox item before pump_from has been handed to the link of generation pump_generation.
  uint64_t pump_generation = 0;
  std::size_t pump_from = 0;
  [[nodiscard]] bool blocked() const { return (flags & engine_detail::kFlagBlocked) != 0; }
};

struct Engine::Link {
  enum class State { kHandshake, kUp };
  uint32_t index = 0;
  uint32_t remote_index = 0;
  std::size_t transport = 0;
  std::string endpoint;
  Key key{};
  bool initiator = false;
  State state = State::kHandshake;
  bool confirmed = false;
  sdk::Handshake* hs = nullptr;
  std::vector<uint8_t> hs_frame; // initiator: hs1 to resend; responder: hs2 to resend
  std::vector<uint8_t> hs1_seen; // responder: the hs1 it answered
  uint64_t created_ms = 0;
  uint64_t hs_next_ms = 0;
  uint32_t hs_interval_ms = 0;
  sdk::MediaCipher* tx = nullptr;
  sdk::MediaCipher* rx = nullptr;
  uint64_t tx_counter = 1;
  std::unique_ptr<ReliableLink> rel;
  uint64_t last_rx_ms = 0;
  uint64_t last_tx_ms = 0;
  uint64_t last_ping_ms = 0; // the last ping sent (a round-trip probe)
  uint64_t generation = 0;
  uint32_t rtt_ms = 0; // smoothed from pings, which are answered at once (no ack delay); in
                       // whole milliseconds, at least 1 once measured (0: not yet)
  std::optional<std::array<uint8_t, wire::kSessionIdBytes>> local_sid;
  std::optional<std::array<uint8_t, wire::kSessionIdBytes>> remote_sid;
  std::array<uint8_t, wire::kSessionIdBytes> hash_sid{};
  sdk::Session* split = nullptr;
  bool decided = false;

  ~Link() {
    if (hs != nullptr) {
      hs->destroy();
    }
    if (tx != nullptr) {
      tx->destroy();
    }
    if (rx != nullptr) {
      rx->destroy();
    }
    if (split != nullptr) {
      split->destroy();
    }
  }
};

} // namespace entre
