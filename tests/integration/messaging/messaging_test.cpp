// Two real entre-host processes on loopback, over the real UDP transport and the real SQLite
// storage, driven through their stdin/stdout line protocol (docs/host.md):
//
//   alice: entre-host --profile alice.toml   <-- UDP 127.0.0.1 -->   bob: entre-host ...
//
// Each test writes its own profiles into a fresh temporary directory (fixed free ports below the
// ephemeral range, so that a restarted node comes back on the same address). Checks are made on
// what the nodes store, through `history`: every accepted message exactly once and in send order.
// The only timed assertions are generous overall deadlines.
//
// Every test prints its seed; ENTRE_TEST_SEED=N repeats a run's choices (message sizes, kill
// moments, impairment). On failure the test's directory (profiles, data, logs) is kept and named.
// ENTRE_TEST_KILLS=N changes the number of kill -9 rounds of the crash tests (default 50).
#include "host_harness.hpp"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include <array>
#include <future>
#include <random>
#include <set>
#include <tuple>
#include <unordered_map>

namespace entre::integ {
namespace {

#define FIGURES std::cout << "[  figures ] "

uint64_t test_seed() {
  if (const char* s = std::getenv("ENTRE_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::stoull(s);
  }
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// "<tag><seq>-" and filler; one in ten is long enough to need several packets (max_payload 1200).
std::string make_text(const std::string& tag, uint64_t seq, std::mt19937_64& rng) {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  const std::size_t len = rng() % 10 == 0 ? 1500 + rng() % 2500 : rng() % 48;
  std::string text = tag + std::to_string(seq) + "-";
  for (std::size_t i = 0; i < len; ++i) {
    text += kAlphabet[rng() % kAlphabet.size()];
  }
  return text;
}

std::vector<std::string> make_texts(const std::string& tag, std::size_t n, std::mt19937_64& rng) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(make_text(tag, i, rng));
  }
  return out;
}

// One `send` written to a node, and what became of it.
struct Sent {
  enum class Status { kUnanswered, kQueued, kError };
  std::string text;
  Status status = Status::kUnanswered;
  std::string id;    // from "queued <id>"
  std::string error; // from "error ..."
};

// Writes `send` commands ahead of their answers (entre-host answers them in order), recording
// each in `log`. A message counts as accepted once its "queued <id>" was read.
class SendPipeline {
 public:
  SendPipeline(HostProcess& p, std::string contact, std::vector<Sent>& log)
      : p_(p), contact_(std::move(contact)), log_(log) {}

  bool send(const std::string& text) {
    log_.push_back(Sent{text, Sent::Status::kUnanswered, {}, {}});
    pending_.push_back(log_.size() - 1);
    return p_.write_line("send " + contact_ + " " + text);
  }

  [[nodiscard]] std::size_t unanswered() const { return pending_.size(); }

  // Takes one answer; false at the deadline or when the process is gone with nothing left.
  bool take(Clock::time_point deadline) {
    auto r = p_.next_response(deadline);
    if (!r) {
      return false;
    }
    if (pending_.empty()) {
      throw HarnessError(p_.files().name + ": answer '" + *r + "' to no command");
    }
    Sent& s = log_[pending_.front()];
    pending_.pop_front();
    if (starts_with(*r, "queued ")) {
      s.status = Sent::Status::kQueued;
      s.id = r->substr(7);
    } else if (starts_with(*r, "error ")) {
      s.status = Sent::Status::kError;
      s.error = r->substr(6);
    } else {
      throw HarnessError(p_.files().name + ": unexpected answer to send: '" + *r + "'");
    }
    return true;
  }

  void take_all() {
    const auto deadline = Clock::now() + kCommandTimeout;
    while (!pending_.empty()) {
      if (!take(deadline)) {
        throw HarnessError(p_.files().name + ": " + std::to_string(pending_.size()) +
                           " sends unanswered");
      }
    }
  }

  // After the process was killed and reaped: every answer it printed.
  void take_printed() {
    while (!pending_.empty() && take(Clock::now() + 1s)) {
    }
  }

