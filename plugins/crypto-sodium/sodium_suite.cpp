#include "sodium_suite.hpp"

#include "at_rest.hpp"
#include "identity.hpp"
#include "media.hpp"
#include "noise.hpp"
#include "primitives.hpp"
#include "ratchet.hpp"

#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace entre::plugins::sodium {

namespace {

using sdk::Status;
using sdk::StatusCode;

ByteSpan span(sdk::ByteView v) { return {v.data, static_cast<std::size_t>(v.size)}; }

Status fail(StatusCode code, std::string_view text) { return Status::error(code, text); }

// Runs `body`, turning any exception (allocation, in practice) into kInternal.
template <typename Body> Status guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return fail(StatusCode::kInternal, std::string("sodium: ") + e.what());
  } catch (...) {
    return fail(StatusCode::kInternal, "sodium: unexpected error");
  }
}

Status identity_status(IdentityError error) {
  switch (error) {
  case IdentityError::kOk:
    return Status::ok();
  case IdentityError::kBadSignature:
    return fail(StatusCode::kAuthFailed, identity_error_message(error));
  case IdentityError::kUnsupportedVersion:
    return fail(StatusCode::kUnsupported, identity_error_message(error));
  case IdentityError::kSodiumUnavailable:
    return fail(StatusCode::kUnavailable, identity_error_message(error));
  default:
    return fail(StatusCode::kInvalidArgument, identity_error_message(error));
  }
}

Status at_rest_status(AtRestError error) {
  switch (error) {
  case AtRestError::kOk:
    return Status::ok();
  case AtRestError::kAuthFailed:
    return fail(StatusCode::kAuthFailed, at_rest_error_message(error));
  case AtRestError::kTruncated:
    return fail(StatusCode::kCorrupt, at_rest_error_message(error));
  case AtRestError::kUnsupportedVersion:
    return fail(StatusCode::kUnsupported, at_rest_error_message(error));
  case AtRestError::kOpsLimitOutOfRange:
  case AtRestError::kMemLimitOutOfRange:
  case AtRestError::kTooLarge:
    return fail(StatusCode::kOutOfRange, at_rest_error_message(error));
  case AtRestError::kKdfFailed:
  case AtRestError::kInternal:
    return fail(StatusCode::kInternal, at_rest_error_message(error));
  default:
    return fail(StatusCode::kInvalidArgument, at_rest_error_message(error));
  }
}

Status noise_status(const NoiseResult& result) {
  if (result.ok()) {
    return Status::ok();
  }
  const std::string text =
      "noise: " + std::string(noise_error_name(result.error)) + ": " + std::string(result.reason);
  switch (result.error) {
  case NoiseError::kAuthFailed:
  case NoiseError::kLowOrderPoint:
    return fail(StatusCode::kAuthFailed, text);
  case NoiseError::kMessageTooLarge:
  case NoiseError::kNonceExhausted:
    return fail(StatusCode::kOutOfRange, text);
  case NoiseError::kTruncated:
    return fail(StatusCode::kCorrupt, text);
  case NoiseError::kInternal:
    return fail(StatusCode::kInternal, text);
  default:
    return fail(StatusCode::kInvalidArgument, text);
  }
}

bool sink_bytes(sdk::ByteSink& sink, ByteSpan bytes) {
  return sink.append(sdk::ByteView(bytes.data(), bytes.size()));
}

class SodiumSession final : public sdk::Session {
 public:
  explicit SodiumSession(Locked<RatchetState> state) : state_(std::move(state)) {}

