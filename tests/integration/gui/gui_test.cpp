// entre-gui end to end: the real entre-gui under Xvfb, driven by its test script, and a headless
// entre-host peer (driven through its control socket) on loopback. The GUI creates its identity,
// adds the peer, sends and receives messages, places a call with audio-file devices, saves a
// screenshot of each main screen and measures its idle CPU. The test then checks the messages
// through the kernel (the GUI's own store, reopened) and that every screenshot is a real frame.
#include "../host/control_client.hpp"
#include "../messaging/host_harness.hpp"

#include <entre/node.hpp>

#define STB_IMAGE_IMPLEMENTATION
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#include <stb_image.h>
#pragma GCC diagnostic pop

#include <cmath>
#include <fstream>
#include <set>

namespace entre::integ {
namespace {

#define FIGURES std::cout << "[ FIGURES  ] "

// A real rendered frame: the size asked for, and many colours (text, widgets, a QR code), not a
// blank or uniform buffer.
void expect_real_frame(const std::filesystem::path& png) {
  int w = 0;
  int h = 0;
  int n = 0;
  unsigned char* pixels = stbi_load(png.c_str(), &w, &h, &n, 3);
  ASSERT_NE(pixels, nullptr) << png << " is not a PNG";
  EXPECT_EQ(w, 1100) << png;
  EXPECT_EQ(h, 720) << png;
  std::set<uint32_t> colours;
  std::size_t bright = 0;
  for (int i = 0; i < w * h; ++i) {
    const unsigned char* p = pixels + 3 * i;
    colours.insert(uint32_t{p[0]} << 16 | uint32_t{p[1]} << 8 | p[2]);
    bright += (p[0] + p[1] + p[2]) > 450 ? 1 : 0;
  }
  stbi_image_free(pixels);
  EXPECT_GT(colours.size(), 40u) << png << ": too few colours for a drawn window";
  EXPECT_GT(bright, 200u) << png << ": no text drawn";
}

// Pixels within a few steps of `rgb` (text and bars drawn in that colour).
std::size_t pixels_near(const std::filesystem::path& png, uint32_t rgb) {
  int w = 0;
  int h = 0;
  int n = 0;
  unsigned char* pixels = stbi_load(png.c_str(), &w, &h, &n, 3);
  if (pixels == nullptr) {
    return 0;
  }
  std::size_t count = 0;
  for (int i = 0; i < w * h; ++i) {
    const unsigned char* p = pixels + 3 * i;
    const int want[3] = {static_cast<int>(rgb >> 16), static_cast<int>((rgb >> 8) & 0xFF),
                         static_cast<int>(rgb & 0xFF)};
    bool near = true;
    for (int c = 0; c < 3; ++c) {
      near &= std::abs(p[c] - want[c]) <= 6;
    }
    count += near ? 1 : 0;
  }
  stbi_image_free(pixels);
  return count;
}

// The answer the peer sends: two emoji above U+FFFF (grinning face, thumbs up).
const std::string kAnswer = "hi-gina \xf0\x9f\x98\x80\xf0\x9f\x91\x8d";

TEST(Gui, ScriptedNodeChatsCallsAndShowsEveryScreen) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("entre-gui-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto ports = free_udp_ports(2, static_cast<uint64_t>(::getpid()) * 31337);
  // The peer: entre-host with audio-file devices and a control socket.
  NodeFiles bob_files = write_node_files(dir, "bob", ports[0], ENTRE_PLUGIN_DIR);
  write_tone_wav(dir / "bob-in.wav", 2, 330, 6000);
  std::ofstream(bob_files.profile, std::ios::app)
      << call_plugins_toml(dir / "bob-in.wav", dir / "bob-out.wav");
  const auto sock = dir / "bob.sock";
  HostProcess bob(bob_files, {}, {"--control", sock.string()});
  bob.wait_ready();
  ControlClient b(sock);
  { std::ofstream(dir / "bob.code") << b.result("code")["code"].get<std::string>() << "\n"; }
  // The GUI node.
  NodeFiles gina = write_node_files(dir, "gina", ports[1], ENTRE_PLUGIN_DIR);
  write_tone_wav(dir / "gina-in.wav", 2, 330, 6000);
  std::ofstream(gina.profile, std::ios::app)
      << call_plugins_toml(dir / "gina-in.wav", dir / "gina-out.wav");
  const auto shots = dir / "shots";
  std::filesystem::create_directories(shots);
  const std::string d = dir.string();
  std::ofstream(dir / "script.txt")
      // The window is in front until the script says otherwise.
      << "focus in\n"
      << "wait-target passphrase 60\n"
      // Before anything is typed, the first-run hint is advice (no red).
      << "screenshot " << (shots / "first-run.png").string()
      << "\n"
      // As the passphrase is typed, the strength bar takes its label's colour.
      << "click passphrase\n"
      << "type sunny day\n"
      << "screenshot " << (shots / "first-run-typed.png").string()
      << "\n"
      // The font draws symbols and emoji (Symbola merged into the atlas).
      << "expect-glyph 2705\n"
      << "expect-glyph 1F600\n"
      << "name Gina from the GUI\n"
      << "create correct horse battery staple\n"
      << "write-code " << d
      << "/gina.code\n"
      // The Add dialog, through the mouse and the keyboard: Enter in the name field adds.
      << "show add\n"
      << "click add-code\n"
      << "type-file " << d << "/bob.code\n"
      << "click add-name\n"
      << "type bob\n"
      << "key Return\n"
      << "wait-online bob 60\n"
      // Behind another window: the answer counts as unread and asks for attention.
      << "focus out\n"
      << "open bob\n"
      // The composer: Shift+Enter starts a new line, Enter sends.
      << "click composer\n"
      << "type hello bob,\n"
      << "key shift+Return\n"
      << "type from the GUI \xe2\x9c\x85\n"
      << "key Return\n"
      << "wait-message " << kAnswer << " 60\n"
      << "wait-attention 1 30\n"
      << "wait-title Entre - gina (1 unread) 30\n"
      << "wait-preview bob " << kAnswer << " 30\n"
      << "wait-target day:Today 10\n"
      << "screenshot " << (shots / "notification.png").string() << "\n"
      << "focus in\n"
      << "wait-title Entre - gina 30\n"
      << "wait-delivered 60\n"
      // A message is selected with a click and copied with Ctrl+C.
      << "click message:" << kAnswer << "\n"
      << "key ctrl+C\n"
      << "wait-clipboard " << kAnswer << " 10\n"
      << "screenshot " << (shots / "conversation.png").string() << "\n"
      << "show my-code\n"
      << "screenshot " << (shots / "contact-code.png").string() << "\n"
      << "show safety bob\n"
      << "screenshot " << (shots / "safety-number.png").string() << "\n"
      << "show none\n"
      << "call bob\n"
      << "wait-call active 60\n"
      << "idle 3\n"
      // Mute becomes Unmute and Hang up stays under the pointer.
      << "note hangup\n"
      << "click mute\n"
      << "wait-muted yes 30\n"
      << "same-place hangup\n"
      << "screenshot " << (shots / "call.png").string() << "\n"
      << "hangup\n"
      << "wait-call ended 60\n"
      // The call takes its place in the conversation.
      << "wait-target call:Outgoing call, 30\n"
      << "screenshot " << (shots / "call-history.png").string()
      << "\n"
      // Settings: a new name, typed over the old one; Enter saves.
      << "show settings\n"
      << "click settings-name\n"
      << "key ctrl+A\n"
      << "type Gina G.\n"
      << "key Return\n"
      << "wait-target settings-note:Saved. 30\n"
      << "screenshot " << (shots / "settings.png").string() << "\n"
      << "show node\n"
      << "idle 1\n"
      << "wait-target log-end 10\n"
      << "screenshot " << (shots / "node-panel.png").string() << "\n"
      << "show none\n"
      << "idle 10\n"
      << "quit\n";
  std::mutex mu;
  std::vector<std::string> out;
  // Under AddressSanitizer, leak checking is off for the GUI process only: the X11, SDL and Mesa
  // libraries keep allocations until exit that are not this project's to free.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string kept = asan == nullptr ? std::string() : std::string(asan);
  if (asan != nullptr) {
    ::setenv("ASAN_OPTIONS", (kept + ":detect_leaks=0").c_str(), 1);
  }
  ChildProcess gui(
      {"/usr/bin/xvfb-run", "-a", "-s", "-screen 0 1280x800x24", ENTRE_GUI, "--profile",
       gina.profile.string(), "--test-script", (dir / "script.txt").string(), "--scale", "1"},
      dir / "gui.log",
      [&](const std::string& line) {
        std::lock_guard lock(mu);
        out.push_back(line);
      },
      [] {});
  if (asan != nullptr) {
    ::setenv("ASAN_OPTIONS", kept.c_str(), 1);
  }

  // What the GUI did so far (its script's steps and its log), for a failure's message.
  auto story = [&] {
    std::string text = "\n--- entre-gui's steps:\n";
    {
      std::lock_guard lock(mu);
      for (const auto& l : out) {
        text += "    " + l + "\n";
      }
    }
    return text + "--- entre-gui's log:\n" + read_file(dir / "gui.log");
  };
  // Bob's side of the script: add Gina, answer her message and her call.
  const auto code_file = dir / "gina.code";
  const auto until = Clock::now() + 60s;
  std::string gina_code;
  while (Clock::now() < until && gina_code.empty()) {
    std::ifstream in(code_file);
    in >> gina_code;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(gina_code.empty()) << "the GUI never wrote its code: " << read_file(dir / "gui.log");
  b.result("add", {{"code", gina_code}, {"name", "gina"}});
  auto hello = b.wait_event([](const Json& e) { return e["event"] == "message"; });
  ASSERT_TRUE(hello) << "no message from the GUI" << story();
  EXPECT_EQ((*hello)["message"]["text"], "hello bob,\nfrom the GUI \xe2\x9c\x85")
      << "Shift+Enter makes a new line, Enter sends";
  b.result("send", {{"contact", "gina"}, {"text", kAnswer}});
  auto ringing = b.wait_event(
      [](const Json& e) { return e["event"] == "call" && e["call"]["phase"] == "incoming"; });
  ASSERT_TRUE(ringing) << "no call from the GUI" << story();
  b.result("answer");
  auto stats = b.wait_event([](const Json& e) {
    return e["event"] == "call_stats" && e["stats"]["frames_played"].get<uint64_t>() > 20;
  });
  EXPECT_TRUE(stats) << "the GUI's audio never arrived" << story();

  const auto status = gui.wait_exit(300s);
  ASSERT_TRUE(status) << "entre-gui did not finish: " << read_file(dir / "gui.log");
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "entre-gui failed: " << read_file(dir / "gui.log");
  gui.join_reader();
  double idle_cpu = -1;
  {
    std::lock_guard lock(mu);
    for (const auto& l : out) {
      if (l.rfind("idle-cpu ", 0) == 0) {
        idle_cpu = std::stod(l.substr(9)); // the last idle step: 10 s, no traffic
      }
    }
  }
  FIGURES << "entre-gui idle CPU (window open, no traffic, 10 s): " << idle_cpu
          << "% of one core (Xvfb, Mesa llvmpipe)" << std::endl;
  EXPECT_GE(idle_cpu, 0.0);
  EXPECT_LT(idle_cpu, 3.0);
  for (const char* shot :
       {"first-run", "first-run-typed", "notification", "conversation", "contact-code",
        "safety-number", "call", "call-history", "settings", "node-panel"}) {
    expect_real_frame(shots / (std::string(shot) + ".png"));
  }
  // The colours on the first-run screen: no red before anything is typed; once typed, the bar
  // in its label's colour (red, amber or green), not Dear ImGui's own yellow.
  constexpr uint32_t kRed = 0xF26659;
  constexpr uint32_t kImGuiYellow = 0xE6B300;
  EXPECT_EQ(pixels_near(shots / "first-run.png", kRed), 0u) << "a red hint before typing";
  EXPECT_EQ(pixels_near(shots / "first-run-typed.png", kImGuiYellow), 0u)
      << "the strength bar is not in its label's colour";
  EXPECT_GT(pixels_near(shots / "first-run-typed.png", kRed) +
                pixels_near(shots / "first-run-typed.png", 0xE6B34D) +
                pixels_near(shots / "first-run-typed.png", 0x59CC73),
            100u)
      << "no strength bar";
  const char* keep = std::getenv("ENTRE_GUI_SCREENSHOTS");
  if (keep != nullptr) {
    for (const auto& f : std::filesystem::directory_iterator(shots)) {
      std::filesystem::copy_file(f.path(), std::filesystem::path(keep) / f.path().filename(),
                                 std::filesystem::copy_options::overwrite_existing);
    }
  }

  // The messages, through the kernel: the GUI's store holds both, delivered.
  bob.quit();
  NodeCreateResult reopened = Node::create(gina.profile);
  ASSERT_TRUE(reopened.node) << reopened.errors.front();
  ASSERT_TRUE(reopened.node->unlock("correct horse battery staple").ok());
  EXPECT_EQ(reopened.node->display_name(), "Gina G.") << "the name saved in Settings";
  const auto contacts = reopened.node->contacts();
  ASSERT_EQ(contacts.size(), 1u);
  auto history = reopened.node->history(contacts[0].id, 0, 10);
  ASSERT_TRUE(history.ok());
  std::map<std::string, MessageInfo> by_text;
  for (const auto& m : *history.value) {
    by_text[m.text] = m;
  }
  const std::string hello_text = "hello bob,\nfrom the GUI \xe2\x9c\x85";
  ASSERT_TRUE(by_text.count(hello_text));
  EXPECT_TRUE(by_text[hello_text].outgoing);
  EXPECT_GE(by_text[hello_text].state, MessageState::kDelivered);
  ASSERT_TRUE(by_text.count(kAnswer));
  EXPECT_FALSE(by_text[kAnswer].outgoing);
  EXPECT_EQ(by_text[kAnswer].state, MessageState::kRead) << "read once the window came to front";
  auto calls = reopened.node->call_history("", 5);
  ASSERT_TRUE(calls.ok());
  ASSERT_EQ(calls.value->size(), 1u);
  EXPECT_TRUE(calls.value->front().outgoing);
  EXPECT_GT(calls.value->front().answered_ms, 0);
  reopened.node.reset();
  if (!::testing::Test::HasFailure()) {
    std::filesystem::remove_all(dir);
  }
}

} // namespace
} // namespace entre::integ