 private:
  HostProcess& p_;
  std::string contact_;
  std::vector<Sent>& log_;
  std::deque<std::size_t> pending_;
};

std::vector<Sent> send_all(HostProcess& p, const std::string& contact,
                           const std::vector<std::string>& texts, std::size_t window) {
  std::vector<Sent> log;
  SendPipeline pipe(p, contact, log);
  for (const auto& t : texts) {
    while (pipe.unanswered() >= window) {
      if (!pipe.take(Clock::now() + kCommandTimeout)) {
        throw HarnessError(p.files().name + ": a send went unanswered");
      }
    }
    if (!pipe.send(t)) {
      throw HarnessError(p.files().name + ": the process is gone");
    }
  }
  pipe.take_all();
  return log;
}

struct SendTally {
  std::size_t written = 0;
  std::size_t accepted = 0;
  std::size_t unanswered = 0;
  std::size_t errors = 0;
  std::string first_error;
};

SendTally tally(const std::vector<Sent>& log) {
  SendTally t;
  for (const auto& s : log) {
    ++t.written;
    switch (s.status) {
    case Sent::Status::kQueued:
      ++t.accepted;
      break;
    case Sent::Status::kUnanswered:
      ++t.unanswered;
      break;
    case Sent::Status::kError:
      ++t.errors;
      if (t.first_error.empty()) {
        t.first_error = s.error;
      }
      break;
    }
  }
  return t;
}

// One direction of a conversation (the entries with outgoing == `outgoing`, in stored order)
// against what was sent: every accepted message exactly once, unanswered ones at most once, no
// unknown text, everything in send order.
struct StreamCheck {
  std::size_t entries = 0;
  std::size_t accepted_present = 0;
  std::size_t unanswered_present = 0;
  std::size_t not_delivered = 0; // outgoing entries whose state is not delivered/read
  std::vector<std::string> problems;

  [[nodiscard]] bool complete() const { return problems.empty(); }
  [[nodiscard]] std::string describe() const {
    std::string out = std::to_string(problems.size()) + " problem(s):";
    for (std::size_t i = 0; i < problems.size() && i < 12; ++i) {
      out += "\n  " + problems[i];
    }
    return out;
  }
};

StreamCheck check_stream(const std::vector<HistoryEntry>& history, bool outgoing,
                         const std::vector<Sent>& sent) {
  StreamCheck c;
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    index.emplace(sent[i].text, i);
  }
  std::vector<int> seen(sent.size(), 0);
  std::optional<std::size_t> last;
  auto problem = [&](std::string p) {
    if (c.problems.size() < 1000) {
      c.problems.push_back(std::move(p));
    }
  };
  for (const auto& e : history) {
    if (e.outgoing != outgoing) {
      continue;
    }
    ++c.entries;
    const auto it = index.find(e.text);
    if (it == index.end()) {
      problem("unknown text at order " + std::to_string(e.order) + ": " + e.text.substr(0, 40));
      continue;
    }
    const std::size_t i = it->second;
    if (++seen[i] == 2) {
      problem("twice: message #" + std::to_string(i) + " (" + e.text.substr(0, 24) + ")");
    }
    if (last && i <= *last) {
      problem("out of order: message #" + std::to_string(i) + " after #" + std::to_string(*last));
    }
    last = i;
    if (outgoing && e.state != "delivered" && e.state != "read") {
      ++c.not_delivered;
    }
  }
  for (std::size_t i = 0; i < sent.size(); ++i) {
    if (seen[i] == 0) {
      if (sent[i].status == Sent::Status::kQueued) {
        problem("missing: accepted message #" + std::to_string(i) + " (" +
                sent[i].text.substr(0, 24) + ", id " + sent[i].id + ")");
      }
      continue;
    }
    if (sent[i].status == Sent::Status::kQueued) {
      ++c.accepted_present;
    } else {
      ++c.unanswered_present;
    }
  }
  if (outgoing && c.not_delivered > 0) {
    problem(std::to_string(c.not_delivered) + " outgoing message(s) not delivered");
  }
  return c;
}

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = 250ms) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(every);
  }
  return true;
}

