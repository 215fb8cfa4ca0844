// The Double Ratchet: see ratchet.hpp for the algorithm, the bounds and both formats.
#include "ratchet.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace entre::plugins::sodium {
namespace {

using sdk::Status;
using sdk::StatusCode;

// Serialised state layout (see ratchet.hpp).
constexpr std::size_t kStateFixedBytes = 4 + 1 + 1 + 7 * 32 + 5 * 4;
constexpr std::size_t kStateSkippedKeyBytes = 32 + 4 + 4 + 32;
constexpr std::size_t kStateChecksumBytes = kSha256Bytes;

ByteSpan text_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

void put_u32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t get_u32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// An error status with a printf-style message (truncated to what a Status holds).
[[gnu::format(printf, 2, 3)]] Status fail(StatusCode code, const char* format, ...) noexcept {
  char text[sdk::kStatusMessageBytes];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  return Status::error(code, text);
}

bool is_zero(ByteSpan bytes) noexcept {
  static constexpr std::array<uint8_t, 32> kZero{};
  return bytes.size() <= kZero.size() && equal_ct(bytes, ByteSpan(kZero.data(), bytes.size()));
}

// KDF_RK: HKDF-SHA256(salt = rk, ikm = dh_out) -> new root key || chain key. `root` may be `rk`.
bool kdf_rk(const Secret<32>& rk, const Secret<32>& dh_out, Secret<32>& root, Secret<32>& chain) {
  Secret<64> okm;
  if (!hkdf_sha256(rk.span(), dh_out.span(), text_bytes(kRatchetRootInfo), okm.span())) {
    return false;
  }
  std::memcpy(root.data(), okm.data(), 32);
  std::memcpy(chain.data(), okm.data() + 32, 32);
  return true;
}

// KDF_CK: the message key and the next chain key (which may overwrite `ck` itself), from one
// keyed BLAKE2b-512 call: cheaper than two HMAC-SHA256 on every message, and as good a PRF.
void kdf_ck(const Secret<32>& ck, Secret<32>& message_key, Secret<32>& next_ck) noexcept {
  Secret<64> okm;
  (void)blake2b_keyed(ck.span(), ByteSpan(&kRatchetChainStepInput, 1), okm.span());
  std::memcpy(message_key.data(), okm.data(), 32);
  std::memcpy(next_ck.data(), okm.data() + 32, 32);
}

// The AEAD key and nonce of one message key: keyed BLAKE2b (56 bytes) over the label.
bool message_aead_keys(const Secret<32>& message_key, Secret<kAeadKeyBytes + kXNonceBytes>& out) {
  return blake2b_keyed(message_key.span(), text_bytes(kRatchetMessageKeysInfo), out.span());
}

Bytes full_ad(ByteSpan ad, ByteSpan header) {
  Bytes out;
  out.reserve(ad.size() + header.size());
  out.insert(out.end(), ad.begin(), ad.end());
  out.insert(out.end(), header.begin(), header.end());
  return out;
}

bool seal_message(const Secret<32>& message_key, ByteSpan ad, ByteSpan header, ByteSpan plaintext,
                  Bytes& sealed) {
  Secret<kAeadKeyBytes + kXNonceBytes> keys;
  if (!message_aead_keys(message_key, keys)) {
    return false;
  }
  xchacha_seal(keys.data(), keys.data() + kAeadKeyBytes, full_ad(ad, header), plaintext, sealed);
  return true;
}

bool open_message(const Secret<32>& message_key, ByteSpan ad, ByteSpan header, ByteSpan sealed,
                  SecretBytes& plaintext) {
  Secret<kAeadKeyBytes + kXNonceBytes> keys;
  if (!message_aead_keys(message_key, keys)) {
    return false;
  }
  return xchacha_open(keys.data(), keys.data() + kAeadKeyBytes, full_ad(ad, header), sealed,
                      plaintext.vec());
}

// Reserves `size` bytes of the sink; false if the sink refused them.
bool reserve_output(sdk::ByteSink& sink, std::size_t size, sdk::MutableByteView& region) noexcept {
  region = sink.reserve(size);
  return region.size >= size;
}

// Fills a region from reserve_output() and commits it.
void write_output(sdk::ByteSink& sink, sdk::MutableByteView region, ByteSpan bytes) noexcept {
  if (!bytes.empty()) {
    std::memcpy(region.data, bytes.data(), bytes.size());
  }
  sink.commit(bytes.size());
}

} // namespace

