// entre-gui's application: the screens (first run, main window, contact dialogs, call panel, node
// panel) drawn with Dear ImGui from the view models, and the two threads that keep the UI thread
// from ever waiting on the node: a worker that makes every Node call (network, disk and key
// derivation happen there) and an event thread that drains Node::wait_event. Both hand their
// results to the UI thread through an inbox and wake it with an SDL user event, so an idle window
// sleeps in SDL_WaitEventTimeout.
//
// A test script (--test-script) drives the same actions a person would, step by step, and saves
// screenshots; see script.hpp.
#pragma once

#include "view_models.hpp"

#include <entre/node.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace entre::gui {

class App;

// Runs jobs off the UI thread, one at a time, in order.
class Worker {
 public:
  Worker();
  ~Worker();
  void post(std::function<void()> job);
  [[nodiscard]] bool busy() const;

 private:
  void loop();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool running_job_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// Results for the UI thread; push() wakes it.
class Inbox {
 public:
  explicit Inbox(uint32_t wake_event) : wake_event_(wake_event) {}
  void push(std::function<void(App&)> fn);
  std::deque<std::function<void(App&)>> take();

 private:
  std::mutex mu_;
  std::deque<std::function<void(App&)>> items_;
  uint32_t wake_event_;
};

struct QrCode {
  int width = 0;
  std::vector<bool> dark; // width * width modules, row by row
};
// The contact code as a QR code (libqrencode, error correction M); empty on failure.
[[nodiscard]] QrCode make_qr(const std::string& text);

class App {
 public:
  // `emoji`: the private codes the font gave emoji (fonts.hpp); outlives the App.
  App(Node& node, uint32_t wake_event, const EmojiMap& emoji);
  ~App();

  // Draws one frame of the UI (between ImGui::NewFrame and ImGui::Render).
  void draw(int width, int height);
  // Runs the results that came in; true when anything changed (draw again).
  bool drain();
  // Whether something on screen moves on its own (a call's clock and meters): frames keep coming.
  [[nodiscard]] bool animating() const;
  // Whether the window is in front (has the keyboard). While it is not, messages of the open
  // conversation count as unread too, and messages and calls ask for attention.
  void set_focused(bool focused);
  [[nodiscard]] bool focused() const { return focused_; }
  // `base`, with the unread total when there is one: "Entre - alice (3 unread)".
  [[nodiscard]] std::string window_title(const std::string& base) const;
  // Whether something asked for the person's attention since the last call (then the window
  // flashes); attention_count() counts every such request.
  bool take_attention();
  [[nodiscard]] uint64_t attention_count() const { return attention_count_; }
  // Settings > Quit was chosen.
  [[nodiscard]] bool quit_requested() const { return quit_; }
  [[nodiscard]] const EmojiMap& emoji() const { return emoji_; }

  // ---- Actions (what the buttons do; the test script calls them too) ----
  // Creates the identity and, when `name` is not empty, keeps it as the display name.
  void create_identity(const std::string& passphrase, const std::string& name = {});
  void unlock(const std::string& passphrase);
  void open_conversation(const std::string& contact);
  void send(const std::string& text);
  void add_contact(const std::string& code, const std::string& name);
  void call(const std::string& contact);
  void answer();
  void hang_up();
  void set_muted(bool muted);
  void show_my_code();
  void show_add();
  void show_devices();
  void show_settings();
  void show_safety(const std::string& contact);
  void show_node_panel();
  void refresh_contacts();

  // ---- What the script and the tests read ----
  [[nodiscard]] bool unlocked() const { return unlocked_; }
  [[nodiscard]] bool has_identity_known() const { return has_identity_.has_value(); }
  [[nodiscard]] const std::string& my_code() const { return my_code_; }
  [[nodiscard]] const std::string& display_name() const { return display_name_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] const std::string& add_error() const { return add_error_; }
  [[nodiscard]] const ContactList& contacts() const { return contacts_; }
  [[nodiscard]] const Conversation& conversation() const { return conversation_; }
  [[nodiscard]] const CallPanel& call_panel() const { return call_; }
  [[nodiscard]] bool worker_busy() const { return worker_.busy(); }
  // Where a widget the script may click was drawn in the last frame (window coordinates);
  // nothing when that frame did not draw it. Names: "composer", "send", "add-code", "add-name",
  // "add", ...
  struct Rect {
    float x0 = 0;
    float y0 = 0;
    float x1 = 0;
    float y1 = 0;
  };
  [[nodiscard]] std::optional<Rect> target(const std::string& name) const;
  [[nodiscard]] bool has_target_starting(const std::string& prefix) const;
  void close_dialogs();

 private:
  void on_event(const Event& e);
  void open_identity(bool create, const std::string& passphrase, const std::string& name);
  void draw_first_run();
  void draw_main(int width, int height);
  void draw_contacts_pane();
  void draw_conversation_pane();
  void draw_call_banner();
  void draw_call_panel();
  void draw_dialogs();
  void draw_node_panel();
  void draw_settings();
  void draw_devices();
  void draw_messages();
  void fetch_calls(const std::string& contact);
  void fetch_node_info(); // plugins, log and audio devices
  void draw_qr(const QrCode& qr, float size);
  // Notes the last widget drawn as `name`, for target().
  void mark(const char* name);

  Node& node_;
  const EmojiMap& emoji_;
  Inbox inbox_;
  Worker worker_;
  std::thread events_;
  std::mutex stop_mu_;
  bool stopping_ = false;

  std::optional<bool> has_identity_;
  bool unlocked_ = false;
  bool unlocking_ = false;
  // While the key derivation runs: since when, and what it costs (Node::key_derivation).
  std::chrono::steady_clock::time_point unlock_started_{};
  std::string kdf_cost_;
  std::string passphrase_;
  std::string confirm_;
  std::string name_;         // first run: the name to announce
  std::string display_name_; // once unlocked
  std::string error_;        // the last action's error, shown where it happened
  std::string my_id_;
  std::string my_code_;
  QrCode qr_;

  ContactList contacts_;
  Conversation conversation_;
  CallPanel call_;
  std::string composer_;
  std::string search_;
  bool focus_composer_ = false;
  bool focused_ = true;
  bool attention_ = false;
  uint64_t attention_count_ = 0;
  bool quit_ = false;
  std::string selected_message_; // clicked: Ctrl+C copies its text

  // Dialogs
  bool show_code_ = false;
  bool show_add_ = false;
  std::string add_code_;
  std::string add_name_;
  std::string add_error_;
  bool show_safety_ = false;
  std::string safety_contact_;
  std::string safety_number_;
  bool show_rename_ = false;
  std::string rename_contact_;
  std::string rename_to_;
  bool show_node_ = false;
  std::vector<PluginStatus> plugins_;
  std::map<std::string, std::pair<bool, std::vector<std::string>>> transports_;
  std::map<std::string, std::string> problems_; // plugin id -> its newest problem (PluginError)
  std::vector<Node::LogLine> log_;
  int log_level_ = 2;       // info
  bool log_to_end_ = false; // the log opens (and refreshes) at its newest line
  bool show_devices_ = false;
  bool show_settings_ = false;
  std::string settings_name_;
  std::string settings_note_;
  Node::AudioDevices devices_;
  std::string devices_error_;
  std::string capture_choice_; // empty: the system default
  std::string playback_choice_;
  std::optional<CallStats> live_; // polled during a call for the level meters
  int64_t last_poll_ms_ = 0;
  std::map<std::string, std::pair<Rect, int>> targets_; // with the frame that drew it
  int frame_ = 0;
};

} // namespace entre::gui
