#include "calls/media_frame.hpp"

namespace entre::calls {

namespace {

uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    v = (v << 8) | p[i];
  }
  return v;
}

void put_le(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
}

} // namespace

const char* media_parse_name(MediaParse result) {
  switch (result) {
  case MediaParse::kOk:
    return "ok";
  case MediaParse::kTooShort:
    return "media frame shorter than its header and tag";
  case MediaParse::kNotMedia:
    return "not a media frame";
  case MediaParse::kBadFlags:
    return "media frame with reserved flags set";
  case MediaParse::kTooLong:
    return "media frame longer than the largest codec packet allows";
  }
  return "unknown";
}

MediaParse parse_media_frame(std::span<const uint8_t> bytes, MediaFrameView& out) {
  if (bytes.empty() || bytes[0] != kMediaFrameKind) {
    return MediaParse::kNotMedia;
  }
  if (bytes.size() < kMediaHeaderBytes + kMediaTagBytes + 1) {
    return MediaParse::kTooShort;
  }
  if (bytes.size() > kMaxMediaFrameBytes) {
    return MediaParse::kTooLong;
  }
  const uint8_t* p = bytes.data();
  const uint8_t flags = p[21];
  if ((flags & ~kMediaFlagAfterPause) != 0) {
    return MediaParse::kBadFlags;
  }
  out.header.call_id = get_le(p + 1, 8);
  out.header.counter = get_le(p + 9, 8);
  out.header.timestamp = static_cast<uint32_t>(get_le(p + 17, 4));
  out.header.flags = flags;
  out.header_bytes = bytes.first(kMediaHeaderBytes);
  out.sealed = bytes.subspan(kMediaHeaderBytes);
  return MediaParse::kOk;
}

void write_media_header(const MediaHeader& header, std::span<uint8_t, kMediaHeaderBytes> out) {
  out[0] = kMediaFrameKind;
  put_le(out.data() + 1, header.call_id, 8);
  put_le(out.data() + 9, header.counter, 8);
  put_le(out.data() + 17, header.timestamp, 4);
  out[21] = header.flags;
}

} // namespace entre::calls
