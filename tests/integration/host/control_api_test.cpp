// entre-host's control API (docs/control-api.md) and one-shot commands, driven through the real
// socket of real entre-host processes with the real UDP transport and SQLite storage.
#include "../messaging/host_harness.hpp"
#include "control_client.hpp"

#include <sys/stat.h>

#include <cmath>
#include <fstream>

namespace entre::integ {
namespace {

class ControlApi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("entre-control-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    const auto ports = free_udp_ports(2, static_cast<uint64_t>(::getpid()) * 7919);
    alice_files_ = write_node_files(dir_, "alice", ports[0], ENTRE_PLUGIN_DIR);
    bob_files_ = write_node_files(dir_, "bob", ports[1], ENTRE_PLUGIN_DIR);
  }
  void TearDown() override {
    alice_.reset();
    bob_.reset();
    if (!HasFailure()) {
      std::filesystem::remove_all(dir_);
    }
  }

  std::filesystem::path socket_of(const NodeFiles& f) const { return dir_ / (f.name + ".sock"); }

  std::unique_ptr<HostProcess> start(const NodeFiles& f) {
    auto host =
        std::make_unique<HostProcess>(f, std::vector<std::string>{},
                                      std::vector<std::string>{"--control", socket_of(f).string()});
    host->wait_ready();
    return host;
  }