// --- Header --------------------------------------------------------------------------------------

std::array<uint8_t, kRatchetHeaderBytes>
encode_ratchet_header(const RatchetHeader& header) noexcept {
  std::array<uint8_t, kRatchetHeaderBytes> out{};
  out[0] = kRatchetWireVersion;
  std::memcpy(out.data() + 1, header.ratchet_public.data(), kX25519Bytes);
  put_u32(out.data() + 1 + kX25519Bytes, header.previous_chain_length);
  put_u32(out.data() + 1 + kX25519Bytes + 4, header.message_number);
  return out;
}

Status parse_ratchet_header(ByteSpan message, RatchetHeader& out) noexcept {
  if (message.size() < kRatchetHeaderBytes) {
    return fail(StatusCode::kCorrupt, "ratchet message of %zu bytes is shorter than its header",
                message.size());
  }
  if (message[0] != kRatchetWireVersion) {
    return fail(StatusCode::kUnsupported, "ratchet message version %u is not supported",
                unsigned{message[0]});
  }
  std::memcpy(out.ratchet_public.data(), message.data() + 1, kX25519Bytes);
  out.previous_chain_length = get_u32(message.data() + 1 + kX25519Bytes);
  out.message_number = get_u32(message.data() + 1 + kX25519Bytes + 4);
  return Status::ok();
}

// --- Initialisation ------------------------------------------------------------------------------

Status RatchetState::init_alice(const Secret<32>& shared_key,
                                const std::array<uint8_t, 32>& bob_ratchet_public,
                                RatchetState& out) noexcept {
  try {
    return init_alice_with(shared_key, bob_ratchet_public, nullptr, out);
  } catch (...) {
    return fail(StatusCode::kInternal, "ratchet: init_alice ran out of memory");
  }
}

Status RatchetState::init_alice_with(const Secret<32>& shared_key,
                                     const std::array<uint8_t, 32>& bob_public,
                                     RatchetKeySource* source, RatchetState& out) {
  RatchetState state;
  state.key_source_ = source;
  Core& core = state.core_;
  state.new_keypair(core.send_secret, core.send_public);
  core.recv_public = bob_public;
  Secret<32> dh_out;
  if (!x25519(core.send_secret.data(), bob_public.data(), dh_out.data())) {
    return fail(StatusCode::kInvalidArgument, "ratchet: the peer's ratchet key is low-order");
  }
  if (!kdf_rk(shared_key, dh_out, core.root_key, core.send_chain) ||
      !hkdf_sha256({}, shared_key.span(), text_bytes(kRatchetMediaBaseInfo),
                   state.media_base_.span())) {
    return fail(StatusCode::kInternal, "ratchet: key derivation failed");
  }
  core.phase = RatchetPhase::kInitiatorSending;
  out = state;
  return Status::ok();
}

Status RatchetState::init_bob(const Secret<32>& shared_key, const Secret<32>& bob_ratchet_secret,
                              const std::array<uint8_t, 32>& bob_ratchet_public,
                              RatchetState& out) noexcept {
  try {
    std::array<uint8_t, 32> derived{};
    x25519_public(bob_ratchet_secret, derived);
    if (derived != bob_ratchet_public) {
      return fail(StatusCode::kInvalidArgument,
                  "ratchet: Bob's ratchet public key does not match his secret");
    }
    RatchetState state;
    Core& core = state.core_;
    core.root_key = shared_key;
    core.send_secret = bob_ratchet_secret;
    core.send_public = bob_ratchet_public;
    if (!hkdf_sha256({}, shared_key.span(), text_bytes(kRatchetMediaBaseInfo),
                     state.media_base_.span())) {
      return fail(StatusCode::kInternal, "ratchet: key derivation failed");
    }
    core.phase = RatchetPhase::kResponderWaiting;
    out = state;
    return Status::ok();
  } catch (...) {
    return fail(StatusCode::kInternal, "ratchet: init_bob ran out of memory");
  }
}

void RatchetState::wipe() noexcept {
  core_ = Core{};
  media_base_.wipe();
  skipped_.clear();
}

bool RatchetState::has_send_chain() const noexcept {
  return core_.phase == RatchetPhase::kInitiatorSending || core_.phase == RatchetPhase::kActive;
}

