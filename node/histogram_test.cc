#include "node/histogram.h"

#include <gtest/gtest.h>

#include <thread>

namespace braid::node {
namespace {

TEST(Histogram, DecadeBoundsAreOneTwoAndAHalfAndFivePerDecade) {
  const HistogramBounds b = decade_bounds(-6, -4);
  EXPECT_EQ(b.upper_seconds, (std::vector<double>{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4}));
  EXPECT_EQ(b.upper_us_x10, (std::vector<sched::Micros>{10, 25, 50, 100, 250, 500, 1000}));
}

TEST(Histogram, TheContractsBucketSets) {
  EXPECT_EQ(decision_bounds().upper_seconds.front(), 1e-6);
  EXPECT_EQ(decision_bounds().upper_seconds.back(), 1e-2);
  EXPECT_EQ(decision_bounds().upper_seconds.size(), 13u);
  EXPECT_EQ(queue_wait_bounds().upper_seconds.front(), 1e-3);
  EXPECT_EQ(queue_wait_bounds().upper_seconds.back(), 3600);
  EXPECT_EQ(queue_wait_bounds().upper_seconds[queue_wait_bounds().upper_seconds.size() - 2], 1e3);
  EXPECT_EQ(short_bounds().upper_seconds.front(), 1e-5);
  EXPECT_EQ(short_bounds().upper_seconds.back(), 1.0);
}

TEST(Histogram, SamplesLandInTheFirstBucketWhoseBoundHoldsThem) {
  Histogram h(decision_bounds());
  h.observe_us(0);       // <= 1 µs
  h.observe_us(1);       // <= 1 µs (bounds are inclusive)
  h.observe_us(2);       // <= 2.5 µs
  h.observe_us(3);       // <= 5 µs
  h.observe_us(10'000);  // <= 10 ms
  h.observe_us(10'001);  // +Inf
  h.observe_us(-5);      // a clock oddity counts as 0
  const HistogramSnapshot s = h.snapshot();
  ASSERT_EQ(s.counts.size(), decision_bounds().upper_seconds.size() + 1);
  EXPECT_EQ(s.counts[0], 3u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[2], 1u);
  EXPECT_EQ(s.counts[12], 1u);
  EXPECT_EQ(s.counts[13], 1u);
  EXPECT_EQ(s.count, 7u);
  EXPECT_EQ(s.sum_us, 0u + 1 + 2 + 3 + 10'000 + 10'001);
}

TEST(Histogram, SharedHistogramCountsEveryWritersSampleWithoutALock) {
  SharedHistogram h(short_bounds());
  std::thread writer([&] {
    for (int i = 0; i < 100'000; ++i) h.observe_us(i % 2'000'000);
  });
  std::uint64_t last = 0;
  while (last < 100'000) {  // a reader meanwhile: counts only grow
    const HistogramSnapshot s = h.snapshot();
    EXPECT_GE(s.count, last);
    last = s.count;
  }
  writer.join();
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count, 100'000u);
  EXPECT_EQ(s.counts[0], 11u);  // 0..10 µs
}

}  // namespace
}  // namespace braid::node