  std::filesystem::path dir_;
  NodeFiles alice_files_;
  NodeFiles bob_files_;
  std::unique_ptr<HostProcess> alice_;
  std::unique_ptr<HostProcess> bob_;
};

TEST_F(ControlApi, TwoNodesChatThroughTheirSockets) {
  alice_ = start(alice_files_);
  bob_ = start(bob_files_);
  ControlClient a(socket_of(alice_files_));
  ControlClient b(socket_of(bob_files_));

  EXPECT_EQ(a.result("id")["id"], alice_->id());
  const std::string alice_code = a.result("code")["code"];
  const std::string bob_code = b.result("code")["code"];
  EXPECT_EQ(a.result("add", {{"code", bob_code}, {"name", "bob"}})["contact"]["id"], bob_->id());
  EXPECT_EQ(b.result("add", {{"code", alice_code}, {"name", "alice"}})["contact"]["id"],
            alice_->id());
  EXPECT_EQ(a.error("add", {{"code", bob_code}, {"name", "bob again"}}), "already_exists");

  // Both screens show the same safety number.
  EXPECT_EQ(a.result("safety", {{"contact", "bob"}})["safety_number"],
            b.result("safety", {{"contact", "alice"}})["safety_number"]);

  const Json sent = a.result("send", {{"contact", "bob"}, {"text", "hello bob\nsecond line"}});
  const std::string id = sent["message"]["id"];
  EXPECT_TRUE(sent["message"]["state"] == "queued" || sent["message"]["state"] == "sent");
  auto received = b.wait_event([&](const Json& e) { return e["event"] == "message"; });
  ASSERT_TRUE(received);
  EXPECT_EQ((*received)["message"]["id"], id);
  EXPECT_EQ((*received)["message"]["text"], "hello bob\nsecond line");
  EXPECT_EQ((*received)["message"]["contact"], alice_->id());
  ASSERT_TRUE(a.wait_event([&](const Json& e) {
    return e["event"] == "state" && e["id"] == id && e["state"] == "delivered";
  }));

  const Json unread = b.result("unread");
  ASSERT_EQ(unread["contacts"].size(), 1u);
  EXPECT_EQ(unread["contacts"][0]["unread"], 1);
  EXPECT_EQ(b.result("read", {{"contact", "alice"}})["marked"], 1);
  EXPECT_TRUE(b.result("unread")["contacts"].empty());
  ASSERT_TRUE(a.wait_event([&](const Json& e) {
    return e["event"] == "state" && e["id"] == id && e["state"] == "read";
  }));

  const Json history = b.result("history", {{"contact", "alice"}, {"limit", 10}});
  ASSERT_EQ(history["messages"].size(), 1u);
  EXPECT_EQ(history["messages"][0]["text"], "hello bob\nsecond line");
  EXPECT_FALSE(history["messages"][0]["outgoing"].get<bool>());

  // Status and the link.
  const Json status = a.result("status");
  EXPECT_EQ(status["name"], "alice");
  EXPECT_EQ(status["locked"], false);
  EXPECT_EQ(status["endpoints"][0], "udp:127.0.0.1:" + std::to_string(alice_files_.port));
  const Json links = a.result("links");
  ASSERT_EQ(links["links"].size(), 1u);
  EXPECT_EQ(links["links"][0]["contact"], bob_->id());
  EXPECT_EQ(links["links"][0]["path"], "udp:127.0.0.1:" + std::to_string(bob_files_.port));
  EXPECT_GE(a.result("counters")["messages_sent"], 1);
  bool sqlite_listed = false;
  const Json plugins = a.result("plugins");
  for (const auto& p : plugins["plugins"]) {
    sqlite_listed |= p["id"] == "entre.storage.sqlite" && p["loaded"] == true;
  }
  EXPECT_TRUE(sqlite_listed);
  EXPECT_GE(a.result("help")["commands"].size(), 20u);
  EXPECT_EQ(a.error("meet"), "unavailable"); // no discovery transport in this profile
  EXPECT_EQ(a.error("meet", {{"seconds", 60}}), "unavailable");
  EXPECT_EQ(a.error("meet", {{"seconds", "soon"}}), "invalid_params");

  // Contact management, by name, by the start of the id, by id.
  EXPECT_EQ(a.result("rename", {{"contact", "bob"}, {"name", "robert"}})["contact"], bob_->id());
  EXPECT_EQ(a.error("send", {{"contact", "bob"}, {"text", "x"}}), "not_found");
  EXPECT_EQ(a.result("verify", {{"contact", bob_->id().substr(0, 10)}})["contact"], bob_->id());
  Json contacts = a.result("contacts")["contacts"];
  ASSERT_EQ(contacts.size(), 1u);
  EXPECT_EQ(contacts[0]["name"], "robert");
  EXPECT_TRUE(contacts[0]["verified"].get<bool>());
  a.result("unverify", {{"contact", "robert"}});
  a.result("block", {{"contact", "robert"}});
  contacts = a.result("contacts")["contacts"];
  EXPECT_FALSE(contacts[0]["verified"].get<bool>());
  EXPECT_TRUE(contacts[0]["blocked"].get<bool>());
  a.result("unblock", {{"contact", "robert"}});
  EXPECT_FALSE(a.result("contacts")["contacts"][0]["blocked"].get<bool>());
  a.result("remove", {{"contact", bob_->id()}});
  EXPECT_TRUE(a.result("contacts")["contacts"].empty());

  alice_->quit();
  bob_->quit();
  EXPECT_FALSE(std::filesystem::exists(socket_of(alice_files_))) << "socket left behind";
}

// Calls through the socket: call, the events both sides see, callstats, mute, hangup, and the
// call history. Each node has audio-file devices; Alice's microphone is a tone.
TEST_F(ControlApi, CallCommandsAndEvents) {
  auto add_audio = [&](const NodeFiles& f, bool tone) {
    const auto wav = dir_ / (f.name + "-in.wav");
    write_tone_wav(wav, 3, 300, tone ? 6000 : 0);
    std::ofstream(f.profile, std::ios::app) << call_plugins_toml(wav, dir_ / (f.name + "-out.wav"));
  };
  add_audio(alice_files_, true);
  add_audio(bob_files_, false);
  alice_ = start(alice_files_);
  bob_ = start(bob_files_);
  ControlClient a(socket_of(alice_files_));
  ControlClient b(socket_of(bob_files_));
  a.result("add", {{"code", b.result("code")["code"]}, {"name", "bob"}});
  b.result("add", {{"code", a.result("code")["code"]}, {"name", "alice"}});
  ASSERT_TRUE(a.wait_event([&](const Json& e) { return e["event"] == "presence" && e["online"]; }));
  const Json devices = a.result("devices");
  ASSERT_EQ(devices["capture"].size(), 1u);
  EXPECT_EQ(devices["capture"][0], "wav:" + (dir_ / "alice-in.wav").string());
  EXPECT_EQ(devices["playback"][0], "wav:" + (dir_ / "alice-out.wav").string());
  EXPECT_EQ(a.error("answer"), "not_found");
  EXPECT_EQ(a.error("hangup"), "not_found");
  EXPECT_EQ(a.error("callstats"), "not_found");
  EXPECT_EQ(a.error("call", {{"contact", "nobody"}}), "not_found");

  const Json placed = a.result("call", {{"contact", "bob"}})["call"];
  const std::string id = placed["id"];
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(placed["phase"], "calling");
  EXPECT_EQ(a.error("call", {{"contact", "bob"}}), "already_exists");
  auto incoming = b.wait_event(
      [&](const Json& e) { return e["event"] == "call" && e["call"]["phase"] == "incoming"; });
  ASSERT_TRUE(incoming);
  EXPECT_EQ((*incoming)["call"]["id"], id);
  EXPECT_EQ((*incoming)["call"]["contact"], alice_->id());
  ASSERT_TRUE(a.wait_event(
      [&](const Json& e) { return e["event"] == "call" && e["call"]["phase"] == "ringing"; }));
  EXPECT_EQ(b.error("answer", {{"call", "0000000000000000"}}), "not_found");
  EXPECT_EQ(b.result("answer")["call"]["phase"], "active");
  auto active = a.wait_event(
      [&](const Json& e) { return e["event"] == "call" && e["call"]["phase"] == "active"; });
  ASSERT_TRUE(active);
  EXPECT_EQ((*active)["call"]["codec"], "opus");
  auto stats = b.wait_event([&](const Json& e) {
    return e["event"] == "call_stats" && e["stats"]["frames_played"] > 10;
  });
  ASSERT_TRUE(stats) << "no statistics with frames played";
  EXPECT_GT((*stats)["stats"]["output_level"].get<double>(), 0.05) << "the tone is not heard";
  const Json now = b.result("callstats");
  EXPECT_EQ(now["call"]["id"], id);
  EXPECT_GT(now["stats"]["frames_received"], 10);
  const uint64_t played_before_mute = now["stats"]["frames_played"];
  EXPECT_EQ(a.result("mute")["call"]["muted"], true);
  ASSERT_TRUE(b.wait_event([&](const Json& e) {
    return e["event"] == "call_stats" &&
           e["stats"]["frames_played"].get<uint64_t>() > played_before_mute + 25 &&
           e["stats"]["output_level"].get<double>() < 0.01;
  })) << "still heard after mute";
  EXPECT_EQ(a.result("unmute")["call"]["muted"], false);
  EXPECT_EQ(b.result("hangup")["call"]["id"], id);
  auto ended = a.wait_event(
      [&](const Json& e) { return e["event"] == "call" && e["call"]["phase"] == "ended"; });
  ASSERT_TRUE(ended);
  EXPECT_EQ((*ended)["call"]["end"], "hung up by the peer");
  const Json history = a.result("calls", {{"contact", "bob"}});
  ASSERT_EQ(history["calls"].size(), 1u);
  EXPECT_EQ(history["calls"][0]["id"], id);
  EXPECT_TRUE(history["calls"][0]["outgoing"].get<bool>());
  EXPECT_EQ(history["calls"][0]["end"], "hung up by the peer");
  EXPECT_EQ(b.result("calls")["calls"][0]["end"], "hung up here");
  alice_->quit();
  bob_->quit();
}

TEST_F(ControlApi, BadRequestsGetErrorsAndTheNodeCarriesOn) {
  alice_ = start(alice_files_);
  ControlClient a(socket_of(alice_files_));
  auto raw_error = [&](const std::string& line) {
    EXPECT_TRUE(a.send_raw(line + "\n"));
    auto r = a.next(Clock::now() + kCommandTimeout);
    if (!r || !r->contains("error")) {
      throw HarnessError("no error for '" + line + "'");
    }
    return (*r)["error"]["code"].get<std::string>();
  };
  EXPECT_EQ(raw_error("{\"id\": 1, \"method\": "), "parse_error");
  EXPECT_EQ(raw_error("not json at all"), "parse_error");
  EXPECT_EQ(raw_error("[1, 2, 3]"), "invalid_request");
  EXPECT_EQ(raw_error("{\"id\": 1}"), "invalid_request");
  EXPECT_EQ(raw_error("{\"id\": [1], \"method\": \"id\"}"), "invalid_request");
  EXPECT_EQ(raw_error("{\"id\": 1, \"method\": 7}"), "invalid_request");
  EXPECT_EQ(raw_error("{\"id\": 1, \"method\": \"id\", \"params\": [1]}"), "invalid_params");
  EXPECT_EQ(a.error("launch_missiles"), "unknown_method");
  // Deep nesting would recurse when copied: refused, whether in params or in the id.
  const std::string deep(300000, '[');
  EXPECT_EQ(raw_error("{\"id\": 1, \"method\": \"help\", \"params\": " + deep +
                      std::string(300000, ']') + "}"),
            "invalid_request");
  EXPECT_EQ(raw_error("{\"id\": " + deep + std::string(300000, ']') + ", \"method\": \"id\"}"),
            "invalid_request");
  EXPECT_EQ(a.error("send", {{"contact", "nobody"}}), "invalid_params");
  EXPECT_EQ(a.error("send", {{"contact", true}, {"text", "x"}}), "invalid_params");
  EXPECT_EQ(a.error("send", {{"contact", "bob"}, {"text", 5}}), "invalid_params");
  EXPECT_EQ(a.error("history", {{"contact", "x"}, {"limit", -1}}), "invalid_params");
  EXPECT_EQ(a.error("id", {{"colour", "blue"}}), "invalid_params");
  EXPECT_EQ(a.error("send", {{"contact", "nobody"}, {"text", "x"}}), "not_found");
  EXPECT_EQ(a.error("add", {{"code", "entre:garbage"}}), "invalid_argument");
  // A string id comes back as it was sent.
  EXPECT_TRUE(a.send_raw("{\"id\": \"abc\", \"method\": \"id\"}\n"));
  EXPECT_EQ(a.response("abc")["result"]["id"], alice_->id());

  // A line over the limit: an error, then the connection ends. Others are served as before.
  ControlClient big(socket_of(alice_files_));
  const std::string huge(1024 * 1024 + 10, 'x');
  (void)big.send_raw(huge);
  auto r = big.next(Clock::now() + kCommandTimeout);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["error"]["code"], "line_too_long");
  EXPECT_FALSE(big.next(Clock::now() + kCommandTimeout));
  EXPECT_TRUE(big.closed());
  EXPECT_EQ(a.result("id")["id"], alice_->id());
  EXPECT_EQ(alice_->command_one("id", "id "), alice_->id()); // standard input still served
  alice_->quit();
}

