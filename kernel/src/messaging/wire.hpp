// Byte formats of the messaging layer (docs/protocol.md, "Frames" and "Envelopes"). Integers are
// big-endian. Every parser checks every length before reading and returns nullopt for anything
// malformed.
//
//   frame    = hs1 / hs2 / sealed
//   hs1      = %x10 sender-index noise-message-1            ; Noise IK, first message
//   hs2      = %x11 receiver-index sender-index noise-message-2
//   refused  = %x13 receiver-index %x00000000 noise-message-2  ; the responder has not added the
//                                                           ; initiator (docs/protocol.md)
//   sealed   = %x12 receiver-index counter ciphertext       ; AEAD of a link packet, AD = the
//                                                           ; 13 header bytes
//   index    = uint32 (random, chosen by the side that receives with it); counter = uint64
//
//   link packet = ReliableLink data / ack / datagram (%x01-%x03) / ping / pong / goodbye
//   ping     = %x04 stamp(uint64)   pong = %x05 stamp(uint64), the ping's stamp echoed
//   goodbye  = %x07                 ; the sender is leaving: the link is closed at once
//
//   envelope = message / ack / read / hello / hello-request  ; the ReliableLink messages
//   message  = %x01 id(16) timestamp(int64 ms) ratchet-ciphertext  ; ratchet AD = the first 25
//   ack      = %x02 count(uint16, 1..1024) id(16)*count
//   read     = %x03 id(16)
//   hello    = %x04 ratchet-ciphertext (empty plaintext, ratchet AD = %x04)
//   hello-request = %x05
//   endpoints = %x06 (see endpoints())
//   call     = %x07 call-signal                               ; calls/call_signal.hpp
#pragma once

#include <entre/sdk/crypto.hpp>
#include <entre/sdk/storage.hpp>
#include <entre/sdk/transport.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace entre::wire {

inline constexpr uint8_t kFrameHs1 = 0x10;
inline constexpr uint8_t kFrameHs2 = 0x11;
inline constexpr uint8_t kFrameSealed = 0x12;
inline constexpr uint8_t kFrameRefused = 0x13;
inline constexpr uint8_t kPing = 0x04;
inline constexpr uint8_t kPong = 0x05;
inline constexpr uint8_t kGoodbye = 0x07; // link packet; 0x06 is ReliableLink's bundle
inline constexpr uint8_t kEnvMessage = 0x01;
inline constexpr uint8_t kEnvAck = 0x02;
inline constexpr uint8_t kEnvRead = 0x03;
inline constexpr uint8_t kEnvHello = 0x04;
inline constexpr uint8_t kEnvHelloRequest = 0x05;
inline constexpr uint8_t kEnvEndpoints = 0x06;
inline constexpr uint8_t kEnvCall = 0x07;

inline constexpr std::size_t kSessionIdBytes = 16;
inline constexpr std::size_t kSealedHeaderBytes = 1 + 4 + 8;
inline constexpr std::size_t kAeadTagBytes = 16;
inline constexpr uint32_t kSealedOverhead = kSealedHeaderBytes + kAeadTagBytes;
inline constexpr std::size_t kMessageHeaderBytes = 1 + 16 + 8;
inline constexpr std::size_t kMaxAckIds = 1024;
inline constexpr std::size_t kMaxEndpointsExchanged = sdk::kMaxEndpointHints;
inline constexpr std::size_t kMaxEndpointBytes = sdk::kMaxEndpointBytes;
static_assert(kMaxEndpointBytes <= 255, "an endpoint's length is one byte on the wire");

// The smallest max_payload_bytes a transport may declare is the size of the largest frame the
// kernel never splits: hs1 with a session id as its payload (Noise IK message 1: ephemeral key,
// sealed static key, sealed payload). Sealed frames fit in it: link packets are cut to at least
// kMinLinkPacketBytes.
inline constexpr std::size_t kMinLinkPacketBytes = 64;
static_assert(sdk::kTransportMinPayloadBytes == 1 + 4 + sdk::kPublicKeyBytes +
                                                    (sdk::kPublicKeyBytes + kAeadTagBytes) +
                                                    (kSessionIdBytes + kAeadTagBytes));
static_assert(kSealedOverhead + kMinLinkPacketBytes <= sdk::kTransportMinPayloadBytes);

using MessageId = std::array<uint8_t, sdk::kMessageIdBytes>;