bool RatchetState::has_recv_chain() const noexcept { return core_.phase == RatchetPhase::kActive; }

void RatchetState::new_keypair(Secret<32>& secret,
                               std::array<uint8_t, 32>& public_key) const noexcept {
  if (key_source_ != nullptr) {
    key_source_->next_keypair(secret, public_key);
  } else {
    x25519_keypair(secret, public_key);
  }
}

// --- Encrypt -------------------------------------------------------------------------------------

Status RatchetState::encrypt(ByteSpan ad, ByteSpan plaintext, sdk::ByteSink& out) noexcept {
  try {
    if (core_.phase == RatchetPhase::kEmpty) {
      return fail(StatusCode::kInvalidArgument, "ratchet: the state is empty");
    }
    if (!has_send_chain()) {
      return fail(StatusCode::kUnavailable,
                  "ratchet: no sending chain before the initiator's first message");
    }
    if (ad.size() > kRatchetMaxAdBytes || plaintext.size() > kRatchetMaxPlaintextBytes) {
      return fail(StatusCode::kOutOfRange, "ratchet: plaintext or associated data too long");
    }
    if (core_.send_count == UINT32_MAX) {
      return fail(StatusCode::kOutOfRange, "ratchet: sending chain exhausted");
    }
    Secret<32> message_key;
    Secret<32> next_chain;
    kdf_ck(core_.send_chain, message_key, next_chain);
    RatchetHeader header;
    header.ratchet_public = core_.send_public;
    header.previous_chain_length = core_.previous_send_count;
    header.message_number = core_.send_count;
    const auto header_bytes = encode_ratchet_header(header);
    Bytes sealed;
    if (!seal_message(message_key, ad, header_bytes, plaintext, sealed)) {
      return fail(StatusCode::kInternal, "ratchet: key derivation failed");
    }
    sdk::MutableByteView region;
    if (!reserve_output(out, header_bytes.size() + sealed.size(), region)) {
      return fail(StatusCode::kBufferTooSmall, "ratchet: the output sink refused the message");
    }
    std::memcpy(region.data, header_bytes.data(), header_bytes.size());
    std::memcpy(region.data + header_bytes.size(), sealed.data(), sealed.size());
    out.commit(header_bytes.size() + sealed.size());
    core_.send_chain = next_chain;
    ++core_.send_count;
    return Status::ok();
  } catch (...) {
    return fail(StatusCode::kInternal, "ratchet: encrypt ran out of memory");
  }
}

// --- Decrypt -------------------------------------------------------------------------------------

Status RatchetState::decrypt(ByteSpan ad, ByteSpan message, sdk::ByteSink& plaintext_out) noexcept {
  try {
    return decrypt_staged(ad, message, plaintext_out);
  } catch (...) {
    return fail(StatusCode::kInternal, "ratchet: decrypt ran out of memory");
  }
}

