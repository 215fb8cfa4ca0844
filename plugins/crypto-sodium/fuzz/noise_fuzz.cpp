// Fuzzes NoiseHandshake::read_message with arbitrary bytes, for every pattern, both hashes and
// every handshake message a party can receive.
//
// Input: byte 0 selects the pattern (mod 11); byte 1 selects the hash (bit 0: BLAKE2b) and the
// message to attack (bits 1-2, mod the pattern's message count); the rest is that message. Both
// parties use fixed keys and fixed ephemerals (the test hook), so the honest messages before the
// attacked one are the same on every run, and a seed holding a real message (see
// tests/fuzz/corpus/noise_handshake/) reaches the end of the handshake.
//
// Invariants checked: a read either succeeds, leaving a live state and a payload no longer than
// the message, or fails with a reason, leaving kFailed, an empty payload, and a handshake that
// refuses every later call and exposes no keys. After a successful read the handshake continues
// honestly to its end; both sides then either complete or fail cleanly.
#include "noise.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

namespace {

using entre::plugins::sodium::Bytes;
using entre::plugins::sodium::ByteSpan;
using entre::plugins::sodium::HandshakeConfig;
using entre::plugins::sodium::HandshakeTestHooks;
using entre::plugins::sodium::NoiseError;
using entre::plugins::sodium::NoiseHandshake;
using entre::plugins::sodium::NoiseHash;
using entre::plugins::sodium::NoisePublicKey;
using entre::plugins::sodium::NoiseStatus;
using entre::plugins::sodium::Secret;
using entre::sdk::HandshakePattern;
using entre::sdk::HandshakeRole;

constexpr std::array kFuzzPatterns{
    HandshakePattern::kNN, HandshakePattern::kNNpsk0, HandshakePattern::kNNpsk2,
    HandshakePattern::kKK, HandshakePattern::kKKpsk0, HandshakePattern::kKKpsk2,
    HandshakePattern::kIK, HandshakePattern::kIKpsk1, HandshakePattern::kIKpsk2,
    HandshakePattern::kXX, HandshakePattern::kXXpsk3,
};

void check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

Secret<32> fixed_secret(uint8_t fill) {
  Secret<32> secret;
  for (std::size_t i = 0; i < secret.size(); ++i) {
    secret.data()[i] = static_cast<uint8_t>(fill + i);
  }
  return secret;
}

struct Parties {
  std::unique_ptr<NoiseHandshake> initiator;
  std::unique_ptr<NoiseHandshake> responder;
};

std::size_t message_count(HandshakePattern pattern) {
  return pattern == HandshakePattern::kXX || pattern == HandshakePattern::kXXpsk3 ? 3 : 2;
}

// Both parties, with every key fixed.
Parties make_parties(HandshakePattern pattern, NoiseHash hash) {
  const std::string_view name = entre::plugins::sodium::noise_pattern_name(pattern);
  const bool statics = name.starts_with("KK") || name.starts_with("IK") || name.starts_with("XX");
  const bool psk = name.find("psk") != std::string_view::npos;
  static const Bytes kPrologue{'f', 'u', 'z', 'z'};

  const Secret<32> initiator_static = fixed_secret(0x10);
  const Secret<32> responder_static = fixed_secret(0x20);
  NoisePublicKey initiator_public{};
  NoisePublicKey responder_public{};
  entre::plugins::sodium::x25519_public(initiator_static, initiator_public);
  entre::plugins::sodium::x25519_public(responder_static, responder_public);

  HandshakeConfig ic;
  ic.pattern = pattern;
  ic.role = HandshakeRole::kInitiator;
  ic.hash = hash;
  ic.prologue = kPrologue;
  if (psk) {
    ic.psk = fixed_secret(0x30);
  }
  HandshakeConfig rc = ic;
  rc.role = HandshakeRole::kResponder;
  if (statics) {
    ic.static_secret = initiator_static;
    rc.static_secret = responder_static;
  }
  if (name.starts_with("KK") || name.starts_with("IK")) {
    ic.remote_static = responder_public;
  }
  if (name.starts_with("KK")) {
    rc.remote_static = initiator_public;
  }
  Parties parties;
  parties.initiator = std::make_unique<NoiseHandshake>(
      ic, HandshakeTestHooks{.fixed_ephemeral = fixed_secret(0x40)});
  parties.responder = std::make_unique<NoiseHandshake>(
      rc, HandshakeTestHooks{.fixed_ephemeral = fixed_secret(0x50)});
  return parties;
}

Bytes honest_payload(std::size_t index) { return Bytes(index * 3, static_cast<uint8_t>(index)); }

// Plays honest messages [from, to) and returns them.
std::vector<Bytes> play(Parties& parties, std::size_t from, std::size_t to) {
  std::vector<Bytes> messages;
  for (std::size_t i = from; i < to; ++i) {
    NoiseHandshake& writer = i % 2 == 0 ? *parties.initiator : *parties.responder;
    NoiseHandshake& reader = i % 2 == 0 ? *parties.responder : *parties.initiator;
    Bytes message;
    Bytes payload;
    if (!writer.write_message(honest_payload(i), message).ok()) {
      break; // the peer's earlier fuzzed read may have set up a failure; that is allowed
    }
    if (!reader.read_message(message, payload).ok()) {
      break;
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

void check_failed(const NoiseHandshake& handshake) {
  check(handshake.status() == NoiseStatus::kFailed);
  check(handshake.last_error().error != NoiseError::kNone);
  check(!handshake.last_error().reason.empty());
  check(handshake.handshake_hash().empty());
  check(handshake.chaining_key().empty());
  check(!handshake.split().has_value());
  check(!handshake.remote_ephemeral().has_value());
  check(!handshake.remote_static().has_value());
}

// Runs one input; true if the handshake completed on both sides (a seed's real message does).
bool fuzz_one(const uint8_t* data, std::size_t size) {
  if (size < 2) {
    return false;
  }
  const HandshakePattern pattern = kFuzzPatterns[data[0] % kFuzzPatterns.size()];
  const NoiseHash hash = (data[1] & 1) != 0 ? NoiseHash::kBlake2b : NoiseHash::kSha256;
  const std::size_t count = message_count(pattern);
  const std::size_t target = static_cast<std::size_t>(data[1] >> 1) % count;
  const ByteSpan message(data + 2, size - 2);

  Parties parties = make_parties(pattern, hash);
  check(play(parties, 0, target).size() == target); // the honest prefix always succeeds
  NoiseHandshake& writer = target % 2 == 0 ? *parties.initiator : *parties.responder;
  NoiseHandshake& reader = target % 2 == 0 ? *parties.responder : *parties.initiator;
  // The writer sends its honest message; the reader receives the fuzzed bytes instead.
  Bytes honest;
  check(writer.write_message(honest_payload(target), honest).ok());
  check(reader.status() == NoiseStatus::kReadMessage);

  Bytes payload;
  const auto result = reader.read_message(message, payload);
  if (!result.ok()) {
    check(result.error == reader.last_error().error);
    check(payload.empty());
    check_failed(reader);
    Bytes out;
    check(reader.read_message(message, out).error == NoiseError::kAlreadyFailed);
    check(reader.write_message({}, out).error == NoiseError::kAlreadyFailed);
    check(out.empty());
    return false;
  }
  check(payload.size() <= message.size());
  check(reader.status() != NoiseStatus::kFailed);
  play(parties, target + 1, count);
  for (const NoiseHandshake* party : {parties.initiator.get(), parties.responder.get()}) {
    if (party->status() == NoiseStatus::kComplete) {
      check(!party->handshake_hash().empty());
      check(party->split().has_value());
    } else if (party->status() == NoiseStatus::kFailed) {
      check_failed(*party);
    }
  }
  return parties.initiator->status() == NoiseStatus::kComplete &&
         parties.responder->status() == NoiseStatus::kComplete;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const bool ready = entre::plugins::sodium::init_sodium();
  check(ready);
  (void)fuzz_one(data, size);
  return 0;
}