TEST_F(ControlApi, AtMost64ClientsAreServedAtOnce) {
  alice_ = start(alice_files_);
  std::vector<std::unique_ptr<ControlClient>> clients;
  for (int i = 0; i < 64; ++i) {
    clients.push_back(std::make_unique<ControlClient>(socket_of(alice_files_)));
    ASSERT_EQ(clients.back()->result("id")["id"], alice_->id()) << "client " << i;
  }
  ControlClient extra(socket_of(alice_files_));
  auto refusal = extra.next(Clock::now() + kCommandTimeout);
  ASSERT_TRUE(refusal);
  EXPECT_EQ((*refusal)["error"]["code"], "too_many_clients");
  EXPECT_FALSE(extra.next(Clock::now() + kCommandTimeout));
  EXPECT_TRUE(extra.closed());
  // One leaves: the next is served, once the node has seen it leave (until then a newcomer is
  // still refused; how soon depends on the machine's load, not on the node).
  clients.pop_back();
  bool served = false;
  int refused = 0;
  const auto until = Clock::now() + kCommandTimeout;
  while (!served && Clock::now() < until) {
    ControlClient next(socket_of(alice_files_));
    (void)next.send_raw("{\"id\":1,\"method\":\"id\"}\n");
    const auto r = next.next(until);
    ASSERT_TRUE(r) << "no answer and no refusal";
    if (r->contains("result")) {
      EXPECT_EQ((*r)["result"]["id"], alice_->id());
      served = true;
    } else {
      ASSERT_EQ((*r)["error"]["code"], "too_many_clients") << r->dump();
      ++refused;
      std::this_thread::sleep_for(20ms);
    }
  }
  EXPECT_TRUE(served) << "a place freed by a client that left was never given to another";
  std::cout << "[  figures ] refused " << refused << " time(s) before the freed place was taken"
            << std::endl;
  alice_->quit();
}

