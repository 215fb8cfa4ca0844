#include "relay_server.hpp"

#include "peers/channel.hpp"
#include "relay_wire.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <vector>

namespace entre::relay {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
namespace wire = plugins::relay_wire;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxReadPerWake = 256 * 1024;
constexpr std::size_t kMaxGather = 64;
constexpr auto kCloseGrace = std::chrono::seconds(2);

std::string short_key(const wire::Key& key) { return wire::hex(key).substr(0, 8); }

// Tokens refill at `rate` per second up to `burst`; may go negative (a debt paid before more).
struct TokenBucket {
  double tokens = 0;
  double rate = 0;
  double burst = 0;
  Clock::time_point last{};

  void init(double r, double b) {
    rate = r;
    burst = b;
    tokens = b;
    last = Clock::now();
  }
  void refill() {
    const auto now = Clock::now();
    tokens = std::min(burst, tokens + rate * std::chrono::duration<double>(now - last).count());
    last = now;
  }
  // How long until the bucket holds `want` tokens.
  [[nodiscard]] Clock::duration wait_for(double want) const {
    const double missing = want - tokens;
    return missing <= 0 ? Clock::duration::zero()
                        : std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(missing / rate));
  }
};

} // namespace

class Connection;

class RelayServer::Impl : public std::enable_shared_from_this<RelayServer::Impl> {
 public:
  Impl(asio::io_context& io_context, sdk::CryptoSuite& crypto, std::span<const uint8_t> key,
       const RelaySection& config, std::shared_ptr<spdlog::logger> log, std::ostream* tap_stream)
      : io(io_context), suite(crypto), secret(key.begin(), key.end()), cfg(config),
        logger(std::move(log)), tap(tap_stream), acceptor(io_context), accept_retry(io_context),
        reflector(io_context), scratch(kReadChunk) {
    handshakes.init(cfg.handshakes_per_second, std::max<double>(cfg.handshakes_per_second, 1));
  }
  ~Impl() { sodium_memzero(secret.data(), secret.size()); }

  std::string start();
  void shutdown();
  void accept();
  void reflect();

  // Registry: the authenticated client of each key.
  void register_client(const std::shared_ptr<Connection>& conn);
  void unregister(Connection& conn);
  void forward(Connection& from, const wire::Key& to, std::span<const uint8_t> frame);
  void connection_closed(Connection& conn);
  bool take_handshake_token() {
    handshakes.refill();
    if (handshakes.tokens < 1) {
      return false;
    }
    handshakes.tokens -= 1;
    return true;
  }
  void tap_bytes(std::span<const uint8_t> bytes) {
    if (tap != nullptr) {
      tap->write(reinterpret_cast<const char*>(bytes.data()),
                 static_cast<std::streamsize>(bytes.size()));
    }
  }

  asio::io_context& io;
  sdk::CryptoSuite& suite;
  std::vector<uint8_t> secret;
  RelaySection cfg;
  std::shared_ptr<spdlog::logger> logger;
  std::ostream* tap;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  udp::socket reflector;
  udp::endpoint reflect_from;
  std::array<uint8_t, wire::kReflectRequestBytes + 1> reflect_buffer{};
  std::vector<uint8_t> scratch;    // one read buffer for every connection (one thread)
  std::vector<uint8_t> head_plain; // an opened head, likewise
  TokenBucket handshakes;
  std::map<wire::Key, std::weak_ptr<Connection>> clients;
  std::map<asio::ip::address, uint32_t> per_address;
  std::vector<std::weak_ptr<Connection>> all;
  RelayCounters counters;
  bool stopping = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State { kHello, kAwaitAuth, kReady, kClosing, kClosed };

  Connection(std::shared_ptr<RelayServer::Impl> server, tcp::socket s, asio::ip::address from)
      : owner(std::move(server)), srv(*owner), socket(std::move(s)), address(from), timer(srv.io),
        reader(wire::kMaxHelloBytes) {}
  ~Connection() {
    if (hs != nullptr) {
      hs->destroy();
    }
    if (tx != nullptr) {
      tx->destroy();
    }
    if (rx != nullptr) {
      rx->destroy();
    }
  }

