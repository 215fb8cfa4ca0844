// Messaging between whole nodes on the scenario network: handshakes, sessions, exactly-once
// delivery under loss, reordering, duplication, partitions and crashes.
#include "messenger_support.hpp"

#include "messaging/wire.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <iostream>
#include <random>
#include <set>

#include <unistd.h>

namespace entre::scenario {
namespace {

using sim::FakeClock;
using sim::LinkSettings;
using sim::SimNetwork;

std::string text_of(const std::string& who, int i) { return who + " message " + std::to_string(i); }

// Every incoming message exactly once and in the order sent.
void expect_exactly_once_in_order(const SimMessenger& receiver, const std::string& sender_tag,
                                  int count) {
  std::vector<std::string> texts;
  for (const auto& m : receiver.received) {
    texts.push_back(m.text);
  }
  ASSERT_EQ(texts.size(), static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(texts[static_cast<std::size_t>(i)], text_of(sender_tag, i)) << "at " << i;
  }
}

struct Pair {
  FakeClock clock;
  SimNetwork net{clock, 7};
  PluginFiles files;
  std::unique_ptr<SimMessenger> alice;
  std::unique_ptr<SimMessenger> bob;
  std::string alice_sees_bob;
  std::string bob_sees_alice;

  explicit Pair(std::filesystem::path alice_db = {}, std::filesystem::path bob_db = {}) {
    alice = std::make_unique<SimMessenger>(net, "alice", files, alice_db);
    bob = std::make_unique<SimMessenger>(net, "bob", files, bob_db);
    alice->create_identity();
    bob->create_identity();
    alice_sees_bob = alice->add(*bob, "Bob");
    bob_sees_alice = bob->add(*alice, "Alice");
  }
};

TEST(Messaging, TwoNodesExchangeMessagesBothWays) {
  Pair p;
  for (int i = 0; i < 20; ++i) {
    p.alice->send(p.alice_sees_bob, text_of("a", i));
    p.bob->send(p.bob_sees_alice, text_of("b", i));
  }
  p.clock.run_for(5000);
  expect_exactly_once_in_order(*p.bob, "a", 20);
  expect_exactly_once_in_order(*p.alice, "b", 20);
  EXPECT_EQ(p.alice->engine->outbox_size(), 0u);
  EXPECT_EQ(p.bob->engine->outbox_size(), 0u);

  auto history = p.alice->engine->history(p.alice_sees_bob, 0, 100);
  ASSERT_TRUE(history.ok()) << history.error.message;
  ASSERT_EQ(history.value->size(), 40u);
  for (const auto& m : *history.value) {
    if (m.outgoing) {
      EXPECT_EQ(m.state, MessageState::kDelivered) << m.text;
    }
  }
  for (const auto& l : p.alice->logs) {
    ADD_FAILURE() << l;
  }
  for (const auto& l : p.bob->logs) {
    ADD_FAILURE() << l;
  }
}

// network_scope "private" takes only endpoints of the local network; "sim:<name>" is none, unless
// its transport says its endpoints stay on the machine (kTransportLocalOnly, e.g. Unix sockets).
TEST(Messaging, PrivateScopeAcceptsOnlyEndpointsOfALocalOnlyTransport) {
  FakeClock clock;
  SimNetwork net{clock, 11};
  PluginFiles files;
  EngineConfig scoped = SimMessenger::fast_config();
  scoped.private_scope = true;
  SimMessenger alice(net, "alice", files, {}, scoped, 1, sdk::kTransportLocalOnly);
  SimMessenger bob(net, "bob", files, {}, scoped, 1, sdk::kTransportLocalOnly);
  SimMessenger carol(net, "carol", files, {}, scoped, 1, 0);
  alice.create_identity();
  bob.create_identity();
  carol.create_identity();

  const std::string alice_sees_bob = alice.add(bob, "Bob");
  (void)bob.add(alice, "Alice");
  alice.send(alice_sees_bob, text_of("a", 0));
  clock.run_for(5000);
  expect_exactly_once_in_order(bob, "a", 1);

  // The same kind of code, to a node whose transport makes no such promise: refused.
  const auto refused = carol.engine->add_contact(bob.code(), "Bob");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error.code, sdk::StatusCode::kPermissionDenied);
  EXPECT_NE(refused.error.message.find("sim:bob"), std::string::npos) << refused.error.message;
}

// A code made from the transports' own endpoints carries the first eight, in transport order, and
// the node says which it left out (a code with more would not parse).
TEST(Messaging, AContactCodeCarriesAtMostEightEndpoints) {
  FakeClock clock;
  SimNetwork net{clock, 13};
  PluginFiles files;
  SimMessenger alice(net, "alice", files, {}, SimMessenger::fast_config(), 10);
  alice.create_identity();
  const auto code = alice.engine->contact_code({});
  ASSERT_TRUE(code.ok()) << code.error.message;
  std::array<uint8_t, sdk::kPublicKeyBytes> key{};
  std::string hints;
  sdk::StringSink sink(hints, 8192);
  ASSERT_TRUE(alice.crypto
                  ->parse_contact_code(sdk::StringView(*code.value),
                                       sdk::MutableByteView(key.data(), key.size()), sink)
                  .is_ok());
  const std::vector<std::string> carried = wire::split_lines(hints);
  ASSERT_EQ(carried.size(), sdk::kMaxEndpointHints);
  EXPECT_EQ(carried.front(), "sim:alice");
  EXPECT_EQ(carried.back(), "sim:alice-8");
  const bool told = std::any_of(alice.logs.begin(), alice.logs.end(), [](const std::string& l) {
    return l.find("left out endpoint(s) sim:alice-9, sim:alice-10") != std::string::npos;
  });
  EXPECT_TRUE(told) << "no log line about the endpoints left out";
}

// Runs the clock in steps until `done` or `limit_ms` of simulated time have passed.
template <typename Fn> bool run_until(FakeClock& clock, Fn done, uint64_t limit_ms) {
  const uint64_t end = clock.now_ms() + limit_ms;
  while (!done() && clock.now_ms() < end) {
    clock.run_for(100);
  }
  return done();
}

void expect_all_delivered(SimMessenger& node, const std::string& contact, std::size_t outgoing) {
  EXPECT_EQ(node.engine->outbox_size(), 0u);
  auto history = node.engine->history(contact, 0, static_cast<uint32_t>(outgoing * 2 + 10));
  ASSERT_TRUE(history.ok()) << history.error.message;
  std::size_t n = 0;
  for (const auto& m : *history.value) {
    if (m.outgoing) {
      ++n;
      EXPECT_GE(m.state, MessageState::kDelivered) << m.text;
    }
  }
  EXPECT_EQ(n, outgoing);
}

// Ids lead with the send time (48-bit milliseconds, big-endian) so that stores index them at
// their end; the rest is random.
TEST(Messaging, MessageIdsLeadWithTheSendTime) {
  Pair p;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(p.alice->send(p.alice_sees_bob, text_of("a", i)));
    if (i % 2 == 1) {
      p.clock.advance(7);
    }
  }
  const auto time_of = [](const std::string& id) {
    return std::stoull(id.substr(0, 12), nullptr, 16);
  };
  const uint64_t start = static_cast<uint64_t>(kWallBaseMs);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(time_of(ids[0]), start);
  EXPECT_EQ(time_of(ids[1]), start);
  EXPECT_EQ(time_of(ids[2]), start + 7);
  EXPECT_EQ(time_of(ids[3]), start + 7);
  EXPECT_NE(ids[0].substr(12), ids[1].substr(12)) << "the random part differs in one millisecond";
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  p.clock.advance(1000);
  ASSERT_EQ(p.bob->received.size(), 4u);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(p.bob->received[i].id, ids[i]) << "the receiver stores the sender's id";
  }

  // A wall clock set back does not take the ids back with it.
  const uint64_t newest = time_of(ids.back());
  p.alice->wall_offset_ms = -60'000;
  const std::string after = p.alice->send(p.alice_sees_bob, text_of("a", 4));
  EXPECT_EQ(time_of(after), newest);
  p.alice->wall_offset_ms = 0;
  p.clock.advance(5);
  EXPECT_GT(time_of(p.alice->send(p.alice_sees_bob, text_of("a", 5))), newest);
}

