// libFuzzer target: the stored call history (calls/call_history.hpp), read back from the sealed
// setting "calls.history" at every call_history() and store_call().
// Oracles (a violation aborts):
//   - a history that decodes has at most kMaxCallRecords records, texts of at most
//     kMaxCallTextBytes bytes, and encodes back to exactly the bytes it came from;
//   - cut short by any number of bytes, or with a byte appended, it no longer decodes.
#include "calls/call_history.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

namespace {

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace entre::calls;
  const std::span<const uint8_t> in(data, size);
  const auto records = decode_calls(in);
  if (!records) {
    return 0;
  }
  check(records->size() <= kMaxCallRecords);
  for (const entre::CallRecord& r : *records) {
    for (const std::string* text : {&r.id, &r.contact, &r.end, &r.codec}) {
      check(text->size() <= kMaxCallTextBytes);
    }
  }
  const std::vector<uint8_t> again = encode_calls(*records);
  check(again.size() == size && std::equal(again.begin(), again.end(), in.begin()));

  // A history is self-delimiting: no proper prefix of it, and nothing longer, decodes.
  const std::size_t cut = size == 0 ? 0 : 1 + data[size - 1] % size;
  check(!decode_calls(in.first(size - cut)));
  std::vector<uint8_t> longer(in.begin(), in.end());
  longer.push_back(data[0]);
  check(!decode_calls(longer));
  return 0;
}
