#include "app.hpp"

#include <SDL.h>
#include <imgui.h>
#include <imgui_internal.h>
#include <imgui_stdlib.h>
#include <qrencode.h>

#include <entre/passphrase.hpp>

#include <algorithm>
#include <array>
#include <chrono>

namespace entre::gui {

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const ImVec4 kGreen{0.35f, 0.8f, 0.45f, 1.0f};
const ImVec4 kGrey{0.55f, 0.55f, 0.6f, 1.0f};
const ImVec4 kRed{0.95f, 0.4f, 0.35f, 1.0f};
const ImVec4 kBlue{0.45f, 0.65f, 1.0f, 1.0f};
const ImVec4 kAmber{0.9f, 0.7f, 0.3f, 1.0f};

int level_of(const std::string& name) {
  static const char* kNames[] = {"trace", "debug", "info", "warning", "error", "critical"};
  for (int i = 0; i < 6; ++i) {
    if (name == kNames[i]) {
      return i;
    }
  }
  return 2;
}

} // namespace

// ---- Worker and inbox ---------------------------------------------------------------------------

Worker::Worker() : thread_([this] { loop(); }) {}

Worker::~Worker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Worker::post(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

bool Worker::busy() const {
  std::lock_guard lock(mu_);
  return running_job_ || !jobs_.empty();
}

void Worker::loop() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) {
        return; // stopping, and every queued action has run (a message queued is not lost)
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
      running_job_ = true;
    }
    job();
    std::lock_guard lock(mu_);
    running_job_ = false;
  }
}

void Inbox::push(std::function<void(App&)> fn) {
  {
    std::lock_guard lock(mu_);
    items_.push_back(std::move(fn));
  }
  SDL_Event wake{};
  wake.type = wake_event_;
  SDL_PushEvent(&wake);
}

std::deque<std::function<void(App&)>> Inbox::take() {
  std::lock_guard lock(mu_);
  return std::exchange(items_, {});
}

QrCode make_qr(const std::string& text) {
  QrCode out;
  QRcode* qr = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (qr == nullptr) {
    return out;
  }
  out.width = qr->width;
  out.dark.resize(static_cast<std::size_t>(qr->width) * static_cast<std::size_t>(qr->width));
  for (std::size_t i = 0; i < out.dark.size(); ++i) {
    out.dark[i] = (qr->data[i] & 1) != 0;
  }
  QRcode_free(qr);
  return out;
}

// ---- App ----------------------------------------------------------------------------------------

App::App(Node& node, uint32_t wake_event, const EmojiMap& emoji)
    : node_(node), emoji_(emoji), inbox_(wake_event) {
  events_ = std::thread([this] {
    while (true) {
      {
        std::lock_guard lock(stop_mu_);
        if (stopping_) {
          return;
        }
      }
      if (auto e = node_.wait_event(std::chrono::milliseconds(200))) {
        inbox_.push([e = std::move(*e)](App& a) { a.on_event(e); });
      }
    }
  });
  worker_.post([this] {
    const bool has = node_.has_identity();
    inbox_.push([has](App& a) { a.has_identity_ = has; });
  });
}

App::~App() {
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  events_.join();
}

bool App::drain() {
  auto items = inbox_.take();
  for (auto& fn : items) {
    fn(*this);
  }
  return !items.empty();
}

bool App::animating() const { return call_.in_call() || call_.ringing_here() || unlocking_; }

void App::set_focused(bool focused) {
  if (focused == focused_) {
    return;
  }
  focused_ = focused;
  // Out of sight, the open conversation's messages count as unread; back in front, they are
  // read.
  contacts_.set_open(focused ? conversation_.contact() : std::string());
  const std::string who = conversation_.contact();
  if (focused && !who.empty()) {
    worker_.post([this, who] { (void)node_.mark_read(who); });
  }
}

std::string App::window_title(const std::string& base) const {
  const uint64_t unread = contacts_.total_unread();
  return unread == 0 ? base : base + " (" + std::to_string(unread) + " unread)";
}

bool App::take_attention() { return std::exchange(attention_, false); }

void App::on_event(const Event& e) {
  contacts_.apply(e);
  if (conversation_.apply(e)) {
    if (const auto* m = std::get_if<MessageReceived>(&e); m != nullptr && focused_) {
      const std::string who = m->message.contact;
      worker_.post([this, who] { (void)node_.mark_read(who); });
    }
  }
  call_.apply(e);
  if (const auto* c = std::get_if<CallChanged>(&e);
      c != nullptr && c->call.phase == CallPhase::kEnded) {
    live_.reset();
    fetch_calls(c->call.contact); // the call takes its place in the conversation
  }
  const auto* incoming = std::get_if<CallChanged>(&e);
  if (!focused_ && (std::holds_alternative<MessageReceived>(e) ||
                    (incoming != nullptr && incoming->call.phase == CallPhase::kIncoming))) {
    attention_ = true;
    ++attention_count_;
  }
  if (const auto* t = std::get_if<TransportStateChanged>(&e)) {
    transports_[t->plugin_id] = {t->running, t->endpoints};
  }
  if (const auto* p = std::get_if<PluginError>(&e)) {
    problems_[p->plugin_id] = p->message;
  }
  if (const auto* l = std::get_if<LinkStateChanged>(&e); l != nullptr && l->up) {
    problems_.erase(l->plugin_id);
  }
}

