// A generic conformance suite for audio-device plugins, driven through the SDK interface only.
// Each audio plugin's tests run it on the real plugin file (a device needs its configuration, so
// entre-plugin-check has no audio suite). Directions that list no device are skipped; at least one
// must list one.
#pragma once

#include "conformance/conformance.hpp"

#include <entre/sdk/audio.hpp>

#include <vector>

namespace entre {

[[nodiscard]] std::vector<ConformanceCheck> run_audio_conformance(sdk::AudioDevice& device);

} // namespace entre
