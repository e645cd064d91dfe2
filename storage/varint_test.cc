// Varint and FieldReader: round trips at every byte boundary, and refusal of
// overlong varints, truncation and lengths larger than the input.
#include "storage/varint.h"

#include <gtest/gtest.h>

#include <limits>

namespace braid::storage {
namespace {

std::string varint(std::uint64_t value) {
  std::string out;
  put_varint(out, value);
  return out;
}

TEST(Varint, UnsignedRoundTripsAtEveryByteBoundary) {
  const std::uint64_t values[] = {0,
                                  1,
                                  127,
                                  128,
                                  16383,
                                  16384,
                                  (1ull << 56) - 1,
                                  1ull << 63,
                                  std::numeric_limits<std::uint64_t>::max()};
  for (const std::uint64_t value : values) {
    const std::string bytes = varint(value);
    FieldReader in(bytes);
    std::uint64_t back = 0;
    in.u64("x", back);
    in.expect_end();
    ASSERT_TRUE(in.ok()) << value << ": " << in.error();
    EXPECT_EQ(back, value);
  }
  EXPECT_EQ(varint(127).size(), 1u);
  EXPECT_EQ(varint(128).size(), 2u);
  EXPECT_EQ(varint(std::numeric_limits<std::uint64_t>::max()).size(), kVarintBytesMax);
}

TEST(Varint, ZigzagKeepsSmallMagnitudesShort) {
  const std::int64_t values[] = {0,
                                 -1,
                                 1,
                                 -64,
                                 63,
                                 -65,
                                 1'000'000,
                                 std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max()};
  for (const std::int64_t value : values) {
    std::string bytes;
    put_signed_varint(bytes, value);
    FieldReader in(bytes);
    std::int64_t back = 0;
    in.i64("x", back);
    in.expect_end();
    ASSERT_TRUE(in.ok()) << value << ": " << in.error();
    EXPECT_EQ(back, value);
  }
  EXPECT_EQ(zigzag_encode(-1), 1u);
  EXPECT_EQ(zigzag_encode(1), 2u);
  std::string minus_one;
  put_signed_varint(minus_one, -1);
  EXPECT_EQ(minus_one.size(), 1u);
}

TEST(Varint, RefusesMoreThan64Bits) {
  // Ten bytes whose last one carries more than bit 63.
  const std::string bytes = std::string(9, '\xff') + '\x02';
  FieldReader in(bytes);
  std::uint64_t value = 0;
  in.u64("count", value);
  EXPECT_EQ(in.error(), "varint longer than 64 bits in count");

  const std::string endless(20, '\x80');
  FieldReader in2(endless);
  in2.u64("count", value);
  EXPECT_EQ(in2.error(), "varint longer than 64 bits in count");
}

TEST(Varint, TruncatedVarintNamesTheField) {
  FieldReader in(std::string_view("\x80", 1));
  std::uint64_t value = 0;
  in.u64("memory_bytes", value);
  EXPECT_EQ(in.error(), "truncated in memory_bytes");
}

TEST(Varint, LengthLargerThanTheInputIsRefusedBeforeAllocating) {
  std::string bytes;
  put_varint(bytes, 1ull << 40);  // a terabyte string
  bytes += "abc";
  FieldReader in(bytes);
  std::string value;
  in.str("cwd", value);
  EXPECT_EQ(in.error(), "truncated in cwd: length 1099511627776 but 3 bytes left");

  FieldReader list(bytes);
  std::vector<std::string> values;
  list.strings("argv", values);
  EXPECT_EQ(list.error(), "truncated in argv: count 1099511627776 but 3 bytes left");
}

TEST(Varint, FirstErrorSticksAndLaterReadsDoNothing) {
  std::string bytes;
  put_varint(bytes, 5);
  FieldReader in(bytes);
  std::uint64_t a = 0, b = 77;
  std::string s = "kept";
  in.u64("a", a);
  in.u64("b", b);
  in.str("s", s);
  EXPECT_EQ(a, 5u);
  EXPECT_EQ(b, 77u);
  EXPECT_EQ(s, "kept");
  EXPECT_EQ(in.error(), "truncated in b");
}

TEST(Varint, IntInRangeRefusesWhatDoesNotFit) {
  std::string bytes;
  put_signed_varint(bytes, std::int64_t{1} << 31);
  FieldReader in(bytes);
  int value = 0;
  in.int_in_range("priority", value);
  EXPECT_EQ(in.error(), "priority 2147483648 does not fit in 32 bits");
}

TEST(Varint, StringsRoundTrip) {
  const std::vector<std::string> values = {"", "a", std::string(300, 'x'), std::string("\0z", 2)};
  std::string bytes;
  put_strings(bytes, values);
  FieldReader in(bytes);
  std::vector<std::string> back = {"stale"};
  in.strings("env", back);
  in.expect_end();
  ASSERT_TRUE(in.ok()) << in.error();
  EXPECT_EQ(back, values);
}

}  // namespace
}  // namespace braid::storage