// PRAGMA integrity_check on a read-only connection: "ok", or what it found.
std::string integrity_check(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) {
    return "no database file at " + file.string();
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return "cannot open " + file.string() + ": " + why;
  }
  sqlite3_stmt* stmt = nullptr;
  std::string result;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) != SQLITE_OK) {
    result = std::string("cannot prepare: ") + sqlite3_errmsg(db);
  } else {
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      result += (result.empty() ? "" : "; ") +
                std::string(text != nullptr ? reinterpret_cast<const char*>(text) : "(null)");
    }
    if (rc != SQLITE_DONE) {
      result += std::string(" [step: ") + sqlite3_errmsg(db) + "]";
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

std::string counters_text(const Counters& c) {
  std::string out;
  for (const auto& [k, v] : c) {
    out += (out.empty() ? "" : " ") + k + "=" + std::to_string(v);
  }
  return out;
}

class MessagingIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = test_seed();
    rng_.seed(seed_);
    std::cout << "[     seed ] " << seed_ << " (repeat with ENTRE_TEST_SEED=" << seed_ << ")"
              << std::endl;
    std::string tmpl = (std::filesystem::temp_directory_path() / "entre-messaging-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      FAIL() << "mkdtemp: " << std::strerror(errno);
    }
    dir_ = tmpl;
  }

  void TearDown() override {
    a_.reset();
    b_.reset();
    if (HasFailure()) {
      std::cout << "[     seed ] " << seed_ << " failed; files kept in " << dir_.string()
                << std::endl;
    } else if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  std::unique_ptr<HostProcess> start(const NodeFiles& files) {
    auto p = std::make_unique<HostProcess>(files);
    p->wait_ready();
    return p;
  }

  // alice and bob, running, each with a fresh identity and the other as a contact. A node's code
  // carries `hints` when given (for a proxy in front of it), else its own endpoint.
  void start_pair(const std::function<std::vector<std::string>(const NodeFiles&)>& hints = {}) {
    const auto ports = free_udp_ports(2, seed_ ^ (uint64_t(::getpid()) << 20));
    a_files_ = write_node_files(dir_, "alice", ports[0], ENTRE_PLUGIN_DIR);
    b_files_ = write_node_files(dir_, "bob", ports[1], ENTRE_PLUGIN_DIR);
    a_ = start(a_files_);
    b_ = start(b_files_);
    ASSERT_TRUE(a_->identity_created());
    ASSERT_TRUE(b_->identity_created());
    a_id_ = a_->id();
    b_id_ = b_->id();
    ASSERT_FALSE(a_id_.empty());
    ASSERT_NE(a_id_, b_id_);
    start_contacts(hints);
  }

  void start_contacts(const std::function<std::vector<std::string>(const NodeFiles&)>& hints) {
    const std::string a_code = a_->code(hints ? hints(a_files_) : std::vector<std::string>{});
    const std::string b_code = b_->code(hints ? hints(b_files_) : std::vector<std::string>{});
    a_sees_b_ = a_->add(b_code, "bob");
    b_sees_a_ = b_->add(a_code, "alice");
    ASSERT_EQ(a_sees_b_, b_id_);
    ASSERT_EQ(b_sees_a_, a_id_);
  }

  // Waits until `receiver` stored every accepted message of `sent` and `sender` has them all as
  // delivered; then checks both sides. Returns the receiver's check.
  StreamCheck wait_and_check(HostProcess& sender, const std::string& sender_sees,
                             HostProcess& receiver, const std::string& receiver_sees,
                             const std::vector<Sent>& sent, std::chrono::milliseconds timeout) {
    StreamCheck in;
    StreamCheck out;
    const bool done = eventually(
        [&] {
          in = check_stream(receiver.history(receiver_sees), false, sent);
          if (!in.complete()) {
            return false;
          }
          out = check_stream(sender.history(sender_sees), true, sent);
          return out.complete();
        },
        timeout, 300ms);
    EXPECT_TRUE(done) << "not all delivered within " << timeout.count() << " ms";
    EXPECT_TRUE(in.complete()) << receiver.files().name << " (incoming): " << in.describe();
    EXPECT_TRUE(out.complete()) << sender.files().name << " (outgoing): " << out.describe();
    return in;
  }

  void stop_and_check_stores() {
    if (a_) {
      EXPECT_NO_THROW(a_->quit());
    }
    if (b_) {
      EXPECT_NO_THROW(b_->quit());
    }
    for (const NodeFiles* f : {&a_files_, &b_files_}) {
      const std::string result = integrity_check(f->sqlite_file());
      EXPECT_EQ(result, "ok") << f->sqlite_file();
      FIGURES << f->name << " integrity_check: " << result << std::endl;
    }
  }

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  std::filesystem::path dir_;
  NodeFiles a_files_;
  NodeFiles b_files_;
  std::unique_ptr<HostProcess> a_;
  std::unique_ptr<HostProcess> b_;
  std::string a_id_;
  std::string b_id_;
  std::string a_sees_b_;
  std::string b_sees_a_;
};

#define SEED_TRACE() SCOPED_TRACE("seed " + std::to_string(seed_) + " (ENTRE_TEST_SEED)")