  void start() {
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    socket.set_option(tcp::no_delay(true), ec);
    arm_deadline(std::chrono::milliseconds(srv.cfg.handshake_timeout_ms));
    wait_readable();
  }

  // Refuses in the clear (before the handshake) and closes.
  void refuse(wire::Reason reason, const std::string& text) {
    queue_record(wire::refused(reason, text));
    close_after_flush();
  }

  // Sends a sealed closing message once the link is keyed (a clear refusal before that, or when
  // the client's own sealed record did not open: then its keys are not ours) and closes.
  void close_with(wire::Reason reason) {
    if (state == State::kClosing || state == State::kClosed) {
      return;
    }
    if (tx != nullptr && reason != wire::Reason::kAuthFailed) {
      wire::Message m;
      m.type = wire::Type::kClosing;
      m.reason = reason;
      send_sealed(wire::encode(m));
      close_after_flush();
    } else {
      refuse(reason, wire::reason_name(reason));
    }
  }

  void deliver(const wire::Key& from, std::span<const uint8_t> frame) {
    if (state != State::kReady) {
      return;
    }
    if (out.size() >= srv.cfg.queue_depth_frames) {
      ++srv.counters.slow_consumers_dropped;
      srv.logger->debug("client {} dropped: {} records queued unread", short_key(key), out.size());
      close_with(wire::Reason::kSlowConsumer); // after its queue, if it ever reads it
      return;
    }
    std::array<uint8_t, 1 + wire::kKeyBytes> head{};
    head[0] = static_cast<uint8_t>(wire::Type::kDeliver);
    std::copy(from.begin(), from.end(), head.begin() + 1);
    seal_and_queue(head, frame);
  }

  void close_now() {
    if (state == State::kClosed) {
      return;
    }
    state = State::kClosed;
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    timer.cancel();
    if (resume_timer) {
      resume_timer->cancel();
    }
    srv.connection_closed(*this);
  }

  std::shared_ptr<RelayServer::Impl> owner; // keeps the server's state alive for late handlers
  RelayServer::Impl& srv;
  tcp::socket socket;
  asio::ip::address address;
  State state = State::kHello;
  wire::Key key{};
  bool registered = false;

