// Fuzzes the reliable link's receiver with a sequence of packets (data, bundle, ack, datagram and
// anything else). The input is cut into packets by a 1-byte length before each; a second link
// sends a few messages first so that acks have something to refer to.
#include "peers/reliable_link.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  entre::ReliableLinkConfig config;
  config.max_packet_bytes = 256;
  config.max_message_bytes = 4096;
  uint64_t delivered = 0;
  std::size_t delivered_bytes = 0;
  entre::ReliableLink link(
      config, [](std::span<const uint8_t>) {},
      [&](std::vector<uint8_t> m) {
        ++delivered;
        delivered_bytes += m.size();
        if (m.empty() || m.size() > config.max_message_bytes) {
          __builtin_trap(); // only whole, non-empty messages within the limit are delivered
        }
      },
      [](std::vector<uint8_t>) {});
  for (uint32_t i = 0; i < 4; ++i) {
    const std::vector<uint8_t> message(40 + i * 100, static_cast<uint8_t>(i));
    (void)link.send(message, 0, i % 2 == 0);
  }
  link.flush(0);
  uint64_t now = 0;
  std::size_t at = 0;
  while (at < size) {
    const std::size_t n = data[at++];
    const std::size_t take = n < size - at ? n : size - at;
    link.on_packet({data + at, take}, now);
    at += take;
    now += 7;
    link.on_timer(now);
  }
  if (delivered != link.stats().messages_delivered || delivered_bytes > size) {
    __builtin_trap(); // every delivery is counted, and none carries more than came in
  }
  return 0;
}
