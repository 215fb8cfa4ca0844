// The relay protocol (docs/protocol.md "Relay"), shared by transport-tcp-relay and entre-relay:
// record framing on the TCP stream, the messages inside sealed records, relay endpoint text and the
// UDP endpoint reflection. Pure functions and one incremental reader; no I/O, no crypto.
//
//   stream   = *record
//   record   = length (2 bytes, big-endian, 1..65535) || body
//   before the handshake completes, body = type (1 byte) || data:
//     0x01 client-hello  version (1 byte, = 1) || Noise IK message 1 (empty payload)
//     0x02 relay-hello   Noise IK message 2 (empty payload)
//     0x03 refused       reason (1 byte) || text (0..200 printable ASCII) ; then the relay closes
//   after it, every record is sealed (counter implicit: 1, 2, ... per direction), with one
//   exception: a relay that cannot open the client's auth message refuses in the clear (0x03,
//   reason 5):
//     body        = head-length (1 byte, 17..255) || sealed-head || frame
//     sealed-head = MediaCipher seal of the message's head, with the frame as associated data
//   The head is the whole message, except for send and deliver, whose frame follows the sealed
//   head in the clear: the frame is already end-to-end encrypted by the kernel, so the link
//   encrypts only what it adds (who the frame is for or from) and authenticates every byte.
//   The messages (head, then the frame where there is one):
//     0x10 auth                                                             ; client, first
//     0x11 welcome       max-frame (4 bytes) || idle-timeout-ms (4 bytes)   ; relay
//     0x20 send          to (32 bytes)   || frame                           ; client
//     0x21 deliver       from (32 bytes) || frame                           ; relay
//     0x22 unreachable   to (32 bytes)                                      ; relay
//     0x30 ping          nonce (8 bytes);   0x31 pong  nonce (8 bytes)      ; either side
//     0x40 closing       reason (1 byte)                                    ; relay, then closes
#pragma once

#include <entre/sdk/crypto.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace entre::plugins::relay_wire {

inline constexpr uint8_t kVersion = 1;
inline constexpr std::string_view kPrologue = "entre relay v1";
inline constexpr std::string_view kLinkLabel = "entre relay link v1";
inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kMaxRecordBytes = 65535;
inline constexpr std::size_t kMaxHelloBytes = 256; // client-hello and relay-hello records
inline constexpr std::size_t kMaxRefusalTextBytes = 200;
inline constexpr std::size_t kNonceBytes = 8;
inline constexpr std::size_t kSealOverheadBytes = 16; // the link cipher's tag
inline constexpr std::size_t kMinSealedHeadBytes = 1 + kSealOverheadBytes;
inline constexpr std::size_t kMaxSealedHeadBytes = 255;
// The most a sealed record adds to its frame: head-length, type, key and tag.
inline constexpr std::size_t kSealedFrameOverhead = 1 + 1 + kKeyBytes + kSealOverheadBytes;
// The longest endpoint text: what fits a contact code hint.
inline constexpr std::size_t kMaxEndpointTextBytes = 200;

using Key = std::array<uint8_t, kKeyBytes>;

enum class Type : uint8_t {
  kClientHello = 0x01,
  kRelayHello = 0x02,
  kRefused = 0x03,
  kAuth = 0x10,
  kWelcome = 0x11,
  kSend = 0x20,
  kDeliver = 0x21,
  kUnreachable = 0x22,
  kPing = 0x30,
  kPong = 0x31,
  kClosing = 0x40,
};

enum class Reason : uint8_t {
  kVersion = 1,       // unsupported protocol version
  kBusy = 2,          // too many connections (in total or from this address)
  kHandshakeRate = 3, // handshakes arrive faster than the relay accepts them
  kProtocol = 4,      // a record that breaks the protocol
  kAuthFailed = 5,    // the handshake or a sealed record did not verify
  kFrameTooLarge = 6, // a frame above the relay's max-frame
                      // 7 is reserved (a client over its rate is paused, not closed)
  kSlowConsumer = 8,  // the client did not read its queue
  kIdle = 9,          // nothing heard within the idle timeout
  kShutdown = 10,     // the relay is stopping
  kReplaced = 11,     // the same key connected again; the older connection goes
};

