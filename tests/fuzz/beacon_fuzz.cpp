// Fuzzes the discovery beacon readers (parse_beacon, BeaconBook::read, parse_meeting_beacon). The
// first input byte picks a mode: even, the rest of the input is a beacon as received; odd, the rest
// is a list of (offset, xor) byte pairs applied to a genuine beacon of a contact, so that the
// recognition, replay, staleness and forgery paths are reached too. PairwiseKeys here is keyed
// BLAKE2b over the two keys (no Diffie-Hellman: the fuzzer needs the reader's logic, not the key
// agreement).
#include "discovery/beacon.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using entre::discovery::Key;

class HashPairwise final : public entre::sdk::PairwiseKeys {
 public:
  entre::sdk::Status pairwise_key(entre::sdk::ByteView my_secret, entre::sdk::ByteView their_public,
                                  entre::sdk::StringView,
                                  entre::sdk::MutableByteView key_out) noexcept override {
    // The secret blob here is the node's public key: the pair's key is the hash of both, sorted.
    uint8_t both[64];
    const bool mine_first = std::memcmp(my_secret.data, their_public.data, 32) < 0;
    std::memcpy(both, mine_first ? my_secret.data : their_public.data, 32);
    std::memcpy(both + 32, mine_first ? their_public.data : my_secret.data, 32);
    crypto_generichash(key_out.data, 32, both, sizeof both, nullptr, 0);
    return entre::sdk::Status::ok();
  }
  entre::sdk::Status keyed_hash(entre::sdk::ByteView key, entre::sdk::ByteView message,
                                entre::sdk::MutableByteView out) noexcept override {
    crypto_generichash(out.data, out.size, message.data, message.size, key.data, key.size);
    return entre::sdk::Status::ok();
  }
};

constexpr uint64_t kEpochMs = 1000;
constexpr int64_t kNow = 1'790'000'000'000;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  static HashPairwise pairwise;
  uint64_t seed = 1;
  auto random = [&](entre::sdk::MutableByteView out) {
    for (uint64_t i = 0; i < out.size; ++i) {
      seed = seed * 6364136223846793005u + 1442695040888963407u;
      out.data[i] = static_cast<uint8_t>(seed >> 56);
    }
  };
  Key a{};
  Key b{};
  a.fill(0x11);
  b.fill(0x22);
  entre::discovery::BeaconBook reader(pairwise, random, a, a, kEpochMs, 4);
  entre::discovery::BeaconBook sender(pairwise, random, b, b, kEpochMs, 4);
  (void)reader.add_contact(b);
  (void)sender.add_contact(a);
  std::vector<uint8_t> beacon;
  if ((data[0] & 1) == 0) {
    beacon.assign(data + 1, data + size);
  } else {
    beacon = sender.next_beacon(kNow);
    for (size_t at = 1; at + 1 < size; at += 2) {
      if (!beacon.empty()) {
        beacon[data[at] % beacon.size()] ^= data[at + 1];
      }
    }
  }
  if (const auto met = entre::discovery::parse_meeting_beacon(beacon)) {
    // A parsed meeting beacon rebuilds to the same bytes.
    if (entre::discovery::make_meeting_beacon(met->key, met->name) != beacon) {
      __builtin_trap();
    }
  }
  std::vector<Key> found;
  for (int64_t t : {kNow, kNow + 1, kNow + 5 * static_cast<int64_t>(kEpochMs)}) {
    (void)reader.read(beacon, t, found);
    for (const Key& k : found) {
      if (k != b) {
        __builtin_trap(); // only a contact can be recognised
      }
    }
  }
  const auto& s = reader.stats();
  if (s.recognised + s.unrecognised + s.malformed + s.stale + s.replayed != 3) {
    __builtin_trap(); // every read has exactly one verdict
  }
  return 0;
}
