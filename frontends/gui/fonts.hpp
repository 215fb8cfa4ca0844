// entre-gui's font: DejaVu Sans for text, with the symbols and emoji of a monochrome symbol font
// (Symbola, Debian's fonts-symbola) merged in when that font is installed. Emoji above U+FFFF
// are drawn into the atlas at private codes (see EmojiMap); without the symbol font, text still
// shows and those characters show as Dear ImGui's fallback glyph.
//
// Call between ImGui::CreateContext and the renderer's first frame, on the UI thread.
#pragma once

#include "view_models.hpp"

#include <string>

namespace entre::gui {

// Loads the fonts at `scale` and fills `emoji`. Returns what was loaded, for the log: e.g.
// "DejaVu Sans + Symbola (1520 emoji)".
std::string load_fonts(float scale, EmojiMap& emoji);

} // namespace entre::gui
