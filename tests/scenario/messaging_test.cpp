// Messaging between whole nodes on the scenario network: handshakes, sessions, exactly-once
// delivery under loss, reordering, duplication, partitions and crashes.
#include "messenger_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

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

} // namespace
} // namespace entre::scenario
