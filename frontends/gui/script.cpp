#include "script.hpp"

#include <sys/resource.h>

#include <imgui.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

namespace entre::gui {

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string contact_named(const App& app, const std::string& name) {
  for (const auto& r : app.contacts().rows()) {
    if (r.name == name) {
      return r.id;
    }
  }
  return {};
}

} // namespace

bool Script::load(const std::filesystem::path& file, std::string& error) {
  std::ifstream in(file);
  if (!in) {
    error = file.string() + ": cannot read the test script";
    return false;
  }
  for (std::string line; std::getline(in, line);) {
    lines_.push_back(line);
  }
  return true;
}

std::string Script::take_screenshot_request() { return std::exchange(screenshot_, {}); }

bool Script::idling() const { return idle_; }

bool Script::step(App& app) {
  while (!done_ && error_.empty()) {
    if (at_ >= lines_.size()) {
      error_ = "the script ended without 'quit'";
      return false;
    }
    const std::string& line = lines_[at_];
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) {
      words.push_back(w);
    }
    if (words.empty() || words[0][0] == '#') {
      ++at_;
      continue;
    }
    // The rest of the line after the first word (texts with spaces).
    const std::size_t first = line.find(words[0]) + words[0].size();
    std::string rest = line.substr(std::min(first + 1, line.size()));
    if (step_started_ms_ < 0) {
      step_started_ms_ = steady_ms();
      // A passphrase is never printed.
      const bool secret = words[0] == "create" || words[0] == "unlock";
      std::cout << "step " << at_ + 1 << ": " << (secret ? words[0] + " ..." : line) << std::endl;
    }
    bool done = false;
    try {
      done = run(app, words, rest);
    } catch (const std::exception& e) {
      error_ = std::string("bad step: ") + e.what();
    }
    if (!error_.empty()) {
      error_ = "test script line " + std::to_string(at_ + 1) + ": " + error_;
      return false;
    }
    if (!done) {
      return true; // waiting
    }
    ++at_;
    step_started_ms_ = -1;
    acted_ = false;
    settled_ = false;
    phase_ = 0;
    last_place_ = {};
    if (!screenshot_.empty()) {
      return true; // draw the frame to save before going on
    }
  }
  return false;
}

