#include "sched/chunked_vector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace braid::sched {
namespace {

constexpr std::size_t kBlock = ChunkedVector<int>::kBlockSize;

TEST(ChunkedVector, StartsEmpty) {
  ChunkedVector<int> v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.size(), 0u);
}

TEST(ChunkedVector, GrowsWithTheValueGivenAndKeepsWhatWasThere) {
  ChunkedVector<std::int64_t> v;
  v.grow_to(3, -1);
  ASSERT_EQ(v.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(v[i], -1);
  v[1] = 7;
  v.grow_to(3 * kBlock + 5, 4);  // across several blocks
  ASSERT_EQ(v.size(), 3 * kBlock + 5);
  EXPECT_EQ(v[0], -1);
  EXPECT_EQ(v[1], 7);
  EXPECT_EQ(v[2], -1);
  for (std::size_t i = 3; i < v.size(); ++i) ASSERT_EQ(v[i], 4) << i;
}

TEST(ChunkedVector, NeverShrinks) {
  ChunkedVector<int> v;
  v.grow_to(10, 1);
  v.grow_to(4, 2);
  EXPECT_EQ(v.size(), 10u);
  EXPECT_EQ(v[9], 1);
}

TEST(ChunkedVector, ElementsNeverMoveWhenItGrows) {
  ChunkedVector<std::string> v;
  v.grow_to(1);
  v[0] = "a string too long for the small-string buffer";
  const std::string* first = &v[0];
  const char* chars = v[0].data();
  v.grow_to(10 * kBlock);
  EXPECT_EQ(&v[0], first);
  EXPECT_EQ(v[0].data(), chars);
  EXPECT_EQ(v[0], "a string too long for the small-string buffer");
}

TEST(ChunkedVector, GrowingWithinABlockRefillsWhatAnEarlierGrowLeftBehind) {
  ChunkedVector<int> v;
  v.grow_to(1, 5);  // the whole first block was allocated and filled with 5
  v.grow_to(kBlock, 9);
  EXPECT_EQ(v[0], 5);
  for (std::size_t i = 1; i < kBlock; ++i) ASSERT_EQ(v[i], 9) << i;
}

TEST(ChunkedVector, ConstAccess) {
  ChunkedVector<int> v;
  v.grow_to(kBlock + 1, 3);
  v[kBlock] = 8;
  const ChunkedVector<int>& c = v;
  EXPECT_EQ(c[kBlock], 8);
  EXPECT_EQ(c[kBlock - 1], 3);
}

}  // namespace
}  // namespace braid::sched
