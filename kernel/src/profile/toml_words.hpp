// TOML values described in plain words, for error messages.
#pragma once

#include <toml++/toml.h>

#include <string_view>

namespace entre {

// "a string", "an integer", "a floating-point number", ...
[[nodiscard]] std::string_view toml_type_phrase(const toml::node& node);

} // namespace entre
