// libFuzzer target: the media frame wrapper around sealed codec packets (calls/media_frame.hpp).
// A frame that parses must write back to the same header bytes.
#include "calls/media_frame.hpp"

#include <array>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace entre::calls;
  MediaFrameView view;
  if (parse_media_frame(std::span<const uint8_t>(data, size), view) != MediaParse::kOk) {
    return 0;
  }
  if (view.header_bytes.size() != kMediaHeaderBytes ||
      view.sealed.size() + kMediaHeaderBytes != size) {
    __builtin_trap();
  }
  std::array<uint8_t, kMediaHeaderBytes> again{};
  write_media_header(view.header, again);
  if (std::memcmp(again.data(), data, kMediaHeaderBytes) != 0) {
    __builtin_trap();
  }
  return 0;
}
