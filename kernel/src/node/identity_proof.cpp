#include "node/identity_proof.hpp"

#include "peers/channel.hpp"

#include <sodium.h>

#include <algorithm>

namespace entre {

namespace {

sdk::Status locked() {
  return sdk::Status::error(sdk::StatusCode::kUnavailable, "the identity is locked");
}

} // namespace

KernelIdentityProof::~KernelIdentityProof() { clear(); }

void KernelIdentityProof::set(std::span<const uint8_t> secret, std::span<const uint8_t> user_id) {
  std::lock_guard lock(mu_);
  if (!secret_.empty()) {
    sodium_memzero(secret_.data(), secret_.size());
  }
  secret_.assign(secret.begin(), secret.end());
  std::copy_n(user_id.begin(), std::min(user_id.size(), public_.size()), public_.begin());
}

void KernelIdentityProof::clear() {
  std::lock_guard lock(mu_);
  if (!secret_.empty()) {
    sodium_memzero(secret_.data(), secret_.size());
    secret_.clear();
  }
}

bool KernelIdentityProof::ready() const {
  std::lock_guard lock(mu_);
  return !secret_.empty();
}

sdk::Status KernelIdentityProof::identity_public(sdk::MutableByteView key_out) const noexcept {
  std::lock_guard lock(mu_);
  if (secret_.empty()) {
    return locked();
  }
  if (key_out.size != public_.size()) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "the key buffer must be 32 bytes");
  }
  std::copy(public_.begin(), public_.end(), key_out.data);
  return sdk::Status::ok();
}

sdk::Status KernelIdentityProof::begin(sdk::ByteView server_public, sdk::ByteView prologue,
                                       sdk::Handshake** out) noexcept {
  std::lock_guard lock(mu_);
  if (secret_.empty()) {
    return locked();
  }
  if (server_public.size != sdk::kPublicKeyBytes) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument,
                              "the server's public key must be 32 bytes");
  }
  sdk::HandshakeParams params{sdk::HandshakePattern::kIK,
                              sdk::HandshakeRole::kInitiator,
                              sdk::ByteView(secret_),
                              server_public,
                              prologue,
                              sdk::ByteView()};
  return suite_.create_handshake(params, out);
}

sdk::Status KernelIdentityProof::finish(sdk::Handshake& handshake, sdk::StringView label,
                                        sdk::MediaCipher** send,
                                        sdk::MediaCipher** receive) noexcept {
  if (handshake.status() != sdk::HandshakeStatus::kComplete) {
    return sdk::Status::error(sdk::StatusCode::kInvalidArgument, "the handshake has not completed");
  }
  try {
    return link_ciphers(suite_, handshake, label.str(), true, send, receive);
  } catch (...) {
    return sdk::Status::error(sdk::StatusCode::kInternal, "out of memory");
  }
}

} // namespace entre
