// What every conformance suite reports: one entry per check, run independently of the others; and
// the helpers the suites write their checks with.
#pragma once

#include <entre/sdk/status.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace entre {

struct ConformanceCheck {
  std::string name;
  bool passed = false;
  std::string detail; // why it failed; empty on success
};

namespace conformance {

// Thrown inside a check to fail it with a reason; caught by Checks::run.
struct CheckFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void expect(bool condition, const std::string& what) {
  if (!condition) {
    throw CheckFailed(what);
  }
}

inline void expect_ok(const sdk::Status& status, const std::string& what) {
  if (!status.is_ok()) {
    throw CheckFailed(what + ": " + std::string(sdk::status_code_name(status.code)) + ": " +
                      std::string(status.text()));
  }
}

inline void expect_fail(const sdk::Status& status, const std::string& what) {
  if (status.is_ok()) {
    throw CheckFailed(what + ": succeeded, expected a failure");
  }
}

// An SDK object released with destroy().
template <typename T> struct Destroy {
  void operator()(T* object) const {
    if (object != nullptr) {
      object->destroy();
    }
  }
};
template <typename T> using Owned = std::unique_ptr<T, Destroy<T>>;

// Runs checks one by one; an exception fails only its own check.
struct Checks {
  std::vector<ConformanceCheck> results;

  void check(const std::string& name, const std::function<void()>& body) {
    ConformanceCheck result{name, false, {}};
    try {
      body();
      result.passed = true;
    } catch (const std::exception& e) {
      result.detail = e.what();
    }
    results.push_back(std::move(result));
  }
};

} // namespace conformance
} // namespace entre