 private:
  void arm_deadline(Clock::duration after) {
    timer.expires_after(after);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) {
        self->deadline();
      }
    });
  }

  void deadline() {
    if (state == State::kClosed) {
      return;
    }
    if (state == State::kClosing) {
      close_now();
      return;
    }
    if (state != State::kReady) {
      ++srv.counters.handshake_timeouts;
      srv.logger->debug("connection from {} closed: no handshake within {} ms", address.to_string(),
                        srv.cfg.handshake_timeout_ms);
      close_now();
      return;
    }
    const auto idle = std::chrono::milliseconds(srv.cfg.idle_timeout_ms);
    const auto quiet = Clock::now() - last_heard;
    if (quiet >= idle) {
      ++srv.counters.idle_closed;
      close_with(wire::Reason::kIdle);
      return;
    }
    arm_deadline(idle - quiet);
  }

  void wait_readable() {
    if (reading || state == State::kClosed || paused) {
      return;
    }
    reading = true;
    socket.async_wait(tcp::socket::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        self->reading = false;
                        if (ec || self->state == State::kClosed) {
                          return;
                        }
                        self->on_readable();
                      });
  }

  void on_readable() {
    std::size_t total = 0;
    bool eof = false;
    while (total < kMaxReadPerWake) {
      boost::system::error_code ec;
      const std::size_t n = socket.read_some(asio::buffer(srv.scratch), ec);
      if (ec == asio::error::would_block) {
        break;
      }
      if (ec) {
        eof = true;
        break;
      }
      total += n;
      const std::span<const uint8_t> got(srv.scratch.data(), n);
      srv.tap_bytes(got);
      if (state == State::kClosing) {
        continue; // read and ignore until the peer goes
      }
      reader.feed(got);
      if (!drain()) {
        return;
      }
      if (paused) {
        break;
      }
    }
    if (eof) {
      close_now();
      return;
    }
    wait_readable();
  }

  // Handles every whole record buffered; false when the connection closed.
  bool drain() {
    while (state != State::kClosed && state != State::kClosing && !paused) {
      auto body = reader.next();
      if (!body) {
        if (!reader.error().empty()) {
          const bool large =
              reader.error_kind() == wire::RecordReader::Error::kTooLarge && state == State::kReady;
          if (large) {
            ++srv.counters.frames_too_large;
          } else {
            ++srv.counters.protocol_errors;
          }
          close_with(large ? wire::Reason::kFrameTooLarge : wire::Reason::kProtocol);
        }
        break;
      }
      last_heard = Clock::now();
      if (state == State::kHello) {
        on_hello(*body);
      } else {
        on_sealed(*body);
      }
    }
    return state != State::kClosed;
  }

  void on_hello(std::span<const uint8_t> body) {
    std::string error;
    const auto rec = wire::parse_clear(body, error);
    if (!rec || rec->type != wire::Type::kClientHello) {
      ++srv.counters.protocol_errors;
      refuse(wire::Reason::kProtocol, rec ? "expected a client hello" : error);
      return;
    }
    if (rec->version != wire::kVersion) {
      ++srv.counters.refused_version;
      refuse(wire::Reason::kVersion, "this relay speaks version " + std::to_string(wire::kVersion) +
                                         ", not " + std::to_string(rec->version));
      return;
    }
    if (!srv.take_handshake_token()) {
      ++srv.counters.refused_handshake_rate;
      refuse(wire::Reason::kHandshakeRate, "too many handshakes; try again later");
      return;
    }
    const auto prologue = wire::kPrologue;
    sdk::HandshakeParams params{
        sdk::HandshakePattern::kIK,
        sdk::HandshakeRole::kResponder,
        sdk::ByteView(srv.secret),
        sdk::ByteView(),
        sdk::ByteView(reinterpret_cast<const uint8_t*>(prologue.data()), prologue.size()),
        sdk::ByteView()};
    if (!srv.suite.create_handshake(params, &hs).is_ok() || hs == nullptr) {
      close_now();
      return;
    }
    std::vector<uint8_t> ignored;
    sdk::VectorSink payload(ignored, 1024);
    std::vector<uint8_t> reply;
    sdk::VectorSink reply_sink(reply, 1024);
    if (!hs->read_message(sdk::ByteView(rec->data), payload).is_ok() ||
        !hs->write_message(sdk::ByteView(), reply_sink).is_ok() ||
        hs->status() != sdk::HandshakeStatus::kComplete ||
        !hs->remote_public(sdk::MutableByteView(key.data(), key.size())).is_ok()) {
      ++srv.counters.handshakes_failed;
      srv.logger->debug("handshake from {} failed", address.to_string());
      refuse(wire::Reason::kAuthFailed, "handshake failed");
      return;
    }
    const sdk::Status st = link_ciphers(srv.suite, *hs, wire::kLinkLabel, false, &tx, &rx);
    hs->destroy();
    hs = nullptr;
    if (!st.is_ok()) {
      close_now();
      return;
    }
    queue_record(wire::relay_hello(reply));
    state = State::kAwaitAuth;
    reader.set_max_body(srv.cfg.max_frame_bytes + wire::kSealedFrameOverhead);
  }

  void on_sealed(std::span<const uint8_t> body) {
    std::string error;
    bool unverified = false;
    const auto m = wire::open_sealed_record(*rx, ++rx_counter, body, srv.head_plain,
                                            srv.cfg.max_frame_bytes, error, unverified);
    if (unverified) {
      ++(state == State::kAwaitAuth ? srv.counters.auth_failures : srv.counters.records_unverified);
      close_with(wire::Reason::kAuthFailed);
      return;
    }
    srv.tap_bytes(srv.head_plain);
    if (!m) {
      const bool large = error.rfind("frame of", 0) == 0;
      ++(large ? srv.counters.frames_too_large : srv.counters.protocol_errors);
      close_with(large ? wire::Reason::kFrameTooLarge : wire::Reason::kProtocol);
      return;
    }
    if (state == State::kAwaitAuth) {
      if (m->type != wire::Type::kAuth) {
        ++srv.counters.protocol_errors;
        close_with(wire::Reason::kProtocol);
        return;
      }
      state = State::kReady;
      bucket.init(srv.cfg.client_rate_bytes_per_second, srv.cfg.client_burst_bytes);
      srv.register_client(shared_from_this());
      wire::Message welcome;
      welcome.type = wire::Type::kWelcome;
      welcome.max_frame = srv.cfg.max_frame_bytes;
      welcome.idle_ms = srv.cfg.idle_timeout_ms;
      send_sealed(wire::encode(welcome));
      arm_deadline(std::chrono::milliseconds(srv.cfg.idle_timeout_ms));
      return;
    }
    switch (m->type) {
    case wire::Type::kSend:
      bucket.refill();
      bucket.tokens -= static_cast<double>(m->frame.size());
      srv.forward(*this, m->key, m->frame);
      if (bucket.tokens < 0) {
        pause_reading();
      }
      break;
    case wire::Type::kPing: {
      wire::Message pong;
      pong.type = wire::Type::kPong;
      pong.nonce = m->nonce;
      send_sealed(wire::encode(pong));
      break;
    }
    case wire::Type::kPong:
      break;
    default:
      ++srv.counters.protocol_errors;
      close_with(wire::Reason::kProtocol);
      break;
    }
  }

  void pause_reading() {
    paused = true;
    ++srv.counters.rate_limit_pauses;
    if (!resume_timer) {
      resume_timer.emplace(srv.io);
    }
    resume_timer->expires_after(bucket.wait_for(0) + std::chrono::milliseconds(1));
    resume_timer->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->state == Connection::State::kClosed) {
        return;
      }
      self->bucket.refill();
      self->paused = false;
      if (self->drain()) {
        self->wait_readable();
      }
    });
  }

 public:
  void send_sealed(const std::vector<uint8_t>& message) { seal_and_queue(message, {}); }

  // One record: `head` sealed with `frame` (may be empty) as associated data, then the frame.
  void seal_and_queue(std::span<const uint8_t> head, std::span<const uint8_t> frame) {
    srv.tap_bytes(head);
    std::vector<uint8_t> rec;
    if (!wire::append_sealed_record(rec, *tx, ++tx_counter, head, frame)) {
      close_now();
      return;
    }
    out.push_back(std::move(rec));
    flush();
  }

 private:
  void queue_record(std::span<const uint8_t> body) {
    std::vector<uint8_t> rec;
    rec.reserve(body.size() + 2);
    wire::append_record(rec, body);
    out.push_back(std::move(rec));
    flush();
  }

  void flush() {
    if (writing || out.empty() || state == State::kClosed) {
      return;
    }
    writing = true;
    gather.clear();
    const std::size_t n = std::min(out.size(), kMaxGather);
    for (std::size_t i = 0; i < n; ++i) {
      gather.emplace_back(asio::buffer(out[i]));
      srv.tap_bytes(out[i]);
    }
    asio::async_write(socket, gather,
                      [self = shared_from_this(), n](const boost::system::error_code& ec,
                                                     std::size_t) { self->written(ec, n); });
  }

  void written(const boost::system::error_code& ec, std::size_t n) {
    writing = false;
    if (ec || state == State::kClosed) {
      close_now();
      return;
    }
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    if (out.empty() && state == State::kClosing) {
      close_now();
      return;
    }
    flush();
  }

  void close_after_flush() {
    state = State::kClosing;
    if (registered) {
      srv.unregister(*this);
    }
    arm_deadline(kCloseGrace);
    if (!writing && out.empty()) {
      close_now();
    }
  }

  asio::steady_timer timer;
  std::optional<asio::steady_timer> resume_timer;
  wire::RecordReader reader;
  sdk::Handshake* hs = nullptr;
  sdk::MediaCipher* tx = nullptr;
  sdk::MediaCipher* rx = nullptr;
  uint64_t tx_counter = 0;
  uint64_t rx_counter = 0;
  std::deque<std::vector<uint8_t>> out;
  std::vector<asio::const_buffer> gather;
  bool writing = false;
  bool reading = false;
  bool paused = false;
  TokenBucket bucket;
  Clock::time_point last_heard = Clock::now();
};