Status RatchetState::decrypt_staged(ByteSpan ad, ByteSpan message, sdk::ByteSink& sink) {
  if (core_.phase == RatchetPhase::kEmpty) {
    return fail(StatusCode::kInvalidArgument, "ratchet: the state is empty");
  }
  if (ad.size() > kRatchetMaxAdBytes) {
    return fail(StatusCode::kOutOfRange, "ratchet: associated data too long");
  }
  RatchetHeader header;
  if (Status status = parse_ratchet_header(message, header); !status) {
    return status;
  }
  if (message.size() < kRatchetHeaderBytes + kAeadTagBytes) {
    return fail(StatusCode::kCorrupt, "ratchet message of %zu bytes is shorter than header and tag",
                message.size());
  }
  if (message.size() - kRatchetHeaderBytes - kAeadTagBytes > kRatchetMaxPlaintextBytes) {
    return fail(StatusCode::kOutOfRange, "ratchet message too long");
  }
  const ByteSpan header_bytes = message.first(kRatchetHeaderBytes);
  const ByteSpan sealed = message.subspan(kRatchetHeaderBytes);
  const uint32_t n = header.message_number;

  // 1. A key skipped earlier: use it once.
  const auto found = std::find_if(skipped_.begin(), skipped_.end(), [&](const SkippedKey& key) {
    return key.message_number == n && key.ratchet_public == header.ratchet_public;
  });
  if (found != skipped_.end()) {
    SecretBytes plaintext;
    if (!open_message(found->message_key, ad, header_bytes, sealed, plaintext)) {
      return fail(StatusCode::kAuthFailed, "ratchet: message did not authenticate");
    }
    sdk::MutableByteView region;
    if (!reserve_output(sink, plaintext.vec().size(), region)) {
      return fail(StatusCode::kBufferTooSmall, "ratchet: the output sink refused the plaintext");
    }
    write_output(sink, region, plaintext.vec());
    skipped_.erase(found);
    return Status::ok();
  }

  // Every bound is checked before any key is derived.
  if (n == UINT32_MAX) {
    return fail(StatusCode::kOutOfRange, "ratchet: message number out of range");
  }
  const bool current_chain = has_recv_chain() && header.ratchet_public == core_.recv_public;
  if (current_chain) {
    if (n < core_.recv_count) {
      return fail(StatusCode::kOutOfRange,
                  "ratchet: message key already used or discarded (replay?)");
    }
    if (n - core_.recv_count > kRatchetMaxSkip) {
      return fail(StatusCode::kOutOfRange, "ratchet: message %u is more than %u ahead of %u", n,
                  kRatchetMaxSkip, core_.recv_count);
    }
  } else {
    if (core_.phase == RatchetPhase::kInitiatorSending &&
        header.ratchet_public == core_.recv_public) {
      return fail(StatusCode::kAuthFailed, "ratchet: no receiving chain for this ratchet key");
    }
    const uint32_t pn = header.previous_chain_length;
    if (has_recv_chain() && pn > core_.recv_count && pn - core_.recv_count > kRatchetMaxSkip) {
      return fail(StatusCode::kOutOfRange,
                  "ratchet: previous chain length %u is more than %u ahead of %u", pn,
                  kRatchetMaxSkip, core_.recv_count);
    }
    if (n > kRatchetMaxSkip) {
      return fail(StatusCode::kOutOfRange,
                  "ratchet: message %u of a new chain is more than %u ahead", n, kRatchetMaxSkip);
    }
    if (core_.epoch == UINT32_MAX) {
      return fail(StatusCode::kOutOfRange, "ratchet: no ratchet steps left");
    }
  }

  // 2. and 3. on a copy.
  Core next = core_;
  std::vector<SkippedKey> staged;
  if (!current_chain) {
    if (has_recv_chain()) {
      skip_chain(next, header.previous_chain_length, staged);
    }
    if (Status status = dh_step(next, header.ratchet_public); !status) {
      return status;
    }
  }
  skip_chain(next, n, staged);
  Secret<32> message_key;
  kdf_ck(next.recv_chain, message_key, next.recv_chain);
  ++next.recv_count;

  SecretBytes plaintext;
  if (!open_message(message_key, ad, header_bytes, sealed, plaintext)) {
    return fail(StatusCode::kAuthFailed, "ratchet: message did not authenticate");
  }
  sdk::MutableByteView region;
  if (!reserve_output(sink, plaintext.vec().size(), region)) {
    return fail(StatusCode::kBufferTooSmall, "ratchet: the output sink refused the plaintext");
  }
  // Commit: first the part that may allocate (undone if it throws), then output and the rest.
  const std::size_t kept = skipped_.size();
  try {
    for (const SkippedKey& key : staged) {
      skipped_.push_back(key);
    }
  } catch (...) {
    skipped_.resize(kept);
    throw;
  }
  write_output(sink, region, plaintext.vec());
  commit(next);
  return Status::ok();
}

// Stores the keys of the receiving chain in `next` from its counter up to `until` (exclusive).
void RatchetState::skip_chain(Core& next, uint32_t until, std::vector<SkippedKey>& staged) {
  while (next.recv_count < until) {
    SkippedKey& key = staged.emplace_back();
    key.ratchet_public = next.recv_public;
    key.message_number = next.recv_count;
    key.epoch = next.epoch;
    kdf_ck(next.recv_chain, key.message_key, next.recv_chain);
    ++next.recv_count;
  }
}