// The checker itself, on made-up histories: it must see each way a stream can go wrong.
TEST(MessagingIntegrationChecker, SeesMissingDuplicatedReorderedUnknownAndUndelivered) {
  std::vector<Sent> sent;
  for (int i = 0; i < 5; ++i) {
    sent.push_back(Sent{"m" + std::to_string(i) + "-", Sent::Status::kQueued, "id", {}});
  }
  sent[4].status = Sent::Status::kUnanswered;
  auto entry = [](uint64_t order, const std::string& text, const std::string& state = "delivered") {
    return HistoryEntry{order, false, state, "id", "-", text};
  };
  std::vector<HistoryEntry> good = {entry(1, "m0-"), entry(2, "m1-"), entry(3, "m2-"),
                                    entry(4, "m3-")};
  EXPECT_TRUE(check_stream(good, false, sent).complete());
  good.push_back(entry(5, "m4-")); // an unanswered send may arrive, once
  EXPECT_TRUE(check_stream(good, false, sent).complete());
  EXPECT_EQ(check_stream(good, false, sent).unanswered_present, 1u);

  const std::vector<std::vector<HistoryEntry>> bad = {
      {entry(1, "m0-"), entry(2, "m1-"), entry(3, "m3-")},                  // m2 missing
      {entry(1, "m0-"), entry(2, "m1-"), entry(3, "m2-"), entry(4, "m3-"),  //
       entry(5, "m3-")},                                                    // m3 twice
      {entry(1, "m0-"), entry(2, "m2-"), entry(3, "m1-"), entry(4, "m3-")}, // m1 after m2
      {entry(1, "m0-"), entry(2, "m1-"), entry(3, "m2-"), entry(4, "m3-"),  //
       entry(5, "m4-"), entry(6, "m4-")},                                   // unanswered twice
      {entry(1, "m0-"), entry(2, "m1-"), entry(3, "m2-"), entry(4, "m3-"),  //
       entry(5, "x9-")},                                                    // never sent
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    EXPECT_FALSE(check_stream(bad[i], false, sent).complete()) << "case " << i;
  }
  std::vector<HistoryEntry> outgoing = good;
  for (auto& e : outgoing) {
    e.outgoing = true;
  }
  EXPECT_TRUE(check_stream(outgoing, true, sent).complete());
  outgoing[2].state = "sent";
  EXPECT_FALSE(check_stream(outgoing, true, sent).complete()) << "not delivered";
  EXPECT_FALSE(check_stream(good, true, sent).complete()) << "incoming entries are not outgoing";
}

// 1. Both ways at once: every message exactly once, in order, and delivered.
TEST_F(MessagingIntegration, TwoNodesExchangeMessagesBothWaysExactlyOnceInOrder) {
  SEED_TRACE();
  constexpr std::size_t kEachWay = 200;
  ASSERT_NO_FATAL_FAILURE(start_pair());
  const auto t0 = Clock::now();
  const auto texts_a = make_texts("a", kEachWay, rng_);
  const auto texts_b = make_texts("b", kEachWay, rng_);
  auto from_a =
      std::async(std::launch::async, [&] { return send_all(*a_, a_sees_b_, texts_a, 8); });
  auto from_b =
      std::async(std::launch::async, [&] { return send_all(*b_, b_sees_a_, texts_b, 8); });
  const std::vector<Sent> sent_a = from_a.get();
  const std::vector<Sent> sent_b = from_b.get();
  for (const auto* log : {&sent_a, &sent_b}) {
    const SendTally t = tally(*log);
    ASSERT_EQ(t.accepted, kEachWay) << "errors: " << t.errors << ", first: " << t.first_error;
  }
  const double queued_s = seconds_since(t0);
  wait_and_check(*a_, a_sees_b_, *b_, b_sees_a_, sent_a, 120s);
  wait_and_check(*b_, b_sees_a_, *a_, a_sees_b_, sent_b, 120s);
  const double delivered_s = seconds_since(t0);

  // Events: one "message" per message, and a "delivered" state for each one sent.
  for (const auto& [node, sent, other] :
       {std::tuple{b_.get(), &sent_a, a_.get()}, std::tuple{a_.get(), &sent_b, b_.get()}}) {
    const EventLog ev = node->events();
    EXPECT_EQ(ev.events_dropped, 0u);
    EXPECT_EQ(ev.messages, kEachWay) << node->files().name;
    for (const auto& s : *sent) {
      const auto it = ev.message_texts.find(s.text);
      EXPECT_TRUE(it != ev.message_texts.end() && it->second == 1)
          << node->files().name << ": message event count for " << s.text.substr(0, 16);
    }
    const EventLog sender_ev = other->events();
    std::size_t delivered_events = 0;
    for (const auto& s : *sent) {
      const auto it = sender_ev.states.find(s.id);
      delivered_events += it != sender_ev.states.end() && it->second == "delivered" ? 1 : 0;
    }
    EXPECT_EQ(delivered_events, kEachWay) << other->files().name << ": 'delivered' state events";
  }
  const Counters ca = a_->counters();
  const Counters cb = b_->counters();
  FIGURES << kEachWay << " each way: all queued after " << queued_s << " s, all delivered after "
          << delivered_s << " s" << std::endl;
  FIGURES << "alice: " << counters_text(ca) << std::endl;
  FIGURES << "bob:   " << counters_text(cb) << std::endl;
  EXPECT_EQ(ca.at("outbox"), 0u);
  EXPECT_EQ(cb.at("outbox"), 0u);
  stop_and_check_stores();
}

