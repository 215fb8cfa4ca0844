// Noise handshakes: the cacophony known answers for our 22 protocols, then behaviour under
// tampering, truncation, misuse, hostile keys and random two-party runs.
#include "noise.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace entre::plugins::sodium {
namespace {

using sdk::HandshakePattern;
using sdk::HandshakeRole;

constexpr std::array kPatterns{
    HandshakePattern::kNN, HandshakePattern::kNNpsk0, HandshakePattern::kNNpsk2,
    HandshakePattern::kKK, HandshakePattern::kKKpsk0, HandshakePattern::kKKpsk2,
    HandshakePattern::kIK, HandshakePattern::kIKpsk1, HandshakePattern::kIKpsk2,
    HandshakePattern::kXX, HandshakePattern::kXXpsk3,
};
constexpr std::array kHashes{NoiseHash::kSha256, NoiseHash::kBlake2b};

// --- Helpers -------------------------------------------------------------------------------------

Bytes from_hex(std::string_view hex) {
  Bytes out(hex.size() / 2);
  size_t written = 0;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &written, nullptr) !=
          0 ||
      written != out.size() || hex.size() % 2 != 0) {
    ADD_FAILURE() << "bad hex: " << hex;
    return {};
  }
  return out;
}

std::string to_hex(ByteSpan bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes.data(), bytes.size());
  out.pop_back();
  return out;
}

Secret<32> secret_from(ByteSpan bytes) {
  Secret<32> secret;
  EXPECT_EQ(bytes.size(), 32u);
  std::copy_n(bytes.begin(), std::min<size_t>(bytes.size(), 32), secret.data());
  return secret;
}

NoisePublicKey public_from(ByteSpan bytes) {
  NoisePublicKey key{};
  EXPECT_EQ(bytes.size(), 32u);
  std::copy_n(bytes.begin(), std::min<size_t>(bytes.size(), 32), key.begin());
  return key;
}

Bytes random_bytes(size_t n) {
  Bytes out(n);
  if (n > 0) {
    randombytes_buf(out.data(), out.size()); // declared nonnull
  }
  return out;
}

Bytes to_bytes(std::string_view text) { return {text.begin(), text.end()}; }

bool has_statics(HandshakePattern p) {
  const std::string_view name = noise_pattern_name(p);
  return name.starts_with("KK") || name.starts_with("IK") || name.starts_with("XX");
}
bool initiator_knows_responder(HandshakePattern p) {
  const std::string_view name = noise_pattern_name(p);
  return name.starts_with("KK") || name.starts_with("IK");
}
bool responder_knows_initiator(HandshakePattern p) {
  return noise_pattern_name(p).starts_with("KK");
}
bool has_psk(HandshakePattern p) {
  return noise_pattern_name(p).find("psk") != std::string_view::npos;
}

// Long-term keys of both parties, and fixed ephemerals for reproducible transcripts.
struct Keys {
  Secret<32> initiator_static;
  Secret<32> responder_static;
  NoisePublicKey initiator_public{};
  NoisePublicKey responder_public{};
  Secret<32> psk;
  Secret<32> initiator_ephemeral;
  Secret<32> responder_ephemeral;

  Keys() {
    x25519_keypair(initiator_static, initiator_public);
    x25519_keypair(responder_static, responder_public);
    randombytes_buf(psk.data(), psk.size());
    randombytes_buf(initiator_ephemeral.data(), 32);
    randombytes_buf(responder_ephemeral.data(), 32);
  }
};

HandshakeConfig make_config(HandshakePattern pattern, NoiseHash hash, HandshakeRole role,
                            const Keys& keys, ByteSpan prologue) {
  const bool initiator = role == HandshakeRole::kInitiator;
  HandshakeConfig config;
  config.pattern = pattern;
  config.role = role;
  config.hash = hash;
  config.prologue = prologue;
  if (has_statics(pattern)) {
    config.static_secret = initiator ? keys.initiator_static : keys.responder_static;
  }
  if (initiator && initiator_knows_responder(pattern)) {
    config.remote_static = keys.responder_public;
  }
  if (!initiator && responder_knows_initiator(pattern)) {
    config.remote_static = keys.initiator_public;
  }
  if (has_psk(pattern)) {
    config.psk = keys.psk;
  }
  return config;
}

struct Pair {
  std::unique_ptr<NoiseHandshake> initiator;
  std::unique_ptr<NoiseHandshake> responder;
};

const Bytes kPrologue = to_bytes("entre noise test v1");

// Both parties of one handshake. With `fixed`, the ephemerals come from `keys`, so the same keys
// give the same transcript every time.
Pair make_pair(HandshakePattern pattern, NoiseHash hash, const Keys& keys, bool fixed,
               ByteSpan initiator_prologue = kPrologue, ByteSpan responder_prologue = kPrologue) {
  Pair pair;
  const HandshakeConfig ic =
      make_config(pattern, hash, HandshakeRole::kInitiator, keys, initiator_prologue);
  const HandshakeConfig rc =
      make_config(pattern, hash, HandshakeRole::kResponder, keys, responder_prologue);
  if (fixed) {
    pair.initiator = std::make_unique<NoiseHandshake>(
        ic, HandshakeTestHooks{.fixed_ephemeral = keys.initiator_ephemeral});
    pair.responder = std::make_unique<NoiseHandshake>(
        rc, HandshakeTestHooks{.fixed_ephemeral = keys.responder_ephemeral});
  } else {
    pair.initiator = std::make_unique<NoiseHandshake>(ic);
    pair.responder = std::make_unique<NoiseHandshake>(rc);
  }
  EXPECT_EQ(pair.initiator->status(), NoiseStatus::kWriteMessage)
      << pair.initiator->last_error().reason;
  EXPECT_EQ(pair.responder->status(), NoiseStatus::kReadMessage)
      << pair.responder->last_error().reason;
  return pair;
}