TEST_F(ControlApi, TenThousandRequestsGetTenThousandResponses) {
  alice_ = start(alice_files_);
  ControlClient a(socket_of(alice_files_));
  constexpr int kRequests = 10000;
  std::thread writer([&] {
    std::string batch;
    for (int i = 0; i < kRequests; ++i) {
      batch += "{\"id\":" + std::to_string(i) + ",\"method\":\"id\"}\n";
      if (batch.size() > 16384 || i == kRequests - 1) {
        if (!a.send_raw(batch)) {
          return;
        }
        batch.clear();
      }
    }
  });
  std::vector<int> seen(kRequests, 0);
  int responses = 0;
  const auto deadline = Clock::now() + 120s;
  while (responses < kRequests) {
    auto j = a.next(deadline);
    if (!j) {
      break;
    }
    if (j->contains("event")) {
      continue;
    }
    ASSERT_TRUE(j->contains("result")) << j->dump();
    ASSERT_EQ((*j)["result"]["id"], alice_->id());
    const int id = (*j)["id"].get<int>();
    ASSERT_TRUE(id >= 0 && id < kRequests);
    ++seen[static_cast<std::size_t>(id)];
    ++responses;
  }
  writer.join();
  EXPECT_EQ(responses, kRequests);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), kRequests) << "a response lost or doubled";
  alice_->quit();
}