// 2. Through two entre-impair proxies at 20% loss in each direction:
//
//   alice [A] <-- impair PA (listen pa) <-- bob dials pa       (alice's code says udp:..:pa)
//   bob   [B] <-- impair PB (listen pb) <-- alice dials pb     (bob's code says udp:..:pb)
//
// Each node knows the other only by its proxy's address, and answers a link on the address it
// heard it from (the proxy's upstream socket), so every datagram of every link crosses one proxy,
// which drops 20% of each direction independently.
TEST_F(MessagingIntegration, ThroughLossyProxiesEveryMessageArrivesOnceInOrder) {
  SEED_TRACE();
  constexpr std::size_t kForward = 500;
  constexpr std::size_t kBack = 50;
  constexpr double kLoss = 0.2;
  const auto ports = free_udp_ports(2, seed_ ^ (uint64_t(::getpid()) << 20));
  a_files_ = write_node_files(dir_, "alice", ports[0], ENTRE_PLUGIN_DIR);
  b_files_ = write_node_files(dir_, "bob", ports[1], ENTRE_PLUGIN_DIR);
  a_ = start(a_files_);
  b_ = start(b_files_);
  a_id_ = a_->id();
  b_id_ = b_->id();
  ImpairProcess pa(dir_ / "impair-alice.log", a_files_.port, kLoss, seed_);
  ImpairProcess pb(dir_ / "impair-bob.log", b_files_.port, kLoss, seed_ ^ 0x9e3779b97f4a7c15ull);
  const uint16_t pa_port = pa.port();
  const uint16_t pb_port = pb.port();
  ASSERT_NO_FATAL_FAILURE(start_contacts([&](const NodeFiles& f) {
    return std::vector<std::string>{"udp:127.0.0.1:" +
                                    std::to_string(&f == &a_files_ ? pa_port : pb_port)};
  }));
  const auto t0 = Clock::now();
  const auto texts_a = make_texts("a", kForward, rng_);
  const auto texts_b = make_texts("b", kBack, rng_);
  auto from_a =
      std::async(std::launch::async, [&] { return send_all(*a_, a_sees_b_, texts_a, 16); });
  auto from_b =
      std::async(std::launch::async, [&] { return send_all(*b_, b_sees_a_, texts_b, 4); });
  const std::vector<Sent> sent_a = from_a.get();
  const std::vector<Sent> sent_b = from_b.get();
  ASSERT_EQ(tally(sent_a).accepted, kForward);
  ASSERT_EQ(tally(sent_b).accepted, kBack);
  wait_and_check(*a_, a_sees_b_, *b_, b_sees_a_, sent_a, 180s);
  wait_and_check(*b_, b_sees_a_, *a_, a_sees_b_, sent_b, 180s);
  const double delivered_s = seconds_since(t0);
  EXPECT_EQ(b_->events().messages, kForward);
  EXPECT_EQ(a_->events().messages, kBack);
  const Counters ca = a_->counters();
  const Counters cb = b_->counters();
  FIGURES << kForward << " alice->bob and " << kBack << " bob->alice through 20% loss: delivered"
          << " after " << delivered_s << " s" << std::endl;
  FIGURES << "alice: " << counters_text(ca) << std::endl;
  FIGURES << "bob:   " << counters_text(cb) << std::endl;
  stop_and_check_stores();

  uint64_t received = 0;
  uint64_t dropped = 0;
  for (auto [name, proxy] :
       {std::pair{"PA (in front of alice)", &pa}, std::pair{"PB (in front of bob)", &pb}}) {
    const ImpairProcess::Final f = proxy->stop();
    for (const auto& l : f.lines) {
      FIGURES << name << " " << l << std::endl;
    }
    for (const auto* d : {&f.to_server, &f.to_client}) {
      received += d->received;
      dropped += d->dropped;
    }
  }
  const double loss = received == 0 ? 0.0 : static_cast<double>(dropped) / received;
  FIGURES << "loss measured over both proxies: " << dropped << " of " << received << " = "
          << loss * 100 << "%" << std::endl;
  // The traffic went through the proxies and was impaired as asked (binomial, hundreds of
  // datagrams: far inside these bounds). Messages share datagrams (bundles), so there may be
  // fewer datagrams than messages.
  EXPECT_GT(received, 200u);
  EXPECT_GT(loss, 0.12);
  EXPECT_LT(loss, 0.28);
}