Bytes payload_for(size_t index) { return to_bytes("payload #" + std::to_string(index)); }

// The result of driving a handshake to its end.
struct Outcome {
  int failed_at = -1; // index of the message whose write or read failed; -1 if none did
  bool failed_on_read = false;
  NoiseError error = NoiseError::kNone;
  std::vector<Bytes> messages; // as written, before tampering
};

using Tamper = std::function<void(size_t index, Bytes& message)>;

// Runs the handshake turn by turn; `tamper` sees every message between write and read.
Outcome run(Pair& pair, const Tamper& tamper = {}) {
  Outcome outcome;
  for (size_t i = 0; i < 8; ++i) {
    NoiseHandshake& writer = i % 2 == 0 ? *pair.initiator : *pair.responder;
    NoiseHandshake& reader = i % 2 == 0 ? *pair.responder : *pair.initiator;
    if (writer.status() == NoiseStatus::kComplete && reader.status() == NoiseStatus::kComplete) {
      break;
    }
    Bytes message;
    NoiseResult result = writer.write_message(payload_for(i), message);
    if (!result.ok()) {
      outcome.failed_at = static_cast<int>(i);
      outcome.error = result.error;
      break;
    }
    outcome.messages.push_back(message);
    if (tamper) {
      tamper(i, message);
    }
    Bytes payload;
    result = reader.read_message(message, payload);
    if (!result.ok()) {
      outcome.failed_at = static_cast<int>(i);
      outcome.failed_on_read = true;
      outcome.error = result.error;
      EXPECT_TRUE(payload.empty());
      break;
    }
    if (message == outcome.messages.back()) {
      EXPECT_EQ(payload, payload_for(i)) << "message " << i;
    }
  }
  return outcome;
}

bool both_complete(const Pair& pair) {
  return pair.initiator->status() == NoiseStatus::kComplete &&
         pair.responder->status() == NoiseStatus::kComplete;
}

std::string describe(HandshakePattern pattern, NoiseHash hash) {
  return noise_protocol_name(pattern, hash);
}

class Noise : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(init_sodium()); }
};

// --- Known answers -------------------------------------------------------------------------------

// Runs one cacophony vector; returns the number of messages checked (handshake and transport).
size_t check_vector(const nlohmann::json& v, HandshakePattern pattern, NoiseHash hash) {
  const auto bytes = [&](const char* key) { return from_hex(v.at(key).get<std::string>()); };
  const Bytes init_prologue = bytes("init_prologue");
  const Bytes resp_prologue = bytes("resp_prologue");

  HandshakeConfig ic;
  ic.pattern = pattern;
  ic.role = HandshakeRole::kInitiator;
  ic.hash = hash;
  ic.prologue = init_prologue;
  HandshakeConfig rc = ic;
  rc.role = HandshakeRole::kResponder;
  rc.prologue = resp_prologue;
  if (v.contains("init_static")) {
    ic.static_secret = secret_from(bytes("init_static"));
  }
  if (v.contains("resp_static")) {
    rc.static_secret = secret_from(bytes("resp_static"));
  }
  if (v.contains("init_remote_static")) {
    ic.remote_static = public_from(bytes("init_remote_static"));
  }
  if (v.contains("resp_remote_static")) {
    rc.remote_static = public_from(bytes("resp_remote_static"));
  }
  if (v.contains("init_psks")) {
    EXPECT_EQ(v.at("init_psks").size(), 1u);
    ic.psk = secret_from(from_hex(v.at("init_psks").at(0).get<std::string>()));
  }
  if (v.contains("resp_psks")) {
    EXPECT_EQ(v.at("resp_psks").size(), 1u);
    rc.psk = secret_from(from_hex(v.at("resp_psks").at(0).get<std::string>()));
  }
  NoiseHandshake initiator(
      ic, HandshakeTestHooks{.fixed_ephemeral = secret_from(bytes("init_ephemeral"))});
  NoiseHandshake responder(
      rc, HandshakeTestHooks{.fixed_ephemeral = secret_from(bytes("resp_ephemeral"))});
  EXPECT_EQ(initiator.status(), NoiseStatus::kWriteMessage) << initiator.last_error().reason;
  EXPECT_EQ(responder.status(), NoiseStatus::kReadMessage) << responder.last_error().reason;
  EXPECT_EQ(initiator.protocol_name(), v.at("protocol_name").get<std::string>());

  const nlohmann::json& messages = v.at("messages");
  size_t checked = 0;
  size_t i = 0;
  // Handshake messages alternate initiator, responder, ...
  for (; i < messages.size(); ++i) {
    if (initiator.status() == NoiseStatus::kComplete &&
        responder.status() == NoiseStatus::kComplete) {
      break;
    }
    NoiseHandshake& writer = i % 2 == 0 ? initiator : responder;
    NoiseHandshake& reader = i % 2 == 0 ? responder : initiator;
    const Bytes payload = from_hex(messages[i].at("payload").get<std::string>());
    const std::string expected = messages[i].at("ciphertext").get<std::string>();
    Bytes message;
    const NoiseResult written = writer.write_message(payload, message);
    if (!written.ok()) {
      ADD_FAILURE() << "handshake message " << i << ": write failed: " << written.reason;
      return checked;
    }
    EXPECT_EQ(to_hex(message), expected) << "handshake message " << i;
    Bytes read;
    const NoiseResult result = reader.read_message(message, read);
    if (!result.ok()) {
      ADD_FAILURE() << "handshake message " << i << ": read failed: " << result.reason;
      return checked;
    }
    EXPECT_EQ(read, payload) << "handshake message " << i;
    ++checked;
  }
  if (initiator.status() != NoiseStatus::kComplete ||
      responder.status() != NoiseStatus::kComplete) {
    ADD_FAILURE() << "the handshake did not complete";
    return checked;
  }
  const std::string expected_hash = v.at("handshake_hash").get<std::string>();
  EXPECT_EQ(to_hex(initiator.handshake_hash()), expected_hash);
  EXPECT_EQ(to_hex(responder.handshake_hash()), expected_hash);

  // Transport: the initiator sends with the first CipherState, the responder with the second,
  // still alternating.
  std::optional<TransportCiphers> ini = initiator.split();
  std::optional<TransportCiphers> res = responder.split();
  if (!ini || !res) {
    ADD_FAILURE() << "split failed";
    return checked;
  }
  for (; i < messages.size(); ++i) {
    CipherState& sender = i % 2 == 0 ? ini->send : res->send;
    CipherState& receiver = i % 2 == 0 ? res->receive : ini->receive;
    const Bytes payload = from_hex(messages[i].at("payload").get<std::string>());
    Bytes sealed;
    EXPECT_TRUE(sender.encrypt_with_ad({}, payload, sealed).ok());
    EXPECT_EQ(to_hex(sealed), messages[i].at("ciphertext").get<std::string>())
        << "transport message " << i;
    Bytes opened;
    EXPECT_TRUE(receiver.decrypt_with_ad({}, sealed, opened).ok()) << "transport message " << i;
    EXPECT_EQ(opened, payload) << "transport message " << i;
    ++checked;
  }
  return checked;
}