  Status encrypt(sdk::ByteView ad, sdk::ByteView plaintext, sdk::ByteSink& out) noexcept override {
    return state_->encrypt(span(ad), span(plaintext), out);
  }
  Status decrypt(sdk::ByteView ad, sdk::ByteView message, sdk::ByteSink& out) noexcept override {
    return state_->decrypt(span(ad), span(message), out);
  }
  Status serialize(sdk::ByteSink& out) const noexcept override { return state_->serialize(out); }
  Status derive_media_key(sdk::ByteView call_id, sdk::MutableByteView key_out) noexcept override {
    if (key_out.size != sdk::kMediaKeyBytes) {
      return fail(StatusCode::kInvalidArgument, "sodium: a media key is 32 bytes");
    }
    Secret<32> key;
    Status st = state_->derive_media_key(span(call_id), key);
    if (st.is_ok()) {
      std::memcpy(key_out.data, key.data(), key.size());
    }
    return st;
  }
  void destroy() noexcept override { delete this; }

 private:
  ~SodiumSession() = default;
  Locked<RatchetState> state_;
};

class SodiumHandshake final : public sdk::Handshake {
 public:
  explicit SodiumHandshake(const HandshakeConfig& config) : noise_(config) {}

  [[nodiscard]] sdk::HandshakeStatus status() const noexcept override {
    switch (noise_.status()) {
    case NoiseStatus::kWriteMessage:
      return sdk::HandshakeStatus::kWriteMessage;
    case NoiseStatus::kReadMessage:
      return sdk::HandshakeStatus::kReadMessage;
    case NoiseStatus::kComplete:
      return sdk::HandshakeStatus::kComplete; // split() itself refuses a second call
    default:
      return sdk::HandshakeStatus::kFailed;
    }
  }
  [[nodiscard]] Status initial_status() const { return noise_status(noise_.last_error()); }

  Status write_message(sdk::ByteView payload, sdk::ByteSink& message_out) noexcept override {
    return guarded([&] {
      Bytes message;
      Status st = noise_status(noise_.write_message(span(payload), message));
      if (st.is_ok() && !sink_bytes(message_out, message)) {
        return fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the message");
      }
      return st;
    });
  }
  Status read_message(sdk::ByteView message, sdk::ByteSink& payload_out) noexcept override {
    return guarded([&] {
      SecretBytes payload;
      Status st = noise_status(noise_.read_message(span(message), payload.vec()));
      if (st.is_ok() && !sink_bytes(payload_out, payload.vec())) {
        return fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the payload");
      }
      return st;
    });
  }
  Status remote_public(sdk::MutableByteView key_out) const noexcept override {
    const auto key = noise_.remote_static();
    if (!key) {
      return fail(StatusCode::kUnavailable, "sodium: the peer's key is not known yet");
    }
    if (key_out.size != key->size()) {
      return fail(StatusCode::kInvalidArgument, "sodium: a user id is 32 bytes");
    }
    std::memcpy(key_out.data, key->data(), key->size());
    return Status::ok();
  }
  Status handshake_hash(sdk::MutableByteView hash_out, uint64_t* size) const noexcept override {
    if (noise_.status() != NoiseStatus::kComplete) {
      return fail(StatusCode::kUnavailable, "sodium: the handshake is not complete");
    }
    const ByteSpan h = noise_.handshake_hash();
    if (hash_out.size < h.size() || size == nullptr) {
      return fail(StatusCode::kBufferTooSmall, "sodium: handshake hash buffer too small");
    }
    std::memcpy(hash_out.data, h.data(), h.size());
    *size = h.size();
    return Status::ok();
  }
  Status split(sdk::Session** out) noexcept override {
    return guarded([&]() -> Status {
      if (noise_.status() != NoiseStatus::kComplete || split_done_) {
        return fail(StatusCode::kUnavailable, "sodium: split needs a complete handshake, once");
      }
      Secret<32> seed;
      static constexpr char kInfo[] = "entre ratchet seed";
      if (!hkdf_sha256(noise_.handshake_hash(), noise_.chaining_key(),
                       ByteSpan(reinterpret_cast<const uint8_t*>(kInfo), sizeof kInfo - 1),
                       seed.span())) {
        return fail(StatusCode::kInternal, "sodium: ratchet seed derivation failed");
      }
      auto state = Locked<RatchetState>::make();
      Status st;
      if (noise_.role() == sdk::HandshakeRole::kInitiator) {
        const auto bob = noise_.remote_ephemeral();
        if (!bob) {
          return fail(StatusCode::kInternal, "sodium: no responder ephemeral key");
        }
        st = RatchetState::init_alice(seed, *bob, *state);
      } else {
        st = RatchetState::init_bob(seed, noise_.local_ephemeral_secret(),
                                    noise_.local_ephemeral_public(), *state);
      }
      if (!st.is_ok()) {
        return st;
      }
      *out = new SodiumSession(std::move(state));
      split_done_ = true;
      return Status::ok();
    });
  }
  void destroy() noexcept override { delete this; }

