#include "relay_transport.hpp"

#include "relay_wire.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace entre::plugins::tcp_relay {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace wire = relay_wire;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

namespace {

constexpr std::size_t kReadBytes = 16 * 1024;
constexpr std::size_t kMaxGather = 64;

sdk::Status config_error(const sdk::ConfigView& config, const char* key, const std::string& what) {
  std::string where(config.location(key).str());
  return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                            (where.empty() ? std::string() : where + ": ") + key + ": " + what);
}

sdk::Status read_u32(const sdk::ConfigView& config, const char* key, int64_t low, int64_t high,
                     uint32_t& out) {
  auto v = config.get_int_or(key, out);
  if (!v.is_ok()) {
    return v.status;
  }
  if (v.value < low || v.value > high) {
    return config_error(config, key,
                        "must be between " + std::to_string(low) + " and " + std::to_string(high));
  }
  out = static_cast<uint32_t>(v.value);
  return sdk::Status::ok();
}

sdk::Status error(sdk::StatusCode code, const std::string& text) {
  return sdk::Status::error(code, "tcp-relay: " + text);
}

} // namespace

sdk::Status read_config(const sdk::ConfigView& config, RelayConfig& out) {
  if (config.has("relays")) {
    auto n = config.get_array_size("relays");
    if (!n.is_ok()) {
      return n.status;
    }
    for (uint64_t i = 0; i < n.value; ++i) {
      auto item = config.get_string_at("relays", i);
      if (!item.is_ok()) {
        return item.status;
      }
      std::string why;
      if (!wire::parse_relay(item.value.str(), why)) {
        return config_error(config, "relays", "entry " + std::to_string(i + 1) + ": " + why);
      }
      // The node's endpoint through it ("relay:<relay>/<key>") must fit a contact code hint.
      if (item.value.size + 6 + 1 + 2 * wire::kKeyBytes > wire::kMaxEndpointTextBytes) {
        constexpr std::size_t kMaxPlace = wire::kMaxEndpointTextBytes - 6 - 2 - 4 * wire::kKeyBytes;
        return config_error(config, "relays",
                            "entry " + std::to_string(i + 1) +
                                ": <host>:<port> is too long for a contact code (at most " +
                                std::to_string(kMaxPlace) + " characters)");
      }
      out.relays.emplace_back(item.value.str());
    }
  }
  sdk::Status st = read_u32(config, "max_payload_bytes", sdk::kTransportMinPayloadBytes, 65000,
                            out.max_payload_bytes);
  if (st.is_ok()) {
    st = read_u32(config, "send_queue_frames", 1, 1048576, out.send_queue_frames);
  }
  if (st.is_ok()) {
    st = read_u32(config, "connect_timeout_ms", 100, 600000, out.connect_timeout_ms);
  }
  if (st.is_ok()) {
    st = read_u32(config, "reconnect_min_ms", 10, 600000, out.reconnect_min_ms);
  }
  if (st.is_ok()) {
    st = read_u32(config, "reconnect_max_ms", 10, 3600000, out.reconnect_max_ms);
  }
  if (st.is_ok()) {
    st = read_u32(config, "keepalive_ms", 100, 3600000, out.keepalive_ms);
  }
  if (st.is_ok()) {
    st = read_u32(config, "max_relays", 1, 256, out.max_relays);
  }
  if (st.is_ok()) {
    st = read_u32(config, "idle_close_ms", 1000, 86400000, out.idle_close_ms);
  }
  if (st.is_ok() && out.reconnect_max_ms < out.reconnect_min_ms) {
    st = config_error(config, "reconnect_max_ms", "must be at least reconnect_min_ms");
  }
  if (st.is_ok() && out.relays.size() > out.max_relays) {
    st = config_error(config, "relays", "lists more relays than max_relays allows");
  }
  return st;
}

// One connection to one relay, reconnected with backoff while it is wanted.
struct RelayLink : std::enable_shared_from_this<RelayLink> {
  enum class Phase { kIdle, kConnecting, kHello, kAwaitWelcome, kUp };