[[nodiscard]] const char* reason_name(Reason reason);

// ---- Records ------------------------------------------------------------------------------------

// Appends `length || body` to `out`. `body` is 1..kMaxRecordBytes bytes (checked by the caller).
void append_record(std::vector<uint8_t>& out, std::span<const uint8_t> body);

// Splits a TCP byte stream into record bodies. feed() copies the bytes in; next() returns the
// next whole body (valid until the next call), nullopt when more bytes are needed. A length of 0
// or above `max_body` is an error: next() returns nullopt and error() names it; the stream is then
// useless.
class RecordReader {
 public:
  enum class Error { kNone, kEmpty, kTooLarge };
  explicit RecordReader(std::size_t max_body) : max_body_(max_body) {}
  void feed(std::span<const uint8_t> bytes);
  [[nodiscard]] std::optional<std::span<const uint8_t>> next();
  void set_max_body(std::size_t max_body) { max_body_ = max_body; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] Error error_kind() const { return kind_; }
  [[nodiscard]] std::size_t buffered() const { return buffer_.size() - start_; }

 private:
  std::size_t max_body_;
  std::vector<uint8_t> buffer_;
  std::size_t start_ = 0;
  std::string error_;
  Error kind_ = Error::kNone;
};

// ---- Clear records (before the handshake) -------------------------------------------------------

[[nodiscard]] std::vector<uint8_t> client_hello(std::span<const uint8_t> noise_message);
[[nodiscard]] std::vector<uint8_t> relay_hello(std::span<const uint8_t> noise_message);
[[nodiscard]] std::vector<uint8_t> refused(Reason reason, std::string_view text);

struct ClearRecord {
  Type type{};
  uint8_t version = 0;           // client-hello
  Reason reason{};               // refused
  std::span<const uint8_t> data; // Noise message, or the refusal text
};
// nullopt with `error` set for an unknown type, a short or oversized record, or a refusal text
// that is not printable ASCII.
[[nodiscard]] std::optional<ClearRecord> parse_clear(std::span<const uint8_t> body,
                                                     std::string& error);

// ---- Sealed messages (after the handshake) ------------------------------------------------------

struct Message {
  Type type{};
  Key key{};                      // send: to, deliver: from, unreachable: to
  std::span<const uint8_t> frame; // send, deliver
  uint32_t max_frame = 0;         // welcome
  uint32_t idle_ms = 0;           // welcome
  uint64_t nonce = 0;             // ping, pong
  Reason reason{};                // closing
};

[[nodiscard]] std::vector<uint8_t> encode(const Message& message);
// The length of the head of an encoded message (type || key for send and deliver with a frame,
// else all of it).
[[nodiscard]] std::size_t head_bytes(std::span<const uint8_t> message);
// Like encode(kSend / kDeliver) without building a Message: type || key || frame.
[[nodiscard]] std::vector<uint8_t> encode_frame(Type type, const Key& key,
                                                std::span<const uint8_t> frame);
// nullopt with `error` set for an unknown type, a wrong length or a frame above `max_frame`.
// `plain` is a whole message (head and frame together).
[[nodiscard]] std::optional<Message> parse_message(std::span<const uint8_t> plain,
                                                   std::size_t max_frame, std::string& error);
// The same from an opened head and the frame that followed it (empty for other messages).
[[nodiscard]] std::optional<Message> parse_message(std::span<const uint8_t> head,
                                                   std::span<const uint8_t> frame,
                                                   std::size_t max_frame, std::string& error);

// A sealed record's parts: nullopt with `error` set when the head length is out of bounds.
struct SealedParts {
  std::span<const uint8_t> head; // still sealed
  std::span<const uint8_t> frame;
};
[[nodiscard]] std::optional<SealedParts> split_sealed(std::span<const uint8_t> body,
                                                      std::string& error);

