// The call history's stored form: the plaintext of the setting "calls.history", which the engine
// seals at rest (docs/protocol.md, "Call history"). Integers are big-endian.
//
//   history = format (1 byte, = 1) || count (uint64, 0..kMaxCallRecords) || count * record
//   record  = text(id) || text(contact) || outgoing || started_ms || answered_ms || ended_ms
//             || text(end) || text(codec)
//   text    = length (1 byte) || that many bytes
//   outgoing = %x00 (incoming) / %x01 (outgoing)
//   started_ms, answered_ms, ended_ms = int64, Unix milliseconds (answered_ms 0: never answered)
//
// The bytes were sealed by this node, so a history that does not decode is corruption, not an
// attack; still, decode_calls checks every length before reading and accepts exactly what
// encode_calls writes: nothing after the last record, no other format or outgoing byte.
#pragma once

#include <entre/calls.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace entre::calls {

inline constexpr uint8_t kCallHistoryFormat = 1;
inline constexpr std::size_t kMaxCallRecords = 500;
inline constexpr std::size_t kMaxCallTextBytes = 255; // longer texts are cut to this on encoding

// `records` in order; at most kMaxCallRecords of them (the caller keeps the newest).
[[nodiscard]] std::vector<uint8_t> encode_calls(std::span<const CallRecord> records);
// nullopt unless `bytes` is exactly a history as above.
[[nodiscard]] std::optional<std::vector<CallRecord>> decode_calls(std::span<const uint8_t> bytes);

} // namespace entre::calls