bool Script::run(App& app, const std::vector<std::string>& w, const std::string& rest) {
  const std::string& cmd = w[0];
  const int64_t waited = steady_ms() - step_started_ms_;
  // Not done yet: keep waiting, unless the step's time (word `seconds_word`, else 30 s) is up.
  auto wait = [&](std::size_t seconds_word) {
    const double limit = w.size() > seconds_word ? std::stod(w[seconds_word]) : 30.0;
    if (static_cast<double>(waited) > limit * 1000) {
      error_ = "timed out after " + std::to_string(waited) + " ms";
    }
    return false;
  };
  if (cmd == "type" || cmd == "type-file" || cmd == "key" || cmd == "click" || cmd == "focus") {
    return input(app, w, rest);
  }
  // The text of a waiting step: every word but the command and the last (the seconds).
  const auto text_before_seconds = [&] { return rest.substr(0, rest.find_last_of(' ')); };
  if (cmd == "wait-title") {
    const char* title = window_ != nullptr ? SDL_GetWindowTitle(window_) : "";
    return text_before_seconds() == title || wait(w.size() - 1);
  }
  if (cmd == "wait-attention") {
    return app.attention_count() >= std::stoull(w.at(1)) || wait(2);
  }
  if (cmd == "wait-clipboard") {
    char* text = SDL_GetClipboardText();
    const bool same = text != nullptr && text_before_seconds() == text;
    SDL_free(text);
    return same || wait(w.size() - 1);
  }
  if (cmd == "wait-target") {
    return app.has_target_starting(text_before_seconds()) || wait(w.size() - 1);
  }
  if (cmd == "wait-preview") {
    // wait-preview NAME TEXT... SECONDS
    const std::string text =
        text_before_seconds().substr(std::min(rest.size(), w.at(1).size() + 1));
    const ContactRow* r = app.contacts().find(contact_named(app, w.at(1)));
    return (r != nullptr && r->last_text == text) || wait(w.size() - 1);
  }
  if (cmd == "wait-muted") {
    const auto& c = app.call_panel().call();
    return (c && c->muted == (w.at(1) == "yes")) || wait(2);
  }
  if (cmd == "note" || cmd == "same-place") {
    const auto r = app.target(w.at(1));
    if (!r) {
      return wait(99);
    }
    if (cmd == "note") {
      noted_[w.at(1)] = {r->x0, r->y0, r->x1, r->y1};
      return true;
    }
    const auto it = noted_.find(w.at(1));
    if (it == noted_.end() || it->second != std::array<float, 4>{r->x0, r->y0, r->x1, r->y1}) {
      error_ = w.at(1) + " moved";
      return false;
    }
    return true;
  }
  if (cmd == "expect-glyph") {
    // A character the font draws (hex code point): U+10000 and above through the emoji map.
    const auto cp = static_cast<uint32_t>(std::stoul(w.at(1), nullptr, 16));
    const auto code = cp > 0xFFFF ? app.emoji().code_of(cp) : std::optional<uint16_t>(cp);
    if (!code || ImGui::GetFont()->FindGlyphNoFallback(static_cast<ImWchar>(*code)) == nullptr) {
      error_ = "no glyph for U+" + w.at(1);
      return false;
    }
    return true;
  }
  if (app.worker_busy() && cmd != "idle" && cmd.rfind("wait-", 0) != 0 && !acted_) {
    return wait(99); // the previous action is still running
  }
  if (cmd == "create" || cmd == "unlock") {
    if (!app.has_identity_known()) {
      return wait(99);
    }
    if (!acted_) {
      acted_ = true;
      cmd == "create" ? app.create_identity(rest, name_) : app.unlock(rest);
      return false;
    }
    if (!app.error().empty()) {
      error_ = app.error();
      return false;
    }
    return app.unlocked() || wait(99);
  }
  // An action's result: wait until the worker has run it and its answer is in, then fail on the
  // error it left.
  auto settled = [&](const std::string& error) {
    if (app.worker_busy() || !settled_) {
      settled_ = !app.worker_busy(); // one more frame, for the answer to be drained
      return wait(99);
    }
    if (!error.empty()) {
      error_ = error;
      return false;
    }
    return true;
  };
  if (cmd == "name") {
    name_ = rest;
    return true;
  }
  if (cmd == "write-code") {
    if (app.my_code().empty()) {
      error_ = "no contact code";
      return false;
    }
    std::ofstream out(w.at(1));
    out << app.my_code() << "\n";
    return true;
  }
  if (cmd == "add-code-file") {
    std::ifstream in(w.at(1));
    std::string code;
    if (!acted_) {
      if (!(in >> code)) {
        return wait(99);
      }
      app.add_contact(code, w.at(2));
      acted_ = true;
      return false;
    }
    return settled(app.add_error());
  }
  if (cmd == "wait-online") {
    const std::string id = contact_named(app, w.at(1));
    const ContactRow* r = id.empty() ? nullptr : app.contacts().find(id);
    if (r != nullptr && r->online) {
      return true;
    }
    return wait(2); // presence events keep the list current
  }
  if (cmd == "open") {
    const std::string id = contact_named(app, w.at(1));
    if (id.empty()) {
      error_ = "no contact named " + w.at(1);
      return false;
    }
    app.open_conversation(id);
    return true;
  }
  auto outgoing = [&] {
    std::size_t n = 0;
    for (const MessageRow* m : app.conversation().visible("")) {
      n += m->outgoing ? 1 : 0;
    }
    return n;
  };
  if (cmd == "send") {
    if (!acted_) {
      if (app.conversation().contact().empty()) {
        error_ = "no conversation is open";
        return false;
      }
      sent_ = outgoing() + 1;
      app.send(rest);
      acted_ = true;
      return false;
    }
    return settled(app.error());
  }
  if (cmd == "wait-message") {
    // wait-message TEXT... SECONDS: the text is every word but the last.
    const std::string text = rest.substr(0, rest.find_last_of(' '));
    for (const MessageRow* m : app.conversation().visible("")) {
      if (!m->outgoing && m->text == text) {
        return true;
      }
    }
    return wait(w.size() - 1);
  }
  if (cmd == "wait-delivered") {
    // Every message sent so far (at least as many as the script sent) delivered or read.
    bool all = outgoing() >= std::max<std::size_t>(sent_, 1);
    for (const MessageRow* m : app.conversation().visible("")) {
      all &= !m->outgoing || m->state >= MessageState::kDelivered;
    }
    return all || wait(1);
  }
  if (cmd == "call" || cmd == "answer") {
    if (!acted_) {
      cmd == "call" ? app.call(contact_named(app, w.at(1))) : app.answer();
      acted_ = true;
      return false;
    }
    return settled(app.error());
  }
  if (cmd == "hangup") {
    app.hang_up();
    return true;
  }
  if (cmd == "mute" || cmd == "unmute") {
    app.set_muted(cmd == "mute");
    return true;
  }
  if (cmd == "wait-call") {
    const auto& c = app.call_panel().call();
    if (c && call_phase_name(c->phase) == w.at(1)) {
      return true;
    }
    return wait(2);
  }
  if (cmd == "show") {
    app.close_dialogs();
    const std::string what = w.at(1);
    if (what == "my-code") {
      app.show_my_code();
    } else if (what == "safety") {
      app.show_safety(contact_named(app, w.at(2)));
    } else if (what == "add") {
      app.show_add();
    } else if (what == "node") {
      app.show_node_panel();
    } else if (what == "devices") {
      app.show_devices();
    } else if (what == "settings") {
      app.show_settings();
    } else if (what != "none") {
      error_ = "unknown screen " + what;
      return false;
    }
    return true;
  }
  if (cmd == "screenshot") {
    screenshot_ = w.at(1);
    return true;
  }
  if (cmd == "idle") {
    if (!idle_) {
      idle_ = true;
      idle_cpu_start_ = cpu_seconds();
      return false;
    }
    const double seconds = std::stod(w.at(1));
    if (static_cast<double>(waited) < seconds * 1000) {
      return false;
    }
    idle_ = false;
    const double used = cpu_seconds() - idle_cpu_start_;
    std::cout << "idle-cpu " << 100.0 * used / (static_cast<double>(waited) / 1000.0) << std::endl;
    return true;
  }
  if (cmd == "quit") {
    done_ = true;
    return true;
  }
  error_ = "unknown step '" + cmd + "'";
  return false;
}

