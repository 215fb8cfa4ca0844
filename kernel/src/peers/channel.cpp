#include "peers/channel.hpp"

#include <sodium.h>

#include <array>

namespace entre {

sdk::Status link_ciphers(sdk::CryptoSuite& suite, sdk::Session& session, std::string_view label,
                         bool initiator, sdk::MediaCipher** tx, sdk::MediaCipher** rx) {
  std::array<uint8_t, sdk::kMediaKeyBytes> key{};
  const sdk::ByteView label_bytes(reinterpret_cast<const uint8_t*>(label.data()), label.size());
  sdk::Status st =
      session.derive_media_key(label_bytes, sdk::MutableByteView(key.data(), key.size()));
  sdk::MediaCipher* send = nullptr;
  sdk::MediaCipher* receive = nullptr;
  if (st.is_ok()) {
    st = suite.create_media_cipher(sdk::ByteView(key), initiator ? 0 : 1, &send);
  }
  if (st.is_ok()) {
    st = suite.create_media_cipher(sdk::ByteView(key), initiator ? 1 : 0, &receive);
  }
  sodium_memzero(key.data(), key.size());
  if (!st.is_ok()) {
    if (send != nullptr) {
      send->destroy();
    }
    return st;
  }
  *tx = send;
  *rx = receive;
  return st;
}

sdk::Status link_ciphers(sdk::CryptoSuite& suite, sdk::Handshake& handshake, std::string_view label,
                         bool initiator, sdk::MediaCipher** tx, sdk::MediaCipher** rx) {
  sdk::Session* session = nullptr;
  sdk::Status st = handshake.split(&session);
  if (!st.is_ok() || session == nullptr) {
    return st.is_ok() ? sdk::Status::error(sdk::StatusCode::kInternal, "split gave no session")
                      : st;
  }
  st = link_ciphers(suite, *session, label, initiator, tx, rx);
  session->destroy();
  return st;
}

} // namespace entre
