#include "loader/plugin_id.hpp"

#include <entre/sdk/plugin.hpp>

namespace entre {

namespace {

bool is_id_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_id_separator(char c) { return c == '.' || c == '-' || c == '_'; }

} // namespace

bool is_valid_plugin_id(std::string_view id) {
  if (id.empty() || id.size() >= sdk::kPluginIdBytes) {
    return false;
  }
  bool has_dot = false;
  bool after_separator = true; // the id may not start with a separator
  for (const char c : id) {
    if (is_id_char(c)) {
      after_separator = false;
    } else if (is_id_separator(c) && !after_separator) {
      has_dot = has_dot || c == '.';
      after_separator = true;
    } else {
      return false;
    }
  }
  return has_dot && !after_separator;
}

} // namespace entre