  RelayLink(std::weak_ptr<RelayTransport::State> owner, asio::io_context& io,
            wire::RelayAddress address, bool is_home)
      : state(std::move(owner)), relay(std::move(address)), text(relay.text()), home(is_home),
        resolver(io), socket(io), timer(io), ping_timer(io), reader(wire::kMaxHelloBytes),
        buffer(kReadBytes) {}
  ~RelayLink() { reset_crypto(); }

  void reset_crypto() {
    if (hs != nullptr) {
      hs->destroy();
      hs = nullptr;
    }
    if (tx != nullptr) {
      tx->destroy();
      tx = nullptr;
    }
    if (rx != nullptr) {
      rx->destroy();
      rx = nullptr;
    }
  }

  std::weak_ptr<RelayTransport::State> state;
  wire::RelayAddress relay;
  std::string text;
  bool home;
  Phase phase = Phase::kIdle;
  uint64_t generation = 0;
  bool closed = false; // removed: never reconnects
  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer timer;      // connect deadline, then the reconnect wait
  asio::steady_timer ping_timer; // keepalive while up
  wire::RecordReader reader;
  std::vector<uint8_t> buffer;
  sdk::Handshake* hs = nullptr;
  sdk::MediaCipher* tx = nullptr;
  sdk::MediaCipher* rx = nullptr;
  uint64_t tx_counter = 0;
  uint64_t rx_counter = 0;
  std::deque<std::vector<uint8_t>> pending; // messages waiting for the link to come up
  std::deque<std::vector<uint8_t>> out;     // records waiting for the socket
  bool writing = false;
  uint32_t backoff_ms = 0;
  uint32_t max_frame = 0;
  Clock::time_point last_used = Clock::now();
  Clock::time_point last_heard = Clock::now();
  Clock::time_point lost_at{};
  bool was_up = false;
  std::string problem; // why the last attempt failed, once reported; empty while linked
};

struct RelayTransport::State : std::enable_shared_from_this<RelayTransport::State> {
  State(sdk::Host& h, RelayConfig c)
      : host(h), io(h.io_context()), cfg(std::move(c)), rng(std::random_device{}()) {
    for (const auto& r : cfg.relays) {
      std::string ignored;
      home.push_back(*wire::parse_relay(r, ignored));
    }
  }

  sdk::Host& host;
  asio::io_context& io;
  RelayConfig cfg;
  std::vector<wire::RelayAddress> home;
  std::recursive_mutex mu;
  sdk::TransportEvents* events = nullptr;
  bool running = false;
  sdk::IdentityProof* proof = nullptr;
  wire::Key me{};
  std::string me_hex;
  std::map<std::string, std::shared_ptr<RelayLink>> links;
  std::minstd_rand rng;
  uint64_t frames_dropped = 0;
  std::vector<uint8_t> head_plain; // an opened head (under mu)

  void log(sdk::LogLevel level, const std::string& text) {
    host.log(level, sdk::StringView("tcp-relay: " + text));
  }

  [[nodiscard]] std::string endpoint_of(const RelayLink& l, const wire::Key& peer) const {
    return "relay:" + l.text + "/" + wire::hex(peer);
  }

  [[nodiscard]] bool wanted(const RelayLink& l) const {
    return running && proof != nullptr && !l.closed &&
           (l.home || !l.pending.empty() || Clock::now() - l.last_used < Ms(cfg.idle_close_ms));
  }

  std::shared_ptr<RelayLink> link_for(const wire::RelayAddress& address, bool is_home) {
    const std::string key = address.text();
    auto it = links.find(key);
    if (it != links.end()) {
      return it->second;
    }
    if (links.size() >= cfg.max_relays) {
      return nullptr;
    }
    auto l = std::make_shared<RelayLink>(weak_from_this(), io, address, is_home);
    links.emplace(key, l);
    return l;
  }

