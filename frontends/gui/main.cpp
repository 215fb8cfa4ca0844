// entre-gui: the desktop frontend. `entre-gui --profile FILE` opens a window on a node composed
// from the profile (docs/gui.md).
//
// The loop sleeps in SDL_WaitEventTimeout while nothing happens and then draws nothing (a frame
// every 20 s keeps the clock right), draws a few frames after each input or node event, and
// keeps drawing at about 30 frames a second only while something moves (a call). Node calls never
// run on this thread.
#include "app.hpp"
#include "fonts.hpp"
#include "screenshot.hpp"
#include "script.hpp"

#include <entre/node.hpp>

#include <CLI/CLI.hpp>
#include <SDL.h>
#include <SDL_opengl.h>
#include <backends/imgui_impl_opengl3.h>
#include <backends/imgui_impl_sdl.h>
#include <imgui.h>

#include <filesystem>
#include <iostream>
#include <memory>

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// The UI's scale: the display's DPI over 96, or the drawable's pixels over the window's points.
float ui_scale(SDL_Window* window, float forced) {
  if (forced > 0) {
    return forced;
  }
  int w = 0;
  int h = 0;
  int dw = 0;
  int dh = 0;
  SDL_GetWindowSize(window, &w, &h);
  SDL_GL_GetDrawableSize(window, &dw, &dh);
  if (w > 0 && dw > w) {
    return static_cast<float>(dw) / static_cast<float>(w);
  }
  float dpi = 0;
  if (SDL_GetDisplayDPI(SDL_GetWindowDisplayIndex(window), &dpi, nullptr, nullptr) == 0 &&
      dpi > 120) {
    return dpi / 96.0f;
  }
  return 1.0f;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App cli{"entre-gui: the Entre desktop frontend"};
  std::string profile;
  std::string script_file;
  float scale = 0;
  int width = 1100;
  int height = 720;
  cli.add_option("-p,--profile", profile, "the node's profile (TOML)")->required();
  cli.add_option("--test-script", script_file, "for tests: run these steps (see docs/gui.md)");
  cli.add_option("--scale", scale, "UI scale (default: from the display's DPI)");
  cli.add_option("--size", width, "window width")->check(CLI::Range(640, 8192));
  CLI11_PARSE(cli, argc, argv);

  entre::gui::Script script;
  if (!script_file.empty()) {
    std::string error;
    if (!script.load(script_file, error)) {
      std::cerr << "entre-gui: " << error << "\n";
      return kExitUsage;
    }
  }
  entre::NodeCreateResult created = entre::Node::create(profile);
  if (!created.node) {
    for (const auto& e : created.errors) {
      std::cerr << e << "\n";
    }
    return kExitFailed;
  }
  entre::Node& node = *created.node;
  for (const auto& e : node.start()) {
    std::cerr << "entre-gui: " << e << "\n";
  }
  if (!node.running()) {
    return kExitFailed;
  }

  if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_EVENTS) != 0) {
    std::cerr << "entre-gui: no display: " << SDL_GetError() << "\n";
    return kExitFailed;
  }
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_PROFILE_MASK, SDL_GL_CONTEXT_PROFILE_CORE);
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_MAJOR_VERSION, 3);
  SDL_GL_SetAttribute(SDL_GL_CONTEXT_MINOR_VERSION, 2);
  SDL_GL_SetAttribute(SDL_GL_DOUBLEBUFFER, 1);
  const std::string title = "Entre - " + node.name();
  SDL_Window* window =
      SDL_CreateWindow(title.c_str(), SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, width, height,
                       SDL_WINDOW_OPENGL | SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
  if (window == nullptr) {
    std::cerr << "entre-gui: cannot open a window: " << SDL_GetError() << "\n";
    SDL_Quit();
    return kExitFailed;
  }
  SDL_GLContext gl = SDL_GL_CreateContext(window);
  if (gl == nullptr) {
    std::cerr << "entre-gui: no OpenGL 3.2 context: " << SDL_GetError() << "\n";
    SDL_DestroyWindow(window);
    SDL_Quit();
    return kExitFailed;
  }
  SDL_GL_MakeCurrent(window, gl);
  SDL_GL_SetSwapInterval(1);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr; // no imgui.ini beside the user's files
  io.ConfigFlags |= ImGuiConfigFlags_NavEnableKeyboard;
  ImGui::StyleColorsDark();
  // Windows and popups are opaque: the text behind a dialog does not show through it.
  ImGui::GetStyle().Colors[ImGuiCol_WindowBg].w = 1.0f;
  ImGui::GetStyle().Colors[ImGuiCol_PopupBg].w = 1.0f;
  const float s = ui_scale(window, scale);
  ImGui::GetStyle().ScaleAllSizes(s);
  entre::gui::EmojiMap emoji;
  std::cout << "entre-gui: font " << entre::gui::load_fonts(s, emoji) << std::endl;
  ImGui_ImplSDL2_InitForOpenGL(window, gl);
  ImGui_ImplOpenGL3_Init("#version 150");

  script.set_window(window);
  const uint32_t wake = SDL_RegisterEvents(1);
  int status = kExitOk;
  {
    entre::gui::App app(node, wake, emoji);
    app.set_focused((SDL_GetWindowFlags(window) & SDL_WINDOW_INPUT_FOCUS) != 0);
    std::string shown_title = title;
    bool running = true;
    int frames_due = 2; // frames to draw before sleeping again
    std::string screenshot;
    int shot_frames = 0;
    uint64_t last_frame_ms = 0;
    while (running) {
      const bool scripted = !script_file.empty() && !script.idling();
      const bool busy = frames_due > 0 || app.animating() || scripted || !screenshot.empty();
      SDL_Event e;
      bool got = SDL_WaitEventTimeout(&e, busy ? (app.animating() ? 33 : 16) : 1000) != 0;
      const bool woke = got;
      while (got) {
        ImGui_ImplSDL2_ProcessEvent(&e);
        if (e.type == SDL_QUIT ||
            (e.type == SDL_WINDOWEVENT && e.window.event == SDL_WINDOWEVENT_CLOSE)) {
          running = false;
        }
        if (e.type == SDL_WINDOWEVENT && (e.window.event == SDL_WINDOWEVENT_FOCUS_GAINED ||
                                          e.window.event == SDL_WINDOWEVENT_FOCUS_LOST)) {
          app.set_focused(e.window.event == SDL_WINDOWEVENT_FOCUS_GAINED);
        }
        frames_due = 3;
        got = SDL_PollEvent(&e) != 0;
      }
      if (app.drain()) {
        frames_due = 3;
      }
      // The unread total in the title, and the window asks for attention (the urgency hint:
      // the taskbar or dock marks it) when a message or a call comes while it is not in front.
      if (const std::string t = app.window_title(title); t != shown_title) {
        SDL_SetWindowTitle(window, t.c_str());
        shown_title = t;
      }
      if (app.take_attention()) {
        SDL_FlashWindow(window, SDL_FLASH_UNTIL_FOCUSED);
      }
      if (app.quit_requested()) {
        running = false;
      }
      if (!script_file.empty() && screenshot.empty()) {
        if (!script.step(app)) {
          if (script.failed()) {
            std::cerr << "entre-gui: " << script.error() << "\n";
            status = kExitFailed;
          }
          running = false;
        }
        screenshot = script.take_screenshot_request();
      }
      // Idle: nothing came in and nothing moves, so the last frame still stands. Draw anyway
      // every 20 s, for the clock in the time stamps.
      const uint64_t ticks = SDL_GetTicks64();
      if (!woke && frames_due == 0 && !busy && screenshot.empty() && running &&
          ticks - last_frame_ms < 20000) {
        continue;
      }
      last_frame_ms = ticks;
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplSDL2_NewFrame();
      ImGui::NewFrame();
      int w = 0;
      int h = 0;
      SDL_GetWindowSize(window, &w, &h);
      app.draw(w, h);
      ImGui::Render();
      int dw = 0;
      int dh = 0;
      SDL_GL_GetDrawableSize(window, &dw, &dh);
      glViewport(0, 0, dw, dh);
      glClearColor(0.08f, 0.08f, 0.1f, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      // A screenshot is taken of the third frame after the step asked for it, so that windows
      // the step opened have settled their size.
      if (!screenshot.empty() && ++shot_frames >= 3) {
        std::string error;
        if (!entre::gui::save_screenshot(screenshot, dw, dh, error)) {
          std::cerr << "entre-gui: " << error << "\n";
          status = kExitFailed;
          running = false;
        } else {
          std::cout << "screenshot " << screenshot << " " << dw << "x" << dh << std::endl;
        }
        screenshot.clear();
        shot_frames = 0;
      }
      if (frames_due > 0) {
        --frames_due;
      }
      SDL_GL_SwapWindow(window);
    }
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplSDL2_Shutdown();
  ImGui::DestroyContext();
  SDL_GL_DeleteContext(gl);
  SDL_DestroyWindow(window);
  SDL_Quit();
  node.stop();
  return status;
}
