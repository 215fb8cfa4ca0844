// A blocking client of the relay protocol, written out by hand on one TCP connection: for tests
// that play a client or an attacker, and for entre-bench's load generator. Not for nodes
// (transport-tcp-relay is the real client). Errors throw std::runtime_error, except where a result
// says otherwise.
#pragma once

#include "relay_wire.hpp"

#include <entre/sdk/crypto.hpp>
#include <entre/sdk/relay.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace entre::relay {

class SyncClient {
 public:
  // Connects to host:port. `io` only owns the socket's services; nothing runs it.
  SyncClient(boost::asio::io_context& io, uint16_t port, const std::string& host = "127.0.0.1");
  ~SyncClient();
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  void write_record(std::span<const uint8_t> body);
  void write_raw(std::span<const uint8_t> bytes);
  // The next record body, or nullopt once the relay closed the connection. Reads the socket in
  // large chunks and keeps what follows the record for the next call.
  std::optional<std::vector<uint8_t>> read_record();
  // True once the relay closed the connection (reads until EOF, up to `timeout`).
  bool closed_within(std::chrono::milliseconds timeout);

  // The handshake (with `proof`'s identity, against `relay_key`), the auth message and the
  // welcome; false with `error` set when the relay refused or something did not verify.
  bool authenticate(sdk::IdentityProof& proof, const plugins::relay_wire::Key& relay_key,
                    std::string& error);
  // After authenticate(): the message sealed into one whole record, length included (not written);
  // appended to `out`. And the next record opened and parsed (nullopt when the connection closed
  // or the record did not open; a frame points into `plain`).
  void append_sealed(std::vector<uint8_t>& out, std::span<const uint8_t> message);
  [[nodiscard]] std::vector<uint8_t> sealed(std::span<const uint8_t> message);
  std::optional<plugins::relay_wire::Message> read_message(std::vector<uint8_t>& plain);
  // Opens and parses a record body read earlier with read_record() (records in order).
  std::optional<plugins::relay_wire::Message> open_record(std::span<const uint8_t> body);
  [[nodiscard]] uint32_t max_frame() const { return max_frame_; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }

 private:
  boost::asio::ip::tcp::socket socket_;
  plugins::relay_wire::RecordReader reader_{plugins::relay_wire::kMaxRecordBytes};
  std::vector<uint8_t> head_;
  std::vector<uint8_t> chunk_ = std::vector<uint8_t>(64 * 1024);
  sdk::MediaCipher* tx_ = nullptr;
  sdk::MediaCipher* rx_ = nullptr;
  uint64_t tx_counter_ = 0;
  uint64_t rx_counter_ = 0;
  uint32_t max_frame_ = 0;
};

} // namespace entre::relay
