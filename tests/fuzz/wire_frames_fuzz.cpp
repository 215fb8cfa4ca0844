// Fuzzes the parsers of the messaging layer's frames and envelopes (kernel/src/messaging/wire.hpp)
// and checks that what they accept encodes back to the same bytes.
#include "messaging/wire.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace {

bool same(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace entre;
  const std::span<const uint8_t> in(data, size);
  if (const auto hs1 = wire::parse_hs1(in); hs1 && !same(wire::hs1(hs1->sender, hs1->noise), in)) {
    __builtin_trap();
  }
  if (const auto hs2 = wire::parse_hs2(in);
      hs2 && !same(wire::hs2(hs2->receiver, hs2->sender, hs2->noise, hs2->refused), in)) {
    __builtin_trap();
  }
  if (const auto sealed = wire::parse_sealed(in)) {
    std::vector<uint8_t> again = wire::sealed_header(sealed->receiver, sealed->counter);
    again.insert(again.end(), sealed->ciphertext.begin(), sealed->ciphertext.end());
    if (!same(again, in)) {
      __builtin_trap();
    }
  }
  if (const auto message = wire::parse_message(in)) {
    std::vector<uint8_t> again = wire::message_header(message->id, message->timestamp_ms);
    again.insert(again.end(), message->ciphertext.begin(), message->ciphertext.end());
    if (!same(again, in)) {
      __builtin_trap();
    }
  }
  if (const auto ids = wire::parse_ack(in);
      ids && (ids->empty() || ids->size() > wire::kMaxAckIds || !same(wire::ack(*ids), in))) {
    __builtin_trap();
  }
  if (const auto stamp = wire::parse_ping(in); stamp && !same(wire::ping(in[0], *stamp), in)) {
    __builtin_trap();
  }
  (void)wire::decode_kdf(in);
  return 0;
}