TEST(Messaging, TenThousandEachWayUnderLossReorderingAndDuplication) {
  Pair p;
  p.net.set_default({.impairment = {.loss = 0.20,
                                    .duplicate = 0.05,
                                    .reorder = 0.25,
                                    .latency_ms = 20,
                                    .jitter_ms = 5,
                                    .reorder_delay_ms = 15}});
  const int kCount =
      std::getenv("ENTRE_SCENARIO_COUNT") ? std::atoi(std::getenv("ENTRE_SCENARIO_COUNT")) : 10000;
  for (int i = 0; i < kCount; ++i) {
    p.alice->send(p.alice_sees_bob, text_of("a", i));
    p.bob->send(p.bob_sees_alice, text_of("b", i));
  }
  const bool done = run_until(
      p.clock,
      [&] {
        const auto want = static_cast<std::size_t>(kCount);
        return p.alice->received.size() >= want && p.bob->received.size() >= want &&
               p.alice->engine->outbox_size() == 0 && p.bob->engine->outbox_size() == 0;
      },
      3'600'000);
  EXPECT_TRUE(done) << "alice got " << p.alice->received.size() << ", bob got "
                    << p.bob->received.size() << " after " << p.clock.now_ms() << " ms";
  p.clock.run_for(10'000);
  expect_exactly_once_in_order(*p.bob, "a", kCount);
  expect_exactly_once_in_order(*p.alice, "b", kCount);
  expect_all_delivered(*p.alice, p.alice_sees_bob, kCount);
  expect_all_delivered(*p.bob, p.bob_sees_alice, kCount);
  const auto seen = p.alice->engine->contact(p.alice_sees_bob);
  ASSERT_TRUE(seen.ok() && seen.value->online);
  EXPECT_GE(seen.value->rtt_ms, 40u); // 20 ms each way plus jitter
  EXPECT_LT(seen.value->rtt_ms, 200u);
  EXPECT_GT(seen.value->loss, 0.10); // 20% of frames are lost each way
  EXPECT_LT(seen.value->loss, 0.60);
  const auto totals = p.net.totals();
  EXPECT_GT(totals.dropped, 0u);
  EXPECT_GT(totals.duplicated, 0u);
  EXPECT_GT(totals.reordered, 0u);
  EXPECT_GT(p.bob->engine->counters().duplicates_dropped +
                p.alice->engine->counters().duplicates_dropped +
                p.bob->engine->counters().frames_dropped,
            0u);
  std::cout << kCount << " each way: drained after " << p.clock.now_ms() << " simulated ms, "
            << totals.sent << " frames sent\n";
  for (SimMessenger* n : {p.alice.get(), p.bob.get()}) {
    const auto ls = n->engine->link_stats();
    std::cout << n->name() << ": packets " << ls.packets_sent << ", retransmissions "
              << ls.retransmissions << ", timeouts " << ls.timeouts << ", duplicates "
              << ls.duplicates_dropped << ", out of window " << ls.out_of_window_dropped
              << ", delivered " << ls.messages_delivered << ", frames dropped "
              << n->engine->counters().frames_dropped << ", links " << n->engine->link_count()
              << "\n";
  }
}

TEST(Messaging, TenMinutePartitionDrainsAfterHeal) {
  Pair p;
  p.alice->send(p.alice_sees_bob, text_of("a", 0));
  p.clock.run_for(2000);
  ASSERT_EQ(p.bob->received.size(), 1u);
  const auto cut = p.net.partition({"alice"}, {"bob"});
  for (int i = 1; i < 200; ++i) {
    p.alice->send(p.alice_sees_bob, text_of("a", i));
  }
  for (int i = 0; i < 200; ++i) {
    p.bob->send(p.bob_sees_alice, text_of("b", i));
  }
  p.clock.run_for(10 * 60 * 1000);
  EXPECT_EQ(p.bob->received.size(), 1u);
  EXPECT_TRUE(p.alice->engine->contact(p.alice_sees_bob).value->online == false);
  p.net.heal(cut);
  const bool done = run_until(
      p.clock, [&] { return p.alice->received.size() == 200 && p.bob->received.size() == 200; },
      180'000);
  EXPECT_TRUE(done);
  p.clock.run_for(5000);
  expect_exactly_once_in_order(*p.bob, "a", 200);
  expect_exactly_once_in_order(*p.alice, "b", 200);
  expect_all_delivered(*p.alice, p.alice_sees_bob, 200);
  expect_all_delivered(*p.bob, p.bob_sees_alice, 200);
}

TEST(Messaging, FailsOverToTheNextLinkWhenThePreferredOneGoesSilent) {
  FakeClock clock;
  SimNetwork net(clock, 21);
  PluginFiles files;
  SimMessenger alice(net, "alice", files, {}, SimMessenger::fast_config(), 2);
  SimMessenger bob(net, "bob", files, {}, SimMessenger::fast_config(), 2);
  alice.verbose = bob.verbose = true;
  alice.create_identity();
  bob.create_identity();
  const std::string to_bob = alice.add(bob, "Bob");
  (void)bob.add(alice, "Alice");
  clock.run_for(3000);
  auto before = alice.engine->contact(to_bob);
  ASSERT_TRUE(before.ok() && before.value->online);
  EXPECT_EQ(before.value->path.rfind("sim:bob", 0), 0u) << before.value->path;
  int next = 0;
  for (; next < 50; ++next) {
    alice.send(to_bob, text_of("a", next));
  }
  clock.run_for(1000);
  // The preferred transport's node pair goes silent mid-stream; the second pair still works.
  net.partition({"alice"}, {"bob", "bob-2"});
  net.partition({"alice-2"}, {"bob"});
  for (; next < 300; ++next) {
    alice.send(to_bob, text_of("a", next));
    if (next % 10 == 0) {
      clock.run_for(50);
    }
  }
  const bool done = run_until(
      clock, [&] { return bob.received.size() == 300 && alice.engine->outbox_size() == 0; },
      20'000);
  EXPECT_TRUE(done) << "bob has " << bob.received.size() << " at " << clock.now_ms() << " ms";
  EXPECT_LT(clock.now_ms(), 15'000u) << "failover waited for the link timeout";
  if (::testing::Test::HasFailure()) {
    for (const auto& l : alice.logs) {
      std::cout << l << "\n";
    }
    for (const auto& l : bob.logs) {
      std::cout << l << "\n";
    }
  }
  expect_exactly_once_in_order(bob, "a", 300);
  const auto after = alice.engine->contact(to_bob);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value->path, "sim:bob-2");
  const bool announced =
      std::any_of(alice.presence.begin(), alice.presence.end(),
                  [](const auto& p) { return p.online && p.path == "sim:bob-2"; });
  EXPECT_TRUE(announced);
}

TEST(Messaging, ReadReceiptsRaiseTheSendersStates) {
  Pair p;
  for (int i = 0; i < 5; ++i) {
    p.alice->send(p.alice_sees_bob, text_of("a", i));
  }
  p.clock.run_for(3000);
  ASSERT_EQ(p.bob->received.size(), 5u);
  EXPECT_EQ(p.bob->engine->contact(p.bob_sees_alice).value->unread, 5u);
  auto marked = p.bob->engine->mark_read(p.bob_sees_alice);
  p.bob->poke();
  ASSERT_TRUE(marked.ok()) << marked.error.message;
  EXPECT_EQ(*marked.value, 5u);
  EXPECT_EQ(p.bob->engine->contact(p.bob_sees_alice).value->unread, 0u);
  p.clock.run_for(3000);
  auto history = p.alice->engine->history(p.alice_sees_bob, 0, 10);
  ASSERT_TRUE(history.ok());
  for (const auto& m : *history.value) {
    EXPECT_EQ(m.state, MessageState::kRead) << m.text;
  }
  ASSERT_FALSE(p.alice->states.empty());
  EXPECT_EQ(p.alice->states.back().state, MessageState::kRead);
  EXPECT_EQ(p.alice->states.back().id, p.bob->received.back().id);
}

TEST(Messaging, SendRefusesWhatCannotBeSent) {
  Pair p;
  auto& e = *p.alice->engine;
  EXPECT_EQ(e.send(p.alice_sees_bob, "").error.code, sdk::StatusCode::kInvalidArgument);
  const auto big = e.send(p.alice_sees_bob, std::string(kMaxMessageTextBytes + 1, 'x'));
  EXPECT_EQ(big.error.code, sdk::StatusCode::kOutOfRange);
  EXPECT_NE(big.error.message.find("65537 bytes"), std::string::npos) << big.error.message;
  EXPECT_TRUE(e.send(p.alice_sees_bob, std::string(kMaxMessageTextBytes, 'x')).ok());
  EXPECT_EQ(e.send(std::string(64, '0'), "hi").error.code, sdk::StatusCode::kNotFound);
  EXPECT_EQ(e.send("not-hex", "hi").error.code, sdk::StatusCode::kInvalidArgument);
  ASSERT_TRUE(e.set_blocked(p.alice_sees_bob, true).ok());
  EXPECT_EQ(e.send(p.alice_sees_bob, "hi").error.code, sdk::StatusCode::kPermissionDenied);
  p.alice->poke();
}

TEST(Messaging, SendBatchStoresAllInOrderOrNone) {
  Pair p;
  auto& e = *p.alice->engine;
  std::vector<std::string> texts{"one", "two", std::string(kMaxMessageTextBytes + 1, 'x')};
  const auto refused = e.send_batch(p.alice_sees_bob, texts);
  p.alice->poke();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error.message.find("text 2"), std::string::npos) << refused.error.message;
  EXPECT_TRUE(e.history(p.alice_sees_bob, 0, 10).value->empty());
  EXPECT_EQ(e.outbox_size(), 0u);
  texts.pop_back();
  for (int i = 0; i < 3; ++i) {
    texts.push_back(text_of("batch", i));
  }
  texts.erase(texts.begin(), texts.begin() + 2);
  const auto sent = e.send_batch(p.alice_sees_bob, texts);
  p.alice->poke();
  ASSERT_TRUE(sent.ok()) << sent.error.message;
  ASSERT_EQ(sent.value->size(), 3u);
  EXPECT_LT((*sent.value)[0].order, (*sent.value)[2].order);
  p.clock.run_for(2000);
  expect_exactly_once_in_order(*p.bob, "batch", 3);

  // The envelopes of one turn share packets: 40 short messages take a handful of frames.
  texts.clear();
  for (int i = 3; i < 43; ++i) {
    texts.push_back(text_of("batch", i));
  }
  const uint64_t frames_before = p.bob->engine->counters().frames_received;
  ASSERT_TRUE(e.send_batch(p.alice_sees_bob, texts).ok());
  p.alice->poke();
  p.clock.run_for(2000);
  expect_exactly_once_in_order(*p.bob, "batch", 43);
  const uint64_t frames = p.bob->engine->counters().frames_received - frames_before;
  EXPECT_LE(frames, 10u) << "40 messages came in " << frames << " frames";
}

TEST(Messaging, ContactsAreManagedAndCodesChecked) {
  Pair p;
  auto& e = *p.alice->engine;
  EXPECT_EQ(e.add_contact(p.alice->code(), "me").error.message, "that is your own contact code");
  EXPECT_EQ(e.add_contact(p.bob->code(), "again").error.code, sdk::StatusCode::kAlreadyExists);
  const auto bad = e.add_contact("entre:garbage", "x");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error.message.find("not a valid contact code"), std::string::npos);
  ASSERT_TRUE(e.rename_contact(p.alice_sees_bob, "Robert").ok());
  ASSERT_TRUE(e.set_verified(p.alice_sees_bob, true).ok());
  p.alice->poke();
  auto c = e.contact(p.alice_sees_bob);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value->name, "Robert");
  EXPECT_TRUE(c.value->verified);
  auto mine = e.safety_number(p.alice_sees_bob);
  auto theirs = p.bob->engine->safety_number(p.bob_sees_alice);
  ASSERT_TRUE(mine.ok() && theirs.ok());
  EXPECT_EQ(*mine.value, *theirs.value);
  p.clock.run_for(2000);
  EXPECT_TRUE(e.contact(p.alice_sees_bob).value->online);
  ASSERT_TRUE(e.remove_contact(p.alice_sees_bob).ok());
  p.alice->poke();
  EXPECT_TRUE(e.contacts().empty());
  EXPECT_EQ(e.contact(p.alice_sees_bob).error.code, sdk::StatusCode::kNotFound);
}

