// entre-host's interactive prompt, driven through a pseudo-terminal as a person would use it, and
// the README quickstart followed step by step.
#include "../messaging/host_harness.hpp"
#include "pty_session.hpp"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <regex>

namespace entre::integ {
namespace {

// The calling thread (and the processes it starts from now on) in a network namespace of its own
// with only a loopback interface, up; the old namespace comes back on destruction. ok() is false
// where that cannot be done (not root), and nothing changed.
class PrivateNetwork {
 public:
  PrivateNetwork() {
    if (::geteuid() != 0) {
      return;
    }
    old_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (old_ < 0 || ::unshare(CLONE_NEWNET) != 0) {
      return;
    }
    entered_ = true;
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq lo{};
    std::strncpy(lo.ifr_name, "lo", IFNAMSIZ - 1);
    ok_ = fd >= 0 && ::ioctl(fd, SIOCGIFFLAGS, &lo) == 0 &&
          (lo.ifr_flags = static_cast<short>(lo.ifr_flags | IFF_UP),
           ::ioctl(fd, SIOCSIFFLAGS, &lo) == 0);
    if (fd >= 0) {
      ::close(fd);
    }
  }
  ~PrivateNetwork() {
    if (entered_) {
      (void)::setns(old_, CLONE_NEWNET);
    }
    if (old_ >= 0) {
      ::close(old_);
    }
  }
  PrivateNetwork(const PrivateNetwork&) = delete;
  PrivateNetwork& operator=(const PrivateNetwork&) = delete;

  [[nodiscard]] bool ok() const { return ok_; }

 private:
  int old_ = -1;
  bool entered_ = false;
  bool ok_ = false;
};

// `profile` copied to `to` with the port of its "bind" replaced by `port`.
std::filesystem::path with_port(const std::filesystem::path& profile,
                                const std::filesystem::path& to, uint16_t port) {
  const std::regex bind(R"re(\n *bind = "[^"]*:([0-9]+)")re");
  const std::string text = read_file(profile);
  std::smatch found;
  if (!std::regex_search(text, found, bind)) {
    throw HarnessError("no bind port in " + profile.string());
  }
  const auto at = static_cast<std::size_t>(found.position(1));
  std::ofstream(to) << text.substr(0, at) << port
                    << text.substr(at + static_cast<std::size_t>(found.length(1)));
  return to;
}

class Repl : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("entre-repl-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "home");
    const auto ports = free_udp_ports(2, static_cast<uint64_t>(::getpid()) * 104729);
    alice_ = write_node_files(dir_, "alice", ports[0], ENTRE_PLUGIN_DIR);
    bob_ = write_node_files(dir_, "bob", ports[1], ENTRE_PLUGIN_DIR);
  }
  void TearDown() override {
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
    }
  }

  // entre-host on a terminal; `passphrase` empty: it has to ask for one.
  std::unique_ptr<PtySession> terminal(const std::vector<std::string>& args,
                                       const std::string& passphrase = {}) {
    std::vector<std::string> argv{ENTRE_HOST};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<PtySession>(
        argv, std::vector<std::string>{"HOME=" + (dir_ / "home").string(), "TERM=xterm",
                                       "ENTRE_PASSPHRASE=" + passphrase});
  }

  // alice at a terminal with her passphrase given, at her prompt; `code` gets her contact code.
  std::unique_ptr<PtySession> alice_at_prompt(std::string* code = nullptr) {
    auto t = terminal({"--profile", alice_.profile.string()}, "alice passphrase");
    t->expect("code ");
    const std::string mine = t->rest_of_line();
    if (code != nullptr) {
      *code = mine;
    }
    t->expect("alice> ");
    return t;
  }