 private:
  ~SodiumHandshake() = default;
  NoiseHandshake noise_;
  bool split_done_ = false;
};

class SodiumMediaCipher final : public sdk::MediaCipher {
 public:
  MediaFrameCipher cipher;
  Status seal(uint64_t counter, sdk::ByteView ad, sdk::ByteView frame,
              sdk::ByteSink& out) noexcept override {
    return cipher.seal(counter, span(ad), span(frame), out);
  }
  Status open(uint64_t counter, sdk::ByteView ad, sdk::ByteView sealed,
              sdk::ByteSink& out) noexcept override {
    return cipher.open(counter, span(ad), span(sealed), out);
  }
  void destroy() noexcept override { delete this; }

 private:
  ~SodiumMediaCipher() = default;
};

bool known_pattern(sdk::HandshakePattern p) {
  switch (p) {
  case sdk::HandshakePattern::kNN:
  case sdk::HandshakePattern::kKK:
  case sdk::HandshakePattern::kIK:
  case sdk::HandshakePattern::kXX:
  case sdk::HandshakePattern::kNNpsk0:
  case sdk::HandshakePattern::kNNpsk2:
  case sdk::HandshakePattern::kKKpsk0:
  case sdk::HandshakePattern::kKKpsk2:
  case sdk::HandshakePattern::kIKpsk1:
  case sdk::HandshakePattern::kIKpsk2:
  case sdk::HandshakePattern::kXXpsk3:
    return true;
  }
  return false;
}

} // namespace

NoisePublicKey SodiumSuite::static_public_for(ByteSpan blob, const Secret<32>& secret) {
  // A node uses one identity for every handshake: remember the public key of the last blob, keyed
  // by a MAC of the blob under a random per-object key, so that no copy of the secret is kept.
  std::array<uint8_t, 32> tag{};
  (void)blake2b_keyed(cache_key_.span(), blob, tag);
  std::lock_guard lock(cache_mu_);
  if (cache_valid_ && equal_ct(tag, cached_tag_)) {
    return cached_public_;
  }
  NoisePublicKey key{};
  x25519_public(secret, key);
  cached_tag_ = tag;
  cached_public_ = key;
  cache_valid_ = true;
  return key;
}

void* SodiumSuite::query_interface(sdk::InterfaceId id) noexcept {
  switch (id) {
  case sdk::InterfaceId::kCryptoSuiteV1:
    return static_cast<sdk::CryptoSuite*>(this);
  case sdk::InterfaceId::kPairwiseKeysV1:
    return static_cast<sdk::PairwiseKeys*>(this);
  default:
    return nullptr;
  }
}

