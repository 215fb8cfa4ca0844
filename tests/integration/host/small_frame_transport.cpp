// A transport that declares frames smaller than the kernel's smallest (64 bytes, below
// sdk::kTransportMinPayloadBytes): a node must refuse it by name when it starts, and
// entre-host --check must say so, instead of running a transport that can never link.
#include <entre/sdk/plugin.hpp>
#include <entre/sdk/transport.hpp>

#include <cstring>
#include <new>

namespace {

namespace sdk = entre::sdk;

class SmallFrameTransport final : public sdk::Plugin, public sdk::Transport {
 public:
  void* query_interface(sdk::InterfaceId id) noexcept override {
    return id == sdk::InterfaceId::kTransportV1 ? static_cast<sdk::Transport*>(this) : nullptr;
  }
  void destroy() noexcept override { delete this; }

  sdk::TransportInfo info() const noexcept override {
    sdk::TransportInfo info{};
    std::memcpy(info.scheme, "small", 6);
    info.max_payload_bytes = 64;
    return info;
  }
  sdk::Status start(sdk::TransportEvents&) noexcept override { return sdk::Status::ok(); }
  void stop() noexcept override {}
  sdk::Status send(sdk::StringView, sdk::ByteView) noexcept override {
    return sdk::Status::error(sdk::StatusCode::kUnavailable, "small: sends nothing");
  }
  sdk::Status local_endpoints(sdk::ByteSink&) const noexcept override { return sdk::Status::ok(); }

 private:
  ~SmallFrameTransport() override = default;
};

sdk::Status create(sdk::Host&, sdk::Plugin** out) {
  *out = new (std::nothrow) SmallFrameTransport();
  return *out != nullptr ? sdk::Status::ok()
                         : sdk::Status::error(sdk::StatusCode::kInternal, "out of memory");
}

} // namespace

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kTransport, "entre.test.small-frames", "1.0.0",
                      "a transport whose frames are too small to link (test fixture)");
ENTRE_PLUGIN_FACTORY(create);