  // Wraps a handler: it runs under the lock, only while the transport lives and the link is still
  // in the connection attempt `gen`.
  template <typename Fn> auto guard(const std::shared_ptr<RelayLink>& l, uint64_t gen, Fn fn) {
    return [weak = weak_from_this(), l, gen, fn = std::move(fn)](auto&&... args) mutable {
      auto self = weak.lock();
      if (!self) {
        return;
      }
      std::lock_guard lock(self->mu);
      if (l->generation != gen || l->phase == RelayLink::Phase::kIdle) {
        return;
      }
      fn(std::forward<decltype(args)>(args)...);
    };
  }

  void connect(const std::shared_ptr<RelayLink>& l) {
    if (l->phase != RelayLink::Phase::kIdle || !wanted(*l)) {
      return;
    }
    l->phase = RelayLink::Phase::kConnecting;
    const uint64_t gen = ++l->generation;
    l->reader = wire::RecordReader(wire::kMaxHelloBytes);
    l->timer.expires_after(Ms(cfg.connect_timeout_ms));
    l->timer.async_wait(guard(l, gen, [this, l](const boost::system::error_code& ec) {
      if (!ec && l->phase != RelayLink::Phase::kUp) {
        lose(l, "no answer within " + std::to_string(cfg.connect_timeout_ms) + " ms", false);
      }
    }));
    l->resolver.async_resolve(
        l->relay.host, std::to_string(l->relay.port),
        guard(l, gen,
              [this, l, gen](const boost::system::error_code& ec,
                             const tcp::resolver::results_type& results) {
                if (ec) {
                  lose(l, "cannot resolve " + l->relay.host + ": " + ec.message(), false);
                  return;
                }
                auto done = guard(l, gen, [this, l](const boost::system::error_code& cec) {
                  if (cec) {
                    lose(l, "cannot connect: " + cec.message(), false);
                    return;
                  }
                  connected(l);
                });
                asio::async_connect(l->socket, results,
                                    [done](const boost::system::error_code& cec,
                                           const tcp::endpoint&) mutable { done(cec); });
              }));
  }

  void connected(const std::shared_ptr<RelayLink>& l) {
    boost::system::error_code ec;
    l->socket.set_option(tcp::no_delay(true), ec);
    l->phase = RelayLink::Phase::kHello;
    const auto prologue = wire::kPrologue;
    std::vector<uint8_t> message;
    sdk::VectorSink sink(message, wire::kMaxHelloBytes);
    const sdk::Status st = proof->begin(
        sdk::ByteView(l->relay.key),
        sdk::ByteView(reinterpret_cast<const uint8_t*>(prologue.data()), prologue.size()), &l->hs);
    if (!st.is_ok() || l->hs == nullptr || !l->hs->write_message(sdk::ByteView(), sink).is_ok()) {
      lose(l, "cannot start the handshake: " + std::string(st.text()), false);
      return;
    }
    queue_record(l, wire::client_hello(message));
    read(l);
  }

  void read(const std::shared_ptr<RelayLink>& l) {
    const uint64_t gen = l->generation;
    l->socket.async_read_some(
        asio::buffer(l->buffer),
        guard(l, gen, [this, l](const boost::system::error_code& ec, std::size_t n) {
          if (ec) {
            lose(l, ec == asio::error::eof ? "the relay closed the connection" : ec.message(),
                 false);
            return;
          }
          l->reader.feed(std::span<const uint8_t>(l->buffer.data(), n));
          const uint64_t now_gen = l->generation;
          while (l->generation == now_gen && l->phase != RelayLink::Phase::kIdle) {
            auto body = l->reader.next();
            if (!body) {
              if (!l->reader.error().empty()) {
                lose(l, "bad record from the relay: " + l->reader.error(), false);
              }
              break;
            }
            l->last_heard = Clock::now();
            on_record(l, *body);
          }
          if (l->generation == now_gen && l->phase != RelayLink::Phase::kIdle) {
            read(l);
          }
        }));
  }

