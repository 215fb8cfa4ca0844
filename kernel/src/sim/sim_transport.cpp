#include "sim/sim_transport.hpp"

#include <cstring>
#include <exception>
#include <memory>
#include <utility>

namespace entre::sim {

SimTransport::SimTransport(SimNetwork& network, std::string name, uint32_t max_payload_bytes,
                           uint32_t flags)
    : network_(network), name_(std::move(name)), max_payload_bytes_(max_payload_bytes),
      flags_(flags) {}

SimTransport::~SimTransport() { stop(); }

sdk::TransportInfo SimTransport::info() const noexcept {
  sdk::TransportInfo info{};
  std::memcpy(info.scheme, kSimScheme.data(), kSimScheme.size());
  info.flags = flags_;
  info.max_payload_bytes = max_payload_bytes_;
  return info;
}

sdk::Status SimTransport::start(sdk::TransportEvents& events) noexcept {
  if (events_ != nullptr) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "sim: already started");
  }
  if (!is_valid_sim_name(name_)) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                              "sim: invalid node name '" + name_ + "'");
  }
  try {
    if (!network_.attach(name_, *this)) {
      return sdk::Status::error(sdk::StatusCode::kAlreadyExists,
                                "sim: node name '" + name_ + "' is taken");
    }
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  events_ = &events;
  return sdk::Status::ok();
}

void SimTransport::stop() noexcept {
  if (events_ == nullptr) {
    return;
  }
  events_ = nullptr;
  network_.detach(name_);
}

sdk::Status SimTransport::send(sdk::StringView endpoint, sdk::ByteView frame) noexcept {
  if (frame.size > max_payload_bytes_) {
    return sdk::Status::error(sdk::StatusCode::kOutOfRange, "sim: frame larger than max_payload");
  }
  const auto to = parse_sim_endpoint(endpoint.str());
  if (!to) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                              "sim: cannot parse endpoint '" + std::string(endpoint.str()) + "'");
  }
  if (events_ == nullptr) {
    return sdk::Status::error(sdk::StatusCode::kClosed, "sim: transport is not running");
  }
  try {
    network_.send(name_, *to, frame.span());
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

sdk::Status SimTransport::local_endpoints(sdk::ByteSink& out) const noexcept {
  try {
    if (!out.append(sdk::StringView(endpoint()))) {
      return sdk::Status::error(sdk::StatusCode::kBufferTooSmall, "sim: sink refused endpoint");
    }
  } catch (const std::exception& e) {
    return sdk::Status::error(sdk::StatusCode::kInternal, e.what());
  }
  return sdk::Status::ok();
}

void SimTransport::deliver(std::string_view from, std::span<const uint8_t> frame) {
  if (events_ == nullptr) {
    return;
  }
  if (frame.size() > max_payload_bytes_) {
    ++dropped_oversize_;
    return;
  }
  events_->on_frame(sdk::StringView(from), sdk::ByteView(frame));
}

SimTransportFactory::SimTransportFactory(SimNetwork& network, uint32_t max_payload_bytes,
                                         std::string name_prefix)
    : network_(network), max_payload_bytes_(max_payload_bytes),
      name_prefix_(std::move(name_prefix)) {}

sdk::Status SimTransportFactory::create_started(sdk::TransportEvents& events,
                                                StartedTransport& out) {
  const std::string name = name_prefix_ + std::to_string(++created_);
  auto transport = std::make_shared<SimTransport>(network_, name, max_payload_bytes_);
  const sdk::Status st = transport->start(events);
  if (!st.is_ok()) {
    return st;
  }
  out.endpoint = transport->endpoint();
  sdk::Transport* view = transport.get();
  out.transport = TransportFactory::Instance(
      view, [owner = std::move(transport)](sdk::Transport*) mutable { owner.reset(); });
  return sdk::Status::ok();
}

void SimTransportFactory::run_on_loop(const std::function<void()>& fn) { fn(); }

bool SimTransportFactory::wait_until(const std::function<bool()>& done, uint32_t timeout_ms) {
  for (uint32_t elapsed = 0; elapsed < timeout_ms; ++elapsed) {
    if (done()) {
      return true;
    }
    network_.clock().advance(1);
  }
  return done();
}

} // namespace entre::sim
