// A small scale run (100 nodes, 1 of them submitting): every task runs
// exactly once and the checks of the crash runs hold. The figures (makespan
// ratio, migrations per task) are printed, not asserted: they are
// measurements (braid_migration_sim --scale), not a test of speed.
#include "tests/sim/msim_scale.h"

#include <gtest/gtest.h>

#include <iostream>

namespace braid::msim {
namespace {

TEST(MsimScale, AHundredNodesRunEveryTaskOnce) {
  for (double loss : {0.0, 0.05}) {
    ScaleOptions o;
    o.nodes = 100;
    o.tasks_per_slot = 5;
    o.loss = loss;
    const ScaleReport r = scale_run(o);
    EXPECT_EQ(r.failure, "") << describe(o, r);
    EXPECT_EQ(r.tasks, 1000u);
    EXPECT_GT(r.migrations_per_task, 0.5);  // most of the work left the one origin
    std::cout << describe(o, r) << "\n";
  }
}

// The same with a target backlog of 1 and each node seeing at most 16 peers
// of each backlog group (the approximation that lets 10 000 nodes run).
TEST(MsimScale, TargetBacklogAndSampledViewsRunEveryTaskOnce) {
  ScaleOptions o;
  o.nodes = 100;
  o.tasks_per_slot = 5;
  o.loss = 0.05;
  o.balance.target_backlog = 1;
  o.refuse_at_backlog = 1;
  o.view_sample = 16;
  const ScaleReport r = scale_run(o);
  EXPECT_EQ(r.failure, "") << describe(o, r);
  EXPECT_GT(r.migrations_per_task, 0.5);
  EXPECT_GE(r.ratio, r.greedy_s / r.ideal_s * 0.999);  // no better than omniscient
  std::cout << describe(o, r) << "\n";
}

}  // namespace
}  // namespace braid::msim
