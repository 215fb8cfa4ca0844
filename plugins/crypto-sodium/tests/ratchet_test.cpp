// Double Ratchet tests: delivery in any order, replay and forgery refused without a state change,
// bounds, forward secrecy, post-compromise security, serialisation, and frozen vectors.
//
// The frozen vectors (tests/vectors/ratchet/ratchet_vectors.txt) hold fixed inputs (shared key,
// every ratchet key pair, messages) and the exact outputs of a short scripted conversation. To
// rewrite them after an intended format change (which must also bump a version):
//   crypto_ratchet_test --gtest_also_run_disabled_tests --gtest_filter='RatchetVectors.DISABLED_*'
// The fuzzer's seed corpus (tests/fuzz/corpus/ratchet/) is written the same way by
// RatchetFuzzSeeds.DISABLED_Write with ENTRE_RATCHET_CORPUS_DIR set to that folder.
#include "media.hpp"
#include "ratchet.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace entre::plugins::sodium {

// Test-only access to the ratchet's key source (a friend of RatchetState).
struct RatchetTestAccess {
  static sdk::Status init_alice(const Secret<32>& shared_key,
                                const std::array<uint8_t, 32>& bob_public, RatchetKeySource* source,
                                RatchetState& out) {
    return RatchetState::init_alice_with(shared_key, bob_public, source, out);
  }
  static void set_key_source(RatchetState& state, RatchetKeySource* source) {
    state.key_source_ = source;
  }
};

