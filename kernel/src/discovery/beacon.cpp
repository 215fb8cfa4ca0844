#include "discovery/beacon.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace entre::discovery {

namespace {

void put_be(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
}

uint64_t get_be(std::span<const uint8_t> in, std::size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = (value << 8) | in[at + static_cast<std::size_t>(i)];
  }
  return value;
}

constexpr std::size_t kHashBytes = sdk::PairwiseKeys::kKeyedHashMinBytes;

} // namespace

std::optional<ParsedBeacon> parse_beacon(std::span<const uint8_t> beacon) {
  if (beacon.size() < kHeaderBytes + kEntryBytes || beacon.size() > kMaxBeaconBytes) {
    return std::nullopt;
  }
  const std::size_t count = beacon[kSignedHeaderBytes];
  if (beacon[0] != kBeaconVersion || beacon[1] != 0 || count == 0 || count > kMaxEntries ||
      beacon.size() != kHeaderBytes + count * kEntryBytes) {
    return std::nullopt;
  }
  ParsedBeacon parsed;
  parsed.epoch = get_be(beacon, 2, 8);
  parsed.counter = static_cast<uint32_t>(get_be(beacon, 10, 4));
  parsed.signed_header = beacon.first(kSignedHeaderBytes);
  parsed.entries = beacon.subspan(kHeaderBytes);
  return parsed;
}