std::string RelayServer::Impl::start() {
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(cfg.listen, ec);
  if (ec) {
    return "relay.listen: '" + cfg.listen + "' is not an IP address";
  }
  const tcp::endpoint at(ip, cfg.port);
  acceptor.open(at.protocol(), ec);
  if (!ec) {
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(at, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    return "cannot listen on TCP " + at.address().to_string() + ":" + std::to_string(cfg.port) +
           ": " + ec.message();
  }
  if (cfg.udp_reflect_port != 0) {
    const udp::endpoint uat(ip, cfg.udp_reflect_port);
    reflector.open(uat.protocol(), ec);
    if (!ec) {
      reflector.bind(uat, ec);
    }
    if (ec) {
      return "cannot bind UDP " + uat.address().to_string() + ":" +
             std::to_string(cfg.udp_reflect_port) + " for endpoint reflection: " + ec.message();
    }
    reflect();
  }
  accept();
  return {};
}

void RelayServer::Impl::accept() {
  acceptor.async_accept(
      [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || self->stopping) {
          return;
        }
        if (!ec) {
          boost::system::error_code peer_ec;
          const auto peer = socket.remote_endpoint(peer_ec);
          if (!peer_ec) {
            ++self->counters.connections_accepted;
            auto conn = std::make_shared<Connection>(self, std::move(socket), peer.address());
            ++self->counters.connections_open;
            uint32_t& from_here = self->per_address[peer.address()];
            ++from_here;
            self->all.push_back(conn);
            conn->start();
            if (self->counters.connections_open > self->cfg.max_connections) {
              ++self->counters.refused_busy;
              conn->refuse(wire::Reason::kBusy, "the relay is full");
            } else if (from_here > self->cfg.max_connections_per_address) {
              ++self->counters.refused_busy;
              conn->refuse(wire::Reason::kBusy, "too many connections from your address");
            }
          }
          self->accept();
          return;
        }
        // Out of descriptors or memory: wait a little rather than spin.
        self->logger->warn("accept failed: {}; accepting again in 100 ms", ec.message());
        self->accept_retry.expires_after(std::chrono::milliseconds(100));
        self->accept_retry.async_wait([self](const boost::system::error_code& tec) {
          if (!tec && !self->stopping) {
            self->accept();
          }
        });
      });
}

