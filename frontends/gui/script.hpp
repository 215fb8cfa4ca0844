// entre-gui's test mode (--test-script FILE, for tests only): one step per line, run in order by
// the UI loop through the same actions the buttons take, with the window drawing between steps.
// A step that waits polls each frame until its condition holds or its time runs out (then the
// script fails: entre-gui exits with status 1 and names the line).
//
//   name NAME                         the name the next 'create' announces
//   create PASSPHRASE                 create the identity (first-run screen)
//   unlock PASSPHRASE
//   write-code FILE                   write this node's contact code to FILE
//   add-code-file FILE NAME           add the contact whose code is in FILE (waits for the file;
//                                     fails on the node's refusal)
//   wait-online NAME SECONDS
//   open NAME                         open NAME's conversation
//   send TEXT                         send TEXT to the open conversation
//   wait-message TEXT SECONDS         until a message with TEXT (may have spaces) is in the open
//                                     conversation
//   wait-delivered SECONDS            until every outgoing message there is delivered or read
//   call NAME | answer | hangup | mute | unmute
//   wait-call PHASE SECONDS           calling, ringing, incoming, active or ended
//   show my-code|add|safety NAME|node|devices|settings|none
//
// Input as a person gives it: these push SDL events (key, text, mouse button) into the window's
// event queue and move the X pointer, so Dear ImGui's SDL backend receives them as it receives a
// keyboard and a mouse.
//   type TEXT                         text input (as typed on a keyboard) to the focused field
//   type-file FILE                    the first word of FILE, typed (waits for the file)
//   key [shift+|ctrl+]KEY             press and release KEY (an SDL key name: Return, Tab, ...)
//   click TARGET                      move the pointer onto the widget TARGET (App::target) and
//                                     click it with the left button
//   focus in|out                      the window comes to the front or goes behind another (the
//                                     window event a window manager's focus change gives)
//
// Checks of what a person sees:
//   wait-title TEXT SECONDS           the window's title is TEXT
//   wait-attention N SECONDS          the window asked for attention N times so far
//   wait-clipboard TEXT SECONDS       the clipboard holds TEXT
//   wait-target NAME SECONDS          the frame drew a target whose name starts with NAME
//                                     (e.g. day:Today, call:Missed call)
//   wait-preview NAME TEXT SECONDS    NAME's row in the contact list shows TEXT as the newest
//   wait-muted yes|no SECONDS
//   note TARGET / same-place TARGET   where TARGET is; fails if it moved since
//   expect-glyph HEX                  the font draws this code point
//   screenshot FILE                   a PNG of the next frame drawn
//   idle SECONDS                      do nothing; prints "idle-cpu <percent>" of one core used
//   quit
#pragma once

#include "app.hpp"

#include <SDL.h>

#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace entre::gui {

class Script {
 public:
  // The window that input steps send their events to.
  void set_window(SDL_Window* window) { window_ = window; }
  // Reads the script; false with `error`.
  bool load(const std::filesystem::path& file, std::string& error);
  // One frame's turn: runs steps until one has to wait. Returns false once the script ended
  // (then failed() says how).
  bool step(App& app);
  // A screenshot the last step asked for (empty when none); cleared by the caller.
  std::string take_screenshot_request();
  [[nodiscard]] bool failed() const { return !error_.empty(); }
  [[nodiscard]] const std::string& error() const { return error_; }
  // Whether the script sits in `idle` (the loop then sleeps as it would for a person).
  [[nodiscard]] bool idling() const;

 private:
  bool run(App& app, const std::vector<std::string>& words, const std::string& rest);
  bool input(App& app, const std::vector<std::string>& words, const std::string& rest);
  SDL_Window* window_ = nullptr;
  int phase_ = 0; // the current input step's stage, one per frame
  std::map<std::string, std::array<float, 4>> noted_; // note TARGET: where it was
  std::array<float, 4> last_place_{};                 // click: where the target was last frame
  std::vector<std::string> lines_;
  std::size_t at_ = 0;
  int64_t step_started_ms_ = -1;
  bool acted_ = false;   // the current step started its action
  bool settled_ = false; // ... and the worker was seen idle after it
  std::size_t sent_ = 0;
  std::string name_; // outgoing messages in the conversation once the last send is in
  std::string screenshot_;
  std::string error_;
  bool done_ = false;
  bool idle_ = false;
  double idle_cpu_start_ = 0;
};

} // namespace entre::gui