  void on_record(const std::shared_ptr<RelayLink>& l, std::span<const uint8_t> body) {
    if (l->phase == RelayLink::Phase::kHello) {
      std::string why;
      const auto rec = wire::parse_clear(body, why);
      if (rec && rec->type == wire::Type::kRefused) {
        const auto reason = rec->reason;
        lose(l,
             std::string(reason == wire::Reason::kAuthFailed
                             ? "authentication failed (wrong relay key?): refused: "
                             : "refused: ") +
                 wire::reason_name(reason) + " (" +
                 std::string(rec->data.begin(), rec->data.end()) + ")",
             reason == wire::Reason::kBusy || reason == wire::Reason::kHandshakeRate ||
                 reason == wire::Reason::kVersion);
        return;
      }
      std::vector<uint8_t> ignored;
      sdk::VectorSink payload(ignored, 1024);
      if (!rec || rec->type != wire::Type::kRelayHello ||
          !l->hs->read_message(sdk::ByteView(rec->data), payload).is_ok() ||
          l->hs->status() != sdk::HandshakeStatus::kComplete) {
        lose(l,
             rec ? "authentication failed: the relay's handshake did not verify (wrong relay key?)"
                 : why,
             true);
        return;
      }
      const sdk::Status st =
          proof->finish(*l->hs, sdk::StringView(wire::kLinkLabel), &l->tx, &l->rx);
      l->hs->destroy();
      l->hs = nullptr;
      if (!st.is_ok()) {
        lose(l, "cannot key the link: " + std::string(st.text()), false);
        return;
      }
      l->tx_counter = 0;
      l->rx_counter = 0;
      l->phase = RelayLink::Phase::kAwaitWelcome;
      l->reader.set_max_body(cfg.max_payload_bytes + wire::kSealedFrameOverhead);
      wire::Message auth;
      auth.type = wire::Type::kAuth;
      send_sealed(l, wire::encode(auth));
      return;
    }
    std::string why;
    bool unverified = false;
    const auto m = wire::open_sealed_record(*l->rx, ++l->rx_counter, body, head_plain,
                                            cfg.max_payload_bytes, why, unverified);
    if (unverified || (!m && l->phase == RelayLink::Phase::kAwaitWelcome)) {
      // A relay that could not open our auth message says why in the clear.
      std::string ignored;
      const auto rec = l->phase == RelayLink::Phase::kAwaitWelcome
                           ? wire::parse_clear(body, ignored)
                           : std::nullopt;
      if (rec && rec->type == wire::Type::kRefused) {
        lose(l,
             std::string("refused: ") + wire::reason_name(rec->reason) + " (" +
                 std::string(rec->data.begin(), rec->data.end()) + ")",
             true);
        return;
      }
      lose(l, "a record from the relay did not verify", false);
      return;
    }
    if (!m) {
      lose(l, "bad message from the relay: " + why, false);
      return;
    }
    switch (m->type) {
    case wire::Type::kWelcome:
      if (l->phase == RelayLink::Phase::kAwaitWelcome) {
        up(l, *m);
      }
      break;
    case wire::Type::kDeliver:
      if (l->phase == RelayLink::Phase::kUp && events != nullptr) {
        l->last_used = Clock::now();
        const std::string from = endpoint_of(*l, m->key);
        events->on_frame(sdk::StringView(from), sdk::ByteView(m->frame));
      }
      break;
    case wire::Type::kUnreachable:
      if (events != nullptr) {
        const std::string to = endpoint_of(*l, m->key);
        events->on_link(sdk::StringView(to), sdk::LinkState::kDown);
      }
      break;
    case wire::Type::kPing: {
      wire::Message pong;
      pong.type = wire::Type::kPong;
      pong.nonce = m->nonce;
      send_sealed(l, wire::encode(pong));
      break;
    }
    case wire::Type::kPong:
      break;
    case wire::Type::kClosing:
      lose(l, std::string("the relay closed the link: ") + wire::reason_name(m->reason),
           m->reason == wire::Reason::kReplaced);
      break;
    default:
      lose(l, "unexpected message from the relay", false);
      break;
    }
  }

