#include "gossip/suspicion.h"

#include <gtest/gtest.h>

namespace braid::gossip {
namespace {

TEST(Suspicion, BoundsFollowTheClusterSize) {
  GossipConfig c = GossipConfig::memberlist();  // mult 4, max mult 6, 3 confirmations, 1 s
  auto b = suspicion_bounds(c, 5);              // log10(5) < 1
  EXPECT_EQ(b.min_us, 4'000'000);
  EXPECT_EQ(b.max_us, 24'000'000);
  EXPECT_EQ(b.confirmations, 3);
  b = suspicion_bounds(c, 100);
  EXPECT_EQ(b.min_us, 8'000'000);
  EXPECT_EQ(b.max_us, 48'000'000);
  b = suspicion_bounds(c, 3);  // one other who could confirm
  EXPECT_EQ(b.confirmations, 1);
  b = suspicion_bounds(c, 2);
  EXPECT_EQ(b.confirmations, 0);
}

TEST(Suspicion, TimeoutShrinksLogarithmicallyWithConfirmations) {
  const SuspicionBounds b{1'000'000, 6'000'000, 3};
  EXPECT_EQ(suspicion_timeout_us(b, 0), 6'000'000);
  // max - (max - min) x log(c + 1) / log(k + 1): log(2)/log(4) = 0.5.
  EXPECT_EQ(suspicion_timeout_us(b, 1), 3'500'000);
  const Micros two = suspicion_timeout_us(b, 2);
  EXPECT_LT(two, 3'500'000);
  EXPECT_GT(two, 1'000'000);
  EXPECT_EQ(suspicion_timeout_us(b, 3), 1'000'000);
  EXPECT_EQ(suspicion_timeout_us(b, 10), 1'000'000);
  EXPECT_EQ(suspicion_timeout_us(SuspicionBounds{1'000'000, 6'000'000, 0}, 0), 1'000'000);
}

TEST(Suspicion, OnlyIndependentAccusersConfirm) {
  Suspicion s(10'000'000, SuspicionBounds{1'000'000, 6'000'000, 3}, "a");
  EXPECT_EQ(s.deadline_us(), 16'000'000);
  EXPECT_FALSE(s.confirm("a"));  // the first accuser again
  EXPECT_TRUE(s.confirm("b"));
  EXPECT_FALSE(s.confirm("b"));
  EXPECT_EQ(s.confirmations(), 1);
  EXPECT_EQ(s.deadline_us(), 13'500'000);
  EXPECT_TRUE(s.confirm("c"));
  EXPECT_TRUE(s.confirm("d"));
  EXPECT_FALSE(s.confirm("e"));  // already at the minimum
  EXPECT_EQ(s.deadline_us(), 11'000'000);
  s.postpone(12'000'000);
  EXPECT_EQ(s.deadline_us(), 12'000'000);
}

}  // namespace
}  // namespace braid::gossip