// The DH ratchet step of the specification, on `next`.
Status RatchetState::dh_step(Core& next, const std::array<uint8_t, 32>& their_public) const {
  Secret<32> dh_out;
  if (!x25519(next.send_secret.data(), their_public.data(), dh_out.data())) {
    return fail(StatusCode::kCorrupt, "ratchet: the header's ratchet key is low-order");
  }
  if (!kdf_rk(next.root_key, dh_out, next.root_key, next.recv_chain)) {
    return fail(StatusCode::kInternal, "ratchet: key derivation failed");
  }
  next.previous_send_count = next.send_count;
  next.send_count = 0;
  next.recv_count = 0;
  next.recv_public = their_public;
  ++next.epoch;
  new_keypair(next.send_secret, next.send_public);
  if (!x25519(next.send_secret.data(), their_public.data(), dh_out.data()) ||
      !kdf_rk(next.root_key, dh_out, next.root_key, next.send_chain)) {
    return fail(StatusCode::kInternal, "ratchet: key derivation failed");
  }
  next.phase = RatchetPhase::kActive;
  return Status::ok();
}

// Installs `next` and applies the store's bounds (expiry first, then the total cap).
void RatchetState::commit(const Core& next) noexcept {
  core_ = next;
  const uint32_t epoch = core_.epoch;
  std::erase_if(skipped_, [epoch](const SkippedKey& key) {
    return epoch - key.epoch > kRatchetSkippedKeyMaxAgeSteps;
  });
  while (skipped_.size() > kRatchetMaxSkippedKeys) {
    skipped_.pop_front();
  }
}

// --- Media keys ----------------------------------------------------------------------------------

Status RatchetState::derive_media_key(ByteSpan call_id, Secret<32>& key_out) const noexcept {
  if (core_.phase == RatchetPhase::kEmpty) {
    return fail(StatusCode::kInvalidArgument, "ratchet: the state is empty");
  }
  if (call_id.empty() || call_id.size() > kRatchetMaxCallIdBytes) {
    return fail(StatusCode::kInvalidArgument, "ratchet: a call id has 1 to %zu bytes",
                kRatchetMaxCallIdBytes);
  }
  if (!hkdf_sha256(call_id, media_base_.span(), text_bytes(kRatchetMediaKeyInfo), key_out.span())) {
    return fail(StatusCode::kInternal, "ratchet: key derivation failed");
  }
  return Status::ok();
}

// --- Serialisation -------------------------------------------------------------------------------

Status RatchetState::serialize(sdk::ByteSink& out) const noexcept {
  if (core_.phase == RatchetPhase::kEmpty) {
    return fail(StatusCode::kInvalidArgument, "ratchet: the state is empty");
  }
  const std::size_t size =
      kStateFixedBytes + skipped_.size() * kStateSkippedKeyBytes + kStateChecksumBytes;
  sdk::MutableByteView region = out.reserve(size);
  if (region.size < size) {
    return fail(StatusCode::kBufferTooSmall, "ratchet: the output sink refused the state");
  }
  uint8_t* p = region.data;
  const auto put = [&p](ByteSpan bytes) {
    std::memcpy(p, bytes.data(), bytes.size());
    p += bytes.size();
  };
  const auto put32 = [&p](uint32_t v) {
    put_u32(p, v);
    p += 4;
  };
  put(kRatchetStateMagic);
  *p++ = kRatchetStateVersion;
  *p++ = static_cast<uint8_t>(core_.phase);
  put(core_.root_key.span());
  put(core_.send_secret.span());
  put(core_.send_public);
  put(core_.recv_public);
  put(core_.send_chain.span());
  put(core_.recv_chain.span());
  put(media_base_.span());
  put32(core_.send_count);
  put32(core_.recv_count);
  put32(core_.previous_send_count);
  put32(core_.epoch);
  put32(static_cast<uint32_t>(skipped_.size()));
  for (const SkippedKey& key : skipped_) {
    put(key.ratchet_public);
    put32(key.message_number);
    put32(key.epoch);
    put(key.message_key.span());
  }
  sha256(ByteSpan(region.data, static_cast<std::size_t>(p - region.data)), p);
  out.commit(size);
  return Status::ok();
}

