// Noise handshakes: CipherState, SymmetricState and HandshakeState of the Noise specification,
// revision 34, sections 4 and 5. The patterns are listed in noise.hpp and tabled below.
#include "noise.hpp"

#include <algorithm>
#include <initializer_list>
#include <span>

namespace entre::plugins::sodium {

using sdk::HandshakePattern;
using sdk::HandshakeRole;

// --- Pattern tables ------------------------------------------------------------------------------

enum class NoiseToken : uint8_t { kE, kS, kEE, kES, kSE, kSS, kPsk };

namespace {

constexpr std::size_t kMaxTokensPerMessage = 6;
constexpr std::size_t kMaxMessagesPerPattern = 3;

struct NoiseMessage {
  std::array<NoiseToken, kMaxTokensPerMessage> tokens{};
  std::size_t count = 0;

  constexpr NoiseMessage() = default;
  constexpr NoiseMessage(std::initializer_list<NoiseToken> list) {
    for (const NoiseToken token : list) {
      tokens[count++] = token;
    }
  }
  [[nodiscard]] std::span<const NoiseToken> view() const noexcept { return {tokens.data(), count}; }
};

} // namespace

struct NoisePattern {
  HandshakePattern id;
  std::string_view name;
  bool initiator_static_premessage; // "-> s" before "..."
  bool responder_static_premessage; // "<- s" before "..."
  std::array<NoiseMessage, kMaxMessagesPerPattern> messages;

