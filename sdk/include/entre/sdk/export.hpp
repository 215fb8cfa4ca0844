// Symbol visibility for Entre plugins and the kernel.
//
// Everything is built with -fvisibility=hidden. A plugin exports exactly two symbols, the manifest
// and the factory alias, and the macros in plugin.hpp mark them with ENTRE_SDK_EXPORT. Nothing else
// a plugin defines is visible to the loader or to other plugins.
#pragma once

#if defined(_WIN32)
#define ENTRE_SDK_EXPORT __declspec(dllexport)
#else
#define ENTRE_SDK_EXPORT __attribute__((visibility("default")))
#endif