void App::refresh_contacts() {
  worker_.post([this] {
    auto list = node_.contacts();
    // Each conversation's newest message, for the list.
    std::vector<MessageInfo> newest;
    for (const auto& c : list) {
      auto h = node_.history(c.id, 0, 1);
      if (h.ok() && !h.value->empty()) {
        newest.push_back(h.value->front());
      }
    }
    inbox_.push([list = std::move(list), newest = std::move(newest)](App& a) {
      for (const auto& m : newest) {
        a.contacts_.note_message(m);
      }
      a.contacts_.reset(list);
    });
  });
}

void App::fetch_calls(const std::string& contact) {
  if (contact.empty() || contact != conversation_.contact()) {
    return;
  }
  worker_.post([this, contact] {
    auto calls = node_.call_history(contact, 200);
    inbox_.push([contact, calls](App& a) {
      if (a.conversation_.contact() == contact && calls.ok()) {
        a.conversation_.set_calls(*calls.value);
      }
    });
  });
}

void App::create_identity(const std::string& passphrase, const std::string& name) {
  open_identity(true, passphrase, name);
}

void App::unlock(const std::string& passphrase) { open_identity(false, passphrase, {}); }

void App::open_identity(bool create, const std::string& passphrase, const std::string& name) {
  unlocking_ = true;
  unlock_started_ = std::chrono::steady_clock::now();
  kdf_cost_.clear();
  error_.clear();
  worker_.post([this, create, name, pass = std::string(passphrase)]() mutable {
    inbox_.push([cost = node_.key_derivation().cost](App& a) { a.kdf_cost_ = cost; });
    ApiStatus st = create ? node_.create_identity(pass) : node_.unlock(pass);
    std::fill(pass.begin(), pass.end(), '\0');
    if (st.ok() && !name.empty()) {
      st = node_.set_display_name(name);
    }
    const std::string shown = st.ok() ? node_.display_name() : std::string();
    const std::string id = st.ok() ? node_.my_id() : std::string();
    auto code = st.ok() ? node_.contact_code() : ApiResult<std::string>{};
    inbox_.push([st, id, code, shown](App& a) {
      a.unlocking_ = false;
      a.display_name_ = shown;
      std::fill(a.passphrase_.begin(), a.passphrase_.end(), '\0');
      std::fill(a.confirm_.begin(), a.confirm_.end(), '\0');
      a.passphrase_.clear();
      a.confirm_.clear();
      ImGui::ClearActiveID(); // the text field's own copy goes with its state
      if (!st.ok()) {
        a.error_ = st.error.code == sdk::StatusCode::kAuthFailed
                       ? "Wrong passphrase. Nothing was changed; try again."
                       : st.error.message;
        return;
      }
      a.unlocked_ = true;
      a.my_id_ = id;
      a.my_code_ = code.value.value_or("");
      a.qr_ = make_qr(a.my_code_);
      a.refresh_contacts();
    });
  });
}

void App::open_conversation(const std::string& contact) {
  contacts_.set_open(focused_ ? contact : std::string());
  selected_message_.clear();
  conversation_.open(contact, {}); // at once: messages that come meanwhile are kept
  search_.clear();
  focus_composer_ = true;
  worker_.post([this, contact] {
    auto history = node_.history(contact, 0, 500);
    (void)node_.mark_read(contact);
    inbox_.push([contact, history](App& a) {
      if (a.conversation_.contact() == contact) {
        a.conversation_.merge(history.value.value_or(std::vector<MessageInfo>{}));
      }
    });
  });
  fetch_calls(contact);
}

void App::send(const std::string& text) {
  const std::string contact = conversation_.contact();
  if (contact.empty() || text.empty()) {
    return;
  }
  worker_.post([this, contact, text] {
    auto r = node_.send(contact, text);
    inbox_.push([r](App& a) {
      if (r.ok()) {
        a.conversation_.add_sent(*r.value);
        a.contacts_.note_message(*r.value);
      } else {
        a.error_ = r.error.message;
      }
    });
  });
}

void App::add_contact(const std::string& code, const std::string& name) {
  add_error_.clear();
  worker_.post([this, code, name] {
    auto r = node_.add_contact(code, name);
    inbox_.push([r](App& a) {
      if (!r.ok()) {
        a.add_error_ = r.error.message;
        return;
      }
      a.show_add_ = false;
      a.add_code_.clear();
      a.add_name_.clear();
      a.refresh_contacts();
    });
  });
}

void App::call(const std::string& contact) {
  error_.clear();
  worker_.post([this, contact] {
    auto r = node_.call(contact);
    inbox_.push([r](App& a) {
      if (!r.ok()) {
        a.error_ = "Call failed: " + r.error.message;
      } else {
        a.call_.apply(CallChanged{*r.value});
      }
    });
  });
}

void App::answer() {
  worker_.post([this] {
    auto r = node_.answer();
    inbox_.push([r](App& a) {
      if (!r.ok()) {
        a.error_ = "Answer failed: " + r.error.message;
      }
    });
  });
}

void App::hang_up() {
  worker_.post([this] { (void)node_.hang_up(); });
}

void App::set_muted(bool muted) {
  worker_.post([this, muted] { (void)node_.set_muted(muted); });
}

void App::show_my_code() { show_code_ = true; }

void App::show_add() { show_add_ = true; }

void App::show_devices() {
  show_devices_ = true;
  fetch_node_info();
}