int kill_count() {
  if (const char* s = std::getenv("ENTRE_TEST_KILLS"); s != nullptr && *s != '\0') {
    return std::max(1, std::atoi(s));
  }
  return 50;
}

// 3. kill -9 of the sender at random moments of a stream; it restarts on the same profile and
// data and continues with new texts. The receiver stays up.
TEST_F(MessagingIntegration, SenderKilledAtRandomLosesAndDuplicatesNothing) {
  SEED_TRACE();
  const int kKills = kill_count();
  ASSERT_NO_FATAL_FAILURE(start_pair());
  const auto t0 = Clock::now();
  std::vector<Sent> log;
  uint64_t seq = 0;
  int early_kills = 0;
  std::unique_ptr<HostProcess> sender = std::move(a_);
  for (int kill = 0; kill < kKills; ++kill) {
    if (!sender) {
      sender = std::make_unique<HostProcess>(a_files_);
    }
    std::optional<SendPipeline> pipe;
    // One kill in seven lands during start-up (loading, opening the store, unlocking); the
    // others while `send`s are being written, answered and delivered.
    if (rng_() % 7 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 300));
      ++early_kills;
    } else {
      sender->wait_ready();
      ASSERT_EQ(sender->id(), a_id_) << "the restarted sender has another identity";
      pipe.emplace(*sender, a_sees_b_, log);
      const std::size_t window = std::array<std::size_t, 3>{1, 4, 16}[rng_() % 3];
      const auto end = Clock::now() + std::chrono::milliseconds(20 + rng_() % 480);
      // At most 200 sends a round, so that slow (sanitizer) builds see as many kills as fast ones
      // without a history many times longer.
      std::size_t round = 0;
      while (Clock::now() < end) {
        if (pipe->unanswered() < window && round < 200) {
          ++round;
          ASSERT_TRUE(pipe->send(make_text("s", seq++, rng_)))
              << "the sender died on its own (kill " << kill << ")";
          continue;
        }
        (void)pipe->take(end);
      }
    }
    ASSERT_TRUE(sender->running()) << "the sender died on its own (kill " << kill << ")";
    sender->kill9();
    if (pipe) {
      pipe->take_printed();
    }
    sender.reset();
  }
  const SendTally t = tally(log);
  EXPECT_EQ(t.errors, 0u) << "first error: " << t.first_error;
  a_ = start(a_files_);
  const double stream_s = seconds_since(t0);
  const StreamCheck in = wait_and_check(*a_, a_sees_b_, *b_, b_sees_a_, log, 180s);
  // The receiver stayed up: its events never showed a message twice either.
  const EventLog ev = b_->events();
  std::size_t twice = 0;
  for (const auto& [text, n] : ev.message_texts) {
    twice += n > 1 ? 1 : 0;
  }
  EXPECT_EQ(twice, 0u) << "texts shown in more than one 'message' event";
  EXPECT_EQ(a_->counters().at("outbox"), 0u);
  const Counters cb = b_->counters();
  FIGURES << "sender kills: " << kKills << " (" << early_kills << " during start-up) in "
          << stream_s << " s; sends written " << t.written << ", accepted (queued) " << t.accepted
          << ", unanswered " << t.unanswered << " (of which stored and delivered "
          << in.unanswered_present << "), errors " << t.errors << std::endl;
  FIGURES << "receiver: " << in.entries << " messages stored, " << counters_text(cb) << std::endl;
  stop_and_check_stores();
}

