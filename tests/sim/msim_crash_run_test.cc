// Crash runs of the migration simulator (msim_crash_run.h) on ~200 seeds:
// every task completes exactly once, none is lost, every forwarding pointer
// leads to the executor, and the origin knows the outcome. A failure prints
// its seed: replay with `braid_migration_sim --seed N`.
#include "tests/sim/msim_crash_run.h"

#include <gtest/gtest.h>

namespace braid::msim {
namespace {

TEST(MsimCrashRun, TwoHundredSeedsKeepEveryTaskExactlyOnce) {
  std::uint64_t migrations = 0, crashes = 0, false_deaths = 0, requeues = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const CrashRunResult r = crash_run({.seed = seed});
    ASSERT_EQ(r.failure, "") << "seed " << seed << ": replay: braid_migration_sim --seed " << seed;
    migrations += r.migrations;
    crashes += r.crashes;
    false_deaths += r.false_deaths;
    requeues += r.requeues;
  }
  // The runs exercise what they claim to.
  EXPECT_GT(migrations, 1000u);
  EXPECT_GT(crashes, 200u);
  EXPECT_GT(false_deaths, 50u);
  EXPECT_GT(requeues, 10u);
}

TEST(MsimCrashRun, TargetBacklogOneKeepsEveryTaskExactlyOnce) {
  std::uint64_t migrations = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const CrashRunResult r = crash_run({.seed = seed, .target_backlog = 1});
    ASSERT_EQ(r.failure, "") << "seed " << seed << ": replay: braid_migration_sim --seed " << seed
                             << " --target-backlog 1";
    migrations += r.migrations;
  }
  EXPECT_GT(migrations, 1000u);
}

TEST(MsimCrashRun, TheSameSeedReplaysExactly) {
  const CrashRunResult a = crash_run({.seed = 42});
  const CrashRunResult b = crash_run({.seed = 42});
  EXPECT_EQ(a.failure, b.failure);
  EXPECT_EQ(a.migrations, b.migrations);
  EXPECT_EQ(a.crashes, b.crashes);
  EXPECT_EQ(a.settled_us, b.settled_us);
}

}  // namespace
}  // namespace braid::msim