TEST(Messaging, APeerThatComesBackReceivesWithinARoundTripWhicheverKeyIsSmaller) {
  const auto root =
      std::filesystem::temp_directory_path() / ("entre-late-" + std::to_string(::getpid()));
  bool saw_smaller_sender = false;
  bool saw_larger_sender = false;
  for (int attempt = 0; attempt < 12 && !(saw_smaller_sender && saw_larger_sender); ++attempt) {
    std::filesystem::remove_all(root);
    std::filesystem::create_directories(root);
    Pair p({}, root);
    p.net.set_default({.impairment = {.latency_ms = 10}});
    p.clock.run_for(2000);
    p.bob->crash();
    p.clock.run_for(60'000); // alice's link to bob timed out; she dials now and then
    p.alice->send(p.alice_sees_bob, "are you there?");
    p.clock.run_for(3500); // alice's handshake is pending, her next resend is seconds away
    const uint64_t back = p.clock.now_ms();
    p.bob->restart();
    const bool got = run_until(
        p.clock, [&] { return !p.bob->received.empty(); }, 20'000);
    ASSERT_TRUE(got);
    const uint64_t waited = p.clock.now_ms() - back;
    EXPECT_LE(waited, 300u) << "attempt " << attempt;
    (p.alice_sees_bob > p.bob_sees_alice ? saw_larger_sender : saw_smaller_sender) = true;
  }
  EXPECT_TRUE(saw_smaller_sender && saw_larger_sender);
  std::filesystem::remove_all(root);
}

// The last presence event `node` reported for `contact`: true online, false offline.
std::optional<bool> last_presence(const SimMessenger& node, const std::string& contact) {
  std::optional<bool> online;
  for (const auto& p : node.presence) {
    if (p.contact == contact) {
      online = p.online;
    }
  }
  return online;
}

// A node that leaves says so on its links: its contacts show it offline at once, not after the
// link timeout (45 s). The goodbye is sealed under the link's keys: a forged or altered copy
// changes nothing, and a copy played again after the real one is refused.
TEST(Messaging, AContactThatSaysGoodbyeIsOfflineAtOnceAndNobodyElseCanSayIt) {
  Pair p;
  p.net.set_default({.impairment = {.latency_ms = 10}});
  p.clock.run_for(2000);
  ASSERT_EQ(last_presence(*p.alice, p.alice_sees_bob), std::optional<bool>(true));

  // bob's goodbye, held back on the way.
  const auto cut = p.net.partition({"bob"}, {"alice"});
  p.bob->record_sent = true;
  p.bob->engine->say_goodbye();
  p.bob->poke();
  p.bob->record_sent = false;
  ASSERT_EQ(p.bob->sent.size(), 1u);
  const std::vector<uint8_t> goodbye = p.bob->sent.front();
  p.clock.run_for(100);
  p.net.heal(cut);

  // Altered in any byte after the header, or with a wrong counter: dropped and counted.
  const uint64_t dropped = p.alice->engine->counters().frames_dropped;
  for (std::size_t at : {std::size_t{5}, goodbye.size() - 1, std::size_t{13}}) {
    std::vector<uint8_t> forged = goodbye;
    forged[at] ^= 0x01;
    p.alice->on_frame(0, sdk::StringView(sim::sim_endpoint("mallory")), sdk::ByteView(forged));
  }
  EXPECT_EQ(p.alice->engine->counters().frames_dropped, dropped + 3);
  EXPECT_TRUE(p.alice->engine->contact(p.alice_sees_bob).value->online);

  // The real one: offline at once.
  p.alice->on_frame(0, sdk::StringView(sim::sim_endpoint("bob")), sdk::ByteView(goodbye));
  EXPECT_EQ(last_presence(*p.alice, p.alice_sees_bob), std::optional<bool>(false));
  EXPECT_FALSE(p.alice->engine->contact(p.alice_sees_bob).value->online);
  EXPECT_EQ(p.alice->engine->link_count(), 0u);
  p.alice->on_frame(0, sdk::StringView(sim::sim_endpoint("bob")), sdk::ByteView(goodbye));
  EXPECT_EQ(p.alice->engine->counters().frames_dropped, dropped + 4);

  // bob did not go: the next link comes up as usual, and messages flow.
  p.alice->send(p.alice_sees_bob, "still there?");
  ASSERT_TRUE(run_until(
      p.clock, [&] { return !p.bob->received.empty(); }, 10'000));
  EXPECT_EQ(last_presence(*p.alice, p.alice_sees_bob), std::optional<bool>(true));
}

// The round trip a person sees is the path's: 2 x 20 ms here. The reliable link's own estimate
// includes the receiver's ack delay (10 ms for a lone packet), which is not the path's.
TEST(Messaging, TheContactsRoundTripIsThePathsNotTheDelayedAcks) {
  Pair p;
  p.net.set_default({.impairment = {.latency_ms = 20}});
  for (int i = 0; i < 30; ++i) {
    p.alice->send(p.alice_sees_bob, text_of("a", i));
    p.clock.run_for(1000); // one lone packet at a time: each one's ack waits the ack delay
  }
  p.clock.run_for(40'000); // a few keepalive rounds
  expect_exactly_once_in_order(*p.bob, "a", 30);
  for (auto* side : {&p.alice, &p.bob}) {
    const std::string contact = side == &p.alice ? p.alice_sees_bob : p.bob_sees_alice;
    const auto info = (*side)->engine->contact(contact);
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info.value->online);
    EXPECT_EQ(info.value->rtt_ms, 40u) << (*side)->name();
  }
  std::cout << "[ figures  ] the reliable link's own estimate (ack delay included): "
            << p.alice->engine->link_stats().srtt_ms << " ms\n";
}

// alice, and mallory, who added alice (alice does not know mallory) and sent her "hello?".
struct Stranger {
  FakeClock clock;
  SimNetwork net{clock, 3};
  PluginFiles files;
  SimMessenger alice{net, "alice", files};
  SimMessenger mallory{net, "mallory", files};
  std::string alice_id;

  Stranger() {
    alice.create_identity();
    mallory.create_identity();
    alice_id = mallory.add(alice, "Alice");
    mallory.send(alice_id, "hello?");
  }
};

TEST(Messaging, StrangersAndBlockedContactsCannotConnect) {
  Stranger s;
  s.clock.run_for(30'000);
  EXPECT_TRUE(s.alice.received.empty());
  EXPECT_GT(s.alice.engine->counters().handshakes_refused, 0u);
  EXPECT_EQ(s.alice.engine->counters().handshakes_completed, 0u);
}

// A node that has not added the sender answers its handshake with an authenticated refusal: the
// sender learns it once (and its messages wait), instead of "queued" forever while the other
// side counts refusals. Once added, the link comes up and the message is delivered.
TEST(Messaging, ASenderLearnsWhenTheOtherSideHasNotAddedIt) {
  Stranger s;
  FakeClock& clock = s.clock;
  SimMessenger& alice = s.alice;
  SimMessenger& mallory = s.mallory;
  const std::string& alice_id = s.alice_id;
  clock.run_for(5000);
  EXPECT_EQ(mallory.not_added, std::vector<std::string>{alice_id});
  EXPECT_TRUE(mallory.engine->contact(alice_id).value->not_added);
  EXPECT_EQ(mallory.engine->outbox_size(), 1u);
  EXPECT_TRUE(alice.received.empty());

  // It asks again now and then: one event, and alice answers at most once per 30 s.
  const uint64_t refused_before = alice.engine->counters().handshakes_refused;
  alice.record_sent = true;
  clock.run_for(180'000);
  alice.record_sent = false;
  std::size_t refusals = 0;
  for (const auto& f : alice.sent) {
    refusals += !f.empty() && f[0] == 0x13 ? 1 : 0;
  }
  EXPECT_GE(alice.engine->counters().handshakes_refused, refused_before + 2);
  EXPECT_GE(refusals, 2u);
  EXPECT_LE(refusals, 7u) << "more than one refusal per 30 s";
  EXPECT_EQ(mallory.not_added.size(), 1u);

  // alice adds mallory: the link comes up (she dials), the message arrives.
  (void)alice.add(mallory, "Mallory");
  ASSERT_TRUE(run_until(
      clock, [&] { return !alice.received.empty(); }, 10'000));
  EXPECT_FALSE(mallory.engine->contact(alice_id).value->not_added);
}

// The usual order: one side adds the other and writes at once, the other adds it a moment later.
// The refusal between must not hold the link off for the longest backoff: the link comes up
// within seconds of being added, even when the side that adds later cannot dial (the code it got
// names only a transport it does not have).
TEST(Messaging, ASenderRefusedOnceLinksWithinSecondsOfBeingAdded) {
  Stranger s;
  s.clock.run_for(1500);
  ASSERT_EQ(s.mallory.not_added, std::vector<std::string>{s.alice_id});
  const auto code = s.mallory.engine->contact_code({"lan:127.0.0.1:9"});
  ASSERT_TRUE(code.ok());
  ASSERT_TRUE(s.alice.engine->add_contact(*code.value, "Mallory").ok());
  s.alice.poke();
  const uint64_t added_at = s.clock.now_ms();
  ASSERT_TRUE(run_until(
      s.clock, [&] { return !s.alice.received.empty(); }, 60'000));
  EXPECT_LE(s.clock.now_ms() - added_at, 5'000u)
      << "the refused sender waited for its longest backoff";
}

// A refusal is what only the refusing node can write (Noise message 2 under its key): a forged
// one is dropped and changes nothing. A blocked contact gets silence, not a refusal: blocking
// stays indistinguishable from being offline.
TEST(Messaging, RefusalsCannotBeForgedAndABlockGetsSilence) {
  Pair p;
  p.clock.run_for(2000);
  p.bob->engine->set_blocked(p.bob_sees_alice, true);
  p.bob->poke();
  p.alice->send(p.alice_sees_bob, "still friends?");
  p.bob->record_sent = true;
  p.alice->record_sent = true;
  p.clock.run_for(120'000);
  for (const auto& f : p.bob->sent) {
    EXPECT_NE(f.empty() ? 0 : f[0], 0x13) << "a blocked contact was told";
  }
  EXPECT_TRUE(p.alice->not_added.empty());
  EXPECT_FALSE(p.alice->engine->contact(p.alice_sees_bob).value->not_added);

  // A refusal forged for alice's latest handshake (its index read off the wire): it does not
  // open as Noise message 2 under bob's key, so it is dropped.
  std::vector<uint8_t> hs1;
  for (const auto& f : p.alice->sent) {
    if (!f.empty() && f[0] == 0x10) {
      hs1 = f;
    }
  }
  ASSERT_GE(hs1.size(), 5u) << "alice never dialled again";
  std::vector<uint8_t> forged(1 + 8 + 48, 0x5a);
  forged[0] = 0x13;
  std::copy_n(hs1.begin() + 1, 4, forged.begin() + 1);
  std::fill_n(forged.begin() + 5, 4, 0);
  const uint64_t dropped = p.alice->engine->counters().frames_dropped;
  p.alice->on_frame(0, sdk::StringView(sim::sim_endpoint("bob")), sdk::ByteView(forged));
  EXPECT_EQ(p.alice->engine->counters().frames_dropped, dropped + 1);
  EXPECT_TRUE(p.alice->not_added.empty());
  EXPECT_FALSE(p.alice->engine->contact(p.alice_sees_bob).value->not_added);
}

TEST(Messaging, GarbageFramesAreDroppedAndCountedAndTheSessionContinues) {
  Pair p;
  p.alice->send(p.alice_sees_bob, text_of("a", 0));
  p.clock.run_for(2000);
  ASSERT_EQ(p.bob->received.size(), 1u);
  sim::SimTransport evil(p.net, "evil");
  struct Ignore final : sdk::TransportEvents {
    void on_frame(sdk::StringView, sdk::ByteView) noexcept override {}
    void on_link(sdk::StringView, sdk::LinkState) noexcept override {}
    void on_discovered(sdk::StringView, sdk::ByteView) noexcept override {}
  } ignore;
  ASSERT_TRUE(evil.start(ignore).is_ok());
  std::mt19937_64 rng(5);
  const uint64_t before = p.bob->engine->counters().frames_dropped;
  int sent = 0;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> frame(rng() % 300);
    for (auto& b : frame) {
      b = static_cast<uint8_t>(rng());
    }
    if (!frame.empty() && i % 3 == 0) {
      frame[0] = static_cast<uint8_t>(0x10 + i % 3); // look like a handshake or a sealed frame
    }
    (void)evil.send(sdk::StringView(std::string("sim:bob")), sdk::ByteView(frame));
    ++sent;
  }
  p.clock.run_for(1000);
  EXPECT_EQ(p.bob->engine->counters().frames_dropped - before, static_cast<uint64_t>(sent));
  for (int i = 1; i < 10; ++i) {
    p.alice->send(p.alice_sees_bob, text_of("a", i));
  }
  p.clock.run_for(2000);
  expect_exactly_once_in_order(*p.bob, "a", 10);
}

TEST(Messaging, CrashesOfEitherSideLoseAndDuplicateNothing) {
  const auto root =
      std::filesystem::temp_directory_path() / ("entre-crash-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root / "a");
  std::filesystem::create_directories(root / "b");
  {
    Pair p(root / "a", root / "b");
    p.net.set_default({.impairment = {.loss = 0.05, .latency_ms = 10, .jitter_ms = 5}});
    std::mt19937_64 rng(11);
    int next = 0;
    for (int round = 0; round < 50; ++round) {
      const int burst = static_cast<int>(rng() % 40);
      for (int i = 0; i < burst; ++i) {
        p.alice->send(p.alice_sees_bob, text_of("a", next++));
      }
      p.clock.run_for(rng() % 400);
      SimMessenger& victim = (rng() % 2 == 0) ? *p.alice : *p.bob;
      victim.crash();
      p.clock.run_for(rng() % 3000);
      victim.restart();
    }
    const bool done = run_until(
        p.clock,
        [&] {
          return p.bob->received.size() >= static_cast<std::size_t>(next) &&
                 p.alice->engine->outbox_size() == 0;
        },
        600'000);
    EXPECT_TRUE(done) << "bob has " << p.bob->received.size() << " of " << next;
    // Bob's events restart with each of his restarts: his history is the record.
    auto history = p.bob->engine->history(p.bob_sees_alice, 0, 100000);
    ASSERT_TRUE(history.ok());
    std::vector<std::string> texts;
    for (auto it = history.value->rbegin(); it != history.value->rend(); ++it) {
      texts.push_back(it->text);
    }
    ASSERT_EQ(texts.size(), static_cast<std::size_t>(next));
    for (int i = 0; i < next; ++i) {
      EXPECT_EQ(texts[static_cast<std::size_t>(i)], text_of("a", i));
    }
  }
  std::filesystem::remove_all(root);
}

// A stored call history that does not open or decode is replaced by a new one, as the log says:
// the next call is recorded and the history reads, instead of both failing from then on.
TEST(Messaging, AnUnreadableCallHistoryIsReplacedByANewOne) {
  Pair p;
  const std::vector<uint8_t> garbage{0x01, 0x02, 0x03};
  ASSERT_TRUE(p.alice->storage->put_setting(sdk::StringView("calls.history"), garbage).is_ok());
  const CallRecord call{"01a2249d0c7e55f3", p.alice_sees_bob,   true,           kWallBaseMs,
                        kWallBaseMs + 1000, kWallBaseMs + 5000, "hung up here", "opus"};
  const auto stored = p.alice->engine->store_call(call);
  ASSERT_TRUE(stored.ok()) << stored.error.message;
  p.alice->poke();
  const auto calls = p.alice->engine->call_history("", 10);
  ASSERT_TRUE(calls.ok()) << calls.error.message;
  ASSERT_EQ(calls.value->size(), 1u);
  EXPECT_EQ(calls.value->front().id, call.id);
  EXPECT_EQ(calls.value->front().contact, p.alice_sees_bob);
  EXPECT_TRUE(std::any_of(p.alice->logs.begin(), p.alice->logs.end(), [](const std::string& l) {
    return l.find("call history does not open; starting a new one") != std::string::npos;
  }));
}

} // namespace
} // namespace entre::scenario