void App::show_settings() {
  show_settings_ = true;
  settings_name_ = display_name_;
  settings_note_.clear();
  fetch_node_info();
}

void App::show_safety(const std::string& contact) {
  safety_contact_ = contact;
  safety_number_.clear();
  show_safety_ = true;
  worker_.post([this, contact] {
    auto r = node_.safety_number(contact);
    inbox_.push([r](App& a) { a.safety_number_ = r.value.value_or(r.error.message); });
  });
}

void App::show_node_panel() {
  show_node_ = true;
  fetch_node_info();
}

void App::fetch_node_info() {
  worker_.post([this] {
    auto plugins = node_.plugins();
    auto log = node_.recent_log();
    auto devices = node_.audio_devices();
    inbox_.push([plugins, log, devices](App& a) {
      a.plugins_ = plugins;
      a.log_ = log;
      a.log_to_end_ = true;
      if (devices.ok()) {
        a.devices_ = *devices.value;
        a.devices_error_.clear();
      } else {
        a.devices_error_ = devices.error.message;
      }
    });
  });
}

void App::close_dialogs() {
  show_code_ = show_add_ = show_safety_ = show_rename_ = show_node_ = show_devices_ = false;
  show_settings_ = false;
}

// ---- Drawing ------------------------------------------------------------------------------------

void App::mark(const char* name) {
  const ImVec2 a = ImGui::GetItemRectMin();
  const ImVec2 b = ImGui::GetItemRectMax();
  targets_[name] = {Rect{a.x, a.y, b.x, b.y}, frame_};
}

std::optional<App::Rect> App::target(const std::string& name) const {
  const auto it = targets_.find(name);
  if (it == targets_.end() || it->second.second != frame_) {
    return std::nullopt;
  }
  return it->second.first;
}

bool App::has_target_starting(const std::string& prefix) const {
  return std::any_of(targets_.begin(), targets_.end(), [&](const auto& t) {
    return t.second.second == frame_ && t.first.rfind(prefix, 0) == 0;
  });
}

void App::draw(int width, int height) {
  ++frame_;
  std::erase_if(targets_, [this](const auto& t) { return t.second.second < frame_ - 1; });
  ImGui::SetNextWindowPos(ImVec2(0, 0));
  ImGui::SetNextWindowSize(ImVec2(static_cast<float>(width), static_cast<float>(height)));
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove |
                                 ImGuiWindowFlags_NoBringToFrontOnFocus |
                                 (unlocked_ ? ImGuiWindowFlags_MenuBar : 0);
  ImGui::Begin("entre", nullptr, flags);
  if (!unlocked_) {
    draw_first_run();
  } else {
    draw_main(width, height);
  }
  ImGui::End();
  if (unlocked_) {
    draw_dialogs();
  }
  // Level meters move during a call: poll the statistics a few times a second.
  if (call_.in_call() && now_ms() - last_poll_ms_ > 200 && !worker_.busy()) {
    last_poll_ms_ = now_ms();
    worker_.post([this] {
      auto s = node_.call_stats();
      inbox_.push([s](App& a) { a.live_ = s; });
    });
  }
}

void App::draw_first_run() {
  const bool creating = has_identity_.has_value() && !*has_identity_;
  ImGui::Dummy(ImVec2(0, 40));
  ImGui::Indent(40);
  ImGui::TextColored(kBlue, "Entre");
  ImGui::TextUnformatted("End-to-end encrypted messages and calls, peer to peer.");
  ImGui::Spacing();
  ImGui::Text("Node: %s (profile %s)", node_.name().c_str(),
              node_.profile_path().filename().string().c_str());
  ImGui::Spacing();
  if (!has_identity_.has_value()) {
    ImGui::TextUnformatted("Opening the store...");
    ImGui::Unindent(40);
    return;
  }
  ImGui::TextUnformatted(creating ? "Create your identity" : "Unlock your identity");
  ImGui::TextColored(kGrey, creating ? "Your public key is your identity: no phone number, no "
                                       "e-mail. The passphrase seals it on this device."
                                     : "Your identity, contacts and messages are sealed with "
                                       "your passphrase.");
  ImGui::PushItemWidth(360);
  bool submit =
      ImGui::InputText("Passphrase", &passphrase_,
                       ImGuiInputTextFlags_Password | ImGuiInputTextFlags_EnterReturnsTrue);
  mark("passphrase");
  if (ImGui::IsWindowAppearing() && !creating) {
    ImGui::SetKeyboardFocusHere(-1);
  }
  if (creating) {
    // The bar and its label share one colour; before anything is typed the hint is advice, not
    // a warning.
    const PassphraseStrength hint = passphrase_strength(passphrase_);
    const ImVec4 colour = passphrase_.empty() ? kGrey
                          : hint.score >= 3   ? kGreen
                          : hint.score >= 2   ? kAmber
                                              : kRed;
    ImGui::PushStyleColor(ImGuiCol_PlotHistogram, colour);
    ImGui::ProgressBar(static_cast<float>(hint.score) / 4.0f, ImVec2(360, 6), "");
    ImGui::PopStyleColor();
    ImGui::TextColored(colour, "%s", hint.text.c_str());
    submit |= ImGui::InputText("Again", &confirm_,
                               ImGuiInputTextFlags_Password | ImGuiInputTextFlags_EnterReturnsTrue);
  }
  ImGui::PopItemWidth();
  ImGui::BeginDisabled(unlocking_);
  submit |= ImGui::Button(creating ? "Create identity" : "Unlock");
  ImGui::EndDisabled();
  if (unlocking_) {
    // A spinner and the cost: the restrictive profile's derivation takes seconds and about a
    // GiB of memory, and a window that shows nothing meanwhile looks hung.
    static constexpr std::array<const char*, 4> kSpin = {"|", "/", "-", "\\"};
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - unlock_started_).count();
    ImGui::SameLine();
    ImGui::TextColored(kGrey, "%s Deriving the key%s %.0f s",
                       kSpin[static_cast<std::size_t>(seconds * 8) % kSpin.size()],
                       kdf_cost_.empty() ? "..." : (" (" + kdf_cost_ + ")...").c_str(), seconds);
  }
  if (submit && !unlocking_) {
    if (creating && passphrase_ != confirm_) {
      error_ = "The two passphrases differ.";
    } else if (const PassphraseStrength strength = passphrase_strength(passphrase_);
               creating && !strength.acceptable) {
      error_ = strength.text; // the rule entre-host's prompt applies too
    } else if (creating) {
      create_identity(passphrase_, name_);
    } else {
      unlock(passphrase_);
    }
  }
  if (!error_.empty()) {
    ImGui::TextColored(kRed, "%s", error_.c_str());
  }
  ImGui::Unindent(40);
}

