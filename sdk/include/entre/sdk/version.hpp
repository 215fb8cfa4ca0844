// Entre SDK versions.
//
// Two numbers describe the plugin ABI, the contract between a plugin binary and the kernel that
// loads it:
//
//   ENTRE_SDK_ABI_MAJOR  bumped for any change that breaks a compiled plugin: a changed virtual
//                        signature, a reordered or resized POD struct, a removed enum value, a
//                        changed meaning. A plugin loads only into a kernel with the same major.
//   ENTRE_SDK_ABI_MINOR  bumped for additions that old plugins do not see: a new interface found
//                        through query_interface (TransportV2), a new enum value the kernel only
//                        produces when the plugin asked for it, a new helper in a header. A plugin
//                        loads into a kernel whose minor is equal or newer, never older.
//
// ENTRE_SDK_VERSION_PATCH counts header changes that touch neither (documentation, inline helper
// fixes). The full rule, with examples, is in docs/plugin-guide.md ("Versioning").
//
// The macros give the version a plugin was compiled against; the functions give the same numbers
// at run time, and Host::kernel_abi() tells a plugin what the kernel that loaded it offers.
#pragma once

#include <cstdint>

#define ENTRE_SDK_ABI_MAJOR 1
#define ENTRE_SDK_ABI_MINOR 3
#define ENTRE_SDK_VERSION_PATCH 0

#define ENTRE_SDK_STRINGIFY_INNER(x) #x
#define ENTRE_SDK_STRINGIFY(x) ENTRE_SDK_STRINGIFY_INNER(x)
#define ENTRE_SDK_VERSION_STRING                                                                   \
  ENTRE_SDK_STRINGIFY(ENTRE_SDK_ABI_MAJOR)                                                         \
  "." ENTRE_SDK_STRINGIFY(ENTRE_SDK_ABI_MINOR) "." ENTRE_SDK_STRINGIFY(ENTRE_SDK_VERSION_PATCH)

namespace entre::sdk {

struct AbiVersion {
  uint32_t major;
  uint32_t minor;
};

[[nodiscard]] constexpr uint32_t abi_major() noexcept { return ENTRE_SDK_ABI_MAJOR; }
[[nodiscard]] constexpr uint32_t abi_minor() noexcept { return ENTRE_SDK_ABI_MINOR; }
[[nodiscard]] constexpr uint32_t version_patch() noexcept { return ENTRE_SDK_VERSION_PATCH; }
[[nodiscard]] constexpr const char* version_string() noexcept { return ENTRE_SDK_VERSION_STRING; }

// True when a plugin built against `plugin` may be loaded by a kernel offering `kernel`.
[[nodiscard]] constexpr bool abi_is_compatible(AbiVersion plugin, AbiVersion kernel) noexcept {
  return plugin.major == kernel.major && plugin.minor <= kernel.minor;
}

} // namespace entre::sdk