Status SodiumSuite::pairwise_key(sdk::ByteView my_secret, sdk::ByteView their_public,
                                 sdk::StringView label, sdk::MutableByteView key_out) noexcept {
  constexpr std::string_view kDomain = "entre-sodium-v1 pairwise";
  constexpr std::size_t kMaxLabel = 64;
  if (key_out.size != kPairwiseKeyBytes || their_public.size != kUserIdBytes) {
    return fail(StatusCode::kInvalidArgument, "sodium: a pairwise key and a user id are 32 bytes");
  }
  if (label.size == 0 || label.size > kMaxLabel) {
    return fail(StatusCode::kInvalidArgument, "sodium: a pairwise label has 1 to 64 bytes");
  }
  Secret<kX25519Bytes> mine;
  std::array<uint8_t, kUserIdBytes> my_public{};
  Status st = identity_status(identity_x25519_secret(span(my_secret), mine));
  if (st.is_ok()) {
    st = identity_status(sodium::identity_public(span(my_secret), my_public));
  }
  if (!st.is_ok()) {
    return st;
  }
  Secret<kX25519Bytes> shared;
  if (!x25519(mine.data(), their_public.data, shared.data())) {
    return fail(StatusCode::kAuthFailed, "sodium: their public key is a low-order point");
  }
  const bool mine_first = std::memcmp(my_public.data(), their_public.data, kUserIdBytes) < 0;
  const uint8_t* first = mine_first ? my_public.data() : their_public.data;
  const uint8_t* second = mine_first ? their_public.data : my_public.data();
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, kPairwiseKeyBytes);
  const auto label_size = static_cast<uint8_t>(label.size);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(kDomain.data()),
                            kDomain.size());
  crypto_generichash_update(&state, &label_size, 1);
  crypto_generichash_update(&state, reinterpret_cast<const uint8_t*>(label.data), label.size);
  crypto_generichash_update(&state, shared.data(), shared.size());
  crypto_generichash_update(&state, first, kUserIdBytes);
  crypto_generichash_update(&state, second, kUserIdBytes);
  crypto_generichash_final(&state, key_out.data, kPairwiseKeyBytes);
  sodium_memzero(&state, sizeof state);
  return Status::ok();
}

Status SodiumSuite::keyed_hash(sdk::ByteView key, sdk::ByteView message,
                               sdk::MutableByteView out) noexcept {
  if (key.size != kPairwiseKeyBytes || out.size < kKeyedHashMinBytes ||
      out.size > kKeyedHashMaxBytes) {
    return fail(StatusCode::kInvalidArgument,
                "sodium: a keyed hash takes a 32-byte key and gives 16 to 64 bytes");
  }
  if (!blake2b_keyed(span(key), span(message),
                     MutableByteSpan(out.data, static_cast<std::size_t>(out.size)))) {
    return fail(StatusCode::kInternal, "sodium: keyed hash failed");
  }
  return Status::ok();
}

void SodiumSuite::random_bytes(sdk::MutableByteView out) noexcept {
  randombytes_buf(out.data, static_cast<std::size_t>(out.size));
}

Status SodiumSuite::generate_identity(sdk::ByteSink& secret_out,
                                      sdk::MutableByteView public_out) noexcept {
  if (public_out.size != kUserIdBytes) {
    return fail(StatusCode::kInvalidArgument, "sodium: a user id is 32 bytes");
  }
  Secret<kIdentityBlobBytes> blob;
  std::array<uint8_t, kUserIdBytes> id{};
  Status st = identity_status(sodium::generate_identity(blob, id));
  if (!st.is_ok()) {
    return st;
  }
  if (!sink_bytes(secret_out, blob.span())) {
    return fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the identity");
  }
  std::memcpy(public_out.data, id.data(), id.size());
  return Status::ok();
}

Status SodiumSuite::identity_public(sdk::ByteView secret,
                                    sdk::MutableByteView public_out) noexcept {
  if (public_out.size != kUserIdBytes) {
    return fail(StatusCode::kInvalidArgument, "sodium: a user id is 32 bytes");
  }
  std::array<uint8_t, kUserIdBytes> id{};
  Status st = identity_status(sodium::identity_public(span(secret), id));
  if (st.is_ok()) {
    std::memcpy(public_out.data, id.data(), id.size());
  }
  return st;
}

Status SodiumSuite::signing_public(sdk::ByteView secret,
                                   sdk::MutableByteView signing_key_out) noexcept {
  if (signing_key_out.size != kSigningPublicBytes) {
    return fail(StatusCode::kInvalidArgument, "sodium: a signing key is 32 bytes");
  }
  std::array<uint8_t, kSigningPublicBytes> key{};
  Status st = identity_status(identity_signing_public(span(secret), key));
  if (st.is_ok()) {
    std::memcpy(signing_key_out.data, key.data(), key.size());
  }
  return st;
}

