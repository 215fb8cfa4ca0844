// libFuzzer target: call signals (calls/call_signal.hpp). A signal that parses must encode back
// to the same bytes.
#include "calls/call_signal.hpp"

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace entre::calls;
  CallSignal signal;
  std::string error;
  if (!parse_signal(std::span<const uint8_t>(data, size), signal, error)) {
    if (error.empty()) {
      __builtin_trap(); // every refusal must say why
    }
    return 0;
  }
  const std::vector<uint8_t> again = encode_signal(signal);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) {
    __builtin_trap();
  }
  return 0;
}