TEST_F(Noise, CacophonyVectors) {
  std::ifstream file(std::string(ENTRE_VECTOR_DIR) + "/noise/cacophony.txt");
  ASSERT_TRUE(file.good()) << "cannot open " << ENTRE_VECTOR_DIR << "/noise/cacophony.txt";
  const nlohmann::json root = nlohmann::json::parse(file);

  size_t vectors = 0;
  size_t messages = 0;
  for (const nlohmann::json& v : root.at("vectors")) {
    const std::string name = v.at("protocol_name").get<std::string>();
    for (const HandshakePattern pattern : kPatterns) {
      for (const NoiseHash hash : kHashes) {
        if (name != noise_protocol_name(pattern, hash)) {
          continue;
        }
        SCOPED_TRACE(name);
        ++vectors;
        messages += check_vector(v, pattern, hash);
      }
    }
  }
  EXPECT_EQ(vectors, 22u);
  EXPECT_EQ(messages, 132u);
}

TEST_F(Noise, ProtocolNames) {
  EXPECT_EQ(noise_protocol_name(HandshakePattern::kIKpsk2, NoiseHash::kBlake2b),
            "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b");
  EXPECT_EQ(noise_protocol_name(HandshakePattern::kNN, NoiseHash::kSha256),
            "Noise_NN_25519_ChaChaPoly_SHA256");
  EXPECT_EQ(noise_protocol_name(static_cast<HandshakePattern>(99), NoiseHash::kSha256), "");
}

// --- Two-party runs ------------------------------------------------------------------------------

TEST_F(Noise, RandomKeysEveryPatternAndHash) {
  for (const HandshakePattern pattern : kPatterns) {
    for (const NoiseHash hash : kHashes) {
      SCOPED_TRACE(describe(pattern, hash));
      const Keys keys;
      Pair pair = make_pair(pattern, hash, keys, /*fixed=*/false);
      ASSERT_FALSE(pair.initiator->split().has_value()); // not before completion
      EXPECT_TRUE(pair.initiator->handshake_hash().empty());
      const Outcome outcome = run(pair);
      ASSERT_EQ(outcome.failed_at, -1) << noise_error_name(outcome.error);
      ASSERT_TRUE(both_complete(pair));
      NoiseHandshake& ini = *pair.initiator;
      NoiseHandshake& res = *pair.responder;

      const size_t hash_bytes = hash == NoiseHash::kSha256 ? 32 : 64;
      ASSERT_EQ(ini.handshake_hash().size(), hash_bytes);
      EXPECT_EQ(to_hex(ini.handshake_hash()), to_hex(res.handshake_hash()));
      ASSERT_EQ(ini.chaining_key().size(), hash_bytes);
      EXPECT_EQ(to_hex(ini.chaining_key()), to_hex(res.chaining_key()));

      // Ephemerals as the ratchet sees them.
      ASSERT_TRUE(ini.remote_ephemeral().has_value());
      ASSERT_TRUE(res.remote_ephemeral().has_value());
      EXPECT_EQ(*ini.remote_ephemeral(), res.local_ephemeral_public());
      EXPECT_EQ(*res.remote_ephemeral(), ini.local_ephemeral_public());
      NoisePublicKey derived{};
      x25519_public(ini.local_ephemeral_secret(), derived);
      EXPECT_EQ(derived, ini.local_ephemeral_public());

      if (has_statics(pattern)) {
        ASSERT_TRUE(ini.remote_static().has_value());
        ASSERT_TRUE(res.remote_static().has_value());
        EXPECT_EQ(*ini.remote_static(), keys.responder_public);
        EXPECT_EQ(*res.remote_static(), keys.initiator_public);
      } else {
        EXPECT_FALSE(ini.remote_static().has_value());
        EXPECT_FALSE(res.remote_static().has_value());
      }

      std::optional<TransportCiphers> a = ini.split();
      std::optional<TransportCiphers> b = res.split();
      ASSERT_TRUE(a && b);
      const Bytes ad = to_bytes("ad");
      for (int round = 0; round < 3; ++round) {
        for (int direction = 0; direction < 2; ++direction) {
          CipherState& send = direction == 0 ? a->send : b->send;
          CipherState& receive = direction == 0 ? b->receive : a->receive;
          const Bytes plain = random_bytes(static_cast<size_t>(round * 100 + direction));
          Bytes sealed;
          ASSERT_TRUE(send.encrypt_with_ad(ad, plain, sealed).ok());
          EXPECT_EQ(sealed.size(), plain.size() + kNoiseTagBytes);
          Bytes forged = sealed;
          forged[0] ^= 1;
          Bytes opened;
          EXPECT_EQ(receive.decrypt_with_ad(ad, forged, opened).error, NoiseError::kAuthFailed);
          EXPECT_TRUE(opened.empty());
          ASSERT_TRUE(receive.decrypt_with_ad(ad, sealed, opened).ok()); // nonce did not move
          EXPECT_EQ(opened, plain);
        }
      }
      // The two directions use different keys.
      EXPECT_NE(to_hex(a->send.key().span()), to_hex(a->receive.key().span()));
    }
  }
}