// 4. kill -9 of the receiver at random moments of a stream; it restarts on the same profile and
// data. The sender stays up and keeps sending.
TEST_F(MessagingIntegration, ReceiverKilledAtRandomLosesAndDuplicatesNothing) {
  SEED_TRACE();
  const int kKills = kill_count();
  ASSERT_NO_FATAL_FAILURE(start_pair());
  const auto t0 = Clock::now();
  std::vector<Sent> log;
  std::atomic<bool> stop{false};
  // On any way out of the test, the stream ends first (the future's destructor waits for it).
  struct StopOnExit {
    std::atomic<bool>& stop;
    ~StopOnExit() { stop = true; }
  };
  auto stream = std::async(std::launch::async, [&, seed = seed_ ^ 0x5eedull] {
    std::mt19937_64 rng(seed);
    SendPipeline pipe(*a_, a_sees_b_, log);
    for (uint64_t seq = 0; !stop.load(); ++seq) {
      while (pipe.unanswered() >= 4) {
        if (!pipe.take(Clock::now() + kCommandTimeout)) {
          throw HarnessError("the sender stopped answering");
        }
      }
      if (!pipe.send(make_text("r", seq, rng))) {
        throw HarnessError("the sender died");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
    }
    pipe.take_all();
  });
  const StopOnExit stop_on_exit{stop};
  int early_kills = 0;
  std::unique_ptr<HostProcess> receiver = std::move(b_);
  for (int kill = 0; kill < kKills; ++kill) {
    if (!receiver) {
      receiver = std::make_unique<HostProcess>(b_files_);
    }
    if (rng_() % 7 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 300));
      ++early_kills;
    } else {
      receiver->wait_ready();
      ASSERT_EQ(receiver->id(), b_id_) << "the restarted receiver has another identity";
      std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng_() % 600));
    }
    ASSERT_TRUE(receiver->running()) << "the receiver died on its own (kill " << kill << ")";
    receiver->kill9();
    receiver.reset();
    if (stream.wait_for(0s) == std::future_status::ready) {
      break; // the sender failed; get() below reports it
    }
  }
  b_ = start(b_files_);
  stop = true;
  ASSERT_NO_THROW(stream.get());
  const SendTally t = tally(log);
  EXPECT_EQ(t.errors, 0u) << "first error: " << t.first_error;
  EXPECT_EQ(t.unanswered, 0u);
  const double stream_s = seconds_since(t0);
  const StreamCheck in = wait_and_check(*a_, a_sees_b_, *b_, b_sees_a_, log, 180s);
  EXPECT_EQ(a_->counters().at("outbox"), 0u);
  const Counters ca = a_->counters();
  FIGURES << "receiver kills: " << kKills << " (" << early_kills << " during start-up) in "
          << stream_s << " s; messages accepted " << t.accepted << ", stored by the receiver "
          << in.entries << std::endl;
  FIGURES << "sender: " << counters_text(ca) << std::endl;
  stop_and_check_stores();
}