  void up(const std::shared_ptr<RelayLink>& l, const wire::Message& welcome) {
    l->phase = RelayLink::Phase::kUp;
    l->max_frame = std::min(cfg.max_payload_bytes, welcome.max_frame);
    l->backoff_ms = 0;
    l->timer.cancel();
    const auto lost_ms =
        l->was_up ? std::chrono::duration_cast<Ms>(Clock::now() - l->lost_at).count() : 0;
    log(sdk::LogLevel::kInfo,
        "linked to relay " + l->relay.place() +
            (l->was_up ? " again after " + std::to_string(lost_ms) + " ms" : std::string()) +
            (l->problem.empty() ? std::string() : " (it was unreachable: " + l->problem + ")"));
    l->problem.clear();
    l->was_up = true;
    if (events != nullptr) {
      const std::string mine = endpoint_of(*l, me);
      events->on_link(sdk::StringView(mine), sdk::LinkState::kUp);
    }
    while (!l->pending.empty()) {
      std::vector<uint8_t> m = std::move(l->pending.front());
      l->pending.pop_front();
      if (m.size() <= 1 + wire::kKeyBytes + l->max_frame) {
        send_sealed(l, m);
      } else {
        ++frames_dropped;
      }
    }
    schedule_ping(l, welcome.idle_ms);
  }

  void schedule_ping(const std::shared_ptr<RelayLink>& l, uint32_t relay_idle_ms) {
    const uint32_t every = std::max<uint32_t>(
        100, std::min(cfg.keepalive_ms, relay_idle_ms > 0 ? relay_idle_ms / 3 : cfg.keepalive_ms));
    l->ping_timer.expires_after(Ms(every));
    l->ping_timer.async_wait(guard(
        l, l->generation, [this, l, every, relay_idle_ms](const boost::system::error_code& ec) {
          if (ec || l->phase != RelayLink::Phase::kUp) {
            return;
          }
          const auto now = Clock::now();
          if (now - l->last_heard > Ms(2 * every + 1000)) {
            lose(l, "the relay went silent", false);
            return;
          }
          if (!l->home && now - l->last_used > Ms(cfg.idle_close_ms)) {
            log(sdk::LogLevel::kDebug, "closing idle link to relay " + l->relay.place());
            l->closed = true;
            lose(l, "idle", false);
            return;
          }
          wire::Message ping;
          ping.type = wire::Type::kPing;
          ping.nonce = rng();
          send_sealed(l, wire::encode(ping));
          schedule_ping(l, relay_idle_ms);
        }));
  }

  void send_sealed(const std::shared_ptr<RelayLink>& l, const std::vector<uint8_t>& message) {
    std::vector<uint8_t> rec;
    if (!wire::append_sealed_record(rec, *l->tx, ++l->tx_counter, message)) {
      lose(l, "cannot seal a record", false);
      return;
    }
    l->out.push_back(std::move(rec));
    flush(l);
  }

  void queue_record(const std::shared_ptr<RelayLink>& l, std::span<const uint8_t> body) {
    std::vector<uint8_t> rec;
    rec.reserve(body.size() + 2);
    wire::append_record(rec, body);
    l->out.push_back(std::move(rec));
    flush(l);
  }

  void flush(const std::shared_ptr<RelayLink>& l) {
    if (l->writing || l->out.empty()) {
      return;
    }
    auto chunk = std::make_shared<std::vector<uint8_t>>();
    for (std::size_t i = 0; i < kMaxGather && !l->out.empty(); ++i) {
      chunk->insert(chunk->end(), l->out.front().begin(), l->out.front().end());
      l->out.pop_front();
    }
    l->writing = true;
    asio::async_write(
        l->socket, asio::buffer(*chunk),
        guard(l, l->generation, [this, l, chunk](const boost::system::error_code& ec, std::size_t) {
          l->writing = false;
          if (ec) {
            lose(l, "write failed: " + ec.message(), false);
            return;
          }
          flush(l);
        }));
  }