namespace {

using sdk::StatusCode;

const bool kSodiumReady = init_sodium();

// --- Helpers -------------------------------------------------------------------------------------

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

std::string text_of(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

std::string to_hex(const Bytes& bytes) {
  if (bytes.empty()) {
    return "-";
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

Bytes from_hex(std::string_view hex) {
  Bytes out;
  if (hex == "-") {
    return out;
  }
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    return -1;
  };
  if (hex.size() % 2 != 0) {
    ADD_FAILURE() << "odd-length hex: " << hex;
    return out;
  }
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      ADD_FAILURE() << "bad hex: " << hex;
      return {};
    }
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

Secret<32> secret_from(const Bytes& bytes) {
  Secret<32> secret;
  EXPECT_EQ(bytes.size(), 32U);
  std::copy_n(bytes.begin(), std::min<std::size_t>(bytes.size(), 32), secret.data());
  return secret;
}

Bytes hash_of(std::string_view label) {
  Bytes out(kSha256Bytes);
  sha256(ByteSpan(reinterpret_cast<const uint8_t*>(label.data()), label.size()), out.data());
  return out;
}

Bytes serialized(const RatchetState& state) {
  Bytes out;
  sdk::VectorSink sink(out);
  const sdk::Status status = state.serialize(sink);
  EXPECT_TRUE(status.is_ok()) << status.text();
  return out;
}

RatchetState clone_of(const RatchetState& state) {
  RatchetState copy;
  const sdk::Status status = RatchetState::deserialize(serialized(state), copy);
  EXPECT_TRUE(status.is_ok()) << status.text();
  return copy;
}

Bytes send(RatchetState& state, std::string_view text, std::string_view ad = "conversation") {
  Bytes out;
  sdk::VectorSink sink(out);
  const sdk::Status status = state.encrypt(bytes_of(ad), bytes_of(text), sink);
  EXPECT_TRUE(status.is_ok()) << status.text();
  return out;
}

struct Opened {
  sdk::Status status;
  std::string text;
};

Opened receive(RatchetState& state, const Bytes& message, std::string_view ad = "conversation") {
  Bytes out;
  sdk::VectorSink sink(out);
  Opened opened;
  opened.status = state.decrypt(bytes_of(ad), message, sink);
  opened.text = text_of(out);
  return opened;
}

// Decrypts and checks the text; returns whether it worked.
bool delivers(RatchetState& state, const Bytes& message, std::string_view expected,
              std::string_view ad = "conversation") {
  const Opened opened = receive(state, message, ad);
  EXPECT_TRUE(opened.status.is_ok()) << opened.status.text();
  EXPECT_EQ(opened.text, expected);
  return opened.status.is_ok() && opened.text == expected;
}

RatchetHeader header_of(const Bytes& message) {
  RatchetHeader header;
  EXPECT_TRUE(parse_ratchet_header(message, header).is_ok());
  return header;
}

Bytes with_header(const Bytes& message, const RatchetHeader& header) {
  Bytes out = message;
  const auto encoded = encode_ratchet_header(header);
  std::copy(encoded.begin(), encoded.end(), out.begin());
  return out;
}

struct Pair {
  RatchetState alice;
  RatchetState bob;
};

Pair make_pair() {
  Pair pair;
  Secret<32> shared_key;
  std::array<uint8_t, 32> unused{};
  x25519_keypair(shared_key, unused); // any 32 random bytes
  Secret<32> bob_secret;
  std::array<uint8_t, 32> bob_public{};
  x25519_keypair(bob_secret, bob_public);
  EXPECT_TRUE(RatchetState::init_bob(shared_key, bob_secret, bob_public, pair.bob).is_ok());
  EXPECT_TRUE(RatchetState::init_alice(shared_key, bob_public, pair.alice).is_ok());
  return pair;
}

// A pair that has exchanged one message each way (both kActive).
Pair make_active_pair() {
  Pair pair = make_pair();
  delivers(pair.bob, send(pair.alice, "hello"), "hello");
  delivers(pair.alice, send(pair.bob, "hi"), "hi");
  return pair;
}

// X25519 points of small order: DH with any of them gives all zeros.
const std::vector<std::string> kLowOrderPoints = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

std::array<uint8_t, 32> point_from_hex(const std::string& hex) {
  std::array<uint8_t, 32> point{};
  const Bytes bytes = from_hex(hex);
  std::copy_n(bytes.begin(), 32, point.begin());
  return point;
}

TEST(RatchetTest, SodiumInitialises) { ASSERT_TRUE(kSodiumReady); }

// --- Delivery ------------------------------------------------------------------------------------

// Alice and Bob send bursts; every round about a quarter of the fresh messages is held back to the
// next round and the rest arrive shuffled, so chains overlap and many DH steps happen.
TEST(RatchetTest, ThousandMessagesInRandomOrderDecryptExactlyOnce) {
  constexpr std::size_t kTotal = 1000;
  Pair pair = make_pair();
  std::mt19937_64 rng(0x5eed1000);
  std::uniform_int_distribution<int> burst(1, 12);
  struct Envelope {
    bool to_bob;
    std::size_t id;
  };
  std::vector<Bytes> wires;
  std::vector<std::string> texts;
  std::vector<bool> to_bob_of;
  std::vector<int> opened(kTotal, 0);
  std::set<std::array<uint8_t, 32>> ratchet_keys;
  std::vector<Envelope> held;

  const auto post = [&](bool from_alice, std::vector<Envelope>& into) {
    const std::size_t id = wires.size();
    texts.push_back("message " + std::to_string(id) + (from_alice ? " from alice" : " from bob"));
    wires.push_back(send(from_alice ? pair.alice : pair.bob, texts.back()));
    to_bob_of.push_back(from_alice);
    ratchet_keys.insert(header_of(wires.back()).ratchet_public);
    into.push_back({from_alice, id});
  };

  while (wires.size() < kTotal || !held.empty()) {
    std::vector<Envelope> fresh;
    for (int i = burst(rng); i > 0 && wires.size() < kTotal; --i) {
      post(true, fresh);
    }
    if (pair.bob.phase() == RatchetPhase::kActive) {
      for (int i = burst(rng); i > 0 && wires.size() < kTotal; --i) {
        post(false, fresh);
      }
    }
    std::vector<Envelope> now = std::move(held);
    held.clear();
    for (const Envelope& envelope : fresh) {
      (rng() % 4 == 0 ? held : now).push_back(envelope);
    }
    std::shuffle(now.begin(), now.end(), rng);
    for (const Envelope& envelope : now) {
      RatchetState& receiver = envelope.to_bob ? pair.bob : pair.alice;
      ASSERT_TRUE(delivers(receiver, wires[envelope.id], texts[envelope.id]))
          << "message " << envelope.id;
      ++opened[envelope.id];
    }
  }
  for (std::size_t id = 0; id < kTotal; ++id) {
    EXPECT_EQ(opened[id], 1) << "message " << id;
  }
  EXPECT_GE(pair.alice.receive_steps() + pair.bob.receive_steps(), 20U);
  EXPECT_GE(ratchet_keys.size(), 20U);

  // Exactly once: every message delivered again is refused, and nothing changes.
  const Bytes alice_before = serialized(pair.alice);
  const Bytes bob_before = serialized(pair.bob);
  for (std::size_t id = 0; id < kTotal; ++id) {
    EXPECT_FALSE(receive(to_bob_of[id] ? pair.bob : pair.alice, wires[id]).status.is_ok()) << id;
  }
  EXPECT_EQ(serialized(pair.alice), alice_before);
  EXPECT_EQ(serialized(pair.bob), bob_before);
}

TEST(RatchetTest, ReplayedMessageIsRefusedAndStateUnchanged) {
  Pair pair = make_pair();
  const Bytes m0 = send(pair.alice, "zero");
  const Bytes m1 = send(pair.alice, "one");
  const Bytes m2 = send(pair.alice, "two");
  ASSERT_TRUE(delivers(pair.bob, m0, "zero"));
  ASSERT_TRUE(delivers(pair.bob, m2, "two")); // m1's key is now stored as skipped
  ASSERT_TRUE(delivers(pair.bob, m1, "one")); // ... and deleted on use

  const Bytes before = serialized(pair.bob);
  for (const Bytes* replay : {&m0, &m1, &m2}) {
    const Opened opened = receive(pair.bob, *replay);
    EXPECT_EQ(opened.status.code, StatusCode::kOutOfRange) << opened.status.text();
    EXPECT_TRUE(opened.text.empty());
    EXPECT_EQ(serialized(pair.bob), before);
  }

  // A replay from a chain the receiver has since ratcheted past is refused as well.
  ASSERT_TRUE(delivers(pair.alice, send(pair.bob, "reply"), "reply"));
  ASSERT_TRUE(delivers(pair.bob, send(pair.alice, "new chain"), "new chain"));
  const Bytes after_step = serialized(pair.bob);
  EXPECT_FALSE(receive(pair.bob, m0).status.is_ok());
  EXPECT_FALSE(receive(pair.bob, m2).status.is_ok());
  EXPECT_EQ(serialized(pair.bob), after_step);
}

TEST(RatchetTest, HeaderClaimingHugeCounterIsRefusedQuicklyAndStateUnchanged) {
  Pair pair = make_active_pair();
  const Bytes message = send(pair.alice, "next");
  const Bytes before = serialized(pair.bob);

  RatchetHeader header = header_of(message);
  header.message_number = uint32_t{1} << 31;
  // The processor time of this thread, not the wall clock: on a busy machine the thread may wait
  // for a core, which says nothing about the work done.
  const auto cpu_now = [] {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  };
  const auto start = cpu_now();
  const Opened opened = receive(pair.bob, with_header(message, header));
  const auto elapsed = cpu_now() - start;
  EXPECT_EQ(opened.status.code, StatusCode::kOutOfRange) << opened.status.text();
  // Deriving 2^31 keys would take hours of processor time; refusing takes microseconds.
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  EXPECT_EQ(serialized(pair.bob), before);

  // The same for a new ratchet key claiming a huge N, or a huge previous chain length (PN).
  Secret<32> other_secret;
  RatchetHeader fresh;
  x25519_keypair(other_secret, fresh.ratchet_public);
  fresh.message_number = uint32_t{1} << 31;
  EXPECT_EQ(receive(pair.bob, with_header(message, fresh)).status.code, StatusCode::kOutOfRange);
  fresh.message_number = 0;
  fresh.previous_chain_length = uint32_t{1} << 31;
  EXPECT_EQ(receive(pair.bob, with_header(message, fresh)).status.code, StatusCode::kOutOfRange);
  header.message_number = UINT32_MAX;
  EXPECT_EQ(receive(pair.bob, with_header(message, header)).status.code, StatusCode::kOutOfRange);
  EXPECT_EQ(serialized(pair.bob), before);

  ASSERT_TRUE(delivers(pair.bob, message, "next"));
}

TEST(RatchetTest, TamperedMessageIsRefusedAndSessionStillWorks) {
  Pair pair = make_active_pair();
  const Bytes message = send(pair.alice, "a message worth tampering with");
  const Bytes before = serialized(pair.bob);
  // Version, ratchet key (first, middle, last), PN (high, low), N (high, low), ciphertext (first,
  // middle), tag (first, last).
  const std::size_t positions[] = {0,
                                   1,
                                   16,
                                   32,
                                   33,
                                   36,
                                   37,
                                   40,
                                   kRatchetHeaderBytes,
                                   kRatchetHeaderBytes + 15,
                                   message.size() - kAeadTagBytes,
                                   message.size() - 1};
  for (const std::size_t position : positions) {
    for (const uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      Bytes tampered = message;
      tampered[position] ^= mask;
      const Opened opened = receive(pair.bob, tampered);
      EXPECT_FALSE(opened.status.is_ok()) << "byte " << position << " mask " << int{mask};
      EXPECT_TRUE(opened.text.empty());
      EXPECT_EQ(serialized(pair.bob), before) << "byte " << position;
    }
  }
  // Other associated data, a truncated message and one with a byte appended are refused too.
  EXPECT_EQ(receive(pair.bob, message, "other conversation").status.code, StatusCode::kAuthFailed);
  EXPECT_FALSE(receive(pair.bob, Bytes(message.begin(), message.end() - 1)).status.is_ok());
  Bytes longer = message;
  longer.push_back(0);
  EXPECT_FALSE(receive(pair.bob, longer).status.is_ok());
  EXPECT_EQ(serialized(pair.bob), before);

  ASSERT_TRUE(delivers(pair.bob, message, "a message worth tampering with"));
  ASSERT_TRUE(delivers(pair.alice, send(pair.bob, "still here"), "still here"));
  ASSERT_TRUE(delivers(pair.bob, send(pair.alice, "and here"), "and here"));

  // A tampered copy of a message whose key is stored as skipped does not use the key up.
  const Bytes delayed = send(pair.alice, "delayed");
  ASSERT_TRUE(delivers(pair.bob, send(pair.alice, "overtaking"), "overtaking"));
  ASSERT_EQ(pair.bob.skipped_key_count(), 1U);
  const Bytes with_skipped = serialized(pair.bob);
  for (const std::size_t position : {kRatchetHeaderBytes, delayed.size() - 1}) {
    Bytes tampered = delayed;
    tampered[position] ^= 0x20;
    EXPECT_EQ(receive(pair.bob, tampered).status.code, StatusCode::kAuthFailed);
    EXPECT_EQ(serialized(pair.bob), with_skipped);
  }
  ASSERT_TRUE(delivers(pair.bob, delayed, "delayed"));
}

TEST(RatchetTest, MalformedMessagesAreRefusedWithTheirReason) {
  Pair pair = make_active_pair();
  const Bytes message = send(pair.alice, "x");
  const Bytes before = serialized(pair.bob);
  Bytes other_version = message;
  other_version[0] = 2;
  EXPECT_EQ(receive(pair.bob, other_version).status.code, StatusCode::kUnsupported);
  for (std::size_t size = 0; size < kRatchetHeaderBytes + kAeadTagBytes; ++size) {
    EXPECT_EQ(receive(pair.bob, Bytes(message.begin(), message.begin() + size)).status.code,
              StatusCode::kCorrupt)
        << size;
  }
  EXPECT_EQ(serialized(pair.bob), before);
  ASSERT_TRUE(delivers(pair.bob, message, "x"));
}

TEST(RatchetTest, RefusingSinkLeavesStateUnchanged) {
  Pair pair = make_active_pair();
  // Encrypt: the state advances only if the message was accepted.
  Bytes none;
  sdk::VectorSink refusing(none, 0);
  const Bytes alice_before = serialized(pair.alice);
  EXPECT_EQ(pair.alice.encrypt({}, bytes_of("text"), refusing).code, StatusCode::kBufferTooSmall);
  EXPECT_EQ(serialized(pair.alice), alice_before);

  // Decrypt: a plaintext the caller could not take is not consumed.
  const Bytes message = send(pair.alice, "text");
  EXPECT_EQ(header_of(message).message_number, 0U);
  const Bytes bob_before = serialized(pair.bob);
  EXPECT_EQ(pair.bob.decrypt(bytes_of("conversation"), message, refusing).code,
            StatusCode::kBufferTooSmall);
  EXPECT_EQ(serialized(pair.bob), bob_before);
  ASSERT_TRUE(delivers(pair.bob, message, "text"));
}

// --- Security properties -------------------------------------------------------------------------

// A snapshot of a state after a DH step cannot decrypt the messages whose keys were consumed before
// it: message keys and old chain keys are gone.
TEST(RatchetTest, SnapshotAfterDhStepCannotDecryptEarlierMessages) {
  Pair pair = make_pair();
  const Bytes a0 = send(pair.alice, "a0");
  const Bytes a1 = send(pair.alice, "a1");
  const Bytes a2 = send(pair.alice, "a2 (delayed)");
  ASSERT_TRUE(delivers(pair.bob, a0, "a0"));
  ASSERT_TRUE(delivers(pair.bob, a1, "a1"));
  const Bytes b0 = send(pair.bob, "b0");
  ASSERT_TRUE(delivers(pair.alice, b0, "b0"));
  const Bytes a3 = send(pair.alice, "a3");
  ASSERT_TRUE(delivers(pair.bob, a3, "a3")); // Bob's DH step; a2's key is stored as skipped
  ASSERT_EQ(pair.bob.receive_steps(), 2U);

  const RatchetState bob_snapshot = clone_of(pair.bob);
  const RatchetState alice_snapshot = clone_of(pair.alice);
  for (const Bytes* old : {&a0, &a1, &a3}) {
    RatchetState attacker = bob_snapshot;
    const Opened opened = receive(attacker, *old);
    EXPECT_FALSE(opened.status.is_ok());
    EXPECT_TRUE(opened.text.empty());
  }
  RatchetState attacker = alice_snapshot;
  EXPECT_FALSE(receive(attacker, b0).status.is_ok());

  // What the snapshot still holds is exactly what the specification keeps: the skipped key of a
  // message not yet delivered.
  RatchetState holder = bob_snapshot;
  EXPECT_TRUE(delivers(holder, a2, "a2 (delayed)"));
}

// A state copied by an attacker stops working once the real parties have completed one round trip
// after the copy: their fresh DH keys heal the session.
TEST(RatchetTest, ClonedStateCannotDecryptAfterOneRoundTrip) {
  Pair pair = make_active_pair();
  RatchetState alice_clone = clone_of(pair.alice);
  RatchetState bob_clone = clone_of(pair.bob);

  // Until the parties ratchet, the clones read along (so the clone is a working copy).
  const Bytes a1 = send(pair.alice, "a1");
  ASSERT_TRUE(delivers(pair.bob, a1, "a1"));
  EXPECT_TRUE(delivers(bob_clone, a1, "a1"));
  const Bytes b1 = send(pair.bob, "b1");
  ASSERT_TRUE(delivers(pair.alice, b1, "b1"));
  EXPECT_TRUE(delivers(alice_clone, b1, "b1"));

  // After that round trip, neither clone decrypts anything new.
  for (int round = 0; round < 3; ++round) {
    const std::string a_text = "a" + std::to_string(round + 2);
    const std::string b_text = "b" + std::to_string(round + 2);
    const Bytes a = send(pair.alice, a_text);
    ASSERT_TRUE(delivers(pair.bob, a, a_text));
    EXPECT_FALSE(receive(bob_clone, a).status.is_ok()) << a_text;
    const Bytes b = send(pair.bob, b_text);
    ASSERT_TRUE(delivers(pair.alice, b, b_text));
    EXPECT_FALSE(receive(alice_clone, b).status.is_ok()) << b_text;
  }
}

TEST(RatchetTest, LowOrderRatchetKeyIsRefused) {
  Secret<32> shared_key;
  RatchetState alice;
  for (const std::string& hex : kLowOrderPoints) {
    const sdk::Status status = RatchetState::init_alice(shared_key, point_from_hex(hex), alice);
    EXPECT_EQ(status.code, StatusCode::kInvalidArgument) << hex;
  }
  EXPECT_EQ(alice.phase(), RatchetPhase::kEmpty);

  // In a header, for a waiting responder and for an active one.
  Pair fresh = make_pair();
  Pair active = make_active_pair();
  const Bytes first = send(fresh.alice, "first");
  const Bytes later = send(active.alice, "later");
  for (auto [state, message] : {std::pair{&fresh.bob, &first}, std::pair{&active.bob, &later}}) {
    const Bytes before = serialized(*state);
    for (const std::string& hex : kLowOrderPoints) {
      RatchetHeader header = header_of(*message);
      header.ratchet_public = point_from_hex(hex);
      const Opened opened = receive(*state, with_header(*message, header));
      EXPECT_EQ(opened.status.code, StatusCode::kCorrupt) << hex << ": " << opened.status.text();
      EXPECT_EQ(serialized(*state), before);
    }
  }
  ASSERT_TRUE(delivers(fresh.bob, first, "first"));
  ASSERT_TRUE(delivers(active.bob, later, "later"));
}

// --- Bounds --------------------------------------------------------------------------------------

TEST(RatchetTest, SkipBeyondMaxSkipIsRefused) {
  Pair pair = make_pair();
  std::vector<Bytes> messages;
  for (uint32_t i = 0; i <= 2 * kRatchetMaxSkip + 2; ++i) {
    messages.push_back(send(pair.alice, "m" + std::to_string(i)));
  }
  // First chain: N may be at most kRatchetMaxSkip ahead of 0.
  const Bytes before = serialized(pair.bob);
  EXPECT_EQ(receive(pair.bob, messages[kRatchetMaxSkip + 1]).status.code, StatusCode::kOutOfRange);
  EXPECT_EQ(serialized(pair.bob), before);
  ASSERT_TRUE(delivers(pair.bob, messages[kRatchetMaxSkip], "m1000"));
  EXPECT_EQ(pair.bob.skipped_key_count(), kRatchetMaxSkip);
  // Same chain: at most kRatchetMaxSkip ahead of the next expected number (1001).
  const Bytes middle = serialized(pair.bob);
  EXPECT_EQ(receive(pair.bob, messages[2 * kRatchetMaxSkip + 2]).status.code,
            StatusCode::kOutOfRange);
  EXPECT_EQ(serialized(pair.bob), middle);
  ASSERT_TRUE(delivers(pair.bob, messages[2 * kRatchetMaxSkip + 1], "m2001"));
  EXPECT_EQ(pair.bob.skipped_key_count(), 2 * kRatchetMaxSkip);

  // A new ratchet key: its PN may be at most kRatchetMaxSkip ahead in the current chain (2002).
  // At the bound, a forgery costs the receiver the skipped derivations and a DH step, and is then
  // refused by the tag without a trace.
  const Bytes full = serialized(pair.bob);
  Secret<32> forger_secret;
  RatchetHeader forged;
  x25519_keypair(forger_secret, forged.ratchet_public);
  forged.previous_chain_length = 2 * kRatchetMaxSkip + 2 + kRatchetMaxSkip + 1;
  EXPECT_EQ(receive(pair.bob, with_header(messages[0], forged)).status.code,
            StatusCode::kOutOfRange);
  forged.previous_chain_length = 2 * kRatchetMaxSkip + 2 + kRatchetMaxSkip;
  forged.message_number = kRatchetMaxSkip;
  EXPECT_EQ(receive(pair.bob, with_header(messages[0], forged)).status.code,
            StatusCode::kAuthFailed);
  EXPECT_EQ(serialized(pair.bob), full);
}

TEST(RatchetTest, SkippedKeyStoreIsCappedOldestFirst) {
  Pair pair = make_pair();
  std::vector<Bytes> messages;
  for (uint32_t i = 0; i <= 3 * kRatchetMaxSkip + 2; ++i) {
    messages.push_back(send(pair.alice, "m" + std::to_string(i)));
  }
  ASSERT_TRUE(delivers(pair.bob, messages[1000], "m1000")); // skips 0..999
  ASSERT_TRUE(delivers(pair.bob, messages[2001], "m2001")); // skips 1001..2000
  EXPECT_EQ(pair.bob.skipped_key_count(), 2000U);
  ASSERT_TRUE(delivers(pair.bob, messages[3002], "m3002")); // skips 2002..3001, evicts 0..999
  EXPECT_EQ(pair.bob.skipped_key_count(), kRatchetMaxSkippedKeys);
  EXPECT_EQ(receive(pair.bob, messages[0]).status.code, StatusCode::kOutOfRange);
  EXPECT_EQ(receive(pair.bob, messages[999]).status.code, StatusCode::kOutOfRange);
  ASSERT_TRUE(delivers(pair.bob, messages[1001], "m1001"));
  ASSERT_TRUE(delivers(pair.bob, messages[3001], "m3001"));
  EXPECT_EQ(pair.bob.skipped_key_count(), kRatchetMaxSkippedKeys - 2);
}

TEST(RatchetTest, SkippedKeysExpireAfterMaxAgeSteps) {
  Pair pair = make_pair();
  const Bytes delayed = send(pair.alice, "delayed");
  ASSERT_TRUE(delivers(pair.bob, send(pair.alice, "on time"), "on time"));
  ASSERT_EQ(pair.bob.skipped_key_count(), 1U);
  for (uint32_t step = 1; step <= kRatchetSkippedKeyMaxAgeSteps + 1; ++step) {
    ASSERT_TRUE(delivers(pair.alice, send(pair.bob, "ping"), "ping"));
    ASSERT_TRUE(delivers(pair.bob, send(pair.alice, "pong"), "pong")); // one Bob DH step
    RatchetState probe = clone_of(pair.bob);
    if (step <= kRatchetSkippedKeyMaxAgeSteps) {
      EXPECT_EQ(pair.bob.skipped_key_count(), 1U) << "step " << step;
      EXPECT_TRUE(delivers(probe, delayed, "delayed")) << "step " << step;
    } else {
      EXPECT_EQ(pair.bob.skipped_key_count(), 0U) << "step " << step;
      EXPECT_FALSE(receive(probe, delayed).status.is_ok()) << "step " << step;
    }
  }
}

TEST(RatchetTest, ResponderCannotSendBeforeFirstMessage) {
  Pair pair = make_pair();
  Bytes out;
  sdk::VectorSink sink(out);
  EXPECT_EQ(pair.bob.encrypt({}, bytes_of("too early"), sink).code, StatusCode::kUnavailable);
  EXPECT_TRUE(out.empty());
  RatchetState empty;
  EXPECT_EQ(empty.encrypt({}, bytes_of("x"), sink).code, StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.decrypt({}, send(pair.alice, "x"), sink).code, StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.serialize(sink).code, StatusCode::kInvalidArgument);
}

TEST(RatchetTest, InitBobRefusesMismatchedKeyPair) {
  Secret<32> shared_key;
  Secret<32> secret;
  std::array<uint8_t, 32> public_key{};
  x25519_keypair(secret, public_key);
  public_key[0] ^= 1;
  RatchetState bob;
  EXPECT_EQ(RatchetState::init_bob(shared_key, secret, public_key, bob).code,
            StatusCode::kInvalidArgument);
  EXPECT_EQ(bob.phase(), RatchetPhase::kEmpty);
}

TEST(RatchetTest, MediaKeysAgreeAndDifferPerCall) {
  Pair pair = make_pair();
  Secret<32> alice_key;
  Secret<32> bob_key;
  Secret<32> other_key;
  ASSERT_TRUE(pair.alice.derive_media_key(bytes_of("call-1"), alice_key).is_ok());
  ASSERT_TRUE(pair.bob.derive_media_key(bytes_of("call-1"), bob_key).is_ok());
  EXPECT_TRUE(equal_ct(alice_key.span(), bob_key.span()));
  // Another call id, another key.
  ASSERT_TRUE(pair.alice.derive_media_key(bytes_of("call-2"), other_key).is_ok());
  EXPECT_FALSE(equal_ct(alice_key.span(), other_key.span()));
  // The same key however far the ratchet has moved.
  ASSERT_TRUE(delivers(pair.bob, send(pair.alice, "x"), "x"));
  ASSERT_TRUE(delivers(pair.alice, send(pair.bob, "y"), "y"));
  ASSERT_TRUE(pair.bob.derive_media_key(bytes_of("call-1"), bob_key).is_ok());
  EXPECT_TRUE(equal_ct(alice_key.span(), bob_key.span()));
  // Another session, another key.
  Pair other = make_pair();
  ASSERT_TRUE(other.alice.derive_media_key(bytes_of("call-1"), other_key).is_ok());
  EXPECT_FALSE(equal_ct(alice_key.span(), other_key.span()));
  // Call ids are 1..kRatchetMaxCallIdBytes bytes.
  EXPECT_EQ(pair.alice.derive_media_key({}, other_key).code, StatusCode::kInvalidArgument);
  const Bytes too_long(kRatchetMaxCallIdBytes + 1, 7);
  EXPECT_EQ(pair.alice.derive_media_key(too_long, other_key).code, StatusCode::kInvalidArgument);
  EXPECT_EQ(RatchetState().derive_media_key(bytes_of("call-1"), other_key).code,
            StatusCode::kInvalidArgument);
}

// --- Serialisation -------------------------------------------------------------------------------

TEST(RatchetTest, SerializationRoundTripIsExactAndResumes) {
  Pair pair = make_pair();
  // Fresh states of both phases.
  for (const RatchetState* state : {&pair.alice, &pair.bob}) {
    EXPECT_EQ(serialized(clone_of(*state)), serialized(*state));
    EXPECT_EQ(clone_of(*state).phase(), state->phase());
  }
  // An active state holding skipped keys.
  const Bytes m0 = send(pair.alice, "m0");
  const Bytes m1 = send(pair.alice, "m1");
  ASSERT_TRUE(delivers(pair.bob, send(pair.alice, "m2"), "m2"));
  ASSERT_TRUE(delivers(pair.alice, send(pair.bob, "b0"), "b0"));
  ASSERT_EQ(pair.bob.skipped_key_count(), 2U);
  RatchetState bob = clone_of(pair.bob);
  RatchetState alice = clone_of(pair.alice);
  EXPECT_EQ(serialized(bob), serialized(pair.bob));
  EXPECT_EQ(serialized(alice), serialized(pair.alice));
  EXPECT_EQ(bob.skipped_key_count(), 2U);
  EXPECT_EQ(bob.receive_steps(), pair.bob.receive_steps());
  // The restored states carry on the conversation.
  ASSERT_TRUE(delivers(bob, m1, "m1"));
  ASSERT_TRUE(delivers(bob, send(alice, "after restore"), "after restore"));
  ASSERT_TRUE(delivers(alice, send(bob, "reply"), "reply"));
  ASSERT_TRUE(delivers(bob, m0, "m0"));
}

// Offsets in the version-1 state (see ratchet.hpp).
constexpr std::size_t kPhaseOffset = 5;
constexpr std::size_t kSendPublicOffset = 70;
constexpr std::size_t kSendChainOffset = 134;
constexpr std::size_t kEpochOffset = 242;
constexpr std::size_t kCountOffset = 246;
constexpr std::size_t kFirstSkippedOffset = 250;

// `state` with its checksum recomputed, to reach the checks behind it.
Bytes rechecksummed(Bytes state) {
  sha256(ByteSpan(state.data(), state.size() - kSha256Bytes), state.data() + state.size() - 32);
  return state;
}

TEST(RatchetTest, CorruptedSerializationIsRefusedCleanly) {
  Pair pair = make_pair();
  const Bytes m0 = send(pair.alice, "m0");
  ASSERT_TRUE(delivers(pair.bob, send(pair.alice, "m1"), "m1"));
  const Bytes good = serialized(pair.bob);
  ASSERT_EQ(good.size(), kFirstSkippedOffset + 72 + 32);

  // The target keeps its value whenever deserialisation fails.
  RatchetState target = pair.alice;
  const Bytes target_before = serialized(target);
  const auto refused = [&](const Bytes& bytes, StatusCode code) {
    const sdk::Status status = RatchetState::deserialize(bytes, target);
    EXPECT_EQ(status.code, code) << status.text();
    EXPECT_FALSE(status.text().empty());
    EXPECT_EQ(serialized(target), target_before);
  };

  for (std::size_t size = 0; size < good.size(); ++size) {
    refused(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(size)),
            StatusCode::kCorrupt);
  }
  Bytes longer = good;
  longer.push_back(0);
  refused(longer, StatusCode::kCorrupt);

  std::mt19937 rng(0xf11b);
  for (int i = 0; i < 2000; ++i) {
    Bytes flipped = good;
    flipped[rng() % flipped.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    const sdk::Status status = RatchetState::deserialize(flipped, target);
    EXPECT_FALSE(status.is_ok()) << "flip " << i;
  }
  EXPECT_EQ(serialized(target), target_before);

  Bytes other_version = good;
  other_version[4] = 2;
  refused(other_version, StatusCode::kUnsupported);

  // Behind a valid checksum, the fields are still checked for consistency.
  for (const uint8_t phase : {uint8_t{0}, uint8_t{4}, uint8_t{0xff}}) {
    Bytes bad = good;
    bad[kPhaseOffset] = phase;
    refused(rechecksummed(bad), StatusCode::kCorrupt);
  }
  Bytes bad_public = good;
  bad_public[kSendPublicOffset] ^= 1;
  refused(rechecksummed(bad_public), StatusCode::kCorrupt);
  Bytes bad_epoch = good;
  bad_epoch[kFirstSkippedOffset + 32 + 4 + 3] = 9; // a skipped key from the future
  refused(rechecksummed(bad_epoch), StatusCode::kCorrupt);
  Bytes expired = good;
  expired[kEpochOffset] = 1; // the state's epoch far beyond its skipped key's
  refused(rechecksummed(expired), StatusCode::kCorrupt);
  Bytes too_many = good;
  too_many[kCountOffset + 2] = 0xff;
  refused(rechecksummed(too_many), StatusCode::kCorrupt);

  // A waiting responder never has a chain.
  Bytes waiting = serialized(make_pair().bob);
  waiting[kSendChainOffset] = 1;
  refused(rechecksummed(waiting), StatusCode::kCorrupt);

  // The original still loads and works.
  ASSERT_TRUE(RatchetState::deserialize(good, target).is_ok());
  ASSERT_TRUE(delivers(target, m0, "m0"));
}

// --- Frozen vectors ------------------------------------------------------------------------------

// Hands out the listed secrets in order; records if asked for more.
class ListKeySource final : public RatchetKeySource {
 public:
  explicit ListKeySource(std::vector<Bytes> secrets) : secrets_(std::move(secrets)) {}
  void next_keypair(Secret<32>& secret, std::array<uint8_t, 32>& public_key) noexcept override {
    if (next_ >= secrets_.size()) {
      exhausted_ = true;
      x25519_keypair(secret, public_key);
      return;
    }
    std::copy_n(secrets_[next_++].begin(), 32, secret.data());
    x25519_public(secret, public_key);
  }
  [[nodiscard]] std::size_t used() const { return next_; }
  [[nodiscard]] bool exhausted() const { return exhausted_; }

 private:
  std::vector<Bytes> secrets_;
  std::size_t next_ = 0;
  bool exhausted_ = false;
};

struct VectorMessage {
  char sender = 'a'; // 'a' Alice, 'b' Bob
  Bytes ad;
  Bytes plaintext;
  Bytes wire;
};

struct VectorFrame {
  uint32_t direction = 0;
  uint64_t counter = 0;
  Bytes ad;
  Bytes frame;
  Bytes sealed;
};

struct Vectors {
  Bytes shared_key;
  Bytes bob_ratchet_secret;
  std::vector<Bytes> alice_keys; // in the order Alice's key source hands them out
  std::vector<Bytes> bob_keys;
  std::vector<VectorMessage> messages; // in sending order
  Bytes alice_state;                   // after the script
  Bytes bob_state;
  Bytes call_id;
  Bytes media_key;
  std::vector<VectorFrame> frames;
};

// The conversation: "send i" or "deliver i" (to the other party), out of order on purpose.
struct ScriptStep {
  bool send;
  std::size_t index;
};
constexpr ScriptStep kScript[] = {
    {true, 0},  {true, 1},  {true, 2}, {false, 2}, {false, 0}, {true, 3},  {true, 4},
    {false, 4}, {false, 3}, {true, 5}, {false, 5}, {true, 6},  {false, 6}, {false, 1},
    {true, 7},  {false, 7}, {true, 8}, {true, 9},  {false, 9},
};

// Inputs of a fresh set of vectors, derived from fixed labels.
Vectors vector_inputs() {
  Vectors v;
  v.shared_key = hash_of("entre ratchet vectors: shared key");
  v.bob_ratchet_secret = hash_of("entre ratchet vectors: bob ratchet secret");
  for (int i = 0; i < 3; ++i) {
    v.alice_keys.push_back(hash_of("entre ratchet vectors: alice key " + std::to_string(i)));
    v.bob_keys.push_back(hash_of("entre ratchet vectors: bob key " + std::to_string(i)));
  }
  const char senders[] = "aaabbabaaa";
  for (std::size_t i = 0; i < 10; ++i) {
    VectorMessage m;
    m.sender = senders[i];
    m.ad = i == 7 ? Bytes{} : bytes_of("entre conversation 1");
    m.plaintext = i == 7 ? Bytes{} : bytes_of("message " + std::to_string(i));
    v.messages.push_back(m);
  }
  v.call_id = bytes_of("call-0001");
  v.frames = {{0, 0, bytes_of("rtp"), bytes_of("frame zero"), {}},
              {0, 1, {}, bytes_of("frame one"), {}},
              {1, 7, bytes_of("rtp"), bytes_of("frame seven, other direction"), {}}};
  return v;
}

// Runs the script on `v`'s inputs and fills in every output field.
void compute_vectors(Vectors& v) {
  ListKeySource alice_source(v.alice_keys);
  ListKeySource bob_source(v.bob_keys);
  const Secret<32> shared_key = secret_from(v.shared_key);
  const Secret<32> bob_secret = secret_from(v.bob_ratchet_secret);
  std::array<uint8_t, 32> bob_public{};
  x25519_public(bob_secret, bob_public);
  RatchetState alice;
  RatchetState bob;
  ASSERT_TRUE(RatchetTestAccess::init_alice(shared_key, bob_public, &alice_source, alice).is_ok());
  ASSERT_TRUE(RatchetState::init_bob(shared_key, bob_secret, bob_public, bob).is_ok());
  RatchetTestAccess::set_key_source(bob, &bob_source);

  for (const ScriptStep& step : kScript) {
    ASSERT_LT(step.index, v.messages.size());
    VectorMessage& m = v.messages[step.index];
    RatchetState& sender = m.sender == 'a' ? alice : bob;
    RatchetState& receiver = m.sender == 'a' ? bob : alice;
    if (step.send) {
      m.wire.clear();
      sdk::VectorSink sink(m.wire);
      ASSERT_TRUE(sender.encrypt(m.ad, m.plaintext, sink).is_ok()) << step.index;
    } else {
      Bytes plaintext;
      sdk::VectorSink sink(plaintext);
      const sdk::Status status = receiver.decrypt(m.ad, m.wire, sink);
      ASSERT_TRUE(status.is_ok()) << step.index << ": " << status.text();
      EXPECT_EQ(plaintext, m.plaintext) << step.index;
    }
  }
  EXPECT_FALSE(alice_source.exhausted());
  EXPECT_FALSE(bob_source.exhausted());
  EXPECT_EQ(alice_source.used(), v.alice_keys.size());
  EXPECT_EQ(bob_source.used(), v.bob_keys.size());
  v.alice_state = serialized(alice);
  v.bob_state = serialized(bob);

  Secret<32> alice_media;
  Secret<32> bob_media;
  ASSERT_TRUE(alice.derive_media_key(v.call_id, alice_media).is_ok());
  ASSERT_TRUE(bob.derive_media_key(v.call_id, bob_media).is_ok());
  EXPECT_TRUE(equal_ct(alice_media.span(), bob_media.span()));
  v.media_key.assign(alice_media.data(), alice_media.data() + 32);
  MediaFrameCipher sealers[2];
  MediaFrameCipher openers[2];
  for (uint32_t direction = 0; direction < 2; ++direction) {
    ASSERT_TRUE(
        MediaFrameCipher::create(alice_media.span(), direction, sealers[direction]).is_ok());
    ASSERT_TRUE(MediaFrameCipher::create(bob_media.span(), direction, openers[direction]).is_ok());
  }
  for (VectorFrame& f : v.frames) {
    ASSERT_LT(f.direction, 2U);
    f.sealed.clear();
    sdk::VectorSink sink(f.sealed);
    ASSERT_TRUE(sealers[f.direction].seal(f.counter, f.ad, f.frame, sink).is_ok());
    Bytes opened;
    sdk::VectorSink open_sink(opened);
    ASSERT_TRUE(openers[f.direction].open(f.counter, f.ad, f.sealed, open_sink).is_ok());
    EXPECT_EQ(opened, f.frame);
  }
}

std::string vector_path() { return std::string(ENTRE_VECTOR_DIR) + "/ratchet/ratchet_vectors.txt"; }

void write_vectors(const Vectors& v, const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::trunc);
  out << "# Entre Double Ratchet and media cipher: frozen vectors (crypto-sodium, format 1).\n"
         "# Inputs (shared key, every ratchet key pair's secret in the order it is used,\n"
         "# associated data, plaintexts) and exact outputs, in hex ('-' is empty). The script\n"
         "# that delivers the messages is kScript in "
         "plugins/crypto-sodium/tests/ratchet_test.cpp.\n"
         "# Written by RatchetVectors.DISABLED_Regenerate; a change here is a change of the wire\n"
         "# or state format and must bump its version.\n";
  out << "shared_key " << to_hex(v.shared_key) << "\n";
  out << "bob_ratchet_secret " << to_hex(v.bob_ratchet_secret) << "\n";
  for (const Bytes& key : v.alice_keys) {
    out << "alice_key " << to_hex(key) << "\n";
  }
  for (const Bytes& key : v.bob_keys) {
    out << "bob_key " << to_hex(key) << "\n";
  }
  out << "# message <sender a|b> <ad> <plaintext> <header || ciphertext>\n";
  for (const VectorMessage& m : v.messages) {
    out << "message " << m.sender << " " << to_hex(m.ad) << " " << to_hex(m.plaintext) << " "
        << to_hex(m.wire) << "\n";
  }
  out << "alice_state " << to_hex(v.alice_state) << "\n";
  out << "bob_state " << to_hex(v.bob_state) << "\n";
  out << "call_id " << to_hex(v.call_id) << "\n";
  out << "media_key " << to_hex(v.media_key) << "\n";
  out << "# frame <direction> <counter> <ad> <frame> <sealed>\n";
  for (const VectorFrame& f : v.frames) {
    out << "frame " << f.direction << " " << f.counter << " " << to_hex(f.ad) << " "
        << to_hex(f.frame) << " " << to_hex(f.sealed) << "\n";
  }
}

bool read_vectors(const std::string& path, Vectors& v) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    std::string a, b, c, d, e;
    if (name == "shared_key" && fields >> a) {
      v.shared_key = from_hex(a);
    } else if (name == "bob_ratchet_secret" && fields >> a) {
      v.bob_ratchet_secret = from_hex(a);
    } else if (name == "alice_key" && fields >> a) {
      v.alice_keys.push_back(from_hex(a));
    } else if (name == "bob_key" && fields >> a) {
      v.bob_keys.push_back(from_hex(a));
    } else if (name == "message" && fields >> a >> b >> c >> d && a.size() == 1) {
      v.messages.push_back({a[0], from_hex(b), from_hex(c), from_hex(d)});
    } else if (name == "alice_state" && fields >> a) {
      v.alice_state = from_hex(a);
    } else if (name == "bob_state" && fields >> a) {
      v.bob_state = from_hex(a);
    } else if (name == "call_id" && fields >> a) {
      v.call_id = from_hex(a);
    } else if (name == "media_key" && fields >> a) {
      v.media_key = from_hex(a);
    } else if (name == "frame" && fields >> a >> b >> c >> d >> e) {
      v.frames.push_back({static_cast<uint32_t>(std::stoul(a)), std::stoull(b), from_hex(c),
                          from_hex(d), from_hex(e)});
    } else {
      ADD_FAILURE() << "unreadable vector line: " << line;
      return false;
    }
  }
  return true;
}