// 5. Garbage at the receiver's UDP port from a plain socket, with a session up.
TEST_F(MessagingIntegration, BadDatagramsAreDroppedAndMessagesStillFlowExactlyOnce) {
  SEED_TRACE();
  ASSERT_NO_FATAL_FAILURE(start_pair());
  std::vector<Sent> a_log = send_all(*a_, a_sees_b_, make_texts("a", 5, rng_), 4);
  std::vector<Sent> b_log = send_all(*b_, b_sees_a_, make_texts("b", 5, rng_), 4);
  wait_and_check(*a_, a_sees_b_, *b_, b_sees_a_, a_log, 60s);
  wait_and_check(*b_, b_sees_a_, *a_, a_sees_b_, b_log, 60s);
  ASSERT_FALSE(HasFailure());

  using Bytes = std::vector<uint8_t>;
  auto random_bytes = [&](std::size_t n, std::optional<uint8_t> first) {
    Bytes b(n);
    for (auto& x : b) {
      x = static_cast<uint8_t>(rng_());
    }
    if (first && n > 0) {
      b[0] = *first;
    }
    return b;
  };
  struct Datagram {
    Bytes bytes;
    bool oversize; // larger than the receiver's max_payload_bytes (1200)
  };
  std::vector<Datagram> datagrams;
  std::map<std::string, std::size_t> kinds;
  auto add = [&](const std::string& kind, Bytes b) {
    const bool oversize = b.size() > 1200;
    datagrams.push_back({std::move(b), oversize});
    ++kinds[kind];
  };
  // Truncated: shorter than each frame type's header (hs1 6, hs2 10, sealed 13 + 16-byte tag),
  // handshakes shorter than a Noise IK message, and one empty datagram.
  add("truncated", {});
  for (std::size_t n : {1, 2, 3, 4, 5, 6, 20, 50, 95}) {
    add("truncated", random_bytes(n, 0x10));
  }
  for (std::size_t n : {1, 2, 5, 8, 9, 10, 30, 60}) {
    add("truncated", random_bytes(n, 0x11));
  }
  for (std::size_t n = 1; n <= 28; n += 3) {
    add("truncated", random_bytes(n, 0x12));
  }
  // Oversized: over max_payload_bytes, up to the largest IPv4 UDP payload (65507). The transport
  // drops these before the engine sees them; they are not counted in frames_dropped.
  for (std::size_t n : {1201, 1500, 9000, 32768, 65507}) {
    add("oversized", random_bytes(n, 0x12));
  }
  add("oversized", random_bytes(65507, 0x10));
  add("max-size", random_bytes(1200, 0x12)); // exactly max_payload_bytes: reaches the engine
  // "Replayed": random frames of each type, each sent twice.
  for (uint8_t type : {0x10, 0x11, 0x12}) {
    for (int i = 0; i < 15; ++i) {
      Bytes b = random_bytes(13 + rng_() % 1188, type);
      add("replayed", b);
      add("replayed", std::move(b));
    }
  }
  for (int i = 0; i < 80; ++i) {
    add("random", random_bytes(1 + rng_() % 1200, std::nullopt));
  }
  std::shuffle(datagrams.begin(), datagrams.end(), rng_);

  const Counters before = b_->counters();
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  const int sndbuf = 1 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(b_files_.port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::size_t sent = 0;
  std::size_t oversize = 0;
  std::size_t send_failures = 0;
  // In batches, each let through before the next, so the receiver's socket buffer never
  // overflows (the kernel would drop silently).
  for (std::size_t i = 0; i < datagrams.size(); ++i) {
    const Bytes& b = datagrams[i].bytes;
    if (::sendto(fd, b.data(), b.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) !=
        static_cast<ssize_t>(b.size())) {
      ++send_failures;
      continue;
    }
    ++sent;
    oversize += datagrams[i].oversize ? 1 : 0;
    if (sent % 16 == 0 || i + 1 == datagrams.size()) {
      const uint64_t want = sent - oversize;
      (void)eventually(
          [&] {
            return b_->counters().at("frames_received") - before.at("frames_received") >= want;
          },
          20s, 10ms);
    }
  }
  ::close(fd);
  ASSERT_EQ(send_failures, 0u);
  const uint64_t expected = sent - oversize;
  Counters after;
  (void)eventually(
      [&] {
        after = b_->counters();
        return after.at("frames_dropped") - before.at("frames_dropped") >= expected;
      },
      30s, 50ms);
  const uint64_t dropped = after.at("frames_dropped") - before.at("frames_dropped");
  const uint64_t received = after.at("frames_received") - before.at("frames_received");
  EXPECT_GE(dropped, expected) << "sent " << sent << ", of which " << oversize
                               << " oversized (dropped by the transport)";
  EXPECT_GE(received, expected);
  EXPECT_EQ(after.at("decrypt_failures"), before.at("decrypt_failures"));
  std::string kinds_text;
  for (const auto& [k, n] : kinds) {
    kinds_text += " " + k + "=" + std::to_string(n);
  }
  FIGURES << "datagrams sent " << sent << ":" << kinds_text << "; oversized (transport drops) "
          << oversize << "; frames_received +" << received << ", frames_dropped +" << dropped
          << " (expected at least " << expected << "), handshakes_refused +"
          << after.at("handshakes_refused") - before.at("handshakes_refused") << std::endl;

  // Messages still flow, both ways, exactly once.
  std::vector<std::string> a_more;
  std::vector<std::string> b_more;
  for (uint64_t i = 5; i < 25; ++i) {
    a_more.push_back(make_text("a", i, rng_));
    b_more.push_back(make_text("b", i, rng_));
  }
  for (const auto& s : send_all(*a_, a_sees_b_, a_more, 4)) {
    a_log.push_back(s);
  }
  for (const auto& s : send_all(*b_, b_sees_a_, b_more, 4)) {
    b_log.push_back(s);
  }
  ASSERT_EQ(tally(a_log).accepted, 25u);
  ASSERT_EQ(tally(b_log).accepted, 25u);
  const StreamCheck at_b = wait_and_check(*a_, a_sees_b_, *b_, b_sees_a_, a_log, 60s);
  const StreamCheck at_a = wait_and_check(*b_, b_sees_a_, *a_, a_sees_b_, b_log, 60s);
  EXPECT_EQ(at_b.entries, 25u);
  EXPECT_EQ(at_a.entries, 25u);
  FIGURES << "after the garbage: bob " << counters_text(b_->counters()) << std::endl;
  stop_and_check_stores();
}

} // namespace
} // namespace entre::integ
