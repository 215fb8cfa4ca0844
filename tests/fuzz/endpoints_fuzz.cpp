// libFuzzer target: the endpoints envelope (messaging/wire.hpp, docs/protocol.md "Envelopes"),
// which a contact sends to tell its direct endpoints for NAT traversal.
//
// Input: the first byte selects a mode (its low bit), the rest is the body.
//   0  body = an envelope, parsed by parse_endpoints.
//   1  body = a list of endpoints joined by '\n' (empty ones included), written by endpoints().
// Oracles (a violation aborts):
//   - what parses obeys the documented bounds: at most kMaxEndpointsExchanged endpoints, each of
//     1 to kMaxEndpointBytes bytes of printable ASCII without spaces;
//   - what parses encodes back to exactly the bytes it came from;
//   - what endpoints() writes parses, to the endpoints of the list that obey those bounds, in
//     order, at most kMaxEndpointsExchanged of them (the rest are left out, never sent).
#include "messaging/wire.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace entre;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

bool sendable(std::string_view e) {
  return !e.empty() && e.size() <= wire::kMaxEndpointBytes &&
         std::all_of(e.begin(), e.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

void parse_envelope(std::span<const uint8_t> envelope) {
  const auto list = wire::parse_endpoints(envelope);
  if (!list) {
    return;
  }
  check(list->size() <= wire::kMaxEndpointsExchanged);
  check(std::all_of(list->begin(), list->end(), sendable));
  const std::vector<uint8_t> again = wire::endpoints(*list);
  check(std::equal(again.begin(), again.end(), envelope.begin(), envelope.end()));
}

void write_list(std::span<const uint8_t> body) {
  const std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
  std::vector<std::string> list;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    list.emplace_back(text.substr(start, end - start));
    if (end == text.size()) {
      break;
    }
    start = end + 1;
  }
  std::vector<std::string> expected;
  for (const std::string& e : list) {
    if (sendable(e) && expected.size() < wire::kMaxEndpointsExchanged) {
      expected.push_back(e);
    }
  }
  const std::vector<uint8_t> envelope = wire::endpoints(list);
  const auto parsed = wire::parse_endpoints(envelope);
  check(parsed.has_value());
  check(*parsed == expected);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::span<const uint8_t> body(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    parse_envelope(body);
  } else {
    write_list(body);
  }
  return 0;
}
