// Fuzzes the relay protocol's readers (plugins/common/relay_wire.hpp), everything entre-relay and
// transport-tcp-relay parse from the network: the record splitter on a stream cut at
// fuzzer-chosen places, clear records, sealed messages, endpoint and relay text, and the UDP
// endpoint reflection request and response.
#include "relay_wire.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  namespace wire = entre::plugins::relay_wire;
  if (size == 0) {
    return 0;
  }
  const std::span<const uint8_t> all(data + 1, size - 1);
  const uint8_t cut = data[0];
  std::string why;

  wire::RecordReader reader(cut % 2 == 0 ? wire::kMaxHelloBytes : wire::kMaxRecordBytes);
  const std::size_t step = 1 + cut % 17;
  for (std::size_t at = 0; at < all.size(); at += step) {
    reader.feed(all.subspan(at, std::min(step, all.size() - at)));
    while (auto body = reader.next()) {
      if (body->size() > wire::kMaxRecordBytes) {
        __builtin_trap();
      }
      (void)wire::parse_clear(*body, why);
      if (auto parts = wire::split_sealed(*body, why)) {
        if (parts->head.size() < wire::kMinSealedHeadBytes ||
            parts->head.size() + parts->frame.size() + 1 != body->size()) {
          __builtin_trap();
        }
        (void)wire::parse_message(parts->head, parts->frame, 1024, why);
      }
      if (auto m = wire::parse_message(*body, 1024, why); m && m->frame.size() > 1024) {
        __builtin_trap();
      }
    }
  }
  (void)wire::parse_clear(all, why);
  (void)wire::parse_message(all, wire::kMaxRecordBytes, why);

  const std::string_view text(reinterpret_cast<const char*>(all.data()), all.size());
  if (auto e = wire::parse_endpoint(text, why)) {
    std::string again;
    if (!wire::parse_endpoint(e->text(), again)) {
      __builtin_trap(); // what parses formats to text that parses
    }
  }
  (void)wire::parse_relay(text, why);

  wire::ReflectNonce nonce{};
  if (all.size() >= nonce.size()) {
    std::copy_n(all.begin(), nonce.size(), nonce.begin());
  }
  (void)wire::parse_reflect_request(all);
  if (auto r = wire::parse_reflect_response(all, nonce); r && r->port == 0) {
    __builtin_trap();
  }
  return 0;
}
