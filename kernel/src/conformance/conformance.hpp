// What every conformance suite reports: one entry per check, run independently of the others.
#pragma once

#include <string>

namespace entre {

struct ConformanceCheck {
  std::string name;
  bool passed = false;
  std::string detail; // why it failed; empty on success
};

} // namespace entre
