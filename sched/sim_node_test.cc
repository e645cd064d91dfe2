#include "sched/sim_node.h"

#include <gtest/gtest.h>

#include "sched/test_util.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::spec;
using testing::work;

TEST(SimNode, ProcessesBurnCpuOnlyWhileRunning) {
  SimNode node(config(Policy::kRoundRobin, 1, 10 * kMicrosPerMilli));
  TaskKey a = must(node.submit(spec(), work(30 * kMicrosPerMilli)));
  TaskKey b = must(node.submit(spec(), work(30 * kMicrosPerMilli)));
  node.run_for(15 * kMicrosPerMilli);
  EXPECT_TRUE(node.is_stopped(a));
  EXPECT_FALSE(node.is_stopped(b));
  EXPECT_EQ(node.running_count(), 1u);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  // 60ms of work on one slot ends at 60ms: no CPU lost or invented.
  EXPECT_EQ(node.now_us(), 60 * kMicrosPerMilli);
  EXPECT_EQ(node.torus().task(a).cpu_time_us, 30 * kMicrosPerMilli);
  EXPECT_EQ(node.alive_count(), 0u);
}

TEST(SimNode, IncoherentActionsAbort) {
  SimNode node(config(Policy::kRoundRobin));
  TaskKey a = must(node.submit(spec(), work(kMicrosPerSecond)));
  EXPECT_DEATH(node.apply({{Action::Kind::kResume, a}}), "incoherent action: resume");
  EXPECT_DEATH(node.apply({{Action::Kind::kStart, a}}), "incoherent action: start");
}

}  // namespace
}  // namespace braid::sched
