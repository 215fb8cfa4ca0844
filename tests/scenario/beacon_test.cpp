// Discovery beacons (kernel/src/discovery/beacon.hpp) with the real crypto-sodium plugin file:
// contacts recognise each other, a stranger recognises nobody and cannot link a node's beacons
// across epochs, and replayed, stale, forged and malformed beacons are refused.
#include "discovery/beacon.hpp"
#include "loader/loader.hpp"
#include "node/plugin_host.hpp"
#include "node/runtime.hpp"
#include "profile/config_view.hpp"

#include <entre/sdk/crypto.hpp>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

namespace entre::discovery {
namespace {

constexpr uint64_t kEpochMs = 60'000;
constexpr int64_t kT0 = 1'790'000'000'000; // an epoch boundary: kT0 % kEpochMs == 0
constexpr std::size_t kEntries = 8;

struct Suite {
  PluginLoader loader{{}};
  Runtime runtime{1, 1};
  std::shared_ptr<const LoadedLibrary> lib;
  std::unique_ptr<PluginHost> host;
  PluginPtr<sdk::Plugin> root;
  sdk::CryptoSuite* crypto = nullptr;
  sdk::PairwiseKeys* pairwise = nullptr;

  Suite() {
    LoadOutcome outcome = loader.load("entre.crypto.sodium", ENTRE_SODIUM_PLUGIN);
    EXPECT_TRUE(outcome.library) << (outcome.failure ? outcome.failure->str() : "");
    lib = outcome.library;
    host = std::make_unique<PluginHost>(
        "entre.crypto.sodium", std::make_unique<TomlConfigView>(nullptr, "t.toml", 0),
        std::filesystem::temp_directory_path(), runtime, spdlog::default_logger());
    sdk::Plugin* raw = nullptr;
    EXPECT_TRUE(lib->factory()(*host, &raw).is_ok());
    root = PluginPtr<sdk::Plugin>(raw, lib);
    crypto = sdk::query<sdk::CryptoSuite>(*root, sdk::InterfaceId::kCryptoSuiteV1);
    pairwise = sdk::query<sdk::PairwiseKeys>(*root, sdk::InterfaceId::kPairwiseKeysV1);
  }
};

struct Node {
  std::vector<uint8_t> secret;
  Key key{};
  std::unique_ptr<BeaconBook> book;

  explicit Node(Suite& s, std::size_t entries = kEntries) {
    sdk::VectorSink sink(secret);
    EXPECT_TRUE(s.crypto->generate_identity(sink, {key.data(), key.size()}).is_ok());
    sdk::CryptoSuite* crypto = s.crypto;
    book = std::make_unique<BeaconBook>(
        *s.pairwise, [crypto](sdk::MutableByteView out) { crypto->random_bytes(out); }, secret, key,
        kEpochMs, entries);
  }
};

class Beacons : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(suite_.crypto, nullptr);
    ASSERT_NE(suite_.pairwise, nullptr);
    ASSERT_TRUE(a_.book->add_contact(b_.key));
    ASSERT_TRUE(b_.book->add_contact(a_.key));
    // The stranger knows a third node, so that it has tags to look up.
    ASSERT_TRUE(c_.book->add_contact(d_.key));
  }

  BeaconVerdict read(Node& n, const std::vector<uint8_t>& beacon, int64_t at,
                     std::vector<Key>* found = nullptr) {
    std::vector<Key> out;
    const BeaconVerdict v = n.book->read(beacon, at, out);
    if (found != nullptr) {
      *found = out;
    }
    return v;
  }

  Suite suite_;
  Node a_{suite_};
  Node b_{suite_};
  Node c_{suite_};
  Node d_{suite_};
};

std::set<std::vector<uint8_t>> entries_of(const std::vector<uint8_t>& beacon) {
  std::set<std::vector<uint8_t>> out;
  for (std::size_t at = kHeaderBytes; at + kEntryBytes <= beacon.size(); at += kEntryBytes) {
    out.emplace(beacon.begin() + static_cast<std::ptrdiff_t>(at),
                beacon.begin() + static_cast<std::ptrdiff_t>(at + kTagBytes));
  }
  return out;
}

