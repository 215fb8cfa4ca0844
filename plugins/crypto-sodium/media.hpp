// The media frame cipher of one call direction.
//
// Both sides derive the call's 32-byte key with RatchetState::derive_media_key(call_id); each of
// the two directions of the call gets its own cipher (direction 0 or 1), and the direction is part
// of every nonce, so the two directions never share a nonce under the one key. Which side sends on
// which direction is the caller's convention (both sides must agree).
//
//   seal(counter, ad, frame) = ChaCha20-Poly1305-IETF(key, nonce, ad, frame)   ; frame + 16 bytes
//   nonce                    = direction (uint32, little-endian) || counter (uint64, little-endian)
//
// seal() refuses a counter that is not above the last one it sealed (a repeated counter would
// repeat a nonce). open() verifies the tag FIRST, so a frame under another key (or another call,
// or the other direction) fails with kAuthFailed whatever its counter; only then does it check a
// sliding replay window of kMediaReplayWindowFrames counters below the highest counter seen: a
// counter already opened, or older than the window, fails with kOutOfRange. Frames inside the
// window may arrive in any order. A frame that fails leaves the window unchanged.
//
// Every function is noexcept and returns an sdk::Status; the key is held in a Secret and wiped on
// destruction or wipe().
#pragma once

#include "primitives.hpp"

#include <entre/sdk/bytes.hpp>
#include <entre/sdk/status.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace entre::plugins::sodium {

inline constexpr std::size_t kMediaCipherKeyBytes = 32;
inline constexpr std::size_t kMediaNonceBytes = 12;
inline constexpr std::size_t kMediaReplayWindowFrames = 1024;
inline constexpr std::size_t kMediaMaxFrameBytes = std::size_t{64} << 10; // plaintext, 64 KiB
// The relay link authenticates a whole frame as associated data (plugins/common/relay_wire.hpp).
inline constexpr std::size_t kMediaMaxAdBytes = std::size_t{64} << 10;

// The nonce of one frame (exposed so that tests can check the layout).
[[nodiscard]] std::array<uint8_t, kMediaNonceBytes> media_nonce(uint32_t direction,
                                                                uint64_t counter) noexcept;

class MediaFrameCipher {
 public:
  MediaFrameCipher() noexcept = default; // not ready: every call is refused

  // `key` is kMediaCipherKeyBytes bytes, `direction` 0 or 1 (kInvalidArgument otherwise). On
  // failure `out` is unchanged.
  [[nodiscard]] static sdk::Status create(ByteSpan key, uint32_t direction,
                                          MediaFrameCipher& out) noexcept;

  // Appends the sealed frame (frame length + kAeadTagBytes) to `out`.
  [[nodiscard]] sdk::Status seal(uint64_t counter, ByteSpan ad, ByteSpan frame,
                                 sdk::ByteSink& out) noexcept;
  // Appends the frame to `out`: kAuthFailed if it does not verify, then kOutOfRange for a replay
  // or a counter older than the window. The window moves only when the frame was delivered.
  [[nodiscard]] sdk::Status open(uint64_t counter, ByteSpan ad, ByteSpan sealed,
                                 sdk::ByteSink& out) noexcept;

  [[nodiscard]] bool ready() const noexcept { return ready_; }
  [[nodiscard]] uint32_t direction() const noexcept { return direction_; }
  // Forgets the key and both counters; the cipher is no longer ready.
  void wipe() noexcept;

 private:
  static constexpr std::size_t kWindowWords = kMediaReplayWindowFrames / 64;

  // kOutOfRange if `counter` was already opened or is older than the window; changes nothing.
  [[nodiscard]] sdk::Status check_window(uint64_t counter) const noexcept;
  void mark_window(uint64_t counter) noexcept;

  Secret<kMediaCipherKeyBytes> key_;
  uint32_t direction_ = 0;
  bool ready_ = false;
  bool sealed_any_ = false;
  uint64_t last_sealed_ = 0;
  bool opened_any_ = false;
  uint64_t highest_opened_ = 0;
  // Bit i (word i / 64, bit i % 64) is set when counter highest_opened_ - i was opened.
  std::array<uint64_t, kWindowWords> window_{};
};

} // namespace entre::plugins::sodium
