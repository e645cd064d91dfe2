#include "tests/sim/summary.h"

#include <gtest/gtest.h>

namespace braid::sim {
namespace {

TEST(Summary, MedianP99AndMax) {
  std::vector<gossip::Micros> values;
  for (int i = 100; i >= 1; --i) values.push_back(i);
  Summary summary = summarize(values, 2);
  EXPECT_EQ(summary.count, 100u);
  EXPECT_EQ(summary.missing, 2u);
  EXPECT_EQ(summary.median_us, 51);
  EXPECT_EQ(summary.p99_us, 99);
  EXPECT_EQ(summary.max_us, 100);
  EXPECT_NE(to_string(summary).find("MISSING 2"), std::string::npos);
}

TEST(Summary, EmptyIsZero) {
  Summary summary = summarize({});
  EXPECT_EQ(summary.count, 0u);
  EXPECT_EQ(summary.max_us, 0);
}

}  // namespace
}  // namespace braid::sim