  // Ends the connection attempt or link; reconnects after a backoff while the relay is wanted
  // (`long_wait`: straight to the longest backoff, for refusals that repeat).
  void lose(const std::shared_ptr<RelayLink>& l, const std::string& why, bool long_wait) {
    const bool was_up = l->phase == RelayLink::Phase::kUp;
    ++l->generation;
    l->phase = RelayLink::Phase::kIdle;
    boost::system::error_code ec;
    l->resolver.cancel();
    l->socket.close(ec);
    l->timer.cancel();
    l->ping_timer.cancel();
    l->reset_crypto();
    l->out.clear();
    l->writing = false;
    if (was_up) {
      l->lost_at = Clock::now();
      if (events != nullptr) {
        const std::string mine = endpoint_of(*l, me);
        events->on_link(sdk::StringView(mine), sdk::LinkState::kDown);
      }
    }
    if (!wanted(*l)) {
      if (!l->closed) {
        log(sdk::LogLevel::kDebug, "link to relay " + l->relay.place() + " ended: " + why);
      }
      links.erase(l->text);
      return;
    }
    l->backoff_ms = long_wait            ? cfg.reconnect_max_ms
                    : l->backoff_ms == 0 ? cfg.reconnect_min_ms
                                         : std::min(cfg.reconnect_max_ms, l->backoff_ms * 2);
    std::uniform_int_distribution<uint32_t> jitter(l->backoff_ms / 2, l->backoff_ms);
    const uint32_t wait = jitter(rng);
    // A failed attempt is a problem the person should see, once per reason (the kernel shows
    // warnings at the prompt, in the GUI and in `status`); retries stay at debug level.
    const bool new_problem = !was_up && why != l->problem;
    if (new_problem) {
      l->problem = why;
    }
    log(was_up        ? sdk::LogLevel::kInfo
        : new_problem ? sdk::LogLevel::kWarn
                      : sdk::LogLevel::kDebug,
        (was_up || !new_problem ? "relay " : "cannot reach relay ") + l->relay.place() + ": " +
            why + "; trying again in " + std::to_string(wait) + " ms");
    const uint64_t gen = l->generation;
    l->timer.expires_after(Ms(wait));
    l->timer.async_wait([weak = weak_from_this(), l, gen](const boost::system::error_code& tec) {
      auto self = weak.lock();
      if (tec || !self) {
        return;
      }
      std::lock_guard lock(self->mu);
      if (l->generation == gen) {
        self->connect(l);
      }
    });
  }

  void close_all() {
    auto all = std::move(links);
    links.clear();
    for (auto& [text, l] : all) {
      l->closed = true;
      lose(l, "closed", false);
    }
  }
};

RelayTransport::RelayTransport(sdk::Host& host, RelayConfig config)
    : state_(std::make_shared<State>(host, std::move(config))) {}

RelayTransport::~RelayTransport() { stop(); }

void RelayTransport::destroy() noexcept { delete this; }

sdk::TransportInfo RelayTransport::info() const noexcept {
  sdk::TransportInfo info{};
  std::memcpy(info.scheme, "relay", 6);
  info.flags = sdk::kTransportReliable | sdk::kTransportRelayed;
  info.max_payload_bytes = state_->cfg.max_payload_bytes;
  return info;
}

sdk::Status RelayTransport::start(sdk::TransportEvents& events) noexcept {
  std::lock_guard lock(state_->mu);
  if (state_->running) {
    return error(sdk::StatusCode::kInvalidArgument, "already started");
  }
  state_->events = &events;
  state_->running = true;
  if (state_->proof != nullptr) {
    for (const auto& r : state_->home) {
      if (auto l = state_->link_for(r, true)) {
        state_->connect(l);
      }
    }
  }
  return sdk::Status::ok();
}

void RelayTransport::stop() noexcept {
  std::lock_guard lock(state_->mu);
  if (!state_->running) {
    return;
  }
  state_->running = false;
  state_->close_all();
  state_->events = nullptr;
}

void RelayTransport::attach(sdk::IdentityProof* proof) noexcept {
  std::lock_guard lock(state_->mu);
  if (proof == nullptr) {
    state_->close_all();
    state_->proof = nullptr;
    return;
  }
  if (!proof->identity_public(sdk::MutableByteView(state_->me.data(), state_->me.size())).is_ok()) {
    state_->log(sdk::LogLevel::kError, "the node's identity is not available");
    return;
  }
  state_->proof = proof;
  state_->me_hex = wire::hex(state_->me);
  if (state_->running) {
    for (const auto& r : state_->home) {
      if (auto l = state_->link_for(r, true)) {
        state_->connect(l);
      }
    }
  }
}

