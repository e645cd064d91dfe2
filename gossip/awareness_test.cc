#include "gossip/awareness.h"

#include <gtest/gtest.h>

namespace braid::gossip {
namespace {

TEST(Awareness, ScoreIsClampedAndScalesTimeouts) {
  Awareness a(8);
  EXPECT_EQ(a.score(), 0);
  EXPECT_EQ(a.scale(500), 500);
  a.apply(-1);
  EXPECT_EQ(a.score(), 0);
  a.apply(+1);
  a.apply(+1);
  EXPECT_EQ(a.score(), 2);
  EXPECT_EQ(a.scale(500), 1500);
  a.apply(+100);
  EXPECT_EQ(a.score(), 7);
  EXPECT_EQ(a.scale(1000), 8000);
  a.apply(-1);
  EXPECT_EQ(a.score(), 6);
}

TEST(Awareness, MaxOneNeverScales) {
  Awareness a(1);
  a.apply(+5);
  EXPECT_EQ(a.score(), 0);
  EXPECT_EQ(a.scale(100), 100);
}

}  // namespace
}  // namespace braid::gossip