[[nodiscard]] std::string hex(std::span<const uint8_t> bytes);
template <std::size_t N> [[nodiscard]] std::string hex(const std::array<uint8_t, N>& a) {
  return hex(std::span<const uint8_t>(a.data(), a.size()));
}
// Lowercase or uppercase hex of exactly out.size() bytes.
[[nodiscard]] bool unhex(std::string_view text, std::span<uint8_t> out);
template <std::size_t N>
[[nodiscard]] bool unhex(std::string_view text, std::array<uint8_t, N>& a) {
  return unhex(text, std::span<uint8_t>(a.data(), a.size()));
}

// True when `e` follows the endpoint rules of transport.hpp: 1..kMaxEndpointBytes of printable
// ASCII without spaces (what parse_endpoints and contact codes accept).
[[nodiscard]] bool exchangeable_endpoint(std::string_view e);
// `text` for a log line: bytes other than printable ASCII (and '\\') as \xNN, at most 256 shown.
[[nodiscard]] std::string printable(std::string_view text);

// Endpoint lists (a transport's local endpoints, a contact code's hints, a contact's stored
// hints) are text with one endpoint per line. Empty lines are skipped.
[[nodiscard]] std::vector<std::string> split_lines(std::string_view text);
[[nodiscard]] std::string join_lines(const std::vector<std::string>& lines);

void wipe(std::span<uint8_t> bytes);
template <typename C> void wipe(C& c) { wipe(std::span<uint8_t>(c.data(), c.size())); }

[[nodiscard]] std::vector<uint8_t> encode_kdf(const sdk::KdfCost& cost);
[[nodiscard]] std::optional<sdk::KdfCost> decode_kdf(std::span<const uint8_t> bytes);

struct Hs1 {
  uint32_t sender = 0;
  std::span<const uint8_t> noise;
};
struct Hs2 {
  uint32_t receiver = 0;
  uint32_t sender = 0;
  std::span<const uint8_t> noise;
  bool refused = false; // a refused frame (%x13): the same layout, sender 0
};
struct Sealed {
  uint32_t receiver = 0;
  uint64_t counter = 0;
  std::span<const uint8_t> ciphertext;
};
struct Message {
  MessageId id{};
  int64_t timestamp_ms = 0;
  std::span<const uint8_t> ciphertext;
};

[[nodiscard]] std::vector<uint8_t> hs1(uint32_t sender, std::span<const uint8_t> noise);
[[nodiscard]] std::vector<uint8_t> hs2(uint32_t receiver, uint32_t sender,
                                       std::span<const uint8_t> noise, bool refused = false);
[[nodiscard]] std::vector<uint8_t> sealed_header(uint32_t receiver, uint64_t counter);
[[nodiscard]] std::vector<uint8_t> ping(uint8_t type, uint64_t stamp);
[[nodiscard]] std::vector<uint8_t> message_header(const MessageId& id, int64_t timestamp_ms);
[[nodiscard]] std::vector<uint8_t> ack(std::span<const MessageId> ids);
// The sender's direct endpoints, for NAT traversal over a relayed link: count (1 byte) || per
// endpoint, length (1 byte) || text. At most kMaxEndpointsExchanged of 1..kMaxEndpointBytes bytes
// each of printable ASCII without spaces; endpoints that are not, and the excess, are left out, so
// that what is written always parses.
[[nodiscard]] std::vector<uint8_t> endpoints(const std::vector<std::string>& list);

[[nodiscard]] std::optional<Hs1> parse_hs1(std::span<const uint8_t> frame);
// An hs2 or a refused frame (Hs2::refused).
[[nodiscard]] std::optional<Hs2> parse_hs2(std::span<const uint8_t> frame);
[[nodiscard]] std::optional<Sealed> parse_sealed(std::span<const uint8_t> frame);
[[nodiscard]] std::optional<uint64_t> parse_ping(std::span<const uint8_t> packet);
[[nodiscard]] std::optional<Message> parse_message(std::span<const uint8_t> envelope);
[[nodiscard]] std::optional<std::vector<MessageId>> parse_ack(std::span<const uint8_t> envelope);
// nullopt unless well-formed: the count matches, every length is 1..kMaxEndpointBytes and every
// byte is printable ASCII without spaces.
[[nodiscard]] std::optional<std::vector<std::string>>
parse_endpoints(std::span<const uint8_t> envelope);

} // namespace entre::wire