Status SodiumSuite::sign(sdk::ByteView secret, sdk::ByteView message,
                         sdk::MutableByteView signature_out) noexcept {
  if (signature_out.size != kSignatureBytes) {
    return fail(StatusCode::kInvalidArgument, "sodium: a signature is 64 bytes");
  }
  std::array<uint8_t, kSignatureBytes> signature{};
  Status st = identity_status(identity_sign(span(secret), span(message), signature));
  if (st.is_ok()) {
    std::memcpy(signature_out.data, signature.data(), signature.size());
  }
  return st;
}

Status SodiumSuite::verify(sdk::ByteView signing_key, sdk::ByteView message,
                           sdk::ByteView signature) noexcept {
  return identity_status(identity_verify(span(signing_key), span(message), span(signature)));
}

Status SodiumSuite::encode_contact_code(sdk::ByteView public_key, sdk::StringView hints,
                                        sdk::ByteSink& text_out) noexcept {
  return guarded([&] {
    std::vector<std::string> list;
    std::string_view rest = hints.str();
    while (!rest.empty()) {
      const auto end = rest.find('\n');
      if (end != 0) {
        list.emplace_back(rest.substr(0, end));
      }
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
    std::string text;
    std::string error;
    const ContactCodeError e = sodium::encode_contact_code(span(public_key), list, text, error);
    if (e != ContactCodeError::kOk) {
      return fail(StatusCode::kInvalidArgument, error);
    }
    if (!text_out.append(sdk::StringView(text))) {
      return fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the contact code");
    }
    return Status::ok();
  });
}

Status SodiumSuite::parse_contact_code(sdk::StringView text, sdk::MutableByteView public_out,
                                       sdk::ByteSink& hints_out) noexcept {
  return guarded([&] {
    if (public_out.size != kUserIdBytes) {
      return fail(StatusCode::kInvalidArgument, "sodium: a user id is 32 bytes");
    }
    ContactCode code;
    std::string error;
    const ContactCodeError e = sodium::parse_contact_code(text.str(), code, error);
    if (e != ContactCodeError::kOk) {
      return fail(e == ContactCodeError::kUnsupportedVersion ? StatusCode::kUnsupported
                                                             : StatusCode::kInvalidArgument,
                  error);
    }
    std::string joined;
    for (const auto& hint : code.hints) {
      joined += (joined.empty() ? "" : "\n") + hint;
    }
    if (!hints_out.append(sdk::StringView(joined))) {
      return fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the hints");
    }
    std::memcpy(public_out.data, code.user_id.data(), code.user_id.size());
    return Status::ok();
  });
}

Status SodiumSuite::fingerprint(sdk::ByteView public_key, sdk::ByteSink& text_out) noexcept {
  return guarded([&] {
    std::string text;
    if (!sodium::fingerprint(span(public_key), text)) {
      return fail(StatusCode::kInvalidArgument, "sodium: a public key is 32 bytes");
    }
    return text_out.append(sdk::StringView(text))
               ? Status::ok()
               : fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the fingerprint");
  });
}

Status SodiumSuite::safety_number(sdk::ByteView key_a, sdk::ByteView key_b,
                                  sdk::ByteSink& text_out) noexcept {
  return guarded([&] {
    std::string text;
    if (!sodium::safety_number(span(key_a), span(key_b), text)) {
      return fail(StatusCode::kInvalidArgument, "sodium: public keys are 32 bytes");
    }
    return text_out.append(sdk::StringView(text))
               ? Status::ok()
               : fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the safety number");
  });
}

Status SodiumSuite::create_handshake(const sdk::HandshakeParams& params,
                                     sdk::Handshake** out) noexcept {
  return guarded([&]() -> Status {
    if (out == nullptr || !known_pattern(params.pattern) ||
        (params.role != sdk::HandshakeRole::kInitiator &&
         params.role != sdk::HandshakeRole::kResponder)) {
      return fail(StatusCode::kInvalidArgument, "sodium: unknown handshake pattern or role");
    }
    HandshakeConfig config;
    config.pattern = params.pattern;
    config.role = params.role;
    config.hash = NoiseHash::kBlake2b;
    config.prologue = span(params.prologue);
    if (!params.local_identity_secret.empty()) {
      Secret<32> secret;
      Status st =
          identity_status(identity_x25519_secret(span(params.local_identity_secret), secret));
      if (!st.is_ok()) {
        return st;
      }
      config.static_secret = secret;
      config.static_public = static_public_for(span(params.local_identity_secret), secret);
    }
    if (!params.remote_public.empty()) {
      if (params.remote_public.size != kUserIdBytes) {
        return fail(StatusCode::kInvalidArgument, "sodium: the peer's user id is 32 bytes");
      }
      NoisePublicKey remote{};
      std::memcpy(remote.data(), params.remote_public.data, remote.size());
      config.remote_static = remote;
    }
    if (!params.psk.empty()) {
      if (params.psk.size != kNoisePskBytes) {
        return fail(StatusCode::kInvalidArgument, "sodium: a psk is 32 bytes");
      }
      Secret<kNoisePskBytes> psk;
      std::memcpy(psk.data(), params.psk.data, psk.size());
      config.psk = psk;
    }
    auto* handshake = new SodiumHandshake(config);
    Status st = handshake->initial_status();
    if (!st.is_ok()) {
      handshake->destroy();
      return st;
    }
    *out = handshake;
    return Status::ok();
  });
}

Status SodiumSuite::restore_session(sdk::ByteView state, sdk::Session** out) noexcept {
  return guarded([&]() -> Status {
    auto ratchet = Locked<RatchetState>::make();
    Status st = RatchetState::deserialize(span(state), *ratchet);
    if (!st.is_ok()) {
      return st;
    }
    *out = new SodiumSession(std::move(ratchet));
    return Status::ok();
  });
}

Status SodiumSuite::create_media_cipher(sdk::ByteView media_key, uint32_t direction,
                                        sdk::MediaCipher** out) noexcept {
  return guarded([&]() -> Status {
    auto* cipher = new SodiumMediaCipher();
    Status st = MediaFrameCipher::create(span(media_key), direction, cipher->cipher);
    if (!st.is_ok()) {
      cipher->destroy();
      return st;
    }
    *out = cipher;
    return Status::ok();
  });
}

uint64_t SodiumSuite::storage_salt_bytes() const noexcept { return kStorageSaltBytes; }

Status SodiumSuite::derive_storage_key(sdk::StringView passphrase, sdk::ByteView salt,
                                       sdk::KdfCost cost, sdk::MutableByteView key_out) noexcept {
  return at_rest_status(sodium::derive_storage_key(
      passphrase.str(), span(salt), cost, {key_out.data, static_cast<std::size_t>(key_out.size)}));
}

Status SodiumSuite::seal_at_rest(sdk::ByteView key, sdk::ByteView ad, sdk::ByteView plaintext,
                                 sdk::ByteSink& out) noexcept {
  return guarded([&] {
    Bytes sealed;
    Status st = at_rest_status(sodium::seal_at_rest(span(key), span(ad), span(plaintext), sealed));
    if (st.is_ok() && !sink_bytes(out, sealed)) {
      return fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the record");
    }
    return st;
  });
}

Status SodiumSuite::open_at_rest(sdk::ByteView key, sdk::ByteView ad, sdk::ByteView sealed,
                                 sdk::ByteSink& out) noexcept {
  return guarded([&] {
    SecretBytes plaintext;
    Status st = at_rest_status(sodium::open_at_rest(span(key), span(ad), span(sealed), plaintext));
    if (st.is_ok() && !sink_bytes(out, plaintext.vec())) {
      return fail(StatusCode::kBufferTooSmall, "sodium: the sink refused the plaintext");
    }
    return st;
  });
}

} // namespace entre::plugins::sodium