TEST_F(Beacons, ContactsRecogniseEachOtherAndAStrangerRecognisesNobody) {
  std::vector<Key> found;
  EXPECT_EQ(read(b_, a_.book->next_beacon(kT0), kT0 + 5, &found), BeaconVerdict::kRecognised);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], a_.key);
  EXPECT_EQ(read(a_, b_.book->next_beacon(kT0), kT0 + 5, &found), BeaconVerdict::kRecognised);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], b_.key);
  EXPECT_EQ(read(c_, a_.book->next_beacon(kT0), kT0 + 5), BeaconVerdict::kUnrecognised);
  EXPECT_EQ(read(c_, b_.book->next_beacon(kT0), kT0 + 5), BeaconVerdict::kUnrecognised);
  EXPECT_EQ(c_.book->stats().unrecognised, 2u);
}

TEST_F(Beacons, EveryBeaconHasTheSameSizeWhateverTheNumberOfContacts) {
  Node lonely(suite_);
  Node popular(suite_);
  for (int i = 0; i < 20; ++i) {
    Node other(suite_);
    ASSERT_TRUE(popular.book->add_contact(other.key));
  }
  const std::size_t size = kHeaderBytes + kEntries * kEntryBytes;
  EXPECT_EQ(lonely.book->next_beacon(kT0).size(), size);
  EXPECT_EQ(a_.book->next_beacon(kT0).size(), size);
  EXPECT_EQ(popular.book->next_beacon(kT0).size(), size);
}

TEST_F(Beacons, AStrangerCannotLinkBeaconsOfTwoEpochs) {
  // Within an epoch a node's tags repeat; across epochs nothing but the fixed fields does.
  const auto e1 = a_.book->next_beacon(kT0 + 1000);
  const auto e1_again = a_.book->next_beacon(kT0 + 2000);
  const auto e2 = a_.book->next_beacon(kT0 + static_cast<int64_t>(kEpochMs) + 1000);
  auto shared = [](const std::vector<uint8_t>& x, const std::vector<uint8_t>& y) {
    std::vector<std::vector<uint8_t>> both;
    const auto ex = entries_of(x);
    const auto ey = entries_of(y);
    std::set_intersection(ex.begin(), ex.end(), ey.begin(), ey.end(), std::back_inserter(both));
    return both.size();
  };
  EXPECT_EQ(shared(e1, e1_again), 1u) << "the contact's tag is stable within an epoch";
  EXPECT_EQ(shared(e1, e2), 0u) << "no tag survives into the next epoch";
  // The counter restarts at a random value each epoch, so it does not link either.
  const auto counter = [](const std::vector<uint8_t>& b) { return parse_beacon(b)->counter; };
  EXPECT_EQ(counter(e1_again), counter(e1) + 1);
  EXPECT_NE(counter(e2), counter(e1_again) + 1);
  // And the contact still recognises the new epoch's beacon.
  EXPECT_EQ(read(b_, e2, kT0 + static_cast<int64_t>(kEpochMs) + 1500), BeaconVerdict::kRecognised);
}

TEST_F(Beacons, AReplayedBeaconIsRefused) {
  const auto beacon = a_.book->next_beacon(kT0);
  EXPECT_EQ(read(b_, beacon, kT0 + 10), BeaconVerdict::kRecognised);
  EXPECT_EQ(read(b_, beacon, kT0 + 20), BeaconVerdict::kReplay);
  EXPECT_EQ(b_.book->stats().replayed, 1u);
  // The node's next beacon counts up and is taken.
  EXPECT_EQ(read(b_, a_.book->next_beacon(kT0 + 1000), kT0 + 1010), BeaconVerdict::kRecognised);
}