TEST_F(Noise, FreshEphemeralsGiveFreshTranscripts) {
  const Keys keys;
  Pair first = make_pair(HandshakePattern::kIK, NoiseHash::kBlake2b, keys, false);
  Pair second = make_pair(HandshakePattern::kIK, NoiseHash::kBlake2b, keys, false);
  ASSERT_EQ(run(first).failed_at, -1);
  ASSERT_EQ(run(second).failed_at, -1);
  EXPECT_NE(to_hex(first.initiator->handshake_hash()), to_hex(second.initiator->handshake_hash()));
}

// --- Tampering -----------------------------------------------------------------------------------

// A message without a tag (the first message of NN, NNpsk2, XX, XXpsk3) cannot be authenticated
// by its reader; the change must then fail the next read.
bool failed_in_time(const Outcome& outcome, size_t target, const Bytes& original) {
  const bool authenticated = original.size() != kNoiseDhBytes + payload_for(target).size();
  if (!outcome.failed_on_read) {
    return false;
  }
  return outcome.failed_at == static_cast<int>(target) ||
         (!authenticated && outcome.failed_at == static_cast<int>(target) + 1);
}

TEST_F(Noise, BitFlipsFailTheHandshake) {
  size_t cases = 0;
  for (const HandshakePattern pattern : kPatterns) {
    for (const NoiseHash hash : kHashes) {
      SCOPED_TRACE(describe(pattern, hash));
      const Keys keys;
      Pair honest = make_pair(pattern, hash, keys, true);
      const Outcome reference = run(honest);
      ASSERT_EQ(reference.failed_at, -1);
      for (size_t target = 0; target < reference.messages.size(); ++target) {
        const Bytes& original = reference.messages[target];
        for (size_t byte = 0; byte < original.size(); ++byte) {
          const auto bit = static_cast<uint8_t>(1u << ((byte + target) % 8));
          Pair pair = make_pair(pattern, hash, keys, true);
          const Outcome outcome = run(pair, [&](size_t index, Bytes& message) {
            if (index == target) {
              ASSERT_EQ(message, original); // the fixed ephemerals reproduce the transcript
              message[byte] ^= bit;
            }
          });
          ++cases;
          EXPECT_FALSE(both_complete(pair)) << "message " << target << " byte " << byte;
          EXPECT_TRUE(failed_in_time(outcome, target, original))
              << "message " << target << " byte " << byte << " failed at " << outcome.failed_at;
          const NoiseHandshake& victim =
              outcome.failed_at % 2 == 0 ? *pair.responder : *pair.initiator;
          EXPECT_EQ(victim.status(), NoiseStatus::kFailed);
          EXPECT_FALSE(victim.last_error().reason.empty());
        }
      }
    }
  }
  EXPECT_GT(cases, 22u * 100u);
}

