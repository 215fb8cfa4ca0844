// The SDK face of crypto-sodium: CryptoSuite and the Handshake, Session and MediaCipher objects it
// creates, each a thin adapter over the engines in this folder (noise, ratchet, media, identity,
// at_rest). Suite id: "entre-sodium-v1".
//
// Session seeding (docs/protocol.md, "From handshake to ratchet"): when a handshake completes, both
// sides derive SK = HKDF-SHA256(salt = handshake hash, ikm = chaining key, info = "entre ratchet
// seed"); the initiator is Alice and starts the ratchet towards the responder's handshake
// ephemeral key, which the responder keeps as its first ratchet key pair (Bob). Handshakes use
// Noise with BLAKE2b.
#pragma once

#include "noise.hpp"
#include "primitives.hpp"

#include <entre/sdk/crypto.hpp>
#include <entre/sdk/plugin.hpp>

#include <mutex>

namespace entre::plugins::sodium {

inline constexpr const char* kSuiteId = "entre-sodium-v1";

class SodiumSuite final : public sdk::CryptoSuite, public sdk::PairwiseKeys, public sdk::Plugin {
 public:
  SodiumSuite() = default;

  [[nodiscard]] void* query_interface(sdk::InterfaceId id) noexcept override;
  void destroy() noexcept override { delete this; }

  [[nodiscard]] sdk::StringView suite_id() const noexcept override { return kSuiteId; }
  void random_bytes(sdk::MutableByteView out) noexcept override;
  sdk::Status generate_identity(sdk::ByteSink& secret_out,
                                sdk::MutableByteView public_out) noexcept override;
  sdk::Status identity_public(sdk::ByteView secret,
                              sdk::MutableByteView public_out) noexcept override;
  sdk::Status signing_public(sdk::ByteView secret,
                             sdk::MutableByteView signing_key_out) noexcept override;
  sdk::Status sign(sdk::ByteView secret, sdk::ByteView message,
                   sdk::MutableByteView signature_out) noexcept override;
  sdk::Status verify(sdk::ByteView signing_key, sdk::ByteView message,
                     sdk::ByteView signature) noexcept override;
  sdk::Status encode_contact_code(sdk::ByteView public_key, sdk::StringView hints,
                                  sdk::ByteSink& text_out) noexcept override;
  sdk::Status parse_contact_code(sdk::StringView text, sdk::MutableByteView public_out,
                                 sdk::ByteSink& hints_out) noexcept override;
  sdk::Status fingerprint(sdk::ByteView public_key, sdk::ByteSink& text_out) noexcept override;
  sdk::Status safety_number(sdk::ByteView key_a, sdk::ByteView key_b,
                            sdk::ByteSink& text_out) noexcept override;
  sdk::Status create_handshake(const sdk::HandshakeParams& params,
                               sdk::Handshake** out) noexcept override;
  sdk::Status restore_session(sdk::ByteView state, sdk::Session** out) noexcept override;
  sdk::Status create_media_cipher(sdk::ByteView media_key, uint32_t direction,
                                  sdk::MediaCipher** out) noexcept override;

  // PairwiseKeys: BLAKE2b-256 of a domain string, the label, X25519(mine, theirs) and the two
  // public keys in byte order, so that both sides derive the same key.
  sdk::Status pairwise_key(sdk::ByteView my_secret, sdk::ByteView their_public,
                           sdk::StringView label, sdk::MutableByteView key_out) noexcept override;
  sdk::Status keyed_hash(sdk::ByteView key, sdk::ByteView message,
                         sdk::MutableByteView out) noexcept override;
  [[nodiscard]] uint64_t storage_salt_bytes() const noexcept override;
  sdk::Status derive_storage_key(sdk::StringView passphrase, sdk::ByteView salt, sdk::KdfCost cost,
                                 sdk::MutableByteView key_out) noexcept override;
  sdk::Status seal_at_rest(sdk::ByteView key, sdk::ByteView ad, sdk::ByteView plaintext,
                           sdk::ByteSink& out) noexcept override;
  sdk::Status open_at_rest(sdk::ByteView key, sdk::ByteView ad, sdk::ByteView sealed,
                           sdk::ByteSink& out) noexcept override;

 private:
  ~SodiumSuite() override = default;
  [[nodiscard]] NoisePublicKey static_public_for(ByteSpan blob, const Secret<32>& secret);

  std::mutex cache_mu_;
  Secret<32> cache_key_ = random_key();
  std::array<uint8_t, 32> cached_tag_{};
  bool cache_valid_ = false;
  NoisePublicKey cached_public_{};

  static Secret<32> random_key() {
    Secret<32> key;
    randombytes_buf(key.data(), key.size());
    return key;
  }
};

} // namespace entre::plugins::sodium