TEST_F(Beacons, BeaconsOfAnotherEpochThanTheNeighboursAreStale) {
  const auto beacon = a_.book->next_beacon(kT0);
  const auto later = kT0 + 2 * static_cast<int64_t>(kEpochMs);
  EXPECT_EQ(read(b_, beacon, later), BeaconVerdict::kStale);
  const auto earlier = kT0 - 2 * static_cast<int64_t>(kEpochMs);
  EXPECT_EQ(read(b_, a_.book->next_beacon(kT0 + 1), earlier), BeaconVerdict::kStale);
  // One epoch of clock skew either way is tolerated.
  EXPECT_EQ(read(b_, a_.book->next_beacon(kT0 + 2), kT0 + static_cast<int64_t>(kEpochMs) + 5),
            BeaconVerdict::kRecognised);
}

TEST_F(Beacons, AForgedOrAlteredBeaconIsNotRecognised) {
  auto beacon = a_.book->next_beacon(kT0);
  auto altered = beacon;
  altered[13] ^= 1; // the counter: every entry's auth covers it
  EXPECT_EQ(read(b_, altered, kT0 + 5), BeaconVerdict::kUnrecognised);
  EXPECT_EQ(b_.book->stats().forged, 1u);
  for (std::size_t at = kHeaderBytes + kTagBytes; at < beacon.size(); at += kEntryBytes) {
    beacon[at] ^= 0x80; // every auth
  }
  EXPECT_EQ(read(b_, beacon, kT0 + 5), BeaconVerdict::kUnrecognised);
  EXPECT_EQ(b_.book->stats().forged, 2u);
}

TEST_F(Beacons, MalformedBeaconsAreRefused) {
  const auto good = a_.book->next_beacon(kT0);
  auto expect_malformed = [&](std::vector<uint8_t> bad, const char* what) {
    EXPECT_EQ(read(b_, bad, kT0 + 5), BeaconVerdict::kMalformed) << what;
  };
  expect_malformed({}, "empty");
  expect_malformed({good.begin(), good.end() - 1}, "truncated");
  auto longer = good;
  longer.push_back(0);
  expect_malformed(longer, "one byte too many");
  auto version = good;
  version[0] = 2;
  expect_malformed(version, "version 2");
  auto flags = good;
  flags[1] = 1;
  expect_malformed(flags, "a reserved flag");
  auto count = good;
  count[kSignedHeaderBytes] = 0;
  expect_malformed(count, "no entries");
  expect_malformed(std::vector<uint8_t>(kMaxBeaconBytes + 1, 1), "over the bound");
  EXPECT_EQ(b_.book->stats().malformed, 7u);
}

TEST_F(Beacons, WithMoreContactsThanEntriesEveryContactIsAnnouncedInTurn) {
  Node busy(suite_, 4);
  std::vector<std::unique_ptr<Node>> friends;
  for (int i = 0; i < 10; ++i) {
    friends.push_back(std::make_unique<Node>(suite_));
    ASSERT_TRUE(busy.book->add_contact(friends.back()->key));
    ASSERT_TRUE(friends.back()->book->add_contact(busy.key));
  }
  std::set<std::size_t> recognised_by;
  for (int beacon = 0; beacon < 3; ++beacon) { // ceil(10 / 4)
    const auto b = busy.book->next_beacon(kT0 + beacon);
    for (std::size_t i = 0; i < friends.size(); ++i) {
      if (read(*friends[i], b, kT0 + 10) == BeaconVerdict::kRecognised) {
        recognised_by.insert(i);
      }
    }
  }
  EXPECT_EQ(recognised_by.size(), friends.size());
}

TEST_F(Beacons, ARemovedContactIsNoLongerRecognised) {
  b_.book->remove_contact(a_.key);
  EXPECT_EQ(read(b_, a_.book->next_beacon(kT0), kT0 + 5), BeaconVerdict::kUnrecognised);
  EXPECT_EQ(b_.book->contact_count(), 0u);
}

