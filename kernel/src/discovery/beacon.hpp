// Private discovery beacons (docs/protocol.md "Discovery beacons").
//
// A beacon lets a node's contacts on the same network recognise it, and nobody else:
//
//   beacon = version:u8 flags:u8 epoch:u64 counter:u32 count:u8 count*(tag:8 auth:8)
//
// version is 1 and flags 0 (bits are reserved; a beacon with one set is refused). epoch is the
// sender's wall time divided by the epoch length; counter starts at a random value each epoch and
// grows by one per beacon. For each contact B of a sender A, with K the pairwise key of A and B
// (PairwiseKeys, label "entre lan beacon v1"):
//
//   tag  = first 8 bytes of H(K, "tag"  || epoch || A's public key)
//   auth = first 8 bytes of H(K, "auth" || the 14 header bytes before count || tag)
//
// where H is the suite's keyed hash (16-byte output). Entries for no contact are random, so every
// beacon of a node has the same number of entries whatever its number of contacts. Tags change
// every epoch and hold nothing a stranger can compute, so beacons of two epochs cannot be linked;
// within an epoch the counter and the tags are stable per node.
//
// A receiver keeps the tags its contacts emit in the previous, current and next epoch (clock skew
// up to one epoch) and looks each entry up; a hit is checked with its auth in constant time, then
// refused unless its counter is above the last one accepted from that contact in that epoch (a
// replayed beacon repeats a counter). Beacons of other epochs are refused as stale.
//
// Thread safety: none; the engine's thread owns the book.
#pragma once

#include <entre/sdk/crypto.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace entre::discovery {

inline constexpr uint8_t kBeaconVersion = 1;
inline constexpr std::size_t kTagBytes = 8;
inline constexpr std::size_t kAuthBytes = 8;
inline constexpr std::size_t kEntryBytes = kTagBytes + kAuthBytes;
inline constexpr std::size_t kSignedHeaderBytes = 1 + 1 + 8 + 4; // version flags epoch counter
inline constexpr std::size_t kHeaderBytes = kSignedHeaderBytes + 1;
inline constexpr std::size_t kMaxEntries = 64;
inline constexpr std::size_t kMaxBeaconBytes = kHeaderBytes + kMaxEntries * kEntryBytes;
inline constexpr std::string_view kPairwiseLabel = "entre lan beacon v1";

using Key = std::array<uint8_t, sdk::kPublicKeyBytes>;

struct ParsedBeacon {
  uint64_t epoch = 0;
  uint32_t counter = 0;
  std::span<const uint8_t> signed_header; // the first kSignedHeaderBytes
  std::span<const uint8_t> entries;       // count * kEntryBytes
};

// Strict: the exact size for its count (1..kMaxEntries), version 1, flags 0. nullopt otherwise.
[[nodiscard]] std::optional<ParsedBeacon> parse_beacon(std::span<const uint8_t> beacon);

// Meeting beacons (meeting mode: open, on purpose, to every node on the LAN for a while):
//
//   meeting = version:u8 (= 1) flags:u8 (= kFlagMeeting) user_id:32 name_len:u8 name
//
// name: UTF-8, at most kMaxMeetingNameBytes, no control characters.
inline constexpr uint8_t kFlagMeeting = 0x01;
inline constexpr std::size_t kMaxMeetingNameBytes = 64;
inline constexpr std::size_t kMeetingHeaderBytes = 1 + 1 + sdk::kPublicKeyBytes + 1;

struct MeetingBeacon {
  Key key{};
  std::string name;
};

// True when the beacon says it is a meeting beacon (version 1, the meeting flag); parse it then.
[[nodiscard]] bool is_meeting_beacon(std::span<const uint8_t> beacon);
// The name is cut to kMaxMeetingNameBytes at a character boundary, control characters dropped.
[[nodiscard]] std::vector<uint8_t> make_meeting_beacon(const Key& key, std::string_view name);
// Strict: exact size, flags exactly kFlagMeeting, a name that is valid UTF-8 without control
// characters. nullopt otherwise.
[[nodiscard]] std::optional<MeetingBeacon> parse_meeting_beacon(std::span<const uint8_t> beacon);