void RelayServer::Impl::reflect() {
  reflector.async_receive_from(
      asio::buffer(reflect_buffer), reflect_from,
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || self->stopping) {
          return;
        }
        if (!ec) {
          const auto nonce =
              wire::parse_reflect_request(std::span<const uint8_t>(self->reflect_buffer.data(), n));
          if (nonce) {
            wire::Reflected seen;
            auto address = self->reflect_from.address();
            if (address.is_v6() && address.to_v6().is_v4_mapped()) {
              address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
            }
            seen.v6 = address.is_v6();
            if (seen.v6) {
              const auto bytes = address.to_v6().to_bytes();
              std::copy(bytes.begin(), bytes.end(), seen.address.begin());
            } else {
              const auto bytes = address.to_v4().to_bytes();
              std::copy(bytes.begin(), bytes.end(), seen.address.begin());
            }
            seen.port = self->reflect_from.port();
            const auto reply = wire::reflect_response(*nonce, seen);
            boost::system::error_code send_ec;
            self->reflector.send_to(asio::buffer(reply), self->reflect_from, 0, send_ec);
            ++self->counters.reflections;
          }
        }
        self->reflect();
      });
}

void RelayServer::Impl::register_client(const std::shared_ptr<Connection>& conn) {
  auto it = clients.find(conn->key);
  if (auto old = it == clients.end() ? nullptr : it->second.lock();
      old && old.get() != conn.get()) {
    ++counters.replaced;
    unregister(*old);
    old->close_with(wire::Reason::kReplaced);
  }
  clients[conn->key] = conn;
  conn->registered = true;
  ++counters.clients_authenticated;
  ++counters.clients_online;
  logger->debug("client {} authenticated from {}", short_key(conn->key), conn->address.to_string());
}