void App::draw_main(int width, int height) {
  (void)height;
  if (ImGui::BeginMenuBar()) {
    if (ImGui::BeginMenu("Entre")) {
      if (ImGui::MenuItem("Settings")) {
        show_settings();
      }
      if (ImGui::MenuItem("Quit")) {
        quit_ = true;
      }
      ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("Contacts")) {
      if (ImGui::MenuItem("My contact code")) {
        show_code_ = true;
      }
      if (ImGui::MenuItem("Add a contact")) {
        show_add_ = true;
      }
      ImGui::EndMenu();
    }
    if (ImGui::BeginMenu("Node")) {
      if (ImGui::MenuItem("Node panel")) {
        show_node_panel();
      }
      if (ImGui::MenuItem("Audio devices")) {
        show_devices();
      }
      ImGui::EndMenu();
    }
    ImGui::TextColored(kGrey, "  %s  %s...", emoji_.display(display_name_).c_str(),
                       my_id_.substr(0, 12).c_str());
    ImGui::EndMenuBar();
  }
  draw_call_banner();
  const float left = std::clamp(static_cast<float>(width) * 0.28f, 200.0f, 360.0f);
  ImGui::BeginChild("contacts", ImVec2(left, 0), true);
  draw_contacts_pane();
  ImGui::EndChild();
  ImGui::SameLine();
  ImGui::BeginChild("conversation", ImVec2(0, 0), true);
  draw_conversation_pane();
  ImGui::EndChild();
}

void App::draw_contacts_pane() {
  if (ImGui::Button("+ Add")) {
    show_add_ = true;
  }
  ImGui::SameLine();
  if (ImGui::Button("My code")) {
    show_code_ = true;
  }
  ImGui::Separator();
  // What keeps this node from reaching anyone (a relay it cannot reach, say), until it links.
  for (const auto& [plugin, message] : problems_) {
    ImGui::PushStyleColor(ImGuiCol_Text, kAmber);
    ImGui::TextWrapped("%s: %s", plugin.c_str(), message.c_str());
    ImGui::PopStyleColor();
    mark(("problem:" + plugin).c_str());
  }
  if (contacts_.rows().empty()) {
    ImGui::TextWrapped("No contacts yet. Give your code to someone (My code) and add theirs.");
  }
  for (const ContactRow& r : contacts_.rows()) {
    ImGui::PushID(r.id.c_str());
    const bool open = contacts_.open() == r.id;
    ImGui::TextColored(r.online ? kGreen : kGrey, r.online ? "\xe2\x97\x8f" : "\xe2\x97\x8b");
    ImGui::SameLine();
    std::string label = emoji_.display(r.name);
    if (r.verified) {
      label += " \xe2\x9c\x93";
    }
    if (r.unread > 0) {
      label += "  (" + std::to_string(r.unread) + ")";
    }
    if (ImGui::Selectable(label.c_str(), open)) {
      open_conversation(r.id);
    }
    mark(("contact:" + r.name).c_str());
    if (r.last_ms > 0) {
      // The newest message's time, right-aligned on the name's line.
      const std::string when = when_text(r.last_ms, now_ms());
      ImGui::SameLine(ImGui::GetWindowContentRegionMax().x - ImGui::CalcTextSize(when.c_str()).x);
      ImGui::TextColored(kGrey, "%s", when.c_str());
    }
    if (ImGui::BeginPopupContextItem("contact menu")) {
      if (ImGui::MenuItem("Call", nullptr, false, r.online && !call_.in_call())) {
        call(r.id);
      }
      if (ImGui::MenuItem("Safety number")) {
        show_safety(r.id);
      }
      if (ImGui::MenuItem("Rename")) {
        show_rename_ = true;
        rename_contact_ = r.id;
        rename_to_ = r.name;
      }
      const std::string id = r.id;
      const bool blocked = r.blocked;
      if (ImGui::MenuItem(blocked ? "Unblock" : "Block")) {
        worker_.post([this, id, blocked] {
          (void)node_.set_blocked(id, !blocked);
          inbox_.push([](App& a) { a.refresh_contacts(); });
        });
      }
      if (ImGui::MenuItem("Remove")) {
        worker_.post([this, id] {
          (void)node_.remove_contact(id);
          inbox_.push([id](App& a) {
            if (a.conversation_.contact() == id) {
              a.conversation_.close();
              a.contacts_.set_open("");
            }
            a.refresh_contacts();
          });
        });
      }
      ImGui::EndPopup();
    }
    if (!r.last_text.empty()) {
      ImGui::Indent(20);
      ImGui::PushClipRect(ImGui::GetCursorScreenPos(),
                          ImVec2(ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x,
                                 ImGui::GetCursorScreenPos().y + 100),
                          true);
      ImGui::TextColored(r.unread > 0 ? ImVec4(0.9f, 0.9f, 0.9f, 1.0f) : kGrey, "%s%s",
                         r.last_outgoing ? "You: " : "", emoji_.display(r.last_text).c_str());
      ImGui::PopClipRect();
      ImGui::Unindent(20);
    }
    ImGui::TextColored(kGrey, "    %s%s%s",
                       r.online      ? r.path_kind.c_str()
                       : r.not_added ? "offline: has not added you"
                                     : "offline",
                       r.online && !r.path.empty() ? "  " : "", r.online ? r.path.c_str() : "");
    ImGui::PopID();
  }
}

