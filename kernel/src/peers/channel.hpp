// Link ciphers from a Noise handshake: shared by the engine's peer links, the kernel's
// IdentityProof for relayed transports, and entre-relay.
#pragma once

#include <entre/sdk/crypto.hpp>

#include <string_view>

namespace entre {

// One key derived from `session` under `label`; the initiator seals with direction 0 and opens
// direction 1, the responder the reverse. On success *tx and *rx belong to the caller; on failure
// neither is set. The key is wiped before returning.
[[nodiscard]] sdk::Status link_ciphers(sdk::CryptoSuite& suite, sdk::Session& session,
                                       std::string_view label, bool initiator,
                                       sdk::MediaCipher** tx, sdk::MediaCipher** rx);

// As above from a completed handshake, which is split (and so used up); the session it yields is
// destroyed after the derivation.
[[nodiscard]] sdk::Status link_ciphers(sdk::CryptoSuite& suite, sdk::Handshake& handshake,
                                       std::string_view label, bool initiator,
                                       sdk::MediaCipher** tx, sdk::MediaCipher** rx);

} // namespace entre
