#include "sched/policy.h"

#include <gtest/gtest.h>

namespace braid::sched {
namespace {

TEST(Policy, ParsesNamesInAnyCase) {
  EXPECT_EQ(parse_policy("RoundRobin").value(), Policy::kRoundRobin);
  EXPECT_EQ(parse_policy("roundrobin").value(), Policy::kRoundRobin);
  EXPECT_EQ(parse_policy("rr").value(), Policy::kRoundRobin);
  EXPECT_EQ(parse_policy("PRIORITY").value(), Policy::kPriority);
  EXPECT_EQ(parse_policy("Fair").value(), Policy::kFair);
  for (Policy p : {Policy::kRoundRobin, Policy::kPriority, Policy::kFair}) {
    EXPECT_EQ(parse_policy(to_string(p)).value(), p);
  }
}

TEST(Policy, UnknownNameSaysWhatIsAllowed) {
  Result<Policy> r = parse_policy("Fiar");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "unknown policy \"Fiar\": use RoundRobin, Priority or Fair");
}

TEST(Policy, FairWeightsGrowAboutAQuarterPerLevel) {
  EXPECT_EQ(fair_weight(kPriorityDefault), 1024u);
  for (int p = kPriorityMin; p < kPriorityMax; ++p) {
    double ratio = static_cast<double>(fair_weight(p + 1)) / fair_weight(p);
    EXPECT_NEAR(ratio, 1.25, 0.04) << "priority " << p;
  }
}

TEST(Policy, VruntimeGrowsSlowerForHeavierTasks) {
  EXPECT_EQ(vruntime_delta_ns(1000, kPriorityDefault), 1'000'000u);
  EXPECT_LT(vruntime_delta_ns(1000, 7), vruntime_delta_ns(1000, 5));
  EXPECT_GT(vruntime_delta_ns(1000, 3), vruntime_delta_ns(1000, 5));
}

TEST(Policy, RankMajorOrdersAsEachPolicySays) {
  EXPECT_EQ(rank_major(Policy::kRoundRobin, 9, 5), rank_major(Policy::kRoundRobin, 1, 7));
  EXPECT_LT(rank_major(Policy::kPriority, 9, 100), rank_major(Policy::kPriority, 1, 0));
  EXPECT_LT(rank_major(Policy::kFair, 1, 5), rank_major(Policy::kFair, 9, 7));
  EXPECT_EQ(rank_level(Policy::kRoundRobin, 9), 0);
  EXPECT_EQ(rank_level(Policy::kPriority, kPriorityMax), 0);
  EXPECT_EQ(rank_level(Policy::kFair, kPriorityMin), kPriorityLevels - 1);
}

}  // namespace
}  // namespace braid::sched
