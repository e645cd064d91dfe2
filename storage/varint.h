// Varints and the field reader shared by storage/ codecs (task records, node
// meta). Internal to storage/.
//
// Encoding:
//  - unsigned integers: LEB128, 7 bits per byte, low bits first, the high bit
//    set on every byte but the last; at most kVarintBytesMax bytes.
//  - signed integers: zigzag-mapped first (0,-1,1,-2 -> 0,1,2,3) so small
//    magnitudes of either sign stay short.
//  - strings: a varint length, then the bytes.
//  - lists of strings: a varint count, then each string.
//
// FieldReader never trusts its input: it never reads past the end, rejects a
// varint longer than 64 bits, and refuses any length or count larger than the
// bytes left (every element takes at least one byte), so a corrupted length
// can never make it allocate more than the input's size. The first failure is
// kept with the name of the field being read and makes every later read a
// no-op: a decoder reads straight through and checks ok() once at the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace braid::storage {

constexpr std::size_t kVarintBytesMax = 10;  // ceil(64 / 7)

inline void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// 8 bytes, most significant first: keys whose byte order is numeric order
// (record numbers, epochs).
inline void put_big_endian64(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}

inline std::uint64_t zigzag_encode(std::int64_t value) {
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}

inline std::int64_t zigzag_decode(std::uint64_t value) {
  return static_cast<std::int64_t>((value >> 1) ^ (0 - (value & 1)));
}

inline void put_signed_varint(std::string& out, std::int64_t value) {
  put_varint(out, zigzag_encode(value));
}

inline void put_string(std::string& out, std::string_view value) {
  put_varint(out, value.size());
  out.append(value);
}

inline void put_strings(std::string& out, const std::vector<std::string>& values) {
  put_varint(out, values.size());
  for (const std::string& value : values) put_string(out, value);
}

class FieldReader {
 public:
  explicit FieldReader(std::string_view bytes) : next_(bytes.data()), end_(next_ + bytes.size()) {}

  bool ok() const { return error_.empty(); }
  // The first failure, e.g. "truncated in argv"; empty while ok().
  const std::string& error() const { return error_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - next_); }

  void u64(const char* field, std::uint64_t& out) {
    if (ok()) read_varint(field, out);
  }

  void i64(const char* field, std::int64_t& out) {
    std::uint64_t raw = 0;
    if (ok() && read_varint(field, raw)) out = zigzag_decode(raw);
  }

  // A signed varint that must fit in Int (int, std::int32_t).
  template <typename Int>
  void int_in_range(const char* field, Int& out) {
    std::int64_t wide = 0;
    i64(field, wide);
    if (!ok()) return;
    if (wide < std::numeric_limits<Int>::min() || wide > std::numeric_limits<Int>::max()) {
      fail(std::string(field) + " " + std::to_string(wide) + " does not fit in " +
           std::to_string(sizeof(Int) * 8) + " bits");
      return;
    }
    out = static_cast<Int>(wide);
  }

  // An enum stored as its underlying value, which must be 0..max.
  template <typename Enum>
  void enumeration(const char* field, Enum& out, Enum max) {
    std::uint64_t raw = 0;
    u64(field, raw);
    if (!ok()) return;
    if (raw > static_cast<std::uint64_t>(max)) {
      fail(std::string(field) + " " + std::to_string(raw) + " out of range 0.." +
           std::to_string(static_cast<std::uint64_t>(max)));
      return;
    }
    out = static_cast<Enum>(raw);
  }

  void str(const char* field, std::string& out) {
    std::uint64_t size = 0;
    if (!ok() || !read_length(field, "length", size)) return;
    out.assign(next_, static_cast<std::size_t>(size));
    next_ += size;
  }

  void strings(const char* field, std::vector<std::string>& out) {
    std::uint64_t count = 0;
    if (!ok() || !read_length(field, "count", count)) return;
    out.clear();
    out.reserve(static_cast<std::size_t>(count));  // count <= remaining(): bounded by the input
    for (std::uint64_t i = 0; i < count && ok(); ++i) str(field, out.emplace_back());
  }

  // Fails unless every byte was read.
  void expect_end() {
    if (ok() && remaining() != 0) {
      fail(std::to_string(remaining()) + " trailing bytes after the last field");
    }
  }

  void fail(std::string message) {
    if (ok()) error_ = std::move(message);
  }

 private:
  bool read_varint(const char* field, std::uint64_t& out) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < kVarintBytesMax; ++i) {
      if (next_ == end_) {
        fail(std::string("truncated in ") + field);
        return false;
      }
      const auto byte = static_cast<std::uint8_t>(*next_++);
      // The tenth byte holds bit 63 only; anything more would overflow.
      if (i == kVarintBytesMax - 1 && byte > 1) break;
      value |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        out = value;
        return true;
      }
    }
    fail(std::string("varint longer than 64 bits in ") + field);
    return false;
  }

  // A string length or list count: each unit takes at least one byte, so a
  // value above remaining() is corrupt whatever follows.
  bool read_length(const char* field, const char* what, std::uint64_t& out) {
    if (!read_varint(field, out)) return false;
    if (out > remaining()) {
      fail(std::string("truncated in ") + field + ": " + what + " " + std::to_string(out) +
           " but " + std::to_string(remaining()) + " bytes left");
      return false;
    }
    return true;
  }

  const char* next_;
  const char* end_;
  std::string error_;
};

}  // namespace braid::storage