TEST_F(Noise, EveryBitOfIkIsCovered) {
  const Keys keys;
  Pair honest = make_pair(HandshakePattern::kIK, NoiseHash::kSha256, keys, true);
  const Outcome reference = run(honest);
  ASSERT_EQ(reference.failed_at, -1);
  for (size_t target = 0; target < reference.messages.size(); ++target) {
    for (size_t bit = 0; bit < reference.messages[target].size() * 8; ++bit) {
      Pair pair = make_pair(HandshakePattern::kIK, NoiseHash::kSha256, keys, true);
      const Outcome outcome = run(pair, [&](size_t index, Bytes& message) {
        if (index == target) {
          message[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        }
      });
      // Both IK messages are authenticated: the reader of the flipped message fails.
      EXPECT_EQ(outcome.failed_at, static_cast<int>(target)) << "bit " << bit;
      EXPECT_TRUE(outcome.failed_on_read);
      EXPECT_TRUE(outcome.error == NoiseError::kAuthFailed ||
                  outcome.error == NoiseError::kLowOrderPoint)
          << noise_error_name(outcome.error);
    }
  }
}

TEST_F(Noise, TruncationAtEveryLengthFailsCleanly) {
  size_t cases = 0;
  for (const HandshakePattern pattern : kPatterns) {
    for (const NoiseHash hash : kHashes) {
      SCOPED_TRACE(describe(pattern, hash));
      const Keys keys;
      Pair honest = make_pair(pattern, hash, keys, true);
      const Outcome reference = run(honest);
      ASSERT_EQ(reference.failed_at, -1);
      for (size_t target = 0; target < reference.messages.size(); ++target) {
        const Bytes& original = reference.messages[target];
        for (size_t length = 0; length < original.size(); ++length) {
          Pair pair = make_pair(pattern, hash, keys, true);
          const Outcome outcome = run(pair, [&](size_t index, Bytes& message) {
            if (index == target) {
              message.resize(length);
            }
          });
          ++cases;
          EXPECT_FALSE(both_complete(pair));
          EXPECT_TRUE(failed_in_time(outcome, target, original))
              << "message " << target << " cut to " << length;
          if (outcome.failed_at == static_cast<int>(target)) {
            EXPECT_TRUE(outcome.error == NoiseError::kTruncated ||
                        outcome.error == NoiseError::kAuthFailed)
                << noise_error_name(outcome.error);
          } else {
            EXPECT_GE(length, kNoiseDhBytes); // shorter than `e`: must fail at once
          }
          NoiseHandshake& victim = outcome.failed_at % 2 == 0 ? *pair.responder : *pair.initiator;
          EXPECT_EQ(victim.status(), NoiseStatus::kFailed);
          // Every later call is refused.
          Bytes out;
          EXPECT_EQ(victim.read_message(original, out).error, NoiseError::kAlreadyFailed);
          EXPECT_EQ(victim.write_message({}, out).error, NoiseError::kAlreadyFailed);
          EXPECT_TRUE(out.empty());
        }
      }
    }
  }
  EXPECT_GT(cases, 22u * 100u);
}

TEST_F(Noise, TrailingBytesFailAuthenticatedMessages) {
  const Keys keys;
  Pair pair = make_pair(HandshakePattern::kXX, NoiseHash::kBlake2b, keys, true);
  const Outcome outcome = run(pair, [](size_t index, Bytes& message) {
    if (index == 1) {
      message.push_back(0);
    }
  });
  EXPECT_EQ(outcome.failed_at, 1);
  EXPECT_EQ(outcome.error, NoiseError::kAuthFailed);
}

TEST_F(Noise, PrologueMismatchFails) {
  const Bytes other = to_bytes("entre noise test v2");
  for (const HandshakePattern pattern : kPatterns) {
    for (const NoiseHash hash : kHashes) {
      SCOPED_TRACE(describe(pattern, hash));
      const Keys keys;
      Pair pair = make_pair(pattern, hash, keys, false, kPrologue, other);
      const Outcome outcome = run(pair);
      EXPECT_GE(outcome.failed_at, 0);
      EXPECT_TRUE(outcome.failed_on_read);
      EXPECT_EQ(outcome.error, NoiseError::kAuthFailed);
      EXPECT_FALSE(both_complete(pair));
      EXPECT_FALSE(pair.initiator->status() == NoiseStatus::kComplete);
    }
  }
}

TEST_F(Noise, PskMismatchFails) {
  for (const HandshakePattern pattern : kPatterns) {
    if (!has_psk(pattern)) {
      continue;
    }
    SCOPED_TRACE(describe(pattern, NoiseHash::kSha256));
    const Keys keys;
    HandshakeConfig ic =
        make_config(pattern, NoiseHash::kSha256, HandshakeRole::kInitiator, keys, kPrologue);
    ic.psk->data()[0] ^= 1;
    Pair pair;
    pair.initiator = std::make_unique<NoiseHandshake>(ic);
    pair.responder = std::make_unique<NoiseHandshake>(
        make_config(pattern, NoiseHash::kSha256, HandshakeRole::kResponder, keys, kPrologue));
    const Outcome outcome = run(pair);
    EXPECT_GE(outcome.failed_at, 0);
    EXPECT_EQ(outcome.error, NoiseError::kAuthFailed);
    EXPECT_FALSE(both_complete(pair));
  }
}

TEST_F(Noise, IkWithTheWrongResponderKeyFails) {
  for (const NoiseHash hash : kHashes) {
    const Keys keys;
    const Keys stranger;
    HandshakeConfig ic =
        make_config(HandshakePattern::kIK, hash, HandshakeRole::kInitiator, keys, kPrologue);
    ic.remote_static = stranger.responder_public;
    Pair pair;
    pair.initiator = std::make_unique<NoiseHandshake>(ic);
    pair.responder = std::make_unique<NoiseHandshake>(
        make_config(HandshakePattern::kIK, hash, HandshakeRole::kResponder, keys, kPrologue));
    const Outcome outcome = run(pair);
    EXPECT_EQ(outcome.failed_at, 0);
    EXPECT_TRUE(outcome.failed_on_read);
    EXPECT_EQ(outcome.error, NoiseError::kAuthFailed);
    EXPECT_EQ(pair.responder->status(), NoiseStatus::kFailed);
  }
}

TEST_F(Noise, KkWithTheWrongInitiatorKeyFails) {
  const Keys keys;
  const Keys stranger;
  HandshakeConfig rc = make_config(HandshakePattern::kKK, NoiseHash::kSha256,
                                   HandshakeRole::kResponder, keys, kPrologue);
  rc.remote_static = stranger.initiator_public;
  Pair pair;
  pair.initiator = std::make_unique<NoiseHandshake>(make_config(
      HandshakePattern::kKK, NoiseHash::kSha256, HandshakeRole::kInitiator, keys, kPrologue));
  pair.responder = std::make_unique<NoiseHandshake>(rc);
  const Outcome outcome = run(pair);
  EXPECT_EQ(outcome.failed_at, 0);
  EXPECT_EQ(outcome.error, NoiseError::kAuthFailed);
}

// --- Hostile keys --------------------------------------------------------------------------------

// The X25519 points of small order (libsodium's blocklist), and the same with bit 255 set, which
// X25519 ignores.
std::vector<NoisePublicKey> low_order_points() {
  const char* const hex[] = {
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
      "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  std::vector<NoisePublicKey> points;
  for (const char* h : hex) {
    NoisePublicKey p = public_from(from_hex(h));
    points.push_back(p);
    p[31] |= 0x80;
    points.push_back(p);
  }
  return points;
}

TEST_F(Noise, LowOrderEphemeralIsAHardFailure) {
  const std::vector<NoisePublicKey> points = low_order_points();
  ASSERT_EQ(points.size(), 14u);
  for (const HandshakePattern pattern : kPatterns) {
    for (const NoisePublicKey& point : points) {
      for (size_t target = 0; target < 2; ++target) { // the initiator's e, then the responder's
        SCOPED_TRACE(describe(pattern, NoiseHash::kBlake2b) + " e of message " +
                     std::to_string(target) + " = " + to_hex(point));
        const Keys keys;
        Pair pair = make_pair(pattern, NoiseHash::kBlake2b, keys, false);
        size_t replaced = 0;
        const Outcome outcome = run(pair, [&](size_t index, Bytes& message) {
          if (index == target) {
            // `e` is the first token of messages 0 and 1 in every pattern but psk0's, where it
            // follows the psk token (which writes no bytes).
            std::copy(point.begin(), point.end(), message.begin());
            ++replaced;
          }
        });
        ASSERT_EQ(replaced, 1u);
        EXPECT_EQ(outcome.failed_at, static_cast<int>(target));
        EXPECT_TRUE(outcome.failed_on_read);
        EXPECT_EQ(outcome.error, NoiseError::kLowOrderPoint);
        const NoiseHandshake& victim = target == 0 ? *pair.responder : *pair.initiator;
        EXPECT_EQ(victim.status(), NoiseStatus::kFailed);
        EXPECT_FALSE(victim.remote_ephemeral().has_value()); // wiped
      }
    }
  }
}

TEST_F(Noise, LowOrderPreKnownStaticIsRefused) {
  for (const NoisePublicKey& point : low_order_points()) {
    const Keys keys;
    HandshakeConfig ic = make_config(HandshakePattern::kIK, NoiseHash::kSha256,
                                     HandshakeRole::kInitiator, keys, kPrologue);
    ic.remote_static = point;
    const NoiseHandshake initiator(ic);
    EXPECT_EQ(initiator.status(), NoiseStatus::kFailed);
    EXPECT_EQ(initiator.last_error().error, NoiseError::kLowOrderPoint) << to_hex(point);
  }
}

// Builds the first IK message by hand with a low-order point as the initiator's static key.
Bytes ik_message_with_static(NoiseHash hash, const Keys& keys, const NoisePublicKey& fake_static) {
  SymmetricState state;
  state.initialize(hash, noise_protocol_name(HandshakePattern::kIK, hash));
  state.mix_hash(kPrologue);
  state.mix_hash(keys.responder_public); // <- s
  Bytes message;
  Secret<32> e;
  NoisePublicKey e_public{};
  x25519_keypair(e, e_public);
  message.insert(message.end(), e_public.begin(), e_public.end()); // e
  state.mix_hash(e_public);
  Secret<32> shared; // es
  EXPECT_TRUE(x25519(e.data(), keys.responder_public.data(), shared.data()));
  state.mix_key(shared.span());
  EXPECT_TRUE(state.encrypt_and_hash(fake_static, message).ok()); // s
  EXPECT_TRUE(state.encrypt_and_hash(payload_for(0), message).ok());
  return message;
}

// Builds the second XX message by hand with a low-order point as the responder's static key.
Bytes xx_message_with_static(NoiseHash hash, const Bytes& first, const NoisePublicKey& fake) {
  SymmetricState state;
  state.initialize(hash, noise_protocol_name(HandshakePattern::kXX, hash));
  state.mix_hash(kPrologue);
  const NoisePublicKey initiator_e = public_from(ByteSpan(first).first(32));
  state.mix_hash(initiator_e); // -> e
  Bytes payload0;
  EXPECT_TRUE(state.decrypt_and_hash(ByteSpan(first).subspan(32), payload0).ok());
  Bytes message;
  Secret<32> e;
  NoisePublicKey e_public{};
  x25519_keypair(e, e_public);
  message.insert(message.end(), e_public.begin(), e_public.end()); // e
  state.mix_hash(e_public);
  Secret<32> shared; // ee
  EXPECT_TRUE(x25519(e.data(), initiator_e.data(), shared.data()));
  state.mix_key(shared.span());
  EXPECT_TRUE(state.encrypt_and_hash(fake, message).ok()); // s
  message.resize(message.size() + 32, 0);                  // es cannot be computed; never reached
  return message;
}

TEST_F(Noise, LowOrderTransmittedStaticIsAHardFailure) {
  for (const NoiseHash hash : kHashes) {
    for (const NoisePublicKey& point : low_order_points()) {
      SCOPED_TRACE(to_hex(point));
      const Keys keys;
      // IK: the responder reads the initiator's static key.
      {
        NoiseHandshake responder(
            make_config(HandshakePattern::kIK, hash, HandshakeRole::kResponder, keys, kPrologue));
        Bytes payload;
        const NoiseResult result =
            responder.read_message(ik_message_with_static(hash, keys, point), payload);
        EXPECT_EQ(result.error, NoiseError::kLowOrderPoint) << result.reason;
        // Caught at the s token itself, before any DH uses the key.
        EXPECT_EQ(result.reason, "the peer's static key is a low-order point");
        EXPECT_EQ(responder.status(), NoiseStatus::kFailed);
        EXPECT_FALSE(responder.remote_static().has_value());
      }
      // XX: the initiator reads the responder's static key.
      {
        NoiseHandshake initiator(
            make_config(HandshakePattern::kXX, hash, HandshakeRole::kInitiator, keys, kPrologue));
        Bytes first;
        ASSERT_TRUE(initiator.write_message(payload_for(0), first).ok());
        Bytes payload;
        const NoiseResult result =
            initiator.read_message(xx_message_with_static(hash, first, point), payload);
        EXPECT_EQ(result.error, NoiseError::kLowOrderPoint) << result.reason;
        // Caught at the s token itself, before any DH uses the key.
        EXPECT_EQ(result.reason, "the peer's static key is a low-order point");
        EXPECT_EQ(initiator.status(), NoiseStatus::kFailed);
      }
    }
  }
}

// The hand-built messages are right when the key is honest, so the failures above are the
// low-order checks and nothing else.
TEST_F(Noise, HandBuiltMessagesAreValidWithAnHonestKey) {
  const Keys keys;
  NoiseHandshake responder(make_config(HandshakePattern::kIK, NoiseHash::kSha256,
                                       HandshakeRole::kResponder, keys, kPrologue));
  Bytes payload;
  // An honest s passes the s token; the message (which has no ss) then fails at the payload.
  const NoiseResult result = responder.read_message(
      ik_message_with_static(NoiseHash::kSha256, keys, keys.initiator_public), payload);
  EXPECT_EQ(result.error, NoiseError::kAuthFailed);
  EXPECT_EQ(result.reason, "the payload does not decrypt");
}

// --- Misuse and limits ---------------------------------------------------------------------------

// A call out of turn is refused and changes nothing: a duplicated or replayed handshake message
// (or a caller's slip) must not destroy a handshake in progress or one already complete.
TEST_F(Noise, CallsOutOfTurnAreRefusedWithoutHarm) {
  const Keys keys;
  {
    Pair pair = make_pair(HandshakePattern::kXX, NoiseHash::kSha256, keys, false);
    Bytes out;
    EXPECT_EQ(pair.responder->write_message({}, out).error, NoiseError::kWrongState);
    EXPECT_EQ(pair.responder->status(), NoiseStatus::kReadMessage);
    EXPECT_TRUE(out.empty());
    ASSERT_EQ(run(pair).failed_at, -1) << "the handshake still completes";
  }
  {
    Pair pair = make_pair(HandshakePattern::kXX, NoiseHash::kSha256, keys, false);
    Bytes out;
    EXPECT_EQ(pair.initiator->read_message(Bytes(64, 1), out).error, NoiseError::kWrongState);
    EXPECT_EQ(pair.initiator->status(), NoiseStatus::kWriteMessage);
    ASSERT_EQ(run(pair).failed_at, -1);
  }
  {
    Pair pair = make_pair(HandshakePattern::kNN, NoiseHash::kSha256, keys, false);
    Bytes message;
    ASSERT_TRUE(pair.initiator->write_message({}, message).ok());
    // The initiator must now read; writing again is refused, and its ephemeral key is kept.
    Bytes again;
    EXPECT_EQ(pair.initiator->write_message({}, again).error, NoiseError::kWrongState);
    EXPECT_EQ(pair.initiator->status(), NoiseStatus::kReadMessage);
    const Secret<32>& e = pair.initiator->local_ephemeral_secret();
    EXPECT_NE(to_hex(e.span()), std::string(64, '0'));
  }
  {
    // A message replayed to a completed handshake leaves it complete and splittable.
    Pair pair = make_pair(HandshakePattern::kNN, NoiseHash::kSha256, keys, false);
    Bytes first;
    Bytes payload;
    ASSERT_TRUE(pair.initiator->write_message({}, first).ok());
    ASSERT_TRUE(pair.responder->read_message(first, payload).ok());
    Bytes second;
    ASSERT_TRUE(pair.responder->write_message({}, second).ok());
    ASSERT_TRUE(pair.initiator->read_message(second, payload).ok());
    ASSERT_EQ(pair.responder->status(), NoiseStatus::kComplete);
    EXPECT_EQ(pair.responder->read_message(first, payload).error, NoiseError::kWrongState);
    Bytes out;
    EXPECT_EQ(pair.initiator->write_message({}, out).error, NoiseError::kWrongState);
    EXPECT_EQ(pair.responder->status(), NoiseStatus::kComplete);
    EXPECT_TRUE(pair.responder->split().has_value());
    EXPECT_TRUE(pair.initiator->split().has_value());
  }
}

TEST_F(Noise, MessagesOverTheLimitAreRefused) {
  for (const HandshakePattern pattern : kPatterns) {
    for (const NoiseHash hash : kHashes) {
      SCOPED_TRACE(describe(pattern, hash));
      const Keys keys;
      Pair probe = make_pair(pattern, hash, keys, false);
      Bytes message;
      ASSERT_TRUE(probe.initiator->write_message({}, message).ok());
      const size_t overhead = message.size();

      // Exactly 65535 bytes: written and read.
      Pair at_limit = make_pair(pattern, hash, keys, false);
      const Bytes biggest = random_bytes(kNoiseMaxMessageBytes - overhead);
      ASSERT_TRUE(at_limit.initiator->write_message(biggest, message).ok());
      EXPECT_EQ(message.size(), kNoiseMaxMessageBytes);
      Bytes payload;
      ASSERT_TRUE(at_limit.responder->read_message(message, payload).ok());
      EXPECT_EQ(payload, biggest);

      // One byte more: refused by the writer.
      Pair over = make_pair(pattern, hash, keys, false);
      const Bytes too_big = random_bytes(kNoiseMaxMessageBytes - overhead + 1);
      EXPECT_EQ(over.initiator->write_message(too_big, message).error,
                NoiseError::kMessageTooLarge);
      EXPECT_TRUE(message.empty());
      EXPECT_EQ(over.initiator->status(), NoiseStatus::kFailed);
      // And by the reader.
      EXPECT_EQ(over.responder->read_message(Bytes(kNoiseMaxMessageBytes + 1, 0), payload).error,
                NoiseError::kMessageTooLarge);
      EXPECT_EQ(over.responder->status(), NoiseStatus::kFailed);
    }
  }
}

TEST_F(Noise, ConfigsThatDoNotFitThePatternAreRefused) {
  const Keys keys;
  const auto refused = [](const HandshakeConfig& config) {
    const NoiseHandshake handshake(config);
    return handshake.status() == NoiseStatus::kFailed &&
           handshake.last_error().error == NoiseError::kInvalidConfig;
  };
  for (const HandshakePattern pattern : kPatterns) {
    for (const HandshakeRole role : {HandshakeRole::kInitiator, HandshakeRole::kResponder}) {
      SCOPED_TRACE(describe(pattern, NoiseHash::kSha256) +
                   (role == HandshakeRole::kInitiator ? " initiator" : " responder"));
      const HandshakeConfig good = make_config(pattern, NoiseHash::kSha256, role, keys, kPrologue);
      EXPECT_FALSE(refused(good));

      HandshakeConfig psk = good; // psk patterns need a psk; others refuse one
      psk.psk = has_psk(pattern) ? std::nullopt : std::optional<Secret<32>>(keys.psk);
      EXPECT_TRUE(refused(psk));

      HandshakeConfig statics = good; // a static key exactly when the pattern uses one
      statics.static_secret =
          has_statics(pattern) ? std::nullopt : std::optional<Secret<32>>(keys.initiator_static);
      EXPECT_TRUE(refused(statics));

      HandshakeConfig remote = good; // the peer's key exactly when the pattern pre-knows it
      remote.remote_static =
          good.remote_static ? std::nullopt : std::optional<NoisePublicKey>(keys.responder_public);
      EXPECT_TRUE(refused(remote));
    }
  }
  HandshakeConfig unknown = make_config(HandshakePattern::kNN, NoiseHash::kSha256,
                                        HandshakeRole::kInitiator, keys, kPrologue);
  unknown.pattern = static_cast<HandshakePattern>(99);
  EXPECT_TRUE(refused(unknown));
  unknown.pattern = HandshakePattern::kNN;
  unknown.role = static_cast<HandshakeRole>(7);
  EXPECT_TRUE(refused(unknown));
  unknown.role = HandshakeRole::kInitiator;
  unknown.hash = static_cast<NoiseHash>(5);
  EXPECT_TRUE(refused(unknown));
}

// --- CipherState ---------------------------------------------------------------------------------

TEST_F(Noise, CipherStateWithoutKeyPassesThrough) {
  CipherState cipher;
  EXPECT_FALSE(cipher.has_key());
  const Bytes plain = to_bytes("clear");
  Bytes out;
  ASSERT_TRUE(cipher.encrypt_with_ad(to_bytes("ad"), plain, out).ok());
  EXPECT_EQ(out, plain);
  EXPECT_EQ(cipher.nonce(), 0u);
}

TEST_F(Noise, ReservedNonceIsRefused) {
  const Bytes key = random_bytes(32);
  CipherState sender;
  CipherState receiver;
  sender.initialize_key(key);
  receiver.initialize_key(key);
  sender.set_nonce(kNoiseMaxNonce - 1);
  receiver.set_nonce(kNoiseMaxNonce - 1);
  Bytes sealed;
  ASSERT_TRUE(sender.encrypt_with_ad({}, to_bytes("last"), sealed).ok());
  Bytes opened;
  ASSERT_TRUE(receiver.decrypt_with_ad({}, sealed, opened).ok());
  EXPECT_EQ(sender.nonce(), kNoiseMaxNonce);
  EXPECT_EQ(sender.encrypt_with_ad({}, to_bytes("one more"), sealed).error,
            NoiseError::kNonceExhausted);
  EXPECT_TRUE(sealed.empty());
  EXPECT_EQ(receiver.decrypt_with_ad({}, Bytes(32, 0), opened).error, NoiseError::kNonceExhausted);
}

TEST_F(Noise, CipherStateChecksLengths) {
  CipherState cipher;
  cipher.initialize_key(random_bytes(32));
  Bytes out;
  EXPECT_EQ(cipher.decrypt_with_ad({}, Bytes(15, 0), out).error, NoiseError::kTruncated);
  EXPECT_EQ(cipher.decrypt_with_ad({}, Bytes(kNoiseMaxMessageBytes + 1, 0), out).error,
            NoiseError::kMessageTooLarge);
  EXPECT_EQ(cipher.encrypt_with_ad({}, Bytes(kNoiseMaxMessageBytes - 15, 0), out).error,
            NoiseError::kMessageTooLarge);
  EXPECT_TRUE(cipher.encrypt_with_ad({}, Bytes(kNoiseMaxMessageBytes - 16, 0), out).ok());
  EXPECT_EQ(out.size(), kNoiseMaxMessageBytes);
}

} // namespace
} // namespace entre::plugins::sodium
