// A generic conformance suite for codec plugins, driven through the SDK interface only.
// entre-plugin-check --conformance runs it against a plugin file; each codec plugin's own tests run
// it too. Every format the codec advertises is exercised; each check reports what it expected and
// what it saw.
#pragma once

#include "conformance/conformance.hpp"

#include <entre/sdk/codec.hpp>

#include <vector>

namespace entre {

[[nodiscard]] std::vector<ConformanceCheck> run_codec_conformance(sdk::Codec& codec);

} // namespace entre