enum class BeaconVerdict {
  kRecognised,   // at least one contact, listed in `found`
  kUnrecognised, // well formed, but no entry is for us (a stranger, or a contact's other contacts)
  kMalformed,
  kStale,  // an epoch other than the previous, current or next
  kReplay, // every recognised entry repeated a counter already accepted
};

struct BeaconBookStats {
  uint64_t recognised = 0;
  uint64_t unrecognised = 0;
  uint64_t malformed = 0;
  uint64_t stale = 0;
  uint64_t replayed = 0;
  uint64_t forged = 0; // a known tag with a wrong auth
};

class BeaconBook {
 public:
  // Fills its argument with random bytes (the crypto suite's random_bytes).
  using Random = std::function<void(sdk::MutableByteView)>;

  // `my_secret` is the identity secret blob (copied, wiped on destruction); epoch_ms > 0;
  // entries: how many entries each beacon carries (1..kMaxEntries).
  BeaconBook(sdk::PairwiseKeys& pairwise, Random random, std::span<const uint8_t> my_secret,
             const Key& my_key, uint64_t epoch_ms, std::size_t entries);
  ~BeaconBook();
  BeaconBook(const BeaconBook&) = delete;
  BeaconBook& operator=(const BeaconBook&) = delete;

  // Contacts to announce to and recognise; false if their key is refused (low order).
  bool add_contact(const Key& key);
  // The same, later: each key costs a Diffie-Hellman operation, so a long contact list is taken
  // in slices by derive_queued() instead of all at once.
  void queue_contact(const Key& key);
  // Adds up to `max` queued contacts; returns how many are still queued. Refused keys are dropped.
  std::size_t derive_queued(std::size_t max);
  [[nodiscard]] std::size_t queued() const { return queued_.size(); }
  void remove_contact(const Key& key);
  [[nodiscard]] std::size_t contact_count() const { return contacts_.size(); }

  // The next beacon to send at `wall_ms`: entries for the next contacts in turn, then random ones.
  [[nodiscard]] std::vector<uint8_t> next_beacon(int64_t wall_ms);

  // Reads a beacon received at `wall_ms`; on kRecognised, `found` lists the contacts.
  BeaconVerdict read(std::span<const uint8_t> beacon, int64_t wall_ms, std::vector<Key>& found);

  [[nodiscard]] const BeaconBookStats& stats() const { return stats_; }
  [[nodiscard]] uint64_t epoch_of(int64_t wall_ms) const;

 private:
  struct Peer {
    std::array<uint8_t, sdk::PairwiseKeys::kPairwiseKeyBytes> key{}; // wiped
    std::map<uint64_t, uint32_t> last_counter;                       // by epoch
  };
  using Tag = std::array<uint8_t, kTagBytes>;
  struct TagHash {
    std::size_t operator()(const Tag& t) const noexcept;
  };

  Tag tag_of(const Peer& p, uint64_t epoch, const Key& sender) const;
  std::array<uint8_t, kAuthBytes> auth_of(const Peer& p, std::span<const uint8_t> signed_header,
                                          const Tag& tag) const;
  void refresh_tags(uint64_t epoch);

  sdk::PairwiseKeys& pairwise_;
  Random random_;
  std::vector<uint8_t> my_secret_;
  Key my_key_;
  uint64_t epoch_ms_;
  std::size_t entries_;
  std::map<Key, Peer> contacts_;
  std::set<Key> queued_;
  std::size_t next_turn_ = 0;
  uint64_t sending_epoch_ = UINT64_MAX;
  uint32_t counter_ = 0;
  uint64_t tags_epoch_ = UINT64_MAX; // the epoch `tags_` was built around
  std::unordered_map<Tag, std::pair<Key, uint64_t>, TagHash> tags_; // tag -> contact, epoch
  BeaconBookStats stats_;
};

} // namespace entre::discovery