TEST_F(Beacons, QueuedContactsAreTakenInSlices) {
  Node busy(suite_);
  std::vector<std::unique_ptr<Node>> friends;
  for (int i = 0; i < 10; ++i) {
    friends.push_back(std::make_unique<Node>(suite_));
    busy.book->queue_contact(friends.back()->key);
    ASSERT_TRUE(friends.back()->book->add_contact(busy.key));
  }
  busy.book->queue_contact(Key{}); // a low-order key: dropped when its turn comes
  EXPECT_EQ(busy.book->queued(), 11u);
  EXPECT_EQ(busy.book->contact_count(), 0u);
  EXPECT_EQ(busy.book->derive_queued(4), 7u);
  EXPECT_EQ(busy.book->contact_count(), 3u) << "the zero key sorts first and is dropped";
  busy.book->remove_contact(friends[9]->key); // queued or not, it goes
  EXPECT_EQ(busy.book->derive_queued(100), 0u);
  EXPECT_EQ(busy.book->contact_count(), 9u);
  // Every remaining friend is recognised, and announced to.
  std::size_t recognised = 0;
  for (std::size_t i = 0; i < 9; ++i) {
    std::vector<Key> found;
    recognised += busy.book->read(friends[i]->book->next_beacon(kT0), kT0 + 1, found) ==
                  BeaconVerdict::kRecognised;
  }
  EXPECT_EQ(recognised, 9u);
}

TEST_F(Beacons, ALowOrderContactKeyIsRefused) {
  EXPECT_FALSE(a_.book->add_contact(Key{}));
  EXPECT_EQ(a_.book->contact_count(), 1u);
}

TEST(MeetingBeacons, RoundTripTheKeyAndTheName) {
  Key key{};
  key.fill(0xab);
  const auto beacon = make_meeting_beacon(key, "Zoë's laptop");
  EXPECT_TRUE(is_meeting_beacon(beacon));
  const auto met = parse_meeting_beacon(beacon);
  ASSERT_TRUE(met);
  EXPECT_EQ(met->key, key);
  EXPECT_EQ(met->name, "Zoë's laptop");
  EXPECT_FALSE(parse_beacon(beacon)) << "a meeting beacon is not a contacts' beacon";
}

TEST(MeetingBeacons, NamesAreCutAtACharacterAndCleanedOfControls) {
  Key key{};
  std::string long_name(kMaxMeetingNameBytes - 1, 'x');
  long_name += "é"; // would end one byte past the limit
  auto met = parse_meeting_beacon(make_meeting_beacon(key, long_name));
  ASSERT_TRUE(met);
  EXPECT_EQ(met->name, std::string(kMaxMeetingNameBytes - 1, 'x'));
  met = parse_meeting_beacon(make_meeting_beacon(key, "a\x1b[2Jb\nc\x7f"));
  ASSERT_TRUE(met);
  EXPECT_EQ(met->name, "a[2Jbc");
}

TEST(MeetingBeacons, MalformedOnesAreRefused) {
  Key key{};
  const auto good = make_meeting_beacon(key, "desk");
  auto bad = [](std::vector<uint8_t> b) { return !parse_meeting_beacon(b); };
  EXPECT_TRUE(bad({good.begin(), good.end() - 1})) << "truncated";
  auto longer = good;
  longer.push_back('x');
  EXPECT_TRUE(bad(longer)) << "a byte more than the name length says";
  auto flags = good;
  flags[1] = kFlagMeeting | 2;
  EXPECT_TRUE(bad(flags)) << "an unknown flag";
  auto control = good;
  control.back() = 0x07;
  EXPECT_TRUE(bad(control)) << "a control character in the name";
  auto invalid = good;
  invalid.back() = 0xc3; // a lead byte with nothing after it
  EXPECT_TRUE(bad(invalid)) << "invalid UTF-8";
  std::vector<uint8_t> huge(kMeetingHeaderBytes + 65, 'a');
  huge[0] = kBeaconVersion;
  huge[1] = kFlagMeeting;
  huge[kMeetingHeaderBytes - 1] = 65;
  EXPECT_TRUE(bad(huge)) << "a name over the limit";
}

} // namespace
} // namespace entre::discovery