TEST(RatchetVectors, MatchFrozenFile) {
  Vectors expected;
  ASSERT_TRUE(read_vectors(vector_path(), expected));
  ASSERT_EQ(expected.messages.size(), 10U);
  ASSERT_EQ(expected.frames.size(), 3U);
  ASSERT_FALSE(expected.alice_state.empty());
  Vectors actual = expected; // same inputs; outputs recomputed
  compute_vectors(actual);
  for (std::size_t i = 0; i < expected.messages.size(); ++i) {
    EXPECT_EQ(to_hex(actual.messages[i].wire), to_hex(expected.messages[i].wire))
        << "message " << i;
  }
  EXPECT_EQ(to_hex(actual.alice_state), to_hex(expected.alice_state));
  EXPECT_EQ(to_hex(actual.bob_state), to_hex(expected.bob_state));
  EXPECT_EQ(to_hex(actual.media_key), to_hex(expected.media_key));
  for (std::size_t i = 0; i < expected.frames.size(); ++i) {
    EXPECT_EQ(to_hex(actual.frames[i].sealed), to_hex(expected.frames[i].sealed)) << "frame " << i;
  }
  // The frozen state loads and serialises back to itself.
  RatchetState restored;
  EXPECT_TRUE(RatchetState::deserialize(expected.bob_state, restored).is_ok());
  EXPECT_EQ(serialized(restored), expected.bob_state);
}