void App::draw_conversation_pane() {
  const std::string& who = conversation_.contact();
  if (who.empty()) {
    ImGui::TextColored(kGrey, "Choose a contact on the left.");
    return;
  }
  const ContactRow* row = contacts_.find(who);
  ImGui::TextUnformatted(emoji_.display(contacts_.name_of(who)).c_str());
  if (row != nullptr) {
    ImGui::SameLine();
    ImGui::TextColored(row->verified ? kGreen : kGrey, row->verified ? "verified" : "not verified");
    ImGui::SameLine();
    ImGui::TextColored(kGrey, "%s",
                       row->online      ? row->path.c_str()
                       : row->not_added ? "offline: has not added you (messages wait until they do)"
                                        : "offline");
  }
  ImGui::SameLine(ImGui::GetWindowWidth() - 290);
  ImGui::BeginDisabled(row == nullptr || !row->online || call_.in_call());
  if (ImGui::Button("Call")) {
    call(who);
  }
  ImGui::EndDisabled();
  ImGui::SameLine();
  if (ImGui::Button("Safety")) {
    show_safety(who);
  }
  ImGui::SameLine();
  ImGui::PushItemWidth(140);
  ImGui::InputTextWithHint("##search", "Search", &search_);
  ImGui::PopItemWidth();
  draw_call_panel();
  ImGui::Separator();
  const float composer_height = ImGui::GetTextLineHeightWithSpacing() * 3 + 12;
  ImGui::BeginChild("messages", ImVec2(0, -composer_height), false);
  draw_messages();
  if (search_.empty() && ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 40) {
    ImGui::SetScrollHereY(1.0f);
  }
  ImGui::EndChild();
  if (focus_composer_) {
    ImGui::SetKeyboardFocusHere();
    focus_composer_ = false;
  }
  // Enter sends; Shift+Enter starts a new line. The field asks its filter before it puts in the
  // new line of an Enter: without Shift the filter drops it and asks for the text to be sent.
  // A pasted text's new lines stay (no Enter is pressed). Ctrl+Enter sends too (the field's own
  // Enter-returns-true, which takes Ctrl+Enter in a multi-line field).
  const auto filter = [](ImGuiInputTextCallbackData* data) {
    const ImGuiIO& io = ImGui::GetIO();
    const bool enter = ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Enter)) ||
                       ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_KeyPadEnter));
    if (data->EventChar == '\n' && enter && !io.KeyShift && !io.KeyCtrl) {
      *static_cast<bool*>(data->UserData) = true;
      return 1;
    }
    return 0;
  };
  bool enter = false;
  const bool ctrl_enter = ImGui::InputTextMultiline(
      "##composer", &composer_, ImVec2(-80, composer_height - 8),
      ImGuiInputTextFlags_CallbackCharFilter | ImGuiInputTextFlags_EnterReturnsTrue, filter,
      &enter);
  mark("composer");
  ImGui::SameLine();
  const bool clicked = ImGui::Button("Send", ImVec2(70, 0));
  mark("send");
  if (enter || ctrl_enter || clicked) {
    if (!composer_.empty()) {
      send(composer_);
      composer_.clear();
    }
    // The field lets go of its copy of the text, and takes the keyboard again next frame.
    ImGui::ClearActiveID();
    focus_composer_ = true;
  }
}