  [[nodiscard]] constexpr std::size_t message_count() const noexcept {
    std::size_t n = 0;
    while (n < messages.size() && messages[n].count > 0) {
      ++n;
    }
    return n;
  }
  [[nodiscard]] constexpr bool has_psk() const noexcept {
    for (const NoiseMessage& message : messages) {
      for (std::size_t i = 0; i < message.count; ++i) {
        if (message.tokens[i] == NoiseToken::kPsk) {
          return true;
        }
      }
    }
    return false;
  }
  // Messages 0, 2, ... are the initiator's; 1, 3, ... the responder's.
  [[nodiscard]] constexpr bool sends_static(bool initiator) const noexcept {
    if (initiator ? initiator_static_premessage : responder_static_premessage) {
      return true;
    }
    for (std::size_t m = initiator ? 0 : 1; m < messages.size(); m += 2) {
      for (std::size_t i = 0; i < messages[m].count; ++i) {
        if (messages[m].tokens[i] == NoiseToken::kS) {
          return true;
        }
      }
    }
    return false;
  }
};

namespace {

using enum NoiseToken;
using Pattern = HandshakePattern;

// The patterns of noise.hpp, token for token: id, name, "-> s" and "<- s" pre-messages, then the
// messages (initiator first, alternating).
// clang-format off
constexpr std::array<NoisePattern, 11> kPatterns{{
    {Pattern::kNN,      "NN",     false, false, {{{kE}, {kE, kEE}}}},
    {Pattern::kNNpsk0,  "NNpsk0", false, false, {{{kPsk, kE}, {kE, kEE}}}},
    {Pattern::kNNpsk2,  "NNpsk2", false, false, {{{kE}, {kE, kEE, kPsk}}}},
    {Pattern::kKK,      "KK",     true,  true,  {{{kE, kES, kSS}, {kE, kEE, kSE}}}},
    {Pattern::kKKpsk0,  "KKpsk0", true,  true,  {{{kPsk, kE, kES, kSS}, {kE, kEE, kSE}}}},
    {Pattern::kKKpsk2,  "KKpsk2", true,  true,  {{{kE, kES, kSS}, {kE, kEE, kSE, kPsk}}}},
    {Pattern::kIK,      "IK",     false, true,  {{{kE, kES, kS, kSS}, {kE, kEE, kSE}}}},
    {Pattern::kIKpsk1,  "IKpsk1", false, true,  {{{kE, kES, kS, kSS, kPsk}, {kE, kEE, kSE}}}},
    {Pattern::kIKpsk2,  "IKpsk2", false, true,  {{{kE, kES, kS, kSS}, {kE, kEE, kSE, kPsk}}}},
    {Pattern::kXX,      "XX",     false, false, {{{kE}, {kE, kEE, kS, kES}, {kS, kSE}}}},
    {Pattern::kXXpsk3,  "XXpsk3", false, false, {{{kE}, {kE, kEE, kS, kES}, {kS, kSE, kPsk}}}},
}};
// clang-format on

[[nodiscard]] const NoisePattern* find_pattern(HandshakePattern id) noexcept {
  for (const NoisePattern& pattern : kPatterns) {
    if (pattern.id == id) {
      return &pattern;
    }
  }
  return nullptr;
}

// --- Hash, HMAC and HKDF (spec 4.3) --------------------------------------------------------------

[[nodiscard]] constexpr std::size_t hash_len(NoiseHash hash) noexcept {
  return hash == NoiseHash::kSha256 ? kSha256Bytes : kBlake2bBytes;
}

void digest(NoiseHash hash, ByteSpan data, uint8_t* out) noexcept {
  if (hash == NoiseHash::kSha256) {
    sha256(data, out);
  } else {
    blake2b(data, out);
  }
}

void hmac(NoiseHash hash, ByteSpan key, ByteSpan data, uint8_t* out) noexcept {
  if (hash == NoiseHash::kSha256) {
    hmac_sha256(key, data, out);
  } else {
    hmac_blake2b(key, data, out);
  }
}

using HashBlock = Secret<kNoiseMaxHashBytes>;

// HKDF(chaining_key, input_key_material, 2 or 3): temp_key = HMAC(ck, ikm), output1 =
// HMAC(temp_key, 0x01), output_i = HMAC(temp_key, output_(i-1) || i). `third` may be null.
void hkdf(NoiseHash hash, ByteSpan chaining_key, ByteSpan input_key_material, HashBlock& first,
          HashBlock& second, HashBlock* third) noexcept {
  const std::size_t n = hash_len(hash);
  HashBlock temp_key;
  hmac(hash, chaining_key, input_key_material, temp_key.data());
  const ByteSpan key = temp_key.span().first(n);

  Secret<kNoiseMaxHashBytes + 1> input; // output_(i-1) || i
  input.data()[0] = 0x01;
  hmac(hash, key, input.span().first(1), first.data());
  std::copy_n(first.data(), n, input.data());
  input.data()[n] = 0x02;
  hmac(hash, key, input.span().first(n + 1), second.data());
  if (third != nullptr) {
    std::copy_n(second.data(), n, input.data());
    input.data()[n] = 0x03;
    hmac(hash, key, input.span().first(n + 1), third->data());
  }
}

// The encodings of the points of small order (the same list libsodium's X25519 refuses with): 0,
// 1, the two points of order 8, p - 1, and the non-canonical p and p + 1. Bit 255 is ignored by
// X25519, so it is cleared before comparing. A comparison costs far less than the X25519 probe it
// replaces; every received key is still used in a DH that fails on an all-zero result.
[[nodiscard]] bool is_low_order(const NoisePublicKey& point) noexcept {
  static constexpr uint8_t kSmallOrder[7][32] = {
      {0},
      {1},
      {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
       0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
       0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
      {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
       0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
       0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
      {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
      {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
      {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
  };
  uint8_t found = 0;
  for (const auto& bad : kSmallOrder) {
    uint8_t diff = static_cast<uint8_t>((point[31] & 0x7f) ^ bad[31]);
    for (std::size_t i = 0; i < 31; ++i) {
      diff |= static_cast<uint8_t>(point[i] ^ bad[i]);
    }
    found |= static_cast<uint8_t>(diff == 0);
  }
  return found != 0;
}

[[nodiscard]] NoiseResult error(NoiseError code, std::string_view reason) noexcept {
  return {code, reason};
}

[[nodiscard]] bool is_initiator(HandshakeRole role) noexcept {
  return role == HandshakeRole::kInitiator;
}

} // namespace

std::string_view noise_error_name(NoiseError error) noexcept {
  switch (error) {
  case NoiseError::kNone:
    return "none";
  case NoiseError::kInvalidConfig:
    return "invalid config";
  case NoiseError::kWrongState:
    return "wrong state";
  case NoiseError::kAlreadyFailed:
    return "already failed";
  case NoiseError::kMessageTooLarge:
    return "message too large";
  case NoiseError::kTruncated:
    return "truncated";
  case NoiseError::kAuthFailed:
    return "authentication failed";
  case NoiseError::kLowOrderPoint:
    return "low-order point";
  case NoiseError::kNonceExhausted:
    return "nonce exhausted";
  case NoiseError::kInternal:
    return "internal error";
  }
  return "unknown";
}

std::string_view noise_pattern_name(HandshakePattern pattern) noexcept {
  const NoisePattern* found = find_pattern(pattern);
  return found == nullptr ? std::string_view{} : found->name;
}

std::string noise_protocol_name(HandshakePattern pattern, NoiseHash hash) {
  const std::string_view name = noise_pattern_name(pattern);
  if (name.empty()) {
    return {};
  }
  std::string out = "Noise_";
  out += name;
  out += "_25519_ChaChaPoly_";
  out += hash == NoiseHash::kSha256 ? "SHA256" : "BLAKE2b";
  return out;
}

// --- CipherState (spec 5.1) ----------------------------------------------------------------------

void CipherState::initialize_key(ByteSpan key) noexcept {
  nonce_ = 0;
  if (key.size() < kNoiseKeyBytes) {
    key_.wipe();
    has_key_ = false;
    return;
  }
  std::copy_n(key.data(), kNoiseKeyBytes, key_.data());
  has_key_ = true;
}

namespace {

// 4 zero bytes, then the 64-bit counter little-endian.
void chacha_nonce(uint64_t counter, uint8_t out[12]) noexcept {
  for (std::size_t i = 0; i < 4; ++i) {
    out[i] = 0;
  }
  for (std::size_t i = 0; i < 8; ++i) {
    out[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
  }
}

} // namespace

NoiseResult CipherState::encrypt_with_ad(ByteSpan ad, ByteSpan plaintext, Bytes& out) noexcept {
  out.clear();
  const std::size_t overhead = has_key_ ? kNoiseTagBytes : 0;
  if (plaintext.size() > kNoiseMaxMessageBytes - overhead) {
    return error(NoiseError::kMessageTooLarge, "plaintext exceeds the 65535-byte Noise limit");
  }
  try {
    if (!has_key_) {
      out.assign(plaintext.begin(), plaintext.end());
      return {};
    }
    if (nonce_ == kNoiseMaxNonce) {
      return error(NoiseError::kNonceExhausted, "nonce 2^64-1 is reserved");
    }
    uint8_t nonce[12];
    chacha_nonce(nonce_, nonce);
    chacha_seal(key_.data(), nonce, ad, plaintext, out);
  } catch (...) {
    out.clear();
    return error(NoiseError::kInternal, "out of memory while encrypting");
  }
  ++nonce_;
  return {};
}

NoiseResult CipherState::decrypt_with_ad(ByteSpan ad, ByteSpan ciphertext, Bytes& out) noexcept {
  out.clear();
  if (ciphertext.size() > kNoiseMaxMessageBytes) {
    return error(NoiseError::kMessageTooLarge, "ciphertext exceeds the 65535-byte Noise limit");
  }
  try {
    if (!has_key_) {
      out.assign(ciphertext.begin(), ciphertext.end());
      return {};
    }
    if (ciphertext.size() < kNoiseTagBytes) {
      return error(NoiseError::kTruncated, "ciphertext shorter than its 16-byte tag");
    }
    if (nonce_ == kNoiseMaxNonce) {
      return error(NoiseError::kNonceExhausted, "nonce 2^64-1 is reserved");
    }
    uint8_t nonce[12];
    chacha_nonce(nonce_, nonce);
    if (!chacha_open(key_.data(), nonce, ad, ciphertext, out)) {
      out.clear();
      return error(NoiseError::kAuthFailed, "tag does not verify");
    }
  } catch (...) {
    out.clear();
    return error(NoiseError::kInternal, "out of memory while decrypting");
  }
  ++nonce_;
  return {};
}

void CipherState::wipe() noexcept {
  key_.wipe();
  has_key_ = false;
  nonce_ = 0;
}

// --- SymmetricState (spec 5.2) -------------------------------------------------------------------

std::size_t SymmetricState::hash_bytes() const noexcept { return hash_len(hash_); }

void SymmetricState::initialize(NoiseHash hash, std::string_view protocol_name) {
  hash_ = hash;
  h_.fill(0);
  const std::size_t n = hash_bytes();
  const ByteSpan name{reinterpret_cast<const uint8_t*>(protocol_name.data()), protocol_name.size()};
  if (name.size() <= n) {
    std::copy(name.begin(), name.end(), h_.begin()); // padded with zeros to HASHLEN
  } else {
    digest(hash_, name, h_.data());
  }
  ck_.wipe();
  std::copy_n(h_.data(), n, ck_.data());
  cipher_.wipe();
}

void SymmetricState::mix_key(ByteSpan input_key_material) noexcept {
  HashBlock chaining_key;
  HashBlock temp_k;
  hkdf(hash_, this->chaining_key(), input_key_material, chaining_key, temp_k, nullptr);
  ck_ = chaining_key;
  cipher_.initialize_key(temp_k.span().first(kNoiseKeyBytes));
}

void SymmetricState::mix_hash(ByteSpan data) {
  const std::size_t n = hash_bytes();
  Bytes input;
  input.reserve(n + data.size());
  input.insert(input.end(), h_.begin(), h_.begin() + static_cast<std::ptrdiff_t>(n));
  input.insert(input.end(), data.begin(), data.end());
  digest(hash_, input, h_.data());
}

void SymmetricState::mix_key_and_hash(ByteSpan input_key_material) {
  HashBlock chaining_key;
  HashBlock temp_h;
  HashBlock temp_k;
  hkdf(hash_, this->chaining_key(), input_key_material, chaining_key, temp_h, &temp_k);
  ck_ = chaining_key;
  mix_hash(temp_h.span().first(hash_bytes()));
  cipher_.initialize_key(temp_k.span().first(kNoiseKeyBytes));
}

NoiseResult SymmetricState::encrypt_and_hash(ByteSpan plaintext, Bytes& out) {
  Bytes ciphertext;
  const NoiseResult result = cipher_.encrypt_with_ad(handshake_hash(), plaintext, ciphertext);
  if (!result.ok()) {
    return result;
  }
  mix_hash(ciphertext);
  out.insert(out.end(), ciphertext.begin(), ciphertext.end());
  return {};
}

NoiseResult SymmetricState::decrypt_and_hash(ByteSpan ciphertext, Bytes& out) {
  const NoiseResult result = cipher_.decrypt_with_ad(handshake_hash(), ciphertext, out);
  if (!result.ok()) {
    return result;
  }
  mix_hash(ciphertext);
  return {};
}

void SymmetricState::split(CipherState& first, CipherState& second) const noexcept {
  HashBlock temp_k1;
  HashBlock temp_k2;
  hkdf(hash_, chaining_key(), {}, temp_k1, temp_k2, nullptr);
  first.initialize_key(temp_k1.span().first(kNoiseKeyBytes));
  second.initialize_key(temp_k2.span().first(kNoiseKeyBytes));
}

void SymmetricState::wipe() noexcept {
  ck_.wipe();
  h_.fill(0);
  cipher_.wipe();
}

// --- HandshakeState (spec 5.3) -------------------------------------------------------------------

NoiseHandshake::NoiseHandshake(const HandshakeConfig& config) noexcept { initialize(config); }

NoiseHandshake::NoiseHandshake(const HandshakeConfig& config,
                               const HandshakeTestHooks& hooks) noexcept {
  if (hooks.fixed_ephemeral.has_value()) {
    fixed_ephemeral_ = *hooks.fixed_ephemeral;
    has_fixed_ephemeral_ = true;
  }
  initialize(config);
}

NoiseHandshake::~NoiseHandshake() { wipe(); }

NoiseResult NoiseHandshake::check_config(const HandshakeConfig& config) const noexcept {
  const NoisePattern* pattern = find_pattern(config.pattern);
  if (pattern == nullptr) {
    return error(NoiseError::kInvalidConfig, "unknown handshake pattern");
  }
  if (config.role != HandshakeRole::kInitiator && config.role != HandshakeRole::kResponder) {
    return error(NoiseError::kInvalidConfig, "unknown handshake role");
  }
  if (config.hash != NoiseHash::kSha256 && config.hash != NoiseHash::kBlake2b) {
    return error(NoiseError::kInvalidConfig, "unknown hash function");
  }
  const bool initiator = is_initiator(config.role);
  if (pattern->sends_static(initiator) != config.static_secret.has_value()) {
    return error(NoiseError::kInvalidConfig, config.static_secret
                                                 ? "the pattern does not use a local static key"
                                                 : "the pattern needs a local static key");
  }
  const bool remote_premessage =
      initiator ? pattern->responder_static_premessage : pattern->initiator_static_premessage;
  if (remote_premessage && !config.remote_static) {
    return error(NoiseError::kInvalidConfig, "the pattern needs the peer's static public key");
  }
  if (!remote_premessage && config.remote_static) {
    return error(NoiseError::kInvalidConfig,
                 "the pattern does not pre-know the peer's static key; compare remote_static() "
                 "after completion instead");
  }
  if (pattern->has_psk() != config.psk.has_value()) {
    return error(NoiseError::kInvalidConfig,
                 config.psk ? "the pattern does not use a psk" : "the psk pattern needs a psk");
  }
  return {};
}

void NoiseHandshake::initialize(const HandshakeConfig& config) noexcept {
  const NoiseResult checked = check_config(config);
  if (!checked.ok()) {
    fail(checked);
    return;
  }
  pattern_ = find_pattern(config.pattern);
  role_ = config.role;
  const bool initiator = is_initiator(role_);
  if (config.static_secret) {
    s_ = *config.static_secret;
    if (config.static_public) {
      s_public_ = *config.static_public;
    } else {
      x25519_public(s_, s_public_);
    }
    has_s_ = true;
  }
  if (config.remote_static) {
    rs_ = *config.remote_static;
    has_rs_ = true;
    if (is_low_order(rs_)) {
      fail(error(NoiseError::kLowOrderPoint, "the peer's static key is a low-order point"));
      return;
    }
  }
  if (config.psk) {
    psk_ = *config.psk;
    has_psk_ = true;
  }
  try {
    protocol_name_ = noise_protocol_name(config.pattern, config.hash);
    symmetric_.initialize(config.hash, protocol_name_);
    symmetric_.mix_hash(config.prologue);
    // Pre-messages: the initiator's first, then the responder's.
    if (pattern_->initiator_static_premessage) {
      symmetric_.mix_hash(initiator ? s_public_ : rs_);
    }
    if (pattern_->responder_static_premessage) {
      symmetric_.mix_hash(initiator ? rs_ : s_public_);
    }
  } catch (...) {
    fail(error(NoiseError::kInternal, "out of memory while initializing"));
    return;
  }
  next_message_ = 0;
  status_ = initiator ? NoiseStatus::kWriteMessage : NoiseStatus::kReadMessage;
}

NoiseResult NoiseHandshake::check_turn(NoiseStatus expected) const noexcept {
  if (status_ == NoiseStatus::kFailed) {
    return error(NoiseError::kAlreadyFailed, "the handshake failed earlier");
  }
  if (status_ == NoiseStatus::kComplete) {
    return error(NoiseError::kWrongState, "the handshake is already complete");
  }
  if (status_ != expected) {
    return error(NoiseError::kWrongState, expected == NoiseStatus::kWriteMessage
                                              ? "write_message called when a read is due"
                                              : "read_message called when a write is due");
  }
  return {};
}

std::size_t NoiseHandshake::message_bytes(std::size_t payload_bytes) const noexcept {
  bool has_key = symmetric_.has_key();
  std::size_t total = 0;
  for (const NoiseToken token : pattern_->messages[next_message_].view()) {
    switch (token) {
    case kE:
      total += kNoiseDhBytes;
      has_key = has_key || pattern_->has_psk(); // psk patterns MixKey(e)
      break;
    case kS:
      total += kNoiseDhBytes + (has_key ? kNoiseTagBytes : 0);
      break;
    case kEE:
    case kES:
    case kSE:
    case kSS:
    case kPsk:
      has_key = true;
      break;
    }
  }
  return total + payload_bytes + (has_key ? kNoiseTagBytes : 0);
}

NoiseResult NoiseHandshake::write_message(ByteSpan payload, Bytes& message_out) noexcept {
  message_out.clear();
  NoiseResult result = check_turn(NoiseStatus::kWriteMessage);
  if (result.error == NoiseError::kAlreadyFailed || result.error == NoiseError::kWrongState) {
    // A call out of turn (a duplicated or replayed message, a caller's slip) changes nothing:
    // only what a message contains can fail a handshake.
    return result;
  }
  if (result.ok()) {
    try {
      result = write_tokens(payload, message_out);
    } catch (...) {
      result = error(NoiseError::kInternal, "out of memory while writing a message");
    }
  }
  if (!result.ok()) {
    message_out.clear();
    return fail(result);
  }
  advance();
  return {};
}

NoiseResult NoiseHandshake::read_message(ByteSpan message, Bytes& payload_out) noexcept {
  payload_out.clear();
  NoiseResult result = check_turn(NoiseStatus::kReadMessage);
  if (result.error == NoiseError::kAlreadyFailed || result.error == NoiseError::kWrongState) {
    // A call out of turn (a duplicated or replayed message, a caller's slip) changes nothing:
    // only what a message contains can fail a handshake.
    return result;
  }
  if (result.ok()) {
    try {
      result = read_tokens(message, payload_out);
    } catch (...) {
      result = error(NoiseError::kInternal, "out of memory while reading a message");
    }
  }
  if (!result.ok()) {
    payload_out.clear();
    return fail(result);
  }
  advance();
  return {};
}

NoiseResult NoiseHandshake::write_tokens(ByteSpan payload, Bytes& out) {
  if (payload.size() > kNoiseMaxMessageBytes ||
      message_bytes(payload.size()) > kNoiseMaxMessageBytes) {
    return error(NoiseError::kMessageTooLarge, "the message would exceed 65535 bytes");
  }
  out.reserve(message_bytes(payload.size()));
  for (const NoiseToken token : pattern_->messages[next_message_].view()) {
    NoiseResult result;
    switch (token) {
    case kE: // e = GENERATE_KEYPAIR() (or the test hook's); append e.public; MixHash(e.public)
      if (has_fixed_ephemeral_) {
        e_ = fixed_ephemeral_;
        x25519_public(e_, e_public_);
      } else {
        x25519_keypair(e_, e_public_);
      }
      has_e_ = true;
      out.insert(out.end(), e_public_.begin(), e_public_.end());
      symmetric_.mix_hash(e_public_);
      if (pattern_->has_psk()) {
        symmetric_.mix_key(e_public_);
      }
      break;
    case kS: // append EncryptAndHash(s.public)
      result = symmetric_.encrypt_and_hash(s_public_, out);
      break;
    case kEE:
    case kES:
    case kSE:
    case kSS:
      result = mix_dh(token);
      break;
    case kPsk:
      symmetric_.mix_key_and_hash(psk_.span());
      break;
    }
    if (!result.ok()) {
      return result;
    }
  }
  return symmetric_.encrypt_and_hash(payload, out);
}

NoiseResult NoiseHandshake::read_tokens(ByteSpan message, Bytes& payload) {
  if (message.size() > kNoiseMaxMessageBytes) {
    return error(NoiseError::kMessageTooLarge, "the message exceeds 65535 bytes");
  }
  ByteSpan rest = message;
  for (const NoiseToken token : pattern_->messages[next_message_].view()) {
    NoiseResult result;
    switch (token) {
    case kE: // re = the next DHLEN bytes; MixHash(re)
      if (rest.size() < kNoiseDhBytes) {
        return error(NoiseError::kTruncated, "the message ends inside the ephemeral key (e)");
      }
      std::copy_n(rest.begin(), kNoiseDhBytes, re_.begin());
      has_re_ = true;
      rest = rest.subspan(kNoiseDhBytes);
      if (is_low_order(re_)) {
        return error(NoiseError::kLowOrderPoint, "the peer's ephemeral key is a low-order point");
      }
      symmetric_.mix_hash(re_);
      if (pattern_->has_psk()) {
        symmetric_.mix_key(re_);
      }
      break;
    case kS: { // rs = DecryptAndHash(the next DHLEN + 16 bytes, or DHLEN without a key)
      const std::size_t size = kNoiseDhBytes + (symmetric_.has_key() ? kNoiseTagBytes : 0);
      if (rest.size() < size) {
        return error(NoiseError::kTruncated, "the message ends inside the static key (s)");
      }
      Bytes plain;
      result = symmetric_.decrypt_and_hash(rest.first(size), plain);
      if (!result.ok()) {
        return error(result.error, "the static key (s) does not decrypt");
      }
      rest = rest.subspan(size);
      std::copy_n(plain.begin(), kNoiseDhBytes, rs_.begin());
      has_rs_ = true;
      if (is_low_order(rs_)) {
        return error(NoiseError::kLowOrderPoint, "the peer's static key is a low-order point");
      }
      break;
    }
    case kEE:
    case kES:
    case kSE:
    case kSS:
      result = mix_dh(token);
      break;
    case kPsk:
      symmetric_.mix_key_and_hash(psk_.span());
      break;
    }
    if (!result.ok()) {
      return result;
    }
  }
  if (symmetric_.has_key() && rest.size() < kNoiseTagBytes) {
    return error(NoiseError::kTruncated, "the message ends inside the payload tag");
  }
  const NoiseResult result = symmetric_.decrypt_and_hash(rest, payload);
  if (!result.ok()) {
    return error(result.error, "the payload does not decrypt");
  }
  return {};
}

// ee: DH(e, re). es: DH(e, rs) for the initiator, DH(s, re) for the responder. se: DH(s, re) for
// the initiator, DH(e, rs) for the responder. ss: DH(s, rs). Then MixKey(the shared secret).
NoiseResult NoiseHandshake::mix_dh(NoiseToken token) noexcept {
  const bool initiator = is_initiator(role_);
  const bool local_ephemeral =
      token == kEE || (token == kES && initiator) || (token == kSE && !initiator);
  const bool remote_ephemeral =
      token == kEE || (token == kES && !initiator) || (token == kSE && initiator);
  if (!(local_ephemeral ? has_e_ : has_s_) || !(remote_ephemeral ? has_re_ : has_rs_)) {
    return error(NoiseError::kInternal, "a DH token lacks a key");
  }
  const Secret<32>& local = local_ephemeral ? e_ : s_;
  const NoisePublicKey& remote = remote_ephemeral ? re_ : rs_;
  Secret<32> shared;
  if (!x25519(local.data(), remote.data(), shared.data())) {
    return error(NoiseError::kLowOrderPoint, "DH with a low-order point");
  }
  symmetric_.mix_key(shared.span());
  return {};
}

void NoiseHandshake::advance() noexcept {
  ++next_message_;
  if (next_message_ >= pattern_->message_count()) {
    status_ = NoiseStatus::kComplete;
    return;
  }
  const bool initiator_turn = next_message_ % 2 == 0;
  status_ = initiator_turn == is_initiator(role_) ? NoiseStatus::kWriteMessage
                                                  : NoiseStatus::kReadMessage;
}

NoiseResult NoiseHandshake::fail(NoiseResult result) noexcept {
  status_ = NoiseStatus::kFailed;
  error_ = result;
  wipe();
  return result;
}

void NoiseHandshake::wipe() noexcept {
  symmetric_.wipe();
  s_.wipe();
  e_.wipe();
  psk_.wipe();
  fixed_ephemeral_.wipe();
  has_s_ = has_e_ = has_psk_ = has_fixed_ephemeral_ = has_rs_ = has_re_ = false;
  s_public_.fill(0);
  e_public_.fill(0);
  rs_.fill(0);
  re_.fill(0);
}

ByteSpan NoiseHandshake::handshake_hash() const noexcept {
  return status_ == NoiseStatus::kComplete ? symmetric_.handshake_hash() : ByteSpan{};
}

ByteSpan NoiseHandshake::chaining_key() const noexcept {
  return status_ == NoiseStatus::kComplete ? symmetric_.chaining_key() : ByteSpan{};
}

std::optional<TransportCiphers> NoiseHandshake::split() const noexcept {
  if (status_ != NoiseStatus::kComplete) {
    return std::nullopt;
  }
  TransportCiphers ciphers;
  if (is_initiator(role_)) {
    symmetric_.split(ciphers.send, ciphers.receive);
  } else {
    symmetric_.split(ciphers.receive, ciphers.send);
  }
  return ciphers;
}

std::optional<NoisePublicKey> NoiseHandshake::remote_ephemeral() const noexcept {
  return has_re_ ? std::optional<NoisePublicKey>(re_) : std::nullopt;
}

std::optional<NoisePublicKey> NoiseHandshake::remote_static() const noexcept {
  return has_rs_ ? std::optional<NoisePublicKey>(rs_) : std::nullopt;
}

} // namespace entre::plugins::sodium
