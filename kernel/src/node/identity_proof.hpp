// The kernel's sdk::IdentityProof: lets a relayed transport prove the node's identity to its
// server without the identity secret leaving the kernel.
#pragma once

#include <entre/sdk/crypto.hpp>
#include <entre/sdk/relay.hpp>

#include <array>
#include <mutex>
#include <span>
#include <vector>

namespace entre {

class KernelIdentityProof final : public sdk::IdentityProof {
 public:
  explicit KernelIdentityProof(sdk::CryptoSuite& suite) : suite_(suite) {}
  ~KernelIdentityProof();
  KernelIdentityProof(const KernelIdentityProof&) = delete;
  KernelIdentityProof& operator=(const KernelIdentityProof&) = delete;

  // Copies the unlocked identity (secret blob and user id); clear() wipes it.
  void set(std::span<const uint8_t> secret, std::span<const uint8_t> user_id);
  void clear();
  [[nodiscard]] bool ready() const;

  sdk::Status identity_public(sdk::MutableByteView key_out) const noexcept override;
  sdk::Status begin(sdk::ByteView server_public, sdk::ByteView prologue,
                    sdk::Handshake** out) noexcept override;
  sdk::Status finish(sdk::Handshake& handshake, sdk::StringView label, sdk::MediaCipher** send,
                     sdk::MediaCipher** receive) noexcept override;

 private:
  sdk::CryptoSuite& suite_;
  mutable std::mutex mu_;
  std::vector<uint8_t> secret_;
  std::array<uint8_t, sdk::kPublicKeyBytes> public_{};
};

} // namespace entre