TEST_F(ControlApi, AClientThatStopsReadingIsDisconnectedWithoutStallingTheNode) {
  alice_ = start(alice_files_);
  ControlClient stuck(socket_of(alice_files_));
  ControlClient other(socket_of(alice_files_));
  // The stuck client sends requests whose answers are long and never reads one.
  ::fcntl(stuck.fd(), F_SETFL, ::fcntl(stuck.fd(), F_GETFL) | O_NONBLOCK);
  const std::string request = "{\"id\":1,\"method\":\"help\"}\n";
  std::string burst;
  for (int i = 0; i < 1000; ++i) {
    burst += request;
  }
  std::size_t requests = 0;
  const auto flood_end = Clock::now() + 3s;
  while (Clock::now() < flood_end) {
    const ssize_t n = ::send(stuck.fd(), burst.data(), burst.size(), MSG_NOSIGNAL);
    if (n > 0) {
      requests += static_cast<std::size_t>(n) / request.size();
    }
    // Meanwhile the node answers another client, and its standard input, without delay.
    const auto before = Clock::now();
    EXPECT_EQ(other.result("id")["id"], alice_->id());
    EXPECT_LT(Clock::now() - before, 5s);
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(alice_->command_one("id", "id "), alice_->id());
  // After the stall limit (5 s) the stuck client is cut off: reading what is left ends in EOF
  // before every request was answered. When the node's timer fires depends on how busy the
  // machine is; the test waits for the node to say so (a generous deadline) before it reads.
  const auto cut_by = Clock::now() + 60s;
  while (read_file(alice_files_.log).find("disconnected: not reading") == std::string::npos &&
         Clock::now() < cut_by) {
    std::this_thread::sleep_for(100ms);
  }
  ::fcntl(stuck.fd(), F_SETFL, ::fcntl(stuck.fd(), F_GETFL) & ~O_NONBLOCK);
  std::size_t answered = 0;
  while (auto j = stuck.next(Clock::now() + 20s)) {
    ++answered;
  }
  EXPECT_TRUE(stuck.closed());
  EXPECT_LT(answered, requests);
  EXPECT_NE(read_file(alice_files_.log).find("disconnected: not reading"), std::string::npos);
  EXPECT_EQ(other.result("id")["id"], alice_->id());
  alice_->quit();
}

TEST_F(ControlApi, TheSocketIsPrivateAndAStaleOneIsReplaced) {
  alice_ = start(alice_files_);
  struct stat st {};
  ASSERT_EQ(::stat(socket_of(alice_files_).c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A second node cannot take a socket a running node answers on.
  const RunResult busy =
      run_program({ENTRE_HOST, "--profile", bob_files_.profile.string(), "--passphrase-file",
                   bob_files_.passphrase.string(), "--control", socket_of(alice_files_).string()},
                  dir_);
  EXPECT_EQ(busy.status, 1);
  EXPECT_NE(busy.err.find("in use by a running process"), std::string::npos) << busy.err;

  // Killed, alice leaves the socket file behind; her next start replaces it.
  alice_->kill9();
  EXPECT_TRUE(std::filesystem::exists(socket_of(alice_files_)));
  alice_ = start(alice_files_);
  ControlClient a(socket_of(alice_files_));
  EXPECT_EQ(a.result("id")["id"], alice_->id());
  alice_->quit();

  // A file that is not a socket is never replaced.
  const auto plain = dir_ / "not-a-socket";
  std::ofstream(plain) << "keep me\n";
  const RunResult refused =
      run_program({ENTRE_HOST, "--profile", bob_files_.profile.string(), "--passphrase-file",
                   bob_files_.passphrase.string(), "--control", plain.string()},
                  dir_);
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("is not a socket"), std::string::npos) << refused.err;
  EXPECT_EQ(read_file(plain), "keep me\n");
}

TEST_F(ControlApi, OneShotCommandsAndTheirExitStatuses) {
  const std::vector<std::string> base = {ENTRE_HOST, "--profile", alice_files_.profile.string(),
                                         "--passphrase-file", alice_files_.passphrase.string()};
  auto run = [&](std::vector<std::string> words) {
    std::vector<std::string> args = base;
    args.insert(args.end(), words.begin(), words.end());
    return run_program(args, dir_);
  };
  // Without a running node: the command opens the profile itself.
  const RunResult code = run({"code"});
  ASSERT_EQ(code.status, 0) << code.err;
  EXPECT_EQ(code.out.rfind("code entre:", 0), 0u) << code.out;
  const RunResult id = run({"--json", "id"});
  ASSERT_EQ(id.status, 0) << id.err;
  const std::string alice_id = Json::parse(id.out)["id"];
  EXPECT_EQ(alice_id.size(), 64u);
  EXPECT_EQ(run({"fly", "away"}).status, 2);
  EXPECT_EQ(run({"send", "nobody", "hi"}).status, 3);

  // Bob is down: the message is stored, not delivered within --wait (status 4).
  bob_ = start(bob_files_);
  const std::string bob_code = bob_->code();
  const std::string alice_code = code.out.substr(5, code.out.find('\n') - 5);
  bob_->add(alice_code, "alice");
  bob_->quit();
  bob_.reset();
  EXPECT_EQ(run({"add", bob_code, "bob"}).status, 0);
  const RunResult late = run({"--wait", "1", "send", "bob", "while you were away"});
  EXPECT_EQ(late.status, 4) << late.out << late.err;
  EXPECT_NE(late.err.find("stays in the outbox"), std::string::npos) << late.err;

  // With bob up, a one-shot send waits for delivery and exits 0; the message from before goes
  // out too.
  bob_ = start(bob_files_);
  const RunResult now = run({"send", "bob", "hello --not an option"});
  EXPECT_EQ(now.status, 0) << now.out << now.err;
  EXPECT_NE(now.out.find("delivered "), std::string::npos) << now.out;
  const auto history = bob_->history("alice");
  std::vector<std::string> texts;
  for (const auto& h : history) {
    texts.push_back(h.text);
  }
  EXPECT_NE(std::find(texts.begin(), texts.end(), "while you were away"), texts.end());
  EXPECT_NE(std::find(texts.begin(), texts.end(), "hello --not an option"), texts.end());

  // Through a running node's control socket: the node is already open, the command only asks it.
  alice_ = start(alice_files_);
  const RunResult via = run({"--control", socket_of(alice_files_).string(), "send", "bob", "via"});
  EXPECT_EQ(via.status, 0) << via.err;
  EXPECT_EQ(via.out.rfind("queued ", 0), 0u) << via.out;
  const RunResult via_fail =
      run({"--control", socket_of(alice_files_).string(), "send", "nobody", "x"});
  EXPECT_EQ(via_fail.status, 3);
  const RunResult nobody_home = run({"--control", (dir_ / "none.sock").string(), "id"});
  EXPECT_EQ(nobody_home.status, 1);
  alice_->quit();
  bob_->quit();
}

TEST_F(ControlApi, TheExampleEchoBotAnswersThroughTheSocket) {
  alice_ = std::make_unique<HostProcess>(alice_files_);
  alice_->wait_ready();
  bob_ = start(bob_files_);
  ControlClient b(socket_of(bob_files_));
  b.result("add", {{"code", alice_->code()}, {"name", "alice"}});
  alice_->add(b.result("code")["code"], "bot");
  std::vector<std::string> lines;
  std::mutex mu;
  ChildProcess bot(
      {ENTRE_ECHO_BOT, "--control", socket_of(bob_files_).string()}, dir_ / "bot.err",
      [&](const std::string& l) {
        std::lock_guard lock(mu);
        lines.push_back(l);
      },
      [] {});
  const auto deadline = Clock::now() + kCommandTimeout;
  auto bot_said = [&](const std::string& text) {
    std::lock_guard lock(mu);
    return std::find(lines.begin(), lines.end(), text) != lines.end();
  };
  while (!bot_said("entre-echo-bot: answering on " + socket_of(bob_files_).string()) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  alice_->command_one("send bot ping", "queued ");
  alice_->command_one("send bot two\\nlines", "queued ");
  while ((alice_->events().message_texts["echo: ping"] < 1 ||
          alice_->events().message_texts["echo: two\\nlines"] < 1) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(alice_->events().message_texts["echo: ping"], 1);
  EXPECT_EQ(alice_->events().message_texts["echo: two\\nlines"], 1);
  // The bot marked what it answered read.
  bool read = false;
  while (!read && Clock::now() < deadline) {
    read = b.result("unread")["contacts"].empty();
  }
  EXPECT_TRUE(read);
  bob_->quit();
  EXPECT_TRUE(bot.wait_exit(kStopTimeout).has_value()) << "the bot did not end with the node";
  EXPECT_TRUE(bot_said("entre-echo-bot: the node closed the socket"));
  alice_->quit();
}

} // namespace
} // namespace entre::integ
