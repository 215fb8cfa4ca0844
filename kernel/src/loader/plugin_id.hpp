// The plugin id syntax, shared by the profile checker and the loader.
#pragma once

#include <string_view>

namespace entre {

// True for a well-formed plugin id: lower-case [a-z0-9] segments joined by '.', '-' or '_', with
// at least one '.', at most kPluginIdBytes - 1 characters ("entre.transport.udp").
[[nodiscard]] bool is_valid_plugin_id(std::string_view id);

} // namespace entre
