// The media frame cipher: see media.hpp.
#include "media.hpp"

#include <cstring>

namespace entre::plugins::sodium {
namespace {

using sdk::Status;
using sdk::StatusCode;

} // namespace

std::array<uint8_t, kMediaNonceBytes> media_nonce(uint32_t direction, uint64_t counter) noexcept {
  std::array<uint8_t, kMediaNonceBytes> nonce{};
  for (std::size_t i = 0; i < 4; ++i) {
    nonce[i] = static_cast<uint8_t>(direction >> (8 * i));
  }
  for (std::size_t i = 0; i < 8; ++i) {
    nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
  }
  return nonce;
}

Status MediaFrameCipher::create(ByteSpan key, uint32_t direction, MediaFrameCipher& out) noexcept {
  if (key.size() != kMediaCipherKeyBytes) {
    return Status::error(StatusCode::kInvalidArgument, "media: a media key is 32 bytes");
  }
  if (direction > 1) {
    return Status::error(StatusCode::kInvalidArgument, "media: direction must be 0 or 1");
  }
  out.wipe();
  std::memcpy(out.key_.data(), key.data(), kMediaCipherKeyBytes);
  out.direction_ = direction;
  out.ready_ = true;
  return Status::ok();
}

void MediaFrameCipher::wipe() noexcept {
  key_.wipe();
  direction_ = 0;
  ready_ = false;
  sealed_any_ = false;
  last_sealed_ = 0;
  opened_any_ = false;
  highest_opened_ = 0;
  window_.fill(0);
}

Status MediaFrameCipher::seal(uint64_t counter, ByteSpan ad, ByteSpan frame,
                              sdk::ByteSink& out) noexcept {
  try {
    if (!ready_) {
      return Status::error(StatusCode::kInvalidArgument, "media: cipher has no key");
    }
    if (frame.size() > kMediaMaxFrameBytes || ad.size() > kMediaMaxAdBytes) {
      return Status::error(StatusCode::kOutOfRange, "media: frame or associated data too long");
    }
    if (sealed_any_ && counter <= last_sealed_) {
      return Status::error(StatusCode::kOutOfRange,
                           "media: counter not above the last one sealed (nonce reuse)");
    }
    const auto nonce = media_nonce(direction_, counter);
    Bytes sealed;
    chacha_seal(key_.data(), nonce.data(), ad, frame, sealed);
    if (!out.append(sdk::ByteView(sealed))) {
      return Status::error(StatusCode::kBufferTooSmall, "media: the output sink refused the frame");
    }
    sealed_any_ = true;
    last_sealed_ = counter;
    return Status::ok();
  } catch (...) {
    return Status::error(StatusCode::kInternal, "media: seal ran out of memory");
  }
}

Status MediaFrameCipher::open(uint64_t counter, ByteSpan ad, ByteSpan sealed,
                              sdk::ByteSink& out) noexcept {
  try {
    if (!ready_) {
      return Status::error(StatusCode::kInvalidArgument, "media: cipher has no key");
    }
    if (sealed.size() < kAeadTagBytes) {
      return Status::error(StatusCode::kCorrupt, "media: sealed frame shorter than its tag");
    }
    if (sealed.size() - kAeadTagBytes > kMediaMaxFrameBytes || ad.size() > kMediaMaxAdBytes) {
      return Status::error(StatusCode::kOutOfRange, "media: frame or associated data too long");
    }
    const auto nonce = media_nonce(direction_, counter);
    SecretBytes frame;
    if (!chacha_open(key_.data(), nonce.data(), ad, sealed, frame.vec())) {
      return Status::error(StatusCode::kAuthFailed, "media: frame did not authenticate");
    }
    if (Status status = check_window(counter); !status) {
      return status;
    }
    if (!out.append(sdk::ByteView(frame.vec()))) {
      return Status::error(StatusCode::kBufferTooSmall, "media: the output sink refused the frame");
    }
    mark_window(counter);
    return Status::ok();
  } catch (...) {
    return Status::error(StatusCode::kInternal, "media: open ran out of memory");
  }
}

Status MediaFrameCipher::check_window(uint64_t counter) const noexcept {
  if (!opened_any_ || counter > highest_opened_) {
    return Status::ok();
  }
  const uint64_t age = highest_opened_ - counter;
  if (age >= kMediaReplayWindowFrames) {
    return Status::error(StatusCode::kOutOfRange, "media: frame older than the replay window");
  }
  if ((window_[age / 64] >> (age % 64)) & 1U) {
    return Status::error(StatusCode::kOutOfRange, "media: frame replayed");
  }
  return Status::ok();
}

void MediaFrameCipher::mark_window(uint64_t counter) noexcept {
  if (!opened_any_ || counter > highest_opened_) {
    // Slide: bit i moves to bit i + shift; bits beyond the window fall off.
    const uint64_t shift = opened_any_ ? counter - highest_opened_ : kMediaReplayWindowFrames;
    if (shift >= kMediaReplayWindowFrames) {
      window_.fill(0);
    } else {
      const std::size_t words = static_cast<std::size_t>(shift / 64);
      const unsigned bits = static_cast<unsigned>(shift % 64);
      for (std::size_t i = kWindowWords; i-- > 0;) {
        uint64_t word = 0;
        if (i >= words) {
          word = window_[i - words] << bits;
          if (bits != 0 && i > words) {
            word |= window_[i - words - 1] >> (64 - bits);
          }
        }
        window_[i] = word;
      }
    }
    opened_any_ = true;
    highest_opened_ = counter;
  }
  const uint64_t age = highest_opened_ - counter;
  window_[age / 64] |= uint64_t{1} << (age % 64);
}

} // namespace entre::plugins::sodium