namespace {

void push_text(const std::string& text) {
  // SDL's text events carry at most 31 bytes: cut between UTF-8 characters.
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t n = std::min<std::size_t>(text.size() - at, SDL_TEXTINPUTEVENT_TEXT_SIZE - 1);
    while (at + n < text.size() && (static_cast<unsigned char>(text[at + n]) & 0xC0) == 0x80) {
      --n;
    }
    SDL_Event e{};
    e.type = SDL_TEXTINPUT;
    text.copy(e.text.text, n, at);
    SDL_PushEvent(&e);
    at += n;
  }
}

void push_key(SDL_Window* window, SDL_Scancode code, bool down) {
  SDL_Event e{};
  e.type = down ? SDL_KEYDOWN : SDL_KEYUP;
  e.key.windowID = SDL_GetWindowID(window);
  e.key.state = down ? SDL_PRESSED : SDL_RELEASED;
  e.key.keysym.scancode = code;
  e.key.keysym.sym = SDL_GetKeyFromScancode(code);
  e.key.keysym.mod = static_cast<uint16_t>(SDL_GetModState());
  SDL_PushEvent(&e);
}

void push_button(SDL_Window* window, int x, int y, bool down) {
  SDL_Event e{};
  e.type = down ? SDL_MOUSEBUTTONDOWN : SDL_MOUSEBUTTONUP;
  e.button.windowID = SDL_GetWindowID(window);
  e.button.button = SDL_BUTTON_LEFT;
  e.button.state = down ? SDL_PRESSED : SDL_RELEASED;
  e.button.clicks = 1;
  e.button.x = x;
  e.button.y = y;
  SDL_PushEvent(&e);
}

} // namespace

