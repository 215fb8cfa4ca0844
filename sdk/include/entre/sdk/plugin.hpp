// Plugins: manifest, factory and the root object.
//
// A plugin is a shared object that exports exactly two symbols:
//
//   entre_plugin_manifest   an extern "C" PluginManifest: plain bytes, no pointers, no constructor.
//                           The loader reads it straight from the ELF file and checks it (magic,
//                           ABI major and minor, Boost version, kind, unique id) before the library
//                           is mapped, so no plugin code, not even a static constructor, runs for a
//                           plugin that fails the checks.
//   entre_plugin_factory    a Boost.DLL alias to a function of type PluginFactory.
//
// Write them with the two macros, once per plugin, in the plugin's registration file:
//
//   ENTRE_PLUGIN_MANIFEST(entre::sdk::PluginKind::kCodec, "org.example.codec.mulaw", "1.2.0",
//                         "G.711 mu-law codec");
//   ENTRE_PLUGIN_FACTORY(org::example::create_plugin);
//
// Contract
// - The factory builds the plugin's root object. It must not throw; on failure it returns a Status
//   (the kernel shows its message with the plugin's file) and leaves *out untouched.
// - The factory reads and checks every setting (host.hpp) and does nothing else that outlives it
//   or reaches outside the process: no file written, no socket bound, no device opened (do that
//   in start(), open() or on first use). `entre-host --check` creates every plugin of a profile
//   this way to check its settings, then destroys it without starting anything.
// - Ownership: the plugin creates and destroys its own objects. The kernel ends every object's life
//   by calling destroy() on it (never `delete`); destructors are protected to enforce this. The
//   kernel keeps the library loaded until every object from it has been destroyed.
// - query_interface(id) returns the object's implementation of a versioned interface, or nullptr.
//   The pointer lives as long as the root object. A published interface never changes; new
//   capabilities come as new interface ids (e.g. kTransportV2) so old kernels and plugins still
//   work.
// - Threading: the factory, query_interface and destroy run on a kernel thread that is not an event
//   loop thread; the root object must be safe to destroy once every interface has been stopped.
#pragma once

#include <entre/sdk/export.hpp>
#include <entre/sdk/host.hpp>
#include <entre/sdk/status.hpp>
#include <entre/sdk/version.hpp>

#include <boost/dll/alias.hpp>
#include <boost/version.hpp>

#include <cstdint>
#include <type_traits>

namespace entre::sdk {

enum class PluginKind : uint32_t {
  kTransport = 1,
  kCrypto = 2,
  kCodec = 3,
  kStorage = 4,
  kAudio = 5,
};

[[nodiscard]] constexpr const char* plugin_kind_name(PluginKind kind) noexcept {
  switch (kind) {
  case PluginKind::kTransport:
    return "transport";
  case PluginKind::kCrypto:
    return "crypto";
  case PluginKind::kCodec:
    return "codec";
  case PluginKind::kStorage:
    return "storage";
  case PluginKind::kAudio:
    return "audio";
  }
  return "unknown";
}

// Interface ids for query_interface: kind in the high byte, interface version in the low byte.
enum class InterfaceId : uint32_t {
  kTransportV1 = 0x0101,
  kDiscoveryV1 = 0x0102,        // SDK 1.1, optional beside kTransportV1 (discovery.hpp)
  kRelayedTransportV1 = 0x0103, // SDK 1.2, beside kTransportV1 with kTransportRelayed (relay.hpp)
  kCryptoSuiteV1 = 0x0201,
  kPairwiseKeysV1 = 0x0202, // SDK 1.1, optional beside kCryptoSuiteV1 (crypto.hpp)
  kCodecV1 = 0x0301,
  kStorageV1 = 0x0401,
  kMessagePathsV1 = 0x0402, // SDK 1.2, optional beside kStorageV1 (storage.hpp)
  kAudioDeviceV1 = 0x0501,
};

inline constexpr char kManifestMagic[8] = {'E', 'N', 'T', 'R', 'E', 'P', 'L', 'G'};
inline constexpr const char* kManifestSymbol = "entre_plugin_manifest";
inline constexpr const char* kFactorySymbol = "entre_plugin_factory";
inline constexpr std::size_t kPluginIdBytes = 64;
inline constexpr std::size_t kPluginVersionBytes = 32;
inline constexpr std::size_t kPluginSummaryBytes = 160;

// Frozen layout (288 bytes, no padding, no pointers). Strings are NUL-terminated UTF-8 that fit
// their arrays. Ids are reverse-DNS, lower case: [a-z0-9] segments joined by '.', '-' or '_'.
struct PluginManifest {
  char magic[8];
  uint32_t manifest_bytes; // sizeof(PluginManifest) when built
  uint32_t abi_major;      // ENTRE_SDK_ABI_MAJOR when built
  uint32_t abi_minor;      // ENTRE_SDK_ABI_MINOR when built
  uint32_t boost_version;  // BOOST_VERSION when built
  uint32_t kind;           // a PluginKind
  uint32_t flags;          // reserved, 0
  char id[kPluginIdBytes];
  char version[kPluginVersionBytes]; // semantic version of the plugin itself
  char summary[kPluginSummaryBytes];
};

static_assert(sizeof(PluginManifest) == 288);
static_assert(std::is_trivially_copyable_v<PluginManifest> &&
              std::is_standard_layout_v<PluginManifest>);

class Plugin {
 public:
  [[nodiscard]] virtual void* query_interface(InterfaceId id) noexcept = 0;
  virtual void destroy() noexcept = 0;

 protected:
  virtual ~Plugin() = default;
};

// Typed query: `auto* t = sdk::query<sdk::Transport>(plugin, InterfaceId::kTransportV1);`
template <typename Interface> Interface* query(Plugin& plugin, InterfaceId id) noexcept {
  return static_cast<Interface*>(plugin.query_interface(id));
}

using PluginFactory = Status(Host& host, Plugin** out);

} // namespace entre::sdk

// Defines the plugin's manifest. kind_ is an entre::sdk::PluginKind; the strings are literals.
#define ENTRE_PLUGIN_MANIFEST(kind_, id_, version_, summary_)                                      \
  extern "C" ENTRE_SDK_EXPORT const ::entre::sdk::PluginManifest entre_plugin_manifest = {         \
      {'E', 'N', 'T', 'R', 'E', 'P', 'L', 'G'},                                                    \
      static_cast<uint32_t>(sizeof(::entre::sdk::PluginManifest)),                                 \
      ENTRE_SDK_ABI_MAJOR,                                                                         \
      ENTRE_SDK_ABI_MINOR,                                                                         \
      BOOST_VERSION,                                                                               \
      static_cast<uint32_t>(kind_),                                                                \
      0u,                                                                                          \
      id_,                                                                                         \
      version_,                                                                                    \
      summary_}

// Exports `function_` (of type entre::sdk::PluginFactory) as the plugin's factory.
#define ENTRE_PLUGIN_FACTORY(function_) BOOST_DLL_ALIAS(function_, entre_plugin_factory)