void RelayServer::Impl::unregister(Connection& conn) {
  if (!conn.registered) {
    return;
  }
  conn.registered = false;
  --counters.clients_online;
  auto it = clients.find(conn.key);
  if (it != clients.end() && it->second.lock().get() == &conn) {
    clients.erase(it);
  }
}

void RelayServer::Impl::forward(Connection& from, const wire::Key& to,
                                std::span<const uint8_t> frame) {
  auto it = clients.find(to);
  std::shared_ptr<Connection> target = it == clients.end() ? nullptr : it->second.lock();
  if (!target || target->state != Connection::State::kReady) {
    ++counters.frames_unreachable;
    wire::Message m;
    m.type = wire::Type::kUnreachable;
    m.key = to;
    from.send_sealed(wire::encode(m));
    return;
  }
  ++counters.frames_forwarded;
  counters.bytes_forwarded += frame.size();
  target->deliver(from.key, frame);
}

void RelayServer::Impl::connection_closed(Connection& conn) {
  unregister(conn);
  --counters.connections_open;
  auto it = per_address.find(conn.address);
  if (it != per_address.end() && --it->second == 0) {
    per_address.erase(it);
  }
  if (all.size() > 64 && all.size() > 2 * counters.connections_open) {
    std::erase_if(all, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
  }
}

void RelayServer::Impl::shutdown() {
  if (stopping) {
    return;
  }
  stopping = true;
  boost::system::error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  reflector.close(ec);
  for (auto& weak : all) {
    if (auto conn = weak.lock()) {
      conn->close_with(wire::Reason::kShutdown);
    }
  }
}

RelayServer::RelayServer(asio::io_context& io, sdk::CryptoSuite& suite,
                         std::span<const uint8_t> secret, const RelaySection& config,
                         std::shared_ptr<spdlog::logger> logger, std::ostream* tap)
    : impl_(std::make_shared<Impl>(io, suite, secret, config, std::move(logger), tap)) {}

RelayServer::~RelayServer() {
  impl_->shutdown();
  for (auto& weak : impl_->all) {
    if (auto conn = weak.lock()) {
      conn->close_now();
    }
  }
}

std::string RelayServer::start() { return impl_->start(); }

void RelayServer::shutdown() { impl_->shutdown(); }

uint16_t RelayServer::tcp_port() const {
  boost::system::error_code ec;
  const auto at = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : at.port();
}

uint16_t RelayServer::udp_port() const {
  boost::system::error_code ec;
  const auto at = impl_->reflector.local_endpoint(ec);
  return ec ? 0 : at.port();
}

RelayCounters RelayServer::counters() const { return impl_->counters; }

std::string RelayServer::counters_json() const {
  const RelayCounters& c = impl_->counters;
  nlohmann::json j = {
      {"tcp_port", tcp_port()},
      {"udp_port", udp_port()},
      {"connections_accepted", c.connections_accepted},
      {"connections_open", c.connections_open},
      {"clients_authenticated", c.clients_authenticated},
      {"clients_online", c.clients_online},
      {"refused_busy", c.refused_busy},
      {"refused_handshake_rate", c.refused_handshake_rate},
      {"refused_version", c.refused_version},
      {"handshakes_failed", c.handshakes_failed},
      {"auth_failures", c.auth_failures},
      {"records_unverified", c.records_unverified},
      {"handshake_timeouts", c.handshake_timeouts},
      {"protocol_errors", c.protocol_errors},
      {"frames_too_large", c.frames_too_large},
      {"frames_forwarded", c.frames_forwarded},
      {"bytes_forwarded", c.bytes_forwarded},
      {"frames_unreachable", c.frames_unreachable},
      {"rate_limit_pauses", c.rate_limit_pauses},
      {"slow_consumers_dropped", c.slow_consumers_dropped},
      {"idle_closed", c.idle_closed},
      {"replaced", c.replaced},
      {"reflections", c.reflections},
  };
  return j.dump();
}

} // namespace entre::relay
