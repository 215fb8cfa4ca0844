// Byte and string views, and sinks for variable-sized output.
//
// Contract
// - ByteView and StringView are borrowed, non-owning (pointer, size) pairs. They are valid only for
//   the duration of the call that receives them unless the receiving interface says otherwise; a
//   callee that needs the bytes later copies them.
// - StringView is UTF-8 and NOT NUL-terminated.
// - ByteSink is how a callee returns output whose size only it knows (ciphertext, a serialised
//   state, a file name). The caller owns the sink and its storage; the callee reserves space,
//   writes, and commits. A sink may refuse to grow (reserve returns an empty view): the callee then
//   returns kBufferTooSmall or kOutOfRange and must not assume partial output was kept.
// - Sinks are not thread-safe; a call uses a sink from one thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace entre::sdk {

struct ByteView {
  const uint8_t* data = nullptr;
  uint64_t size = 0;

  constexpr ByteView() noexcept = default;
  constexpr ByteView(const uint8_t* d, uint64_t n) noexcept : data(d), size(n) {}
  constexpr ByteView(std::span<const uint8_t> s) noexcept : data(s.data()), size(s.size()) {}
  ByteView(const std::vector<uint8_t>& v) noexcept : data(v.data()), size(v.size()) {}

  [[nodiscard]] constexpr bool empty() const noexcept { return size == 0; }
  [[nodiscard]] constexpr std::span<const uint8_t> span() const noexcept {
    return {data, static_cast<std::size_t>(size)};
  }
};

struct MutableByteView {
  uint8_t* data = nullptr;
  uint64_t size = 0;

  constexpr MutableByteView() noexcept = default;
  constexpr MutableByteView(uint8_t* d, uint64_t n) noexcept : data(d), size(n) {}
  constexpr MutableByteView(std::span<uint8_t> s) noexcept : data(s.data()), size(s.size()) {}

  [[nodiscard]] constexpr bool empty() const noexcept { return size == 0; }
  [[nodiscard]] constexpr std::span<uint8_t> span() const noexcept {
    return {data, static_cast<std::size_t>(size)};
  }
};

struct StringView {
  const char* data = nullptr;
  uint64_t size = 0;

  constexpr StringView() noexcept = default;
  constexpr StringView(const char* d, uint64_t n) noexcept : data(d), size(n) {}
  constexpr StringView(std::string_view s) noexcept : data(s.data()), size(s.size()) {}
  // Implicit from a string literal or any NUL-terminated string.
  constexpr StringView(const char* cstr) noexcept
      : data(cstr), size(cstr == nullptr ? 0 : std::char_traits<char>::length(cstr)) {}
  StringView(const std::string& s) noexcept : data(s.data()), size(s.size()) {}

  [[nodiscard]] constexpr bool empty() const noexcept { return size == 0; }
  [[nodiscard]] constexpr std::string_view str() const noexcept {
    return {data, static_cast<std::size_t>(size)};
  }
};

static_assert(std::is_trivially_copyable_v<ByteView> && std::is_standard_layout_v<ByteView>);
static_assert(std::is_trivially_copyable_v<StringView> && std::is_standard_layout_v<StringView>);

class ByteSink {
 public:
  // Returns a writable region of exactly `size_bytes` bytes after the bytes committed so far, or an
  // empty view if the sink cannot hold that many. A second reserve before commit discards the
  // first.
  virtual MutableByteView reserve(uint64_t size_bytes) noexcept = 0;
  // Keeps the first `size_bytes` bytes of the last reserved region (size_bytes <= reserved size).
  virtual void commit(uint64_t size_bytes) noexcept = 0;

  // Convenience: reserve + copy + commit. Returns false if the sink refused the size.
  bool append(ByteView bytes) noexcept {
    MutableByteView region = reserve(bytes.size);
    if (region.size < bytes.size) {
      return false;
    }
    if (bytes.size > 0) {
      std::memcpy(region.data, bytes.data, static_cast<std::size_t>(bytes.size));
    }
    commit(bytes.size);
    return true;
  }
  bool append(StringView text) noexcept {
    return append(ByteView(reinterpret_cast<const uint8_t*>(text.data), text.size));
  }

 protected:
  ~ByteSink() = default;
};

// A ByteSink over a std::vector or std::string that the caller owns, bounded by `limit_bytes`.
// Header-only: each side of the boundary that constructs one uses its own copy of this code.
template <typename Container> class ContainerSink final : public ByteSink {
 public:
  explicit ContainerSink(Container& out, uint64_t limit_bytes = UINT32_MAX) noexcept
      : out_(out), limit_(limit_bytes) {}
  MutableByteView reserve(uint64_t size_bytes) noexcept override {
    const uint64_t base = committed_;
    if (size_bytes > limit_ || base > limit_ - size_bytes) {
      return {};
    }
    try {
      out_.resize(static_cast<std::size_t>(base + size_bytes));
    } catch (...) {
      return {};
    }
    reserved_ = size_bytes;
    return {reinterpret_cast<uint8_t*>(out_.data()) + base, size_bytes};
  }
  void commit(uint64_t size_bytes) noexcept override {
    if (size_bytes > reserved_) {
      size_bytes = reserved_;
    }
    committed_ += size_bytes;
    out_.resize(static_cast<std::size_t>(committed_));
    reserved_ = 0;
  }

 private:
  Container& out_;
  uint64_t limit_;
  uint64_t committed_ = out_.size();
  uint64_t reserved_ = 0;
};

using VectorSink = ContainerSink<std::vector<uint8_t>>;
using StringSink = ContainerSink<std::string>;

} // namespace entre::sdk
