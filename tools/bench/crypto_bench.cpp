// crypto-sodium figures: Noise handshakes against the X25519 ceiling, and ratchet messages against
// raw libsodium AEAD of the same sizes.
#include "bench.hpp"

#include "noise.hpp"
#include "primitives.hpp"
#include "ratchet.hpp"

#include <entre/sdk/bytes.hpp>

#include <benchmark/benchmark.h>

namespace entre::bench {
namespace {

using plugins::sodium::Bytes;
using plugins::sodium::HandshakeConfig;
using plugins::sodium::NoiseHandshake;
using plugins::sodium::NoiseHash;
using plugins::sodium::NoisePublicKey;
using plugins::sodium::RatchetState;
using plugins::sodium::Secret;

struct Keys {
  Secret<32> a_secret;
  Secret<32> b_secret;
  NoisePublicKey a_public{};
  NoisePublicKey b_public{};
  Keys() {
    (void)plugins::sodium::init_sodium();
    plugins::sodium::x25519_keypair(a_secret, a_public);
    plugins::sodium::x25519_keypair(b_secret, b_public);
  }
};

const Keys& keys() {
  static const Keys k;
  return k;
}

void BM_X25519(benchmark::State& state) {
  const Keys& k = keys();
  uint8_t out[32];
  for (auto _ : state) {
    benchmark::DoNotOptimize(plugins::sodium::x25519(k.a_secret.data(), k.b_public.data(), out));
  }
}
BENCHMARK(BM_X25519);

void BM_X25519Base(benchmark::State& state) {
  const Keys& k = keys();
  uint8_t out[32];
  for (auto _ : state) {
    crypto_scalarmult_base(out, k.a_secret.data());
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_X25519Base);

// One complete handshake, both sides, as the suite runs it (BLAKE2b).
void run_handshake(sdk::HandshakePattern pattern) {
  const Keys& k = keys();
  HandshakeConfig ic;
  ic.pattern = pattern;
  ic.role = sdk::HandshakeRole::kInitiator;
  ic.hash = NoiseHash::kBlake2b;
  ic.static_secret = k.a_secret;
  ic.static_public = k.a_public; // as the suite does: it caches its identity's public key
  HandshakeConfig rc;
  rc.pattern = pattern;
  rc.role = sdk::HandshakeRole::kResponder;
  rc.hash = NoiseHash::kBlake2b;
  rc.static_secret = k.b_secret;
  rc.static_public = k.b_public;
  if (pattern == sdk::HandshakePattern::kIK) {
    ic.remote_static = k.b_public;
  }
  NoiseHandshake init(ic);
  NoiseHandshake resp(rc);
  NoiseHandshake* writer = &init;
  NoiseHandshake* reader = &resp;
  Bytes message;
  Bytes payload;
  while (init.status() != plugins::sodium::NoiseStatus::kComplete) {
    message.clear();
    if (!writer->write_message({}, message).ok() || !reader->read_message(message, payload).ok()) {
      std::abort();
    }
    std::swap(writer, reader);
  }
}

void BM_NoiseIK(benchmark::State& state) {
  for (auto _ : state) {
    run_handshake(sdk::HandshakePattern::kIK);
  }
}
BENCHMARK(BM_NoiseIK);

void BM_NoiseXX(benchmark::State& state) {
  for (auto _ : state) {
    run_handshake(sdk::HandshakePattern::kXX);
  }
}
BENCHMARK(BM_NoiseXX);

// Baseline: libsodium's XChaCha20-Poly1305 seal then open, the AEAD the ratchet uses.
void BM_RawAead(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::vector<uint8_t> plaintext(size, 0x5a);
  std::vector<uint8_t> sealed(size + 16);
  std::vector<uint8_t> opened(size);
  uint8_t key[32];
  uint8_t nonce[24];
  randombytes_buf(key, sizeof key);
  randombytes_buf(nonce, sizeof nonce);
  for (auto _ : state) {
    unsigned long long n = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data(), &n, plaintext.data(), size, nullptr,
                                               0, nullptr, nonce, key);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(opened.data(), &n, nullptr, sealed.data(),
                                                   sealed.size(), nullptr, 0, nonce, key) != 0) {
      std::abort();
    }
    benchmark::DoNotOptimize(opened.data());
  }
}
BENCHMARK(BM_RawAead)->Arg(100)->Arg(1024);

// One ratchet message sealed by Alice and opened by Bob, in a chain (no DH step).
void BM_Ratchet(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Secret<32> seed;
  randombytes_buf(seed.data(), seed.size());
  Secret<32> bob_secret;
  NoisePublicKey bob_public{};
  plugins::sodium::x25519_keypair(bob_secret, bob_public);
  RatchetState alice;
  RatchetState bob;
  if (!RatchetState::init_alice(seed, bob_public, alice).is_ok() ||
      !RatchetState::init_bob(seed, bob_secret, bob_public, bob).is_ok()) {
    std::abort();
  }
  const std::vector<uint8_t> plaintext(size, 0x5a);
  std::vector<uint8_t> message;
  std::vector<uint8_t> opened;
  message.reserve(size + 64);
  opened.reserve(size);
  for (auto _ : state) {
    message.clear();
    opened.clear();
    sdk::VectorSink ms(message);
    sdk::VectorSink os(opened);
    if (!alice.encrypt({}, plaintext, ms).is_ok() || !bob.decrypt({}, message, os).is_ok()) {
      std::abort();
    }
  }
}
BENCHMARK(BM_Ratchet)->Arg(100)->Arg(1024);

// X25519 operations each handshake needs (both sides): fixed-base ones for ephemeral keys,
// variable-base ones for the DH tokens. IK: e, es, s, ss / e, ee, se; XX: e / e, ee, s, es / s, se.
struct HandshakeCost {
  const char* name;
  const char* bench;
  double dh;
  double base;
};
constexpr HandshakeCost kHandshakes[] = {{"Noise IK handshake (both sides)", "BM_NoiseIK", 8, 2},
                                         {"Noise XX handshake (both sides)", "BM_NoiseXX", 6, 2}};

const int registered = register_ratios([](const Timings& t) {
  std::vector<Ratio> rows;
  const auto dh = t.find("BM_X25519");
  const auto base = t.find("BM_X25519Base");
  if (dh != t.end() && base != t.end()) {
    for (const auto& h : kHandshakes) {
      const auto it = t.find(h.bench);
      if (it != t.end()) {
        const double ceiling = 1.0 / (h.dh * dh->second + h.base * base->second);
        rows.push_back({h.name,
                        "X25519 ceiling (" + std::to_string(static_cast<int>(h.dh)) + " DH + " +
                            std::to_string(static_cast<int>(h.base)) + " base)",
                        1.0 / it->second, ceiling, 0.8});
      }
    }
  }
  for (const char* size : {"100", "1024"}) {
    const auto ratchet = t.find(std::string("BM_Ratchet/") + size);
    const auto raw = t.find(std::string("BM_RawAead/") + size);
    if (ratchet != t.end() && raw != t.end()) {
      rows.push_back({std::string("ratchet seal+open, ") + size + " B",
                      std::string("XChaCha20-Poly1305 seal+open, ") + size + " B",
                      1.0 / ratchet->second, 1.0 / raw->second, 0.3});
    }
  }
  return rows;
});

} // namespace
} // namespace entre::bench
