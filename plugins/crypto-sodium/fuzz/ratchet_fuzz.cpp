// libFuzzer target for the Double Ratchet's two parsers of untrusted bytes: the message decoder
// (RatchetState::decrypt) and the state deserialiser (RatchetState::deserialize).
//
// Input: the first byte selects a mode (its low two bits), the rest is the body.
//   0  body = a serialised state.
//   1  body = a serialised state without its checksum: the fuzzer appends the right SHA-256, so
//      that mutations reach the field checks behind it.
//   2  body = messages, each a uint16 big-endian length and the bytes, decrypted in order (empty
//      AD) by a responder initialised from fixed keys (kSharedKeyByte, kBobSecretByte).
//   3  body = a uint32 big-endian length, a serialised state of that length, then messages as in
//      mode 2, decrypted by that state.
// Oracles (a violation aborts):
//   - a state that loads serialises back to exactly the bytes it was loaded from;
//   - a decrypt that fails leaves the serialisation byte for byte unchanged;
//   - a state after a successful decrypt round-trips through serialize/deserialize exactly.
// Seeds: tests/fuzz/corpus/ratchet/, written by RatchetFuzzSeeds.DISABLED_Write in
// plugins/crypto-sodium/tests/ratchet_test.cpp (which shares the fixed keys below).
#include "ratchet.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {

using entre::plugins::sodium::Bytes;
using entre::plugins::sodium::ByteSpan;
using entre::plugins::sodium::RatchetState;
using entre::plugins::sodium::Secret;

constexpr uint8_t kSharedKeyByte = 0x5a;
constexpr uint8_t kBobSecretByte = 0x42;
constexpr int kMaxMessagesPerInput = 64;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

Bytes serialized(const RatchetState& state) {
  Bytes out;
  entre::sdk::VectorSink sink(out);
  check(state.serialize(sink).is_ok());
  return out;
}

// Loads `bytes`; if they load, the state must serialise back to them.
bool load(ByteSpan bytes, RatchetState& state) {
  if (!RatchetState::deserialize(bytes, state).is_ok()) {
    return false;
  }
  const Bytes again = serialized(state);
  check(std::equal(again.begin(), again.end(), bytes.begin(), bytes.end()));
  return true;
}

void decrypt_all(RatchetState& state, ByteSpan body) {
  for (int i = 0; i < kMaxMessagesPerInput && body.size() >= 2; ++i) {
    const std::size_t size = std::min<std::size_t>(body.size() - 2, body[0] << 8 | body[1]);
    const ByteSpan message = body.subspan(2, size);
    body = body.subspan(2 + size);
    const Bytes before = serialized(state);
    Bytes plaintext;
    entre::sdk::VectorSink sink(plaintext);
    if (state.decrypt({}, message, sink).is_ok()) {
      RatchetState copy;
      check(load(serialized(state), copy));
    } else {
      check(plaintext.empty());
      check(serialized(state) == before);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const bool ready = entre::plugins::sodium::init_sodium();
  check(ready);
  if (size == 0) {
    return 0;
  }
  const ByteSpan body(data + 1, size - 1);
  RatchetState state;
  switch (data[0] & 3) {
  case 0:
    load(body, state);
    break;
  case 1: {
    Bytes with_checksum(body.begin(), body.end());
    with_checksum.resize(body.size() + entre::plugins::sodium::kSha256Bytes);
    entre::plugins::sodium::sha256(body, with_checksum.data() + body.size());
    load(with_checksum, state);
    break;
  }
  case 2: {
    Secret<32> shared_key;
    Secret<32> bob_secret;
    std::fill_n(shared_key.data(), 32, kSharedKeyByte);
    std::fill_n(bob_secret.data(), 32, kBobSecretByte);
    std::array<uint8_t, 32> bob_public{};
    entre::plugins::sodium::x25519_public(bob_secret, bob_public);
    check(RatchetState::init_bob(shared_key, bob_secret, bob_public, state).is_ok());
    decrypt_all(state, body);
    break;
  }
  default: {
    if (body.size() < 4) {
      break;
    }
    const std::size_t length = std::min<std::size_t>(
        body.size() - 4, std::size_t{body[0]} << 24 | std::size_t{body[1]} << 16 |
                             std::size_t{body[2]} << 8 | std::size_t{body[3]});
    if (load(body.subspan(4, length), state)) {
      decrypt_all(state, body.subspan(4 + length));
    }
    break;
  }
  }
  return 0;
}