Status RatchetState::deserialize(ByteSpan data, RatchetState& out) noexcept {
  try {
    constexpr std::size_t kMinimum = kStateFixedBytes + kStateChecksumBytes;
    if (data.size() < kMinimum) {
      return fail(StatusCode::kCorrupt, "ratchet state truncated: %zu bytes, at least %zu needed",
                  data.size(), kMinimum);
    }
    if (!std::equal(kRatchetStateMagic.begin(), kRatchetStateMagic.end(), data.begin())) {
      return fail(StatusCode::kCorrupt, "not a ratchet state (bad magic)");
    }
    if (data[4] != kRatchetStateVersion) {
      return fail(StatusCode::kUnsupported, "ratchet state version %u is not supported (reads %u)",
                  unsigned{data[4]}, unsigned{kRatchetStateVersion});
    }
    const uint32_t count = get_u32(data.data() + kStateFixedBytes - 4);
    if (count > kRatchetMaxSkippedKeys) {
      return fail(StatusCode::kCorrupt, "ratchet state holds %u skipped keys, more than %zu", count,
                  kRatchetMaxSkippedKeys);
    }
    const std::size_t expected = kMinimum + std::size_t{count} * kStateSkippedKeyBytes;
    if (data.size() != expected) {
      return fail(StatusCode::kCorrupt, "ratchet state is %zu bytes, %zu expected for %u keys",
                  data.size(), expected, count);
    }
    std::array<uint8_t, kSha256Bytes> checksum{};
    sha256(data.first(expected - kStateChecksumBytes), checksum.data());
    if (!equal_ct(checksum, data.last(kStateChecksumBytes))) {
      return fail(StatusCode::kCorrupt, "ratchet state checksum mismatch (corrupted)");
    }

    RatchetState state;
    Core& core = state.core_;
    const uint8_t* p = data.data() + 5;
    const auto take = [&p](MutableByteSpan into) {
      std::memcpy(into.data(), p, into.size());
      p += into.size();
    };
    const auto take32 = [&p] {
      const uint32_t v = get_u32(p);
      p += 4;
      return v;
    };
    const uint8_t phase = *p++;
    if (phase < static_cast<uint8_t>(RatchetPhase::kInitiatorSending) ||
        phase > static_cast<uint8_t>(RatchetPhase::kActive)) {
      return fail(StatusCode::kCorrupt, "ratchet state has unknown phase %u", unsigned{phase});
    }
    core.phase = static_cast<RatchetPhase>(phase);
    take(core.root_key.span());
    take(core.send_secret.span());
    take(core.send_public);
    take(core.recv_public);
    take(core.send_chain.span());
    take(core.recv_chain.span());
    take(state.media_base_.span());
    core.send_count = take32();
    core.recv_count = take32();
    core.previous_send_count = take32();
    core.epoch = take32();
    p += 4; // the count, read above

    std::array<uint8_t, 32> derived{};
    x25519_public(core.send_secret, derived);
    if (derived != core.send_public) {
      return fail(StatusCode::kCorrupt, "ratchet state: sending key pair does not match");
    }
    switch (core.phase) {
    case RatchetPhase::kResponderWaiting:
      if (!is_zero(core.send_chain.span()) || !is_zero(core.recv_public) || core.send_count != 0) {
        return fail(StatusCode::kCorrupt, "ratchet state: a waiting responder has a chain");
      }
      [[fallthrough]];
    case RatchetPhase::kInitiatorSending:
      if (!is_zero(core.recv_chain.span()) || core.recv_count != 0 || core.epoch != 0 ||
          core.previous_send_count != 0 || count != 0) {
        return fail(StatusCode::kCorrupt, "ratchet state: receiving chain before the first step");
      }
      break;
    case RatchetPhase::kActive:
      if (core.epoch == 0) {
        return fail(StatusCode::kCorrupt, "ratchet state: active without a ratchet step");
      }
      break;
    case RatchetPhase::kEmpty:
      break;
    }

    uint32_t previous_epoch = 0;
    for (uint32_t i = 0; i < count; ++i) {
      SkippedKey& key = state.skipped_.emplace_back();
      take(key.ratchet_public);
      key.message_number = take32();
      key.epoch = take32();
      take(key.message_key.span());
      if (key.epoch < previous_epoch || key.epoch > core.epoch ||
          core.epoch - key.epoch > kRatchetSkippedKeyMaxAgeSteps) {
        return fail(StatusCode::kCorrupt, "ratchet state: skipped key %u has a bad epoch", i);
      }
      previous_epoch = key.epoch;
    }
    out = state;
    return Status::ok();
  } catch (...) {
    return fail(StatusCode::kInternal, "ratchet: deserialize ran out of memory");
  }
}

} // namespace entre::plugins::sodium