TEST(RatchetVectors, DISABLED_Regenerate) {
  Vectors v = vector_inputs();
  compute_vectors(v);
  ASSERT_FALSE(HasFailure());
  write_vectors(v, vector_path());
  std::cout << "wrote " << vector_path() << "\n";
}

// --- Fuzzer seeds --------------------------------------------------------------------------------

// Must match plugins/crypto-sodium/fuzz/ratchet_fuzz.cpp: the fixed responder of mode 2.
constexpr uint8_t kFuzzSharedKeyByte = 0x5a;
constexpr uint8_t kFuzzBobSecretByte = 0x42;

void write_seed(const std::filesystem::path& dir, const std::string& name, uint8_t mode,
                const Bytes& body) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.put(static_cast<char>(mode));
  out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
}

void append_message(Bytes& body, const Bytes& message) {
  body.push_back(static_cast<uint8_t>(message.size() >> 8));
  body.push_back(static_cast<uint8_t>(message.size()));
  body.insert(body.end(), message.begin(), message.end());
}

TEST(RatchetFuzzSeeds, DISABLED_Write) {
  const char* dir_env = std::getenv("ENTRE_RATCHET_CORPUS_DIR");
  ASSERT_NE(dir_env, nullptr) << "set ENTRE_RATCHET_CORPUS_DIR";
  const std::filesystem::path dir(dir_env);
  std::filesystem::create_directories(dir);

  Secret<32> shared_key;
  Secret<32> bob_secret;
  std::fill_n(shared_key.data(), 32, kFuzzSharedKeyByte);
  std::fill_n(bob_secret.data(), 32, kFuzzBobSecretByte);
  std::array<uint8_t, 32> bob_public{};
  x25519_public(bob_secret, bob_public);
  RatchetState alice;
  RatchetState bob;
  ASSERT_TRUE(RatchetState::init_alice(shared_key, bob_public, alice).is_ok());
  ASSERT_TRUE(RatchetState::init_bob(shared_key, bob_secret, bob_public, bob).is_ok());
  std::vector<Bytes> m;
  for (int i = 0; i < 4; ++i) {
    m.push_back(send(alice, "seed " + std::to_string(i), ""));
  }
  Bytes in_order;
  Bytes out_of_order;
  for (int i : {0, 1}) {
    append_message(in_order, m[static_cast<std::size_t>(i)]);
  }
  for (int i : {2, 0, 1}) {
    append_message(out_of_order, m[static_cast<std::size_t>(i)]);
  }
  write_seed(dir, "messages-in-order", 2, in_order);
  write_seed(dir, "messages-out-of-order", 2, out_of_order);
  write_seed(dir, "state-responder-waiting", 0, serialized(bob));

  ASSERT_TRUE(delivers(bob, m[2], "seed 2", ""));
  const Bytes state = serialized(bob); // active, holding the skipped keys of m[0] and m[1]
  write_seed(dir, "state-active", 0, state);
  write_seed(dir, "state-active-unchecksummed", 1,
             Bytes(state.begin(), state.end() - static_cast<std::ptrdiff_t>(kSha256Bytes)));
  Bytes with_messages;
  for (int shift = 24; shift >= 0; shift -= 8) {
    with_messages.push_back(static_cast<uint8_t>(state.size() >> shift));
  }
  with_messages.insert(with_messages.end(), state.begin(), state.end());
  for (int i : {1, 3, 0}) {
    append_message(with_messages, m[static_cast<std::size_t>(i)]);
  }
  write_seed(dir, "state-and-messages", 3, with_messages);
}

} // namespace
} // namespace entre::plugins::sodium
