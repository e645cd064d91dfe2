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

}  // namespace
}  // namespace braid::msim
