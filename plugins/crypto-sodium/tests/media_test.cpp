// Media frame cipher tests: round trip, nonce layout, keys and directions kept apart, the replay
// window (checked against a simple model), and failures that leave the window unchanged.
#include "media.hpp"
#include "ratchet.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace entre::plugins::sodium {
namespace {

using sdk::StatusCode;

const bool kSodiumReady = init_sodium();

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

Secret<32> random_key() {
  Secret<32> key;
  std::array<uint8_t, 32> unused{};
  x25519_keypair(key, unused); // any 32 random bytes
  return key;
}

MediaFrameCipher cipher_for(const Secret<32>& key, uint32_t direction) {
  MediaFrameCipher cipher;
  const sdk::Status status = MediaFrameCipher::create(key.span(), direction, cipher);
  EXPECT_TRUE(status.is_ok()) << status.text();
  return cipher;
}

Bytes seal(MediaFrameCipher& cipher, uint64_t counter, std::string_view frame,
           std::string_view ad = "rtp") {
  Bytes out;
  sdk::VectorSink sink(out);
  const sdk::Status status = cipher.seal(counter, bytes_of(ad), bytes_of(frame), sink);
  EXPECT_TRUE(status.is_ok()) << status.text();
  return out;
}

struct Opened {
  sdk::Status status;
  std::string frame;
};

Opened open(MediaFrameCipher& cipher, uint64_t counter, const Bytes& sealed,
            std::string_view ad = "rtp") {
  Bytes out;
  sdk::VectorSink sink(out);
  Opened opened;
  opened.status = cipher.open(counter, bytes_of(ad), sealed, sink);
  opened.frame.assign(out.begin(), out.end());
  return opened;
}

TEST(MediaTest, SodiumInitialises) { ASSERT_TRUE(kSodiumReady); }

TEST(MediaTest, RoundTrip) {
  const Secret<32> key = random_key();
  MediaFrameCipher sender = cipher_for(key, 0);
  MediaFrameCipher receiver = cipher_for(key, 0);
  for (uint64_t counter = 0; counter < 50; ++counter) {
    const std::string frame = "opus frame " + std::to_string(counter);
    const Bytes sealed = seal(sender, counter, frame);
    EXPECT_EQ(sealed.size(), frame.size() + kAeadTagBytes);
    const Opened opened = open(receiver, counter, sealed);
    ASSERT_TRUE(opened.status.is_ok()) << opened.status.text();
    EXPECT_EQ(opened.frame, frame);
  }
  const Bytes empty = seal(sender, 50, "");
  EXPECT_TRUE(open(receiver, 50, empty).status.is_ok());
  // The associated data is authenticated.
  const Bytes sealed = seal(sender, 51, "frame", "header a");
  EXPECT_EQ(open(receiver, 51, sealed, "header b").status.code, StatusCode::kAuthFailed);
  EXPECT_TRUE(open(receiver, 51, sealed, "header a").status.is_ok());
}

TEST(MediaTest, NonceIsDirectionThenCounterLittleEndian) {
  const auto nonce = media_nonce(1, 0x0102030405060708ULL);
  const std::array<uint8_t, 12> expected = {1, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
  EXPECT_EQ(nonce, expected);

  const Secret<32> key = random_key();
  MediaFrameCipher sender = cipher_for(key, 1);
  const Bytes sealed = seal(sender, 0x0102030405060708ULL, "frame", "ad");
  Bytes reference;
  chacha_seal(key.data(), expected.data(), bytes_of("ad"), bytes_of("frame"), reference);
  EXPECT_EQ(sealed, reference);
}

TEST(MediaTest, WrongKeyOrOtherCallFailsAuthentication) {
  // Keys as a session derives them.
  Secret<32> shared_key = random_key();
  Secret<32> bob_secret;
  std::array<uint8_t, 32> bob_public{};
  x25519_keypair(bob_secret, bob_public);
  RatchetState alice;
  RatchetState bob;
  ASSERT_TRUE(RatchetState::init_alice(shared_key, bob_public, alice).is_ok());
  ASSERT_TRUE(RatchetState::init_bob(shared_key, bob_secret, bob_public, bob).is_ok());
  Secret<32> call_a_alice;
  Secret<32> call_a_bob;
  Secret<32> call_b_bob;
  ASSERT_TRUE(alice.derive_media_key(bytes_of("call a"), call_a_alice).is_ok());
  ASSERT_TRUE(bob.derive_media_key(bytes_of("call a"), call_a_bob).is_ok());
  ASSERT_TRUE(bob.derive_media_key(bytes_of("call b"), call_b_bob).is_ok());

  MediaFrameCipher sender = cipher_for(call_a_alice, 0);
  MediaFrameCipher same_call = cipher_for(call_a_bob, 0);
  MediaFrameCipher other_call = cipher_for(call_b_bob, 0);
  MediaFrameCipher other_key = cipher_for(random_key(), 0);
  const Bytes sealed = seal(sender, 9, "voice");
  EXPECT_EQ(open(other_call, 9, sealed).status.code, StatusCode::kAuthFailed);
  EXPECT_EQ(open(other_key, 9, sealed).status.code, StatusCode::kAuthFailed);
  const Opened opened = open(same_call, 9, sealed);
  ASSERT_TRUE(opened.status.is_ok());
  EXPECT_EQ(opened.frame, "voice");
  // Authentication comes before the window: a replay under the wrong key is an auth failure.
  EXPECT_EQ(open(same_call, 9, sealed).status.code, StatusCode::kOutOfRange);
  const Bytes forged = seal(other_key, 9, "voice");
  EXPECT_EQ(open(same_call, 9, forged).status.code, StatusCode::kAuthFailed);
}

TEST(MediaTest, DirectionsAreSeparate) {
  const Secret<32> key = random_key();
  MediaFrameCipher up = cipher_for(key, 0);
  MediaFrameCipher down = cipher_for(key, 1);
  MediaFrameCipher up_receiver = cipher_for(key, 0);
  MediaFrameCipher down_receiver = cipher_for(key, 1);
  const Bytes from_up = seal(up, 3, "same frame");
  const Bytes from_down = seal(down, 3, "same frame");
  EXPECT_NE(from_up, from_down); // same key, counter and frame; different nonce
  EXPECT_EQ(open(down_receiver, 3, from_up).status.code, StatusCode::kAuthFailed);
  EXPECT_EQ(open(up_receiver, 3, from_down).status.code, StatusCode::kAuthFailed);
  EXPECT_TRUE(open(up_receiver, 3, from_up).status.is_ok());
  EXPECT_TRUE(open(down_receiver, 3, from_down).status.is_ok());
}

TEST(MediaTest, ReplayIsRefused) {
  const Secret<32> key = random_key();
  MediaFrameCipher sender = cipher_for(key, 0);
  MediaFrameCipher receiver = cipher_for(key, 0);
  const Bytes f1 = seal(sender, 1, "one");
  const Bytes f2 = seal(sender, 2, "two");
  ASSERT_TRUE(open(receiver, 1, f1).status.is_ok());
  ASSERT_TRUE(open(receiver, 2, f2).status.is_ok());
  const Opened again = open(receiver, 2, f2);
  EXPECT_EQ(again.status.code, StatusCode::kOutOfRange);
  EXPECT_TRUE(again.frame.empty());
  EXPECT_EQ(open(receiver, 1, f1).status.code, StatusCode::kOutOfRange);
}

TEST(MediaTest, FramesOlderThanTheWindowAreRefused) {
  const Secret<32> key = random_key();
  MediaFrameCipher sender = cipher_for(key, 0);
  MediaFrameCipher receiver = cipher_for(key, 0);
  constexpr uint64_t kTop = 2000;
  const Bytes f0 = seal(sender, 0, "zero");
  const Bytes oldest_out = seal(sender, kTop - kMediaReplayWindowFrames, "just outside");
  const Bytes oldest_in = seal(sender, kTop - kMediaReplayWindowFrames + 1, "just inside");
  const Bytes top = seal(sender, kTop, "top");
  ASSERT_TRUE(open(receiver, kTop, top).status.is_ok());
  EXPECT_EQ(open(receiver, kTop - kMediaReplayWindowFrames, oldest_out).status.code,
            StatusCode::kOutOfRange);
  EXPECT_EQ(open(receiver, 0, f0).status.code, StatusCode::kOutOfRange);
  EXPECT_TRUE(open(receiver, kTop - kMediaReplayWindowFrames + 1, oldest_in).status.is_ok());
}

TEST(MediaTest, OutOfOrderWithinTheWindowIsAccepted) {
  const Secret<32> key = random_key();
  MediaFrameCipher sender = cipher_for(key, 0);
  MediaFrameCipher receiver = cipher_for(key, 0);
  std::vector<Bytes> frames;
  for (uint64_t counter = 0; counter < 300; ++counter) {
    frames.push_back(seal(sender, counter, "frame " + std::to_string(counter)));
  }
  std::vector<uint64_t> order(frames.size());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(0x0d3));
  for (const uint64_t counter : order) {
    const Opened opened = open(receiver, counter, frames[counter]);
    ASSERT_TRUE(opened.status.is_ok()) << counter << ": " << opened.status.text();
    EXPECT_EQ(opened.frame, "frame " + std::to_string(counter));
  }
  for (uint64_t counter = 0; counter < frames.size(); ++counter) {
    EXPECT_EQ(open(receiver, counter, frames[counter]).status.code, StatusCode::kOutOfRange);
  }
}

// The window against a model (a set of every counter accepted, and the highest): random walks
// with jumps of every size, including shifts that are not multiples of 64.
TEST(MediaTest, ReplayWindowMatchesModel) {
  const Secret<32> key = random_key();
  MediaFrameCipher sender = cipher_for(key, 0);
  MediaFrameCipher receiver = cipher_for(key, 0);
  constexpr uint64_t kFrames = 60000;
  std::vector<Bytes> frames;
  for (uint64_t counter = 0; counter < kFrames; ++counter) {
    frames.push_back(seal(sender, counter, "f"));
  }
  std::set<uint64_t> seen;
  uint64_t highest = 0;
  int refused = 0;
  std::mt19937_64 rng(0x3a1d0);
  std::uniform_int_distribution<int64_t> step(-1300, 40);
  std::uniform_int_distribution<int64_t> jump(1, 1500);
  for (int i = 0; i < 10000; ++i) {
    const int64_t wanted =
        static_cast<int64_t>(highest) + (rng() % 200 == 0 ? jump(rng) : step(rng));
    const auto counter =
        static_cast<uint64_t>(std::clamp<int64_t>(wanted, 0, static_cast<int64_t>(kFrames) - 1));
    const bool fresh = seen.empty() || counter > highest ||
                       (highest - counter < kMediaReplayWindowFrames && !seen.contains(counter));
    const sdk::Status status = open(receiver, counter, frames[counter]).status;
    if (fresh) {
      ASSERT_TRUE(status.is_ok()) << "step " << i << " counter " << counter << " highest "
                                  << highest << ": " << status.text();
      seen.insert(counter);
      highest = std::max(highest, counter);
    } else {
      ASSERT_EQ(status.code, StatusCode::kOutOfRange) << "step " << i << " counter " << counter;
      ++refused;
    }
  }
  // Both outcomes were exercised many times, and the walk did not just stop at the end.
  EXPECT_GT(seen.size(), 5000U);
  EXPECT_GT(refused, 2000);
  EXPECT_LT(highest, kFrames - 1);
}

TEST(MediaTest, FailuresLeaveTheWindowUnchanged) {
  const Secret<32> key = random_key();
  MediaFrameCipher sender = cipher_for(key, 0);
  MediaFrameCipher receiver = cipher_for(key, 0);
  const Bytes f3 = seal(sender, 3, "three");
  // A forged frame far ahead must not move the window (else frame 3 would be "too old").
  Bytes forged = seal(sender, 5000, "forged");
  forged.back() ^= 1;
  EXPECT_EQ(open(receiver, 5000, forged).status.code, StatusCode::kAuthFailed);
  // A frame the caller's sink refused is not marked as seen.
  Bytes none;
  sdk::VectorSink refusing(none, 0);
  EXPECT_EQ(receiver.open(3, bytes_of("rtp"), f3, refusing).code, StatusCode::kBufferTooSmall);
  const Opened opened = open(receiver, 3, f3);
  ASSERT_TRUE(opened.status.is_ok()) << opened.status.text();
  EXPECT_EQ(opened.frame, "three");
}

TEST(MediaTest, SealRefusesACounterThatDoesNotIncrease) {
  MediaFrameCipher sender = cipher_for(random_key(), 0);
  (void)seal(sender, 5, "five");
  Bytes out;
  sdk::VectorSink sink(out);
  EXPECT_EQ(sender.seal(5, {}, bytes_of("again"), sink).code, StatusCode::kOutOfRange);
  EXPECT_EQ(sender.seal(4, {}, bytes_of("back"), sink).code, StatusCode::kOutOfRange);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(sender.seal(6, {}, bytes_of("six"), sink).is_ok());
}

TEST(MediaTest, ArgumentsAndSizesAreChecked) {
  MediaFrameCipher cipher;
  EXPECT_FALSE(cipher.ready());
  const Bytes short_key(31, 1);
  EXPECT_EQ(MediaFrameCipher::create(short_key, 0, cipher).code, StatusCode::kInvalidArgument);
  const Bytes key(32, 1);
  EXPECT_EQ(MediaFrameCipher::create(key, 2, cipher).code, StatusCode::kInvalidArgument);
  EXPECT_FALSE(cipher.ready());
  Bytes out;
  sdk::VectorSink sink(out);
  EXPECT_EQ(cipher.seal(0, {}, bytes_of("x"), sink).code, StatusCode::kInvalidArgument);
  EXPECT_EQ(cipher.open(0, {}, Bytes(20, 0), sink).code, StatusCode::kInvalidArgument);

  ASSERT_TRUE(MediaFrameCipher::create(key, 1, cipher).is_ok());
  EXPECT_TRUE(cipher.ready());
  EXPECT_EQ(cipher.direction(), 1U);
  EXPECT_EQ(cipher.seal(0, {}, Bytes(kMediaMaxFrameBytes + 1, 0), sink).code,
            StatusCode::kOutOfRange);
  EXPECT_EQ(cipher.seal(0, Bytes(kMediaMaxAdBytes + 1, 0), {}, sink).code, StatusCode::kOutOfRange);
  EXPECT_EQ(cipher.open(0, {}, Bytes(kAeadTagBytes - 1, 0), sink).code, StatusCode::kCorrupt);
  EXPECT_EQ(cipher.open(0, {}, Bytes(kMediaMaxFrameBytes + kAeadTagBytes + 1, 0), sink).code,
            StatusCode::kOutOfRange);
  EXPECT_TRUE(out.empty());
  cipher.wipe();
  EXPECT_FALSE(cipher.ready());
  EXPECT_EQ(cipher.seal(1, {}, bytes_of("x"), sink).code, StatusCode::kInvalidArgument);
}

} // namespace
} // namespace entre::plugins::sodium
