// A PNG of the frame just drawn (the OpenGL back buffer), for the test script's screenshots.
#pragma once

#include <string>

namespace entre::gui {

// Reads `width` x `height` pixels of the current context's back buffer and writes them to `path`
// as an RGB PNG, top row first; false with `error`.
bool save_screenshot(const std::string& path, int width, int height, std::string& error);

} // namespace entre::gui