namespace {

// Length of the UTF-8 character starting at `s[at]` if it is well formed and not a control
// character; 0 otherwise.
std::size_t name_char(std::string_view s, std::size_t at) {
  const auto c = static_cast<unsigned char>(s[at]);
  if (c < 0x20 || c == 0x7f) {
    return 0;
  }
  if (c < 0x80) {
    return 1;
  }
  const std::size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (n == 0 || at + n > s.size()) {
    return 0;
  }
  uint32_t cp = c & (0xff >> (n + 1));
  for (std::size_t i = 1; i < n; ++i) {
    const auto k = static_cast<unsigned char>(s[at + i]);
    if ((k & 0xc0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (k & 0x3f);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  const bool bad = overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
                   (cp >= 0x80 && cp < 0xa0); // C1 controls
  return bad ? 0 : n;
}

} // namespace

bool is_meeting_beacon(std::span<const uint8_t> beacon) {
  return beacon.size() >= 2 && beacon[0] == kBeaconVersion && (beacon[1] & kFlagMeeting) != 0;
}

std::vector<uint8_t> make_meeting_beacon(const Key& key, std::string_view name) {
  std::string clean;
  for (std::size_t at = 0; at < name.size();) {
    const std::size_t n = name_char(name, at);
    if (n == 0) {
      ++at;
      continue;
    }
    if (clean.size() + n > kMaxMeetingNameBytes) {
      break;
    }
    clean.append(name.substr(at, n));
    at += n;
  }
  std::vector<uint8_t> beacon;
  beacon.reserve(kMeetingHeaderBytes + clean.size());
  beacon.push_back(kBeaconVersion);
  beacon.push_back(kFlagMeeting);
  beacon.insert(beacon.end(), key.begin(), key.end());
  beacon.push_back(static_cast<uint8_t>(clean.size()));
  beacon.insert(beacon.end(), clean.begin(), clean.end());
  return beacon;
}

std::optional<MeetingBeacon> parse_meeting_beacon(std::span<const uint8_t> beacon) {
  if (beacon.size() < kMeetingHeaderBytes || beacon[0] != kBeaconVersion ||
      beacon[1] != kFlagMeeting) {
    return std::nullopt;
  }
  const std::size_t n = beacon[kMeetingHeaderBytes - 1];
  if (n > kMaxMeetingNameBytes || beacon.size() != kMeetingHeaderBytes + n) {
    return std::nullopt;
  }
  MeetingBeacon out;
  std::copy_n(beacon.begin() + 2, out.key.size(), out.key.begin());
  out.name.assign(beacon.begin() + static_cast<std::ptrdiff_t>(kMeetingHeaderBytes), beacon.end());
  for (std::size_t at = 0; at < out.name.size();) {
    const std::size_t len = name_char(out.name, at);
    if (len == 0) {
      return std::nullopt;
    }
    at += len;
  }
  return out;
}

std::size_t BeaconBook::TagHash::operator()(const Tag& t) const noexcept {
  uint64_t v = 0;
  std::memcpy(&v, t.data(), sizeof v);
  return static_cast<std::size_t>(v);
}

BeaconBook::BeaconBook(sdk::PairwiseKeys& pairwise, Random random,
                       std::span<const uint8_t> my_secret, const Key& my_key, uint64_t epoch_ms,
                       std::size_t entries)
    : pairwise_(pairwise), random_(std::move(random)),
      my_secret_(my_secret.begin(), my_secret.end()), my_key_(my_key),
      epoch_ms_(epoch_ms == 0 ? 1 : epoch_ms),
      entries_(entries == 0 ? 1 : std::min(entries, kMaxEntries)) {}

BeaconBook::~BeaconBook() {
  sodium_memzero(my_secret_.data(), my_secret_.size());
  for (auto& [key, peer] : contacts_) {
    sodium_memzero(peer.key.data(), peer.key.size());
  }
}

uint64_t BeaconBook::epoch_of(int64_t wall_ms) const {
  return wall_ms <= 0 ? 0 : static_cast<uint64_t>(wall_ms) / epoch_ms_;
}

bool BeaconBook::add_contact(const Key& key) {
  queued_.erase(key);
  if (contacts_.contains(key)) {
    return true;
  }
  Peer peer;
  const sdk::Status st =
      pairwise_.pairwise_key(sdk::ByteView(my_secret_), sdk::ByteView(key.data(), key.size()),
                             sdk::StringView(kPairwiseLabel), {peer.key.data(), peer.key.size()});
  if (!st.is_ok()) {
    return false;
  }
  const Peer& stored = contacts_.emplace(key, std::move(peer)).first->second;
  sodium_memzero(peer.key.data(), peer.key.size());
  if (tags_epoch_ != UINT64_MAX) {
    for (uint64_t e = tags_epoch_ == 0 ? 0 : tags_epoch_ - 1; e <= tags_epoch_ + 1; ++e) {
      tags_[tag_of(stored, e, key)] = {key, e};
    }
  }
  return true;
}

void BeaconBook::queue_contact(const Key& key) {
  if (!contacts_.contains(key)) {
    queued_.insert(key);
  }
}

std::size_t BeaconBook::derive_queued(std::size_t max) {
  for (std::size_t n = 0; n < max && !queued_.empty(); ++n) {
    const Key key = *queued_.begin();
    queued_.erase(queued_.begin());
    (void)add_contact(key);
  }
  return queued_.size();
}

void BeaconBook::remove_contact(const Key& key) {
  queued_.erase(key);
  auto it = contacts_.find(key);
  if (it == contacts_.end()) {
    return;
  }
  sodium_memzero(it->second.key.data(), it->second.key.size());
  contacts_.erase(it);
  std::erase_if(tags_, [&](const auto& entry) { return entry.second.first == key; });
}

BeaconBook::Tag BeaconBook::tag_of(const Peer& p, uint64_t epoch, const Key& sender) const {
  std::vector<uint8_t> message;
  message.reserve(3 + 8 + sender.size());
  message.insert(message.end(), {'t', 'a', 'g'});
  put_be(message, epoch, 8);
  message.insert(message.end(), sender.begin(), sender.end());
  std::array<uint8_t, kHashBytes> hash{};
  (void)pairwise_.keyed_hash(sdk::ByteView(p.key.data(), p.key.size()), sdk::ByteView(message),
                             {hash.data(), hash.size()});
  Tag tag{};
  std::memcpy(tag.data(), hash.data(), tag.size());
  return tag;
}

std::array<uint8_t, kAuthBytes>
BeaconBook::auth_of(const Peer& p, std::span<const uint8_t> signed_header, const Tag& tag) const {
  std::vector<uint8_t> message;
  message.reserve(4 + signed_header.size() + tag.size());
  message.insert(message.end(), {'a', 'u', 't', 'h'});
  message.insert(message.end(), signed_header.begin(), signed_header.end());
  message.insert(message.end(), tag.begin(), tag.end());
  std::array<uint8_t, kHashBytes> hash{};
  (void)pairwise_.keyed_hash(sdk::ByteView(p.key.data(), p.key.size()), sdk::ByteView(message),
                             {hash.data(), hash.size()});
  std::array<uint8_t, kAuthBytes> auth{};
  std::memcpy(auth.data(), hash.data(), auth.size());
  return auth;
}

std::vector<uint8_t> BeaconBook::next_beacon(int64_t wall_ms) {
  const uint64_t epoch = epoch_of(wall_ms);
  if (epoch != sending_epoch_) {
    sending_epoch_ = epoch;
    random_({reinterpret_cast<uint8_t*>(&counter_), sizeof counter_});
    counter_ &= 0x7fffffffu; // room to count up for the whole epoch
  } else {
    ++counter_;
  }
  std::vector<uint8_t> beacon;
  beacon.reserve(kHeaderBytes + entries_ * kEntryBytes);
  beacon.push_back(kBeaconVersion);
  beacon.push_back(0);
  put_be(beacon, epoch, 8);
  put_be(beacon, counter_, 4);
  beacon.push_back(static_cast<uint8_t>(entries_));
  const std::span<const uint8_t> header(beacon.data(), kSignedHeaderBytes);
  const std::vector<uint8_t> signed_header(header.begin(), header.end());
  const std::size_t real = std::min(entries_, contacts_.size());
  if (next_turn_ >= contacts_.size()) {
    next_turn_ = 0;
  }
  auto it = std::next(contacts_.begin(), static_cast<std::ptrdiff_t>(next_turn_));
  for (std::size_t i = 0; i < real; ++i) {
    if (it == contacts_.end()) {
      it = contacts_.begin();
    }
    const Tag tag = tag_of(it->second, epoch, my_key_);
    const auto auth = auth_of(it->second, signed_header, tag);
    beacon.insert(beacon.end(), tag.begin(), tag.end());
    beacon.insert(beacon.end(), auth.begin(), auth.end());
    ++it;
  }
  next_turn_ = contacts_.empty() ? 0 : (next_turn_ + real) % contacts_.size();
  const std::size_t filler = (entries_ - real) * kEntryBytes;
  const std::size_t at = beacon.size();
  beacon.resize(at + filler);
  if (filler > 0) {
    random_({beacon.data() + at, filler});
  }
  return beacon;
}

void BeaconBook::refresh_tags(uint64_t epoch) {
  tags_.clear();
  tags_epoch_ = epoch;
  for (const auto& [key, peer] : contacts_) {
    for (uint64_t e = epoch == 0 ? 0 : epoch - 1; e <= epoch + 1; ++e) {
      tags_[tag_of(peer, e, key)] = {key, e};
    }
  }
}

BeaconVerdict BeaconBook::read(std::span<const uint8_t> beacon, int64_t wall_ms,
                               std::vector<Key>& found) {
  found.clear();
  const auto parsed = parse_beacon(beacon);
  if (!parsed) {
    ++stats_.malformed;
    return BeaconVerdict::kMalformed;
  }
  const uint64_t now = epoch_of(wall_ms);
  if (parsed->epoch + 1 < now || parsed->epoch > now + 1) {
    ++stats_.stale;
    return BeaconVerdict::kStale;
  }
  if (tags_epoch_ != now) {
    refresh_tags(now);
    for (auto& [key, peer] : contacts_) {
      std::erase_if(peer.last_counter, [&](const auto& e) { return e.first + 1 < now; });
    }
  }
  bool replayed = false;
  for (std::size_t at = 0; at < parsed->entries.size(); at += kEntryBytes) {
    Tag tag{};
    std::memcpy(tag.data(), parsed->entries.data() + at, kTagBytes);
    const auto hit = tags_.find(tag);
    if (hit == tags_.end() || hit->second.second != parsed->epoch) {
      continue;
    }
    Peer& peer = contacts_.at(hit->second.first);
    const auto expected = auth_of(peer, parsed->signed_header, tag);
    if (sodium_memcmp(expected.data(), parsed->entries.data() + at + kTagBytes, kAuthBytes) != 0) {
      ++stats_.forged;
      continue;
    }
    const auto last = peer.last_counter.find(parsed->epoch);
    if (last != peer.last_counter.end() && parsed->counter <= last->second) {
      replayed = true;
      continue;
    }
    peer.last_counter[parsed->epoch] = parsed->counter;
    found.push_back(hit->second.first);
  }
  if (!found.empty()) {
    ++stats_.recognised;
    return BeaconVerdict::kRecognised;
  }
  if (replayed) {
    ++stats_.replayed;
    return BeaconVerdict::kReplay;
  }
  ++stats_.unrecognised;
  return BeaconVerdict::kUnrecognised;
}

} // namespace entre::discovery