// The open conversation's messages and calls, oldest first, with a line for each new day. A
// click selects a message (Ctrl+C copies it); a right click offers Copy.
void App::draw_messages() {
  const int64_t now = now_ms();
  const std::string who = contacts_.name_of(conversation_.contact());
  int64_t day = -1;
  for (const TimelineItem& item : conversation_.timeline(search_)) {
    if (day < 0 || !same_day(day, item.local_ms)) {
      day = item.local_ms;
      const std::string label = day_text(item.local_ms, now);
      ImGui::Spacing();
      const float w = ImGui::CalcTextSize(label.c_str()).x;
      ImGui::SetCursorPosX(std::max(0.0f, (ImGui::GetWindowContentRegionMax().x - w) / 2));
      ImGui::TextColored(kGrey, "%s", label.c_str());
      mark(("day:" + label).c_str());
      ImGui::Spacing();
    }
    if (item.call != nullptr) {
      const CallRecord& c = *item.call;
      const bool missed = !c.outgoing && c.answered_ms == 0;
      ImGui::TextColored(kGrey, "%s", clock_text(c.started_ms).c_str());
      ImGui::SameLine();
      ImGui::TextColored(missed ? kRed : kBlue, "\xe2\x98\x8e %s", call_text(c).c_str());
      mark(("call:" + call_text(c)).c_str());
      continue;
    }
    const MessageRow* m = item.message;
    ImGui::PushID(m->id.c_str());
    const ImVec2 top = ImGui::GetCursorScreenPos();
    ImGui::BeginGroup();
    ImGui::TextColored(kGrey, "%s", clock_text(m->local_ms).c_str());
    ImGui::SameLine();
    ImGui::TextColored(m->outgoing ? kBlue : kGreen, "%s",
                       m->outgoing ? "me" : emoji_.display(who).c_str());
    if (m->outgoing) {
      ImGui::SameLine();
      ImGui::TextColored(m->state == MessageState::kRead ? kBlue : kGrey, "%s", ticks(*m).c_str());
    }
    if (!m->path.empty()) {
      ImGui::SameLine();
      ImGui::TextColored(kGrey, "via %s", path_kind(m->path).c_str());
    }
    ImGui::TextWrapped("%s", emoji_.display(m->text).c_str());
    ImGui::EndGroup();
    mark(("message:" + m->text).c_str());
    const bool selected = selected_message_ == m->id;
    if (ImGui::IsItemClicked(ImGuiMouseButton_Left) ||
        ImGui::IsItemClicked(ImGuiMouseButton_Right)) {
      selected_message_ = m->id;
    }
    if (selected) {
      ImGui::GetWindowDrawList()->AddRectFilled(
          ImVec2(top.x - 4, top.y - 2),
          ImVec2(ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x,
                 ImGui::GetItemRectMax().y + 2),
          ImGui::GetColorU32(ImGuiCol_Header, 0.5f));
    }
    if (ImGui::BeginPopupContextItem("message menu")) {
      if (ImGui::MenuItem("Copy text")) {
        SDL_SetClipboardText(m->text.c_str());
      }
      ImGui::EndPopup();
    }
    if (selected && !ImGui::GetIO().WantTextInput && ImGui::GetIO().KeyCtrl &&
        ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_C))) {
      SDL_SetClipboardText(m->text.c_str());
    }
    ImGui::PopID();
  }
}

void App::draw_call_banner() {
  if (!call_.ringing_here()) {
    return;
  }
  const std::string name = emoji_.display(contacts_.name_of(call_.call()->contact));
  ImGui::PushStyleColor(ImGuiCol_ChildBg, ImVec4(0.15f, 0.3f, 0.2f, 1.0f));
  ImGui::BeginChild("banner", ImVec2(0, ImGui::GetFrameHeightWithSpacing() * 1.6f), true);
  ImGui::TextUnformatted(call_.headline(name, now_ms()).c_str());
  ImGui::SameLine();
  if (ImGui::Button("Accept")) {
    answer();
  }
  ImGui::SameLine();
  if (ImGui::Button("Reject")) {
    hang_up();
  }
  ImGui::EndChild();
  ImGui::PopStyleColor();
}

void App::draw_call_panel() {
  const auto& c = call_.call();
  if (!c || c->contact != conversation_.contact() || c->phase == CallPhase::kIncoming) {
    return;
  }
  ImGui::Separator();
  ImGui::TextColored(c->phase == CallPhase::kEnded ? kGrey : kGreen, "%s",
                     call_.headline(contacts_.name_of(c->contact), now_ms()).c_str());
  if (c->phase == CallPhase::kEnded) {
    ImGui::SameLine();
    if (ImGui::SmallButton("Dismiss")) {
      call_.dismiss_ended();
    }
    return;
  }
  ImGui::SameLine();
  // Mute and Unmute take the wider label's width: Hang up stays where it is.
  const float mute_width = ImGui::CalcTextSize("Unmute").x + 2 * ImGui::GetStyle().FramePadding.x;
  if (ImGui::Button(c->muted ? "Unmute" : "Mute", ImVec2(mute_width, 0))) {
    set_muted(!c->muted);
  }
  mark("mute");
  ImGui::SameLine();
  ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0.7f, 0.2f, 0.2f, 1.0f));
  if (ImGui::Button("Hang up")) {
    hang_up();
  }
  mark("hangup");
  ImGui::PopStyleColor();
  if (c->phase == CallPhase::kActive) {
    const float in = live_ ? live_->input_level : 0.0f;
    const float out = live_ ? live_->output_level : 0.0f;
    ImGui::ProgressBar(in, ImVec2(160, 8), "");
    ImGui::SameLine();
    ImGui::TextColored(kGrey, "microphone");
    ImGui::SameLine();
    ImGui::ProgressBar(out, ImVec2(160, 8), "");
    ImGui::SameLine();
    ImGui::TextColored(kGrey, "speaker");
    const std::string line = call_.stats_line();
    ImGui::TextColored(kGrey, "%s", line.empty() ? "measuring..." : line.c_str());
  }
}

