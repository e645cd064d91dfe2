#include "node/slice_stats.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

TEST(SliceStats, PercentilesOfTheAbsoluteError) {
  SliceStats stats;
  EXPECT_EQ(stats.percentile_us(99), 0);
  for (int i = 0; i < 99; ++i) stats.record(10'000 + (i % 2 == 0 ? 100 : -100), 10'000);
  stats.record(15'000, 10'000);
  EXPECT_EQ(stats.count(), 100u);
  EXPECT_EQ(stats.percentile_us(50), 100);
  EXPECT_EQ(stats.percentile_us(100), 5'000);
}

TEST(SliceStats, SlicesOfSeveralQuantaAreMeasuredFromTheNearestBoundary) {
  SliceStats stats;
  stats.record(20'300, 10'000);  // kept for two quanta, stopped 300us late
  stats.record(2'000, 10'000);   // cut short: 8ms early
  EXPECT_EQ(stats.percentile_us(0), 300);
  EXPECT_EQ(stats.percentile_us(100), 8'000);
}

TEST(SliceStats, KeepsOnlyTheLatestSamples) {
  SliceStats stats;
  for (std::size_t i = 0; i < SliceStats::kSamplesMax; ++i) stats.record(14'000, 10'000);
  for (std::size_t i = 0; i < SliceStats::kSamplesMax; ++i) stats.record(10'000, 10'000);
  EXPECT_EQ(stats.percentile_us(100), 0);
}

}  // namespace
}  // namespace braid::node
