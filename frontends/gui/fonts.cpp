#include "fonts.hpp"

#include <imgui.h>
#include <stb/stb_truetype.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace entre::gui {

namespace {

const char* kTextFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
const char* kSymbolFont = "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf";
constexpr float kSize = 16.0f;

// Latin, Greek, Cyrillic and the symbol blocks people type in messages (punctuation, currency,
// arrows, mathematical operators, technical, enclosed, box drawing, shapes, miscellaneous
// symbols, dingbats, more arrows and shapes).
const ImWchar kTextRanges[] = {0x0020, 0x024F, 0x0370, 0x03FF, 0x0400, 0x04FF, 0x2000, 0x2BFF, 0};
const ImWchar kSymbolRanges[] = {0x2000, 0x2BFF, 0};

std::vector<unsigned char> read_all(const char* file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct Baked {
  int rect = 0;
  int glyph = 0;
};

} // namespace

std::string load_fonts(float scale, EmojiMap& emoji) {
  ImGuiIO& io = ImGui::GetIO();
  const float px = kSize * scale;
  if (!std::filesystem::exists(kTextFont)) {
    ImFontConfig config;
    config.SizePixels = 13.0f * scale;
    io.Fonts->AddFontDefault(&config);
    return "Dear ImGui's own font (no DejaVu Sans)";
  }
  ImFont* font = io.Fonts->AddFontFromFileTTF(kTextFont, px, nullptr, kTextRanges);
  std::vector<unsigned char> symbols = read_all(kSymbolFont);
  stbtt_fontinfo info{};
  if (symbols.empty() || stbtt_InitFont(&info, symbols.data(), 0) == 0) {
    return "DejaVu Sans (no symbol font: emoji show as boxes)";
  }
  // The symbol blocks' glyphs DejaVu lacks come from Symbola (the first font's glyphs win).
  ImFontConfig merge;
  merge.MergeMode = true;
  void* copy = IM_ALLOC(symbols.size()); // the atlas owns and frees it
  std::memcpy(copy, symbols.data(), symbols.size());
  io.Fonts->AddFontFromMemoryTTF(copy, static_cast<int>(symbols.size()), px, &merge, kSymbolRanges);

  // Emoji above U+FFFF: a custom glyph each, at a private code, placed on DejaVu's baseline the
  // way Dear ImGui places its own glyphs (ascent rounded up).
  std::vector<unsigned char> text = read_all(kTextFont);
  stbtt_fontinfo text_info{};
  int ascent = 0;
  if (!text.empty() && stbtt_InitFont(&text_info, text.data(), 0) != 0) {
    int a = 0;
    int d = 0;
    int gap = 0;
    stbtt_GetFontVMetrics(&text_info, &a, &d, &gap);
    ascent = static_cast<int>(
        std::floor(static_cast<float>(a) * stbtt_ScaleForPixelHeight(&text_info, px) + 1));
  }
  const float s = stbtt_ScaleForPixelHeight(&info, px);
  std::vector<Baked> baked;
  for (const auto& [first, last] : EmojiMap::ranges()) {
    for (uint32_t cp = first; cp <= last; ++cp) {
      const int glyph = stbtt_FindGlyphIndex(&info, static_cast<int>(cp));
      int x0 = 0;
      int y0 = 0;
      int x1 = 0;
      int y1 = 0;
      if (glyph == 0) {
        continue;
      }
      stbtt_GetGlyphBitmapBox(&info, glyph, s, s, &x0, &y0, &x1, &y1);
      int advance = 0;
      int bearing = 0;
      stbtt_GetGlyphHMetrics(&info, glyph, &advance, &bearing);
      if (x1 <= x0 || y1 <= y0 || !emoji.add(cp)) {
        continue;
      }
      const int rect = io.Fonts->AddCustomRectFontGlyph(
          font, *emoji.code_of(cp), x1 - x0, y1 - y0, std::round(static_cast<float>(advance) * s),
          ImVec2(static_cast<float>(x0), static_cast<float>(ascent + y0)));
      baked.push_back({rect, glyph});
    }
  }
  io.Fonts->Build();
  unsigned char* pixels = nullptr;
  int width = 0;
  int height = 0;
  io.Fonts->GetTexDataAsAlpha8(&pixels, &width, &height);
  for (const Baked& b : baked) {
    const ImFontAtlasCustomRect* r = io.Fonts->GetCustomRectByIndex(b.rect);
    if (!r->IsPacked()) {
      continue;
    }
    stbtt_MakeGlyphBitmap(&info, pixels + r->Y * width + r->X, r->Width, r->Height, width, s, s,
                          b.glyph);
  }
  return "DejaVu Sans + Symbola (" + std::to_string(emoji.size()) + " emoji)";
}

} // namespace entre::gui
