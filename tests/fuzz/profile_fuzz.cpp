// Fuzzes the profile parser and validator with arbitrary text.
#include "profile/profile.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const entre::ProfileLoadResult result = entre::parse_profile(text, "fuzz.toml", "/tmp");
  if (result.profile.has_value() == !result.errors.empty()) {
    __builtin_trap(); // exactly one of a profile or errors
  }
  for (const auto& e : result.errors) {
    if (e.str().empty()) {
      __builtin_trap();
    }
  }
  return 0;
}
