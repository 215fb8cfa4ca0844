#include "sync_client.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <stdexcept>
#include <thread>

namespace entre::relay {

namespace asio = boost::asio;
namespace wire = plugins::relay_wire;

SyncClient::SyncClient(asio::io_context& io, uint16_t port, const std::string& host) : socket_(io) {
  socket_.connect({asio::ip::make_address(host), port});
  socket_.set_option(asio::ip::tcp::no_delay(true));
}

SyncClient::~SyncClient() {
  if (tx_ != nullptr) {
    tx_->destroy();
  }
  if (rx_ != nullptr) {
    rx_->destroy();
  }
}

void SyncClient::write_record(std::span<const uint8_t> body) {
  std::vector<uint8_t> rec;
  wire::append_record(rec, body);
  write_raw(rec);
}

void SyncClient::write_raw(std::span<const uint8_t> bytes) {
  asio::write(socket_, asio::buffer(bytes.data(), bytes.size()));
}

std::optional<std::vector<uint8_t>> SyncClient::read_record() {
  while (true) {
    if (auto body = reader_.next()) {
      return std::vector<uint8_t>(body->begin(), body->end());
    }
    if (!reader_.error().empty()) {
      return std::nullopt;
    }
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(chunk_), ec);
    if (ec) {
      return std::nullopt;
    }
    reader_.feed(std::span<const uint8_t>(chunk_.data(), n));
  }
}

bool SyncClient::closed_within(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  socket_.non_blocking(true);
  std::array<uint8_t, 4096> sink{};
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(sink), ec);
    closed = ec && ec != asio::error::would_block;
    if (!closed && ec) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  socket_.non_blocking(false);
  return closed;
}

bool SyncClient::authenticate(sdk::IdentityProof& proof, const wire::Key& relay_key,
                              std::string& error) {
  sdk::Handshake* hs = nullptr;
  const auto prologue = wire::kPrologue;
  sdk::Status st = proof.begin(
      sdk::ByteView(relay_key),
      sdk::ByteView(reinterpret_cast<const uint8_t*>(prologue.data()), prologue.size()), &hs);
  std::vector<uint8_t> msg1;
  sdk::VectorSink sink(msg1, 1024);
  if (st.is_ok()) {
    st = hs->write_message(sdk::ByteView(), sink);
  }
  if (!st.is_ok()) {
    error = "handshake: " + std::string(st.text());
    if (hs != nullptr) {
      hs->destroy();
    }
    return false;
  }
  write_record(wire::client_hello(msg1));
  const auto reply = read_record();
  const auto hello = reply ? wire::parse_clear(*reply, error) : std::nullopt;
  std::vector<uint8_t> ignored;
  sdk::VectorSink payload(ignored, 1024);
  bool ok = hello && hello->type == wire::Type::kRelayHello &&
            hs->read_message(sdk::ByteView(hello->data), payload).is_ok() &&
            proof.finish(*hs, sdk::StringView(wire::kLinkLabel), &tx_, &rx_).is_ok();
  hs->destroy();
  if (!ok) {
    if (hello && hello->type == wire::Type::kRefused) {
      error = std::string("refused: ") + wire::reason_name(hello->reason);
    } else if (error.empty()) {
      error = reply ? "the relay's hello did not verify" : "the relay closed the connection";
    }
    return false;
  }
  wire::Message auth;
  auth.type = wire::Type::kAuth;
  write_raw(sealed(wire::encode(auth)));
  std::vector<uint8_t> plain;
  const auto welcome = read_message(plain);
  if (!welcome || welcome->type != wire::Type::kWelcome) {
    error = "no welcome";
    return false;
  }
  max_frame_ = welcome->max_frame;
  return true;
}

void SyncClient::append_sealed(std::vector<uint8_t>& out, std::span<const uint8_t> message) {
  if (tx_ == nullptr || !wire::append_sealed_record(out, *tx_, ++tx_counter_, message)) {
    throw std::runtime_error("cannot seal: not authenticated");
  }
}

std::vector<uint8_t> SyncClient::sealed(std::span<const uint8_t> message) {
  std::vector<uint8_t> out;
  append_sealed(out, message);
  return out;
}

std::optional<wire::Message> SyncClient::read_message(std::vector<uint8_t>& plain) {
  auto record = read_record();
  if (!record || rx_ == nullptr) {
    return std::nullopt;
  }
  plain = std::move(*record); // the frame of a delivery points into it
  return open_record(plain);
}

std::optional<wire::Message> SyncClient::open_record(std::span<const uint8_t> body) {
  if (rx_ == nullptr) {
    return std::nullopt;
  }
  std::string why;
  bool unverified = false;
  return wire::open_sealed_record(*rx_, ++rx_counter_, body, head_, wire::kMaxRecordBytes, why,
                                  unverified);
}

} // namespace entre::relay
