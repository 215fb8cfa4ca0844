// Media frames: how one encoded audio frame of a call travels, sealed, as a transport frame of its
// own to the endpoint of the contact's best link (docs/protocol.md, "Media frames").
//
//   frame     = header || sealed
//   header    = kind (1 byte, 0x4d) || call_id (8) || counter (8, little-endian)
//               || timestamp (4, little-endian) || flags (1)                      ; 22 bytes
//   sealed    = MediaCipher.seal(counter, ad = header, codec packet)              ; packet + 16
//
// call_id names the call (random, chosen by the caller); counter is the sender's frame counter in
// this call direction, the nonce of the seal, never repeated; timestamp is the position of the
// frame's first sample in the stream, in 48 kHz samples (it wraps); flags bit 0 marks the first
// frame after a pause (DTX), the other bits are 0. Every header field is authenticated, as the
// seal's associated data. parse_media_frame only checks the shape; the seal is checked by the
// cipher.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace entre::calls {

inline constexpr uint8_t kMediaFrameKind = 0x4d;
inline constexpr std::size_t kMediaHeaderBytes = 22;
inline constexpr std::size_t kMediaTagBytes = 16;
inline constexpr std::size_t kMaxMediaPacketBytes = 3 * 1275 + 7; // the largest Opus packet
inline constexpr std::size_t kMaxMediaFrameBytes =
    kMediaHeaderBytes + kMaxMediaPacketBytes + kMediaTagBytes;
inline constexpr uint8_t kMediaFlagAfterPause = 0x01;

struct MediaHeader {
  uint64_t call_id = 0;
  uint64_t counter = 0;
  uint32_t timestamp = 0;
  uint8_t flags = 0;
};

enum class MediaParse { kOk, kTooShort, kNotMedia, kBadFlags, kTooLong };
[[nodiscard]] const char* media_parse_name(MediaParse result);

struct MediaFrameView {
  MediaHeader header;
  std::span<const uint8_t> header_bytes; // the associated data of the seal
  std::span<const uint8_t> sealed;
};

[[nodiscard]] MediaParse parse_media_frame(std::span<const uint8_t> bytes, MediaFrameView& out);
void write_media_header(const MediaHeader& header, std::span<uint8_t, kMediaHeaderBytes> out);

} // namespace entre::calls