  std::filesystem::path dir_;
  NodeFiles alice_;
  NodeFiles bob_;
};

TEST_F(Repl, FirstStartAsksForAPassphraseTwiceAndLaterStartsUnlockWithIt) {
  {
    auto t = terminal({"--profile", alice_.profile.string()});
    t->expect("Choose a passphrase");
    t->type("one horse\r");
    t->expect("Repeat it:");
    t->type("two horses\r");
    t->expect("They differ. Try again.");
    t->expect("Choose a passphrase");
    t->type("\r");
    t->expect("Repeat it:");
    t->type("\r");
    t->expect("A passphrase cannot be empty.");
    t->type("staple battery\r");
    t->expect("Repeat it:");
    t->type("staple battery\r");
    t->expect("identity created: ");
    t->expect("code entre:");
    t->expect("alice> ");
    t->type("quit\r");
    t->expect("stopped cleanly");
    EXPECT_EQ(t->wait_exit(), 0);
    EXPECT_EQ(t->screen().find("horse"), std::string::npos) << "a passphrase was echoed";
    EXPECT_EQ(t->screen().find("staple"), std::string::npos) << "a passphrase was echoed";
  }
  auto t = terminal({"--profile", alice_.profile.string()});
  t->expect("Passphrase for 'alice': ");
  t->type("staple batter\r");
  t->expect("Wrong passphrase. Try again.");
  t->type("staple battery\r"); // typed ahead of the prompt: neither echoed nor lost
  t->expect("Passphrase for 'alice': ");
  t->expect("identity unlocked: ");
  t->expect("alice> ");
  EXPECT_EQ(t->screen().find("staple"), std::string::npos) << "a passphrase was echoed";
  t->type("\x04"); // Ctrl-D on an empty line leaves
  t->expect("stopped cleanly");
  EXPECT_EQ(t->wait_exit(), 0);
}

// One passphrase rule for every frontend (entre/passphrase.hpp): the prompt refuses "abc" and
// "aaaa1234" with the reason, says how strong an acceptable one is, and announces the key
// derivation with its cost before it starts and its time after.
TEST_F(Repl, AWeakPassphraseIsRefusedWithItsReasonAndTheDerivationIsAnnounced) {
  auto t = terminal({"--profile", alice_.profile.string()});
  t->expect("Choose a passphrase");
  t->type("abc\r");
  t->expect("Too short or too simple");
  t->expect("Try again.");
  t->expect("Choose a passphrase");
  t->type("aaaa1234\r");
  t->expect("(repeated and sequential characters count once). Try again.");
  t->expect("Choose a passphrase");
  t->type("staple battery\r");
  t->expect("Strength: Good.");
  t->expect("Repeat it:");
  t->type("staple battery\r");
  // The harness's profile has kdf = "interactive".
  t->expect("deriving the key from the passphrase (well under a second and about 64 MiB of "
            "memory)... done in ");
  t->expect(" s");
  t->expect("identity created: ");
  t->expect("alice> ");
  t->type("quit\r");
  EXPECT_EQ(t->wait_exit(), 0);
  EXPECT_EQ(t->screen().find("aaaa"), std::string::npos) << "a passphrase was echoed";
}

TEST_F(Repl, EveryCommandWithEditingCompletionAndEventsAboveTheLine) {
  HostProcess bob(bob_);
  bob.wait_ready();
  auto t = terminal({"--profile", alice_.profile.string()}, "alice passphrase");
  t->expect("identity created: ");
  const std::string alice_id = t->rest_of_line();
  t->expect("code ");
  const std::string alice_code = t->rest_of_line();
  t->expect("alice> ");
  EXPECT_EQ(bob.add(alice_code, "alice"), alice_id);

  t->type("id\r");
  t->expect("id " + alice_id);
  t->type("code\r");
  t->expect("code " + alice_code);
  t->type("add " + bob.code() + " bob\r");
  t->expect("added " + bob.id());

  // Tab completes a command, then a contact name; Ctrl-P brings the last line back.
  t->type("se\t");
  t->expect("send ");
  t->type("bo\t");
  t->expect("bob ");
  t->type("hi there\r");
  t->expect("queued ");
  t->type("\x10\r");
  t->expect("queued ");
  const auto deadline = Clock::now() + kCommandTimeout;
  while (bob.events().message_texts["hi there"] < 2 && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(bob.events().message_texts["hi there"], 2);

  // A message that arrives while a line is half typed shows above it; the line stays.
  t->type("send bob wait");
  t->expect("alice> send bob wait");
  bob.command_one("send alice interrupting", "queued ");
  t->expect("bob: interrupting");
  t->expect("alice> send bob wait");
  t->type(" for it\r");
  t->expect("queued ");
  while (bob.events().message_texts["wait for it"] < 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(bob.events().message_texts["wait for it"], 1) << "the typed line was broken";

  // Control characters from a peer never reach the terminal: they could rewrite the screen.
  bob.command_one("send alice evil\x1b[2Jscreen\xc2\x9b"
                  "6nthere\x07",
                  "queued ");
  t->expect("bob: evil?[2Jscreen?6nthere?");
  // The log's routine lines stay off the screen at the prompt (links came up meanwhile).
  EXPECT_EQ(t->screen().find(" is up"), std::string::npos);

  t->type("contacts\r");
  t->expect("bob  online (udp:127.0.0.1:" + std::to_string(bob_.port));
  t->expect("[" + bob.id().substr(0, 8) + "]");
  t->type("safety bob\r");
  t->expect("safety " + bob.id() + " ");
  const std::string safety = t->rest_of_line();
  EXPECT_EQ(safety.size(), 71u) << safety; // 12 groups of 5 digits
  t->type("unread\r");
  t->expect("bob: 2 unread");
  t->type("read bob\r");
  t->expect("read 2");
  t->type("history bob 10\r");
  t->expect("-- today --");
  t->expect("] me: hi there  (");
  t->expect("] bob: interrupting");
  t->type("status\r");
  t->expect("status name=alice id=" + alice_id + " locked=no links=1");
  t->type("links\r");
  t->expect("bob  udp:127.0.0.1:" + std::to_string(bob_.port));
  t->type("rename bob robert\r");
  t->expect("renamed robert");
  t->type("verify rob\t\r");
  t->expect("verified robert");
  t->type("unverify Robert\r"); // names in any case
  t->expect("unverified robert");
  t->type("block robert\r");
  t->expect("blocked robert");
  t->type("unblock robert\r");
  t->expect("unblocked robert");
  t->type("plugins\r");
  t->expect("plugin entre.storage.sqlite loaded");
  t->type("counters\r");
  t->expect("counters frames_received=");
  t->type("help\r");
  t->expect("send CONTACT TEXT");
  t->expect("quit");
  t->type("help history\r");
  t->expect("history CONTACT [LIMIT [BEFORE]]");

  // Errors say what went wrong and what to do.
  t->type("frobnicate\r");
  t->expect("error unknown command 'frobnicate': 'help' lists them");
  t->type("send\r");
  t->expect("error missing contact: send CONTACT TEXT");
  t->type("history robert many\r");
  t->expect("error limit must be a number, not 'many'");
  t->type("send nobody hello\r");
  t->expect("error no contact 'nobody'");
  t->type("meet\r");
  t->expect("error ");
  t->type("remove robert\r");
  t->expect("Remove robert [" + bob.id().substr(0, 8) + "]");
  t->type("yes\r");
  t->expect("removed robert and the conversation");
  t->type("contacts\r");
  t->expect("no contacts yet");

  t->type("quit\r");
  t->expect("stopped cleanly");
  EXPECT_EQ(t->wait_exit(), 0);
  bob.quit();
}

// A contact that quits says goodbye: the prompt shows it offline at once, long before its link
// would time out (45 s), and shows it online once however many paths it has.
TEST_F(Repl, AContactThatQuitsShowsOfflineAtOnce) {
  HostProcess bob(bob_);
  bob.wait_ready();
  std::string alice_code;
  auto t = alice_at_prompt(&alice_code);
  (void)bob.add(alice_code, "alice");
  t->type("add " + bob.code() + " bob\r");
  t->expect("added ");
  t->type("send bob are you there?\r");
  t->expect("* bob is online (udp:127.0.0.1:" + std::to_string(bob_.port) + ")");
  t->expect("(bob received \"are you there?\")");
  bob.quit();
  t->expect("* bob went offline", 20s);
  const std::string screen = t->screen();
  std::size_t online = 0;
  for (std::size_t at = 0; (at = screen.find("bob is online", at)) != std::string::npos; ++at) {
    ++online;
  }
  EXPECT_EQ(online, 1u) << screen;
  t->type("quit\r");
  EXPECT_EQ(t->wait_exit(), 0);
}

// At the prompt results and events read as a person would say them: a few lines at start, names
// (in any case, with a suggestion for a typo), local times, words for empty lists, receipts that
// quote their message, and a removal that asks first and is remembered by name afterwards.
TEST_F(Repl, ThePromptSpeaksInNamesTimesAndWords) {
  HostProcess bob(bob_);
  bob.wait_ready();
  std::string alice_code;
  auto t = alice_at_prompt(&alice_code);
  const std::string screen = t->screen();
  const std::string start = screen.substr(0, screen.find("alice> "));
  EXPECT_EQ(start.find("loaded"), std::string::npos) << start;
  EXPECT_LE(std::count(start.begin(), start.end(), '\n'), 8) << start;

  t->type("contacts\r");
  t->expect("no contacts yet: 'add CODE NAME' adds one");
  t->type("unread\r");
  t->expect("nothing unread");
  t->type("links\r");
  t->expect("no contact is online");
  t->type("calls\r");
  t->expect("no calls yet");

  (void)bob.add(alice_code, "alice");
  t->type("add " + bob.code() + " Bob\r");
  t->expect("added ");
  t->type("send bbo hi\r");
  t->expect("error no contact 'bbo': did you mean 'Bob'?");
  t->type("send BOB hello there, this is a long first message\r");
  t->expect("queued ");
  t->expect("(Bob received \"hello there, this is a long fi...\")");
  bob.command_one("send alice hi alice", "queued ");
  t->expect("] Bob: hi alice");
  t->type("history bob\r");
  t->expect("-- today --");
  t->expect("] me: hello there, this is a long first message  (delivered)");
  t->expect("] Bob: hi alice");
  t->type("contacts\r");
  t->expect("Bob  online (udp:127.0.0.1:" + std::to_string(bob_.port));
  t->expect("1 unread  [" + bob.id().substr(0, 8) + "]");

  t->type("remove bob\r");
  t->expect("Remove Bob [" + bob.id().substr(0, 8) + "] and delete your whole conversation?");
  t->type("no\r");
  t->expect("kept Bob");
  t->type("contacts\r");
  t->expect("Bob  ");
  t->type("remove bob\r");
  t->expect("Type 'yes' to remove");
  t->type("yes\r");
  t->expect("removed Bob and the conversation");
  // The event may print before or after the command's answer.
  const auto deadline = Clock::now() + kCommandTimeout;
  while (t->screen().find("* Bob (removed) went offline") == std::string::npos &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(t->screen().find("* Bob (removed) went offline"), std::string::npos) << t->screen();
  t->type("contacts\r");
  t->expect("no contacts yet");

  t->type("quit\r");
  EXPECT_EQ(t->wait_exit(), 0);
  bob.quit();
}

// A contact that has not added this node says so when dialled: the prompt tells the person,
// instead of leaving the message "queued" with no word while the other side counts refusals.
TEST_F(Repl, TheSenderLearnsWhenTheContactHasNotAddedThem) {
  HostProcess bob(bob_);
  bob.wait_ready();
  auto t = alice_at_prompt();
  t->type("add " + bob.code() + " bob\r");
  t->expect("added ");
  t->type("send bob hello, it's alice\r"); // adding dialled already: the answer may come first
  t->expect("* bob has not added you: your messages wait until they do");
  t->type("contacts\r");
  t->expect("bob  offline (has not added you)");
  EXPECT_GE(bob.counters()["handshakes_refused"], 1u);
  t->type("quit\r");
  EXPECT_EQ(t->wait_exit(), 0);
  bob.quit();
}

// The README's quickstart, step by step: the shipped profiles, nothing written by the test but
// the typing. (tools/setup.sh run execs exactly "build/dev/bin/entre-host --profile
// configs/default.toml" after building; the second terminal adds "--profile
// configs/second.toml".) The profiles' ports are fixed and a user's own node may hold them: the
// two nodes run in a network namespace of the test's own (root), else from copies of the profiles
// whose port alone is replaced by a free one.
TEST_F(Repl, QuickstartTwoNodesChatWithTheShippedProfiles) {
  const std::filesystem::path configs = std::filesystem::path(ENTRE_SOURCE_DIR) / "configs";
  PrivateNetwork network;
  std::string default_profile = (configs / "default.toml").string();
  std::string second_profile = (configs / "second.toml").string();
  if (!network.ok()) {
    const auto ports = free_udp_ports(2, static_cast<uint64_t>(::getpid()) * 7919);
    default_profile = with_port(configs / "default.toml", dir_ / "default.toml", ports[0]).string();
    second_profile = with_port(configs / "second.toml", dir_ / "second.toml", ports[1]).string();
  }
  std::cout << "[ profiles ] the shipped profiles run "
            << (network.ok() ? "unchanged in a private network namespace"
                             : "from copies on free ports (no private network namespace here)")
            << "\n";
  auto first = terminal({"--profile", default_profile});
  first->expect("Choose a passphrase");
  first->type("first secret\r");
  first->expect("Repeat it:");
  first->type("first secret\r");
  first->expect("code ");
  const std::string first_code = first->rest_of_line();
  first->expect("me> ");

  auto second = terminal({"--profile", second_profile});
  second->expect("Choose a passphrase");
  second->type("second secret\r");
  second->expect("Repeat it:");
  second->type("second secret\r");
  second->expect("code ");
  const std::string second_code = second->rest_of_line();
  second->expect("second> ");

  second->type("add " + first_code + " alice\r");
  second->expect("added ");
  first->type("add " + second_code + " bob\r");
  first->expect("added ");
  second->type("send alice hello from the second terminal\r");
  second->expect("queued ");
  first->expect("bob: hello from the second terminal");
  first->type("send bob hello back\r");
  second->expect("alice: hello back");

  first->type("quit\r");
  second->type("quit\r");
  EXPECT_EQ(first->wait_exit(), 0);
  EXPECT_EQ(second->wait_exit(), 0);
}

} // namespace
} // namespace entre::integ