// Seals `message` under `tx` with `counter` and appends the whole record (length included) to
// `out`; false if the cipher refused.
[[nodiscard]] bool append_sealed_record(std::vector<uint8_t>& out, sdk::MediaCipher& tx,
                                        uint64_t counter, std::span<const uint8_t> message);
// The same from a head and a frame apart (no frame: empty).
[[nodiscard]] bool append_sealed_record(std::vector<uint8_t>& out, sdk::MediaCipher& tx,
                                        uint64_t counter, std::span<const uint8_t> head,
                                        std::span<const uint8_t> frame);

// Opens a sealed record's head under `rx` with `counter` into `head_plain` and parses the
// message (its frame points into `body`). nullopt with `error` set; `unverified` tells a record
// that did not open (a wrong key or tampering) from a malformed one.
[[nodiscard]] std::optional<Message> open_sealed_record(sdk::MediaCipher& rx, uint64_t counter,
                                                        std::span<const uint8_t> body,
                                                        std::vector<uint8_t>& head_plain,
                                                        std::size_t max_frame, std::string& error,
                                                        bool& unverified);

// ---- Endpoint text ------------------------------------------------------------------------------

// A relay: "<64 hex digits of its key>@<host>:<port>", host a DNS name, an IPv4 literal or a
// bracketed IPv6 literal.
struct RelayAddress {
  Key key{};
  std::string host; // without brackets
  uint16_t port = 0;
  [[nodiscard]] std::string text() const;  // the form above
  [[nodiscard]] std::string place() const; // "host:port" ("[v6]:port")
  friend bool operator==(const RelayAddress&, const RelayAddress&) = default;
};
[[nodiscard]] std::optional<RelayAddress> parse_relay(std::string_view text, std::string& error);

// A peer through a relay: "relay:<relay>/<64 hex digits of the peer's key>".
struct RelayEndpoint {
  RelayAddress relay;
  Key peer{};
  [[nodiscard]] std::string text() const;
};
[[nodiscard]] std::optional<RelayEndpoint> parse_endpoint(std::string_view text,
                                                          std::string& error);

[[nodiscard]] std::string hex(std::span<const uint8_t> bytes);
[[nodiscard]] bool parse_hex_key(std::string_view text, Key& out);

// ---- UDP endpoint reflection --------------------------------------------------------------------
//
//   request  = "ENTRERQ1" || nonce (16 bytes) || zero padding to 64 bytes
//   response = "ENTRERS1" || nonce (16 bytes) || family (1: 4 or 6) || port (2 bytes)
//              || address (4 or 16 bytes)
// The response is never larger than the request, so the reflector cannot amplify.

inline constexpr std::size_t kReflectRequestBytes = 64;
inline constexpr std::size_t kReflectNonceBytes = 16;
using ReflectNonce = std::array<uint8_t, kReflectNonceBytes>;

struct Reflected {
  bool v6 = false;
  std::array<uint8_t, 16> address{}; // IPv4 in the first 4 bytes
  uint16_t port = 0;
};

[[nodiscard]] std::vector<uint8_t> reflect_request(const ReflectNonce& nonce);
[[nodiscard]] std::optional<ReflectNonce> parse_reflect_request(std::span<const uint8_t> datagram);
[[nodiscard]] std::vector<uint8_t> reflect_response(const ReflectNonce& nonce,
                                                    const Reflected& seen);
// nullopt unless `datagram` is a well-formed response carrying `nonce`.
[[nodiscard]] std::optional<Reflected> parse_reflect_response(std::span<const uint8_t> datagram,
                                                              const ReflectNonce& nonce);
// True when `datagram` starts like a response (so a socket owner can route it to the reflector).
[[nodiscard]] bool looks_like_reflect_response(std::span<const uint8_t> datagram);

} // namespace entre::plugins::relay_wire