// Input steps go frame by frame: an event pushed now is read at the start of the next turn of
// the loop, before that turn's frame. A key is held down for one whole frame (Dear ImGui sees a
// press only in a frame where the key is down) and then released.
bool Script::input(App& app, const std::vector<std::string>& w, const std::string& rest) {
  const std::string& cmd = w[0];
  if (window_ == nullptr) {
    error_ = "no window for input";
    return false;
  }
  if (cmd == "type") {
    push_text(rest);
    return true;
  }
  if (cmd == "focus") {
    // The window comes to the front or goes behind another, as a window manager reports it.
    SDL_Event e{};
    e.type = SDL_WINDOWEVENT;
    e.window.windowID = SDL_GetWindowID(window_);
    e.window.event = w.at(1) == "in" ? SDL_WINDOWEVENT_FOCUS_GAINED : SDL_WINDOWEVENT_FOCUS_LOST;
    SDL_PushEvent(&e);
    return true;
  }
  if (cmd == "type-file") {
    std::ifstream in(w.at(1));
    std::string word;
    if (!(in >> word)) {
      if (steady_ms() - step_started_ms_ > 30000) {
        error_ = "no text in " + w.at(1);
      }
      return false;
    }
    push_text(word);
    return true;
  }
  if (cmd == "key") {
    // "shift+Return": modifiers first, then the key; SDL's modifier state is what the backend
    // reads for Shift and Ctrl.
    std::vector<SDL_Scancode> keys;
    SDL_Keymod mods = KMOD_NONE;
    std::string spec = w.at(1);
    for (std::size_t plus; (plus = spec.find('+')) != std::string::npos;) {
      const std::string mod = spec.substr(0, plus);
      spec.erase(0, plus + 1);
      if (mod == "shift") {
        keys.push_back(SDL_SCANCODE_LSHIFT);
        mods = static_cast<SDL_Keymod>(mods | KMOD_LSHIFT);
      } else if (mod == "ctrl") {
        keys.push_back(SDL_SCANCODE_LCTRL);
        mods = static_cast<SDL_Keymod>(mods | KMOD_LCTRL);
      } else {
        error_ = "unknown modifier " + mod;
        return false;
      }
    }
    const SDL_Scancode key = SDL_GetScancodeFromName(spec.c_str());
    if (key == SDL_SCANCODE_UNKNOWN) {
      error_ = "unknown key " + spec;
      return false;
    }
    keys.push_back(key);
    if (phase_ == 0) {
      SDL_SetModState(mods);
      for (SDL_Scancode k : keys) {
        push_key(window_, k, true);
      }
    } else if (phase_ == 1) {
      // The key is down in the frame drawn after this turn's events were read: release it now.
      SDL_SetModState(KMOD_NONE);
      for (auto k = keys.rbegin(); k != keys.rend(); ++k) {
        push_key(window_, *k, false);
      }
    } else {
      return true;
    }
    ++phase_;
    return false;
  }
  // click TARGET: the pointer goes there (a real pointer move on the X display, which the
  // backend reads each frame), then the button goes down for a frame and up.
  const auto rect = app.target(rest);
  if (!rect) {
    if (steady_ms() - step_started_ms_ > 30000) {
      error_ = "no widget " + rest + " on screen";
    }
    return false;
  }
  // A window that just opened settles its size and place over its first frames: click where
  // the widget was drawn twice in a row.
  const std::array<float, 4> at{rect->x0, rect->y0, rect->x1, rect->y1};
  if (phase_ == 0 && std::exchange(last_place_, at) != at) {
    return false;
  }
  const int x = static_cast<int>((rect->x0 + rect->x1) / 2);
  const int y = static_cast<int>((rect->y0 + rect->y1) / 2);
  if (phase_ == 0) {
    SDL_WarpMouseInWindow(window_, x, y);
  } else if (phase_ == 2) {
    push_button(window_, x, y, true);
  } else if (phase_ == 3) {
    push_button(window_, x, y, false);
  } else if (phase_ > 4) {
    return true;
  }
  ++phase_;
  return false;
}

} // namespace entre::gui
