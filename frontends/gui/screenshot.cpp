#include "screenshot.hpp"

#include <SDL_opengl.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO_FALLBACK
#include <stb/stb_image_write.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace entre::gui {

bool save_screenshot(const std::string& path, int width, int height, std::string& error) {
  if (width <= 0 || height <= 0) {
    error = "screenshot of an empty window";
    return false;
  }
  const auto w = static_cast<std::size_t>(width);
  const auto h = static_cast<std::size_t>(height);
  std::vector<uint8_t> pixels(w * h * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, pixels.data());
  // OpenGL's rows run bottom to top; PNG's top to bottom.
  std::vector<uint8_t> row(w * 3);
  for (std::size_t y = 0; y < h / 2; ++y) {
    uint8_t* a = pixels.data() + y * w * 3;
    uint8_t* b = pixels.data() + (h - 1 - y) * w * 3;
    std::memcpy(row.data(), a, row.size());
    std::memcpy(a, b, row.size());
    std::memcpy(b, row.data(), row.size());
  }
  if (stbi_write_png(path.c_str(), width, height, 3, pixels.data(), width * 3) == 0) {
    error = path + ": cannot write the screenshot";
    return false;
  }
  return true;
}

} // namespace entre::gui