void App::draw_qr(const QrCode& qr, float size) {
  if (qr.width == 0) {
    return;
  }
  const int quiet = 2;
  const float cell = size / static_cast<float>(qr.width + 2 * quiet);
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(at, ImVec2(at.x + size, at.y + size), IM_COL32(255, 255, 255, 255));
  for (int y = 0; y < qr.width; ++y) {
    for (int x = 0; x < qr.width; ++x) {
      if (qr.dark[static_cast<std::size_t>(y * qr.width + x)]) {
        const ImVec2 p(at.x + static_cast<float>(x + quiet) * cell,
                       at.y + static_cast<float>(y + quiet) * cell);
        dl->AddRectFilled(p, ImVec2(p.x + cell, p.y + cell), IM_COL32(0, 0, 0, 255));
      }
    }
  }
  ImGui::Dummy(ImVec2(size, size));
}

void App::draw_dialogs() {
  const ImVec2 center = ImGui::GetMainViewport()->GetCenter();
  if (show_code_) {
    ImGui::SetNextWindowPos(center, ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    ImGui::Begin("My contact code", &show_code_, ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::TextUnformatted("Give this code to a contact, or let them scan it:");
    draw_qr(qr_, 260);
    ImGui::PushTextWrapPos(520);
    ImGui::TextUnformatted(my_code_.c_str());
    ImGui::PopTextWrapPos();
    if (ImGui::Button("Copy")) {
      SDL_SetClipboardText(my_code_.c_str());
    }
    ImGui::End();
  }
  if (show_add_) {
    ImGui::SetNextWindowPos(center, ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    ImGui::Begin("Add a contact", &show_add_, ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::TextUnformatted("Paste the contact code they gave you:");
    ImGui::PushItemWidth(480);
    // Enter in either field adds, as the button does.
    bool submit = ImGui::InputText("Code", &add_code_, ImGuiInputTextFlags_EnterReturnsTrue);
    mark("add-code");
    submit |= ImGui::InputText("Name", &add_name_, ImGuiInputTextFlags_EnterReturnsTrue);
    mark("add-name");
    ImGui::PopItemWidth();
    if (ImGui::Button("Paste")) {
      if (char* text = SDL_GetClipboardText(); text != nullptr) {
        add_code_ = text;
        SDL_free(text);
      }
    }
    ImGui::SameLine();
    submit |= ImGui::Button("Add");
    mark("add");
    if (submit) {
      add_contact(add_code_, add_name_);
    }
    if (!add_error_.empty()) {
      ImGui::TextColored(kRed, "%s", add_error_.c_str());
    }
    ImGui::End();
  }
  if (show_safety_) {
    ImGui::SetNextWindowPos(center, ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    ImGui::Begin("Safety number", &show_safety_, ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::Text("Compare with %s's screen, in person or on a call:",
                contacts_.name_of(safety_contact_).c_str());
    ImGui::PushTextWrapPos(420);
    ImGui::TextColored(kBlue, "%s", safety_number_.c_str());
    ImGui::PopTextWrapPos();
    const ContactRow* r = contacts_.find(safety_contact_);
    const bool verified = r != nullptr && r->verified;
    if (ImGui::Button(verified ? "Mark as not verified" : "They match: mark verified")) {
      const std::string id = safety_contact_;
      worker_.post([this, id, verified] {
        (void)node_.set_verified(id, !verified);
        inbox_.push([](App& a) {
          a.show_safety_ = false;
          a.refresh_contacts();
        });
      });
    }
    ImGui::End();
  }
  if (show_rename_) {
    ImGui::SetNextWindowPos(center, ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    ImGui::Begin("Rename", &show_rename_, ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::InputText("Name", &rename_to_);
    if (ImGui::Button("Rename")) {
      const std::string id = rename_contact_;
      const std::string to = rename_to_;
      worker_.post([this, id, to] {
        (void)node_.rename_contact(id, to);
        inbox_.push([](App& a) {
          a.show_rename_ = false;
          a.refresh_contacts();
        });
      });
    }
    ImGui::End();
  }
  if (show_node_) {
    draw_node_panel();
  }
  if (show_settings_) {
    draw_settings();
  } else if (show_devices_) {
    const ImVec2 at = ImGui::GetMainViewport()->GetCenter();
    ImGui::SetNextWindowPos(at, ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    ImGui::Begin("Audio devices", &show_devices_, ImGuiWindowFlags_AlwaysAutoResize);
    draw_devices();
    ImGui::End();
  }
  if (!error_.empty() && unlocked_) {
    ImGui::SetNextWindowPos(ImVec2(center.x, 40), ImGuiCond_Always, ImVec2(0.5f, 0.0f));
    ImGui::Begin("##error", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_AlwaysAutoResize);
    ImGui::TextColored(kRed, "%s", error_.c_str());
    ImGui::SameLine();
    if (ImGui::SmallButton("OK")) {
      error_.clear();
    }
    ImGui::End();
  }
}

void App::draw_node_panel() {
  const ImVec2 center = ImGui::GetMainViewport()->GetCenter();
  ImGui::SetNextWindowPos(center, ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowSize(ImVec2(760, 520), ImGuiCond_Appearing);
  ImGui::Begin("Node", &show_node_);
  ImGui::Text("Profile: %s", node_.profile_path().string().c_str());
  ImGui::Text("Data: %s", node_.data_dir().string().c_str());
  if (ImGui::Button("Refresh")) {
    show_node_panel();
  }
  if (ImGui::CollapsingHeader("Plugins", ImGuiTreeNodeFlags_DefaultOpen) &&
      ImGui::BeginTable("plugins", 5, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg)) {
    for (const char* h : {"id", "version", "kind", "status", "file"}) {
      ImGui::TableSetupColumn(h);
    }
    ImGui::TableHeadersRow();
    for (const auto& p : plugins_) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(p.id.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(p.version.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(p.kind.c_str());
      ImGui::TableNextColumn();
      ImGui::TextColored(p.loaded ? kGreen : kRed, "%s", p.loaded ? "loaded" : p.error.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(p.file.filename().string().c_str());
    }
    ImGui::EndTable();
  }
  if (ImGui::CollapsingHeader("Transports", ImGuiTreeNodeFlags_DefaultOpen)) {
    for (const auto& [id, state] : transports_) {
      std::string endpoints;
      for (const auto& e : state.second) {
        endpoints += (endpoints.empty() ? "" : ", ") + e;
      }
      ImGui::TextColored(state.first ? kGreen : kGrey, "%s: %s %s", id.c_str(),
                         state.first ? "running" : "stopped", endpoints.c_str());
    }
  }
  if (ImGui::CollapsingHeader("Log", ImGuiTreeNodeFlags_DefaultOpen)) {
    static const char* kLevels[] = {"trace", "debug", "info", "warning", "error", "critical"};
    ImGui::PushItemWidth(140);
    ImGui::Combo("Level", &log_level_, kLevels, 6);
    ImGui::PopItemWidth();
    ImGui::BeginChild("log", ImVec2(0, 0), true, ImGuiWindowFlags_HorizontalScrollbar);
    for (const auto& l : log_) {
      if (level_of(l.level) >= log_level_) {
        ImGui::TextColored(level_of(l.level) >= 3 ? kRed : kGrey, "%s", l.level.c_str());
        ImGui::SameLine();
        ImGui::TextUnformatted(l.text.c_str());
      }
    }
    // The newest line shows when the log opens or is refreshed; then it stays where it is put.
    if (log_to_end_) {
      ImGui::SetScrollHereY(1.0f);
      log_to_end_ = false;
    }
    mark("log-end");
    ImGui::EndChild();
  }
  ImGui::End();
}

// The device picker: microphone and speaker for the next call.
void App::draw_devices() {
  if (!devices_error_.empty()) {
    ImGui::TextColored(kRed, "%s", devices_error_.c_str());
  }
  // The choice is kept by name: the lists change when devices come and go.
  auto combo = [](const char* label, const std::vector<std::string>& names, std::string& choice) {
    bool changed = false;
    if (ImGui::BeginCombo(label, choice.empty() ? "System default" : choice.c_str())) {
      if (ImGui::Selectable("System default", choice.empty())) {
        choice.clear();
        changed = true;
      }
      for (const auto& n : names) {
        if (ImGui::Selectable(n.c_str(), choice == n)) {
          choice = n;
          changed = true;
        }
      }
      ImGui::EndCombo();
    }
    return changed;
  };
  const bool changed = combo("Microphone", devices_.capture, capture_choice_) |
                       combo("Speaker", devices_.playback, playback_choice_);
  if (changed) {
    worker_.post([this, cap = capture_choice_, play = playback_choice_] {
      (void)node_.set_audio_devices(cap, play);
    });
  }
  ImGui::TextColored(kGrey, "The next call uses these.");
}

void App::draw_settings() {
  const ImVec2 center = ImGui::GetMainViewport()->GetCenter();
  ImGui::SetNextWindowPos(center, ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  ImGui::Begin("Settings", &show_settings_, ImGuiWindowFlags_AlwaysAutoResize);
  ImGui::TextColored(kBlue, "Your name");
  ImGui::TextColored(kGrey,
                     "What people you meet on the LAN see. Your contacts name you themselves.");
  ImGui::PushItemWidth(320);
  bool save = ImGui::InputText("##name", &settings_name_, ImGuiInputTextFlags_EnterReturnsTrue);
  mark("settings-name");
  ImGui::PopItemWidth();
  ImGui::SameLine();
  save |= ImGui::Button("Save");
  mark("settings-save");
  if (save) {
    const std::string name = settings_name_;
    settings_note_.clear();
    worker_.post([this, name] {
      const ApiStatus st = node_.set_display_name(name);
      const std::string shown = node_.display_name();
      inbox_.push([st, shown](App& a) {
        a.display_name_ = shown;
        a.settings_note_ = st.ok() ? "Saved." : st.error.message;
      });
    });
  }
  if (!settings_note_.empty()) {
    ImGui::TextColored(settings_note_ == "Saved." ? kGreen : kRed, "%s", settings_note_.c_str());
    mark(("settings-note:" + settings_note_).c_str());
  }
  ImGui::Separator();
  ImGui::TextColored(kBlue, "Audio devices");
  draw_devices();
  ImGui::Separator();
  ImGui::TextColored(kGrey, "Profile %s, data in %s", node_.profile_path().filename().c_str(),
                     node_.data_dir().string().c_str());
  if (ImGui::Button("Node panel")) {
    show_node_panel();
  }
  ImGui::SameLine();
  if (ImGui::Button("Quit")) {
    quit_ = true;
  }
  ImGui::End();
}

} // namespace entre::gui
