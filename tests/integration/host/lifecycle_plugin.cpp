// Test plugin that records its own lifecycle: the root object's destruction and the library's
// unloading each append a line to the file named by $ENTRE_LIFECYCLE_LOG, so a test can check that
// the kernel destroys plugin objects before it unloads their library.
#include <entre/sdk/codec.hpp>
#include <entre/sdk/plugin.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lifecycle {

namespace sdk = entre::sdk;

void record(const char* what) {
  const char* path = std::getenv("ENTRE_LIFECYCLE_LOG");
  if (path == nullptr) {
    return;
  }
  if (FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "%s\n", what);
    std::fclose(f);
  }
}

__attribute__((destructor)) void on_unload() { record("library-unloaded"); }

class Plugin final : public sdk::Plugin, public sdk::Codec {
 public:
  void* query_interface(sdk::InterfaceId id) noexcept override {
    return id == sdk::InterfaceId::kCodecV1 ? static_cast<sdk::Codec*>(this) : nullptr;
  }
  void destroy() noexcept override {
    record("object-destroyed");
    delete this;
  }
  sdk::CodecInfo info() const noexcept override {
    sdk::CodecInfo info{};
    std::memcpy(info.name, "lifecycle", 10);
    return info;
  }
  sdk::Status create_encoder(const sdk::EncoderParams&, sdk::Encoder**) noexcept override {
    return sdk::Status::error(sdk::StatusCode::kUnsupported, "lifecycle: no encoder");
  }
  sdk::Status create_decoder(const sdk::DecoderParams&, sdk::Decoder**) noexcept override {
    return sdk::Status::error(sdk::StatusCode::kUnsupported, "lifecycle: no decoder");
  }

 private:
  ~Plugin() override = default;
};

sdk::Status create(sdk::Host& host, sdk::Plugin** out) {
  auto greeting = host.config().get_string_or("greeting", "hello");
  if (!greeting.is_ok()) {
    return greeting.status;
  }
  record("object-created");
  *out = new Plugin();
  return sdk::Status::ok();
}

} // namespace lifecycle

ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kCodec, "entre.test.lifecycle", "0.0.1",
                      "Records its lifecycle for the host tests");
ENTRE_PLUGIN_FACTORY(lifecycle::create);