sdk::Status RelayTransport::send(sdk::StringView endpoint, sdk::ByteView frame) noexcept {
  State& s = *state_;
  if (frame.size > s.cfg.max_payload_bytes) {
    return error(sdk::StatusCode::kOutOfRange, "frame larger than max_payload_bytes");
  }
  if (frame.size == 0) {
    return error(sdk::StatusCode::kInvalidArgument, "empty frame");
  }
  try {
    std::string why;
    const auto to = wire::parse_endpoint(endpoint.str(), why);
    if (!to) {
      return error(sdk::StatusCode::kInvalidArgument,
                   "cannot parse endpoint '" + std::string(endpoint.str()) + "': " + why);
    }
    std::lock_guard lock(s.mu);
    if (!s.running) {
      return error(sdk::StatusCode::kClosed, "transport is not running");
    }
    if (s.proof == nullptr) {
      return error(sdk::StatusCode::kUnavailable, "no identity yet (the node is locked)");
    }
    auto l = s.link_for(to->relay, false);
    if (!l) {
      return error(sdk::StatusCode::kUnavailable, "already linked to max_relays (" +
                                                      std::to_string(s.cfg.max_relays) +
                                                      ") relays");
    }
    l->last_used = Clock::now();
    std::vector<uint8_t> m = wire::encode_frame(wire::Type::kSend, to->peer, frame.span());
    if (l->phase == RelayLink::Phase::kUp) {
      if (frame.size > l->max_frame) {
        return error(sdk::StatusCode::kOutOfRange,
                     "frame larger than the relay allows (" + std::to_string(l->max_frame) + ")");
      }
      if (l->out.size() >= s.cfg.send_queue_frames) {
        ++s.frames_dropped;
        return error(sdk::StatusCode::kUnavailable, "send queue full");
      }
      s.send_sealed(l, m);
      return sdk::Status::ok();
    }
    if (l->pending.size() >= s.cfg.send_queue_frames) {
      ++s.frames_dropped;
      return error(sdk::StatusCode::kUnavailable, "relay not linked yet and the queue is full");
    }
    l->pending.push_back(std::move(m));
    s.connect(l);
    return sdk::Status::ok();
  } catch (const std::exception& e) {
    return error(sdk::StatusCode::kInternal, e.what());
  }
}

sdk::Status RelayTransport::local_endpoints(sdk::ByteSink& out) const noexcept {
  try {
    std::lock_guard lock(state_->mu);
    if (state_->proof == nullptr) {
      return sdk::Status::ok();
    }
    std::string text;
    for (const auto& r : state_->home) {
      text += (text.empty() ? "" : "\n") + std::string("relay:") + r.text() + "/" + state_->me_hex;
    }
    if (!out.append(sdk::StringView(text))) {
      return error(sdk::StatusCode::kBufferTooSmall, "sink refused the endpoints");
    }
  } catch (const std::exception& e) {
    return error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

sdk::Status RelayTransport::describe_path(sdk::StringView endpoint,
                                          sdk::ByteSink& out) const noexcept {
  try {
    std::string why;
    const auto e = wire::parse_endpoint(endpoint.str(), why);
    if (!e) {
      return error(sdk::StatusCode::kInvalidArgument, why);
    }
    if (!out.append(sdk::StringView("relay:" + e->relay.place()))) {
      return error(sdk::StatusCode::kBufferTooSmall, "sink refused the path");
    }
  } catch (const std::exception& e) {
    return error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

void* RelayTransport::query_interface(sdk::InterfaceId id) noexcept {
  if (id == sdk::InterfaceId::kTransportV1) {
    return static_cast<sdk::Transport*>(this);
  }
  if (id == sdk::InterfaceId::kRelayedTransportV1) {
    return static_cast<sdk::RelayedTransport*>(this);
  }
  return nullptr;
}

} // namespace entre::plugins::tcp_relay
