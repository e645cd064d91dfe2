// I/O-aware slots: running tasks measured mostly blocked lend their slots
// and started places; busy again, they take them back.
#include <gtest/gtest.h>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::report_cpu;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;
constexpr Micros kForever = 3600 * kMicrosPerSecond;

// One slot, one started task: nothing else may start unless a slot is lent.
TorusConfig one_slot(Policy policy = Policy::kFair) {
  TorusConfig c = config(policy, 1, 10 * kMs);
  c.started_max = 1;
  return c;
}

// Reports `cpu_us` of measured CPU for `key` at the node's current time.

TEST(TorusBlocked, AMostlyBlockedTaskLendsItsSlotAndStartedPlace) {
  SimNode node(one_slot());
  const TaskKey sleeper = must(node.submit(spec(), work(kForever)));
  const TaskKey worker = must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  EXPECT_EQ(node.torus().task(worker).state, TaskState::kQueued);
  report_cpu(node, sleeper, 2 * kMs);  // 2 ms of CPU in 100 ms running
  EXPECT_EQ(node.torus().task(sleeper).state, TaskState::kRunning);
  EXPECT_EQ(node.torus().task(worker).state, TaskState::kRunning);
  const TorusStats s = node.torus().stats();
  EXPECT_EQ(s.blocked, 1u);
  EXPECT_EQ(s.slots_busy, 1);
  EXPECT_EQ(s.active_processes, 2u);
}

TEST(TorusBlocked, BusyAgainItTakesItsSlotBack) {
  SimNode node(one_slot());
  const TaskKey sleeper = must(node.submit(spec(), work(kForever)));
  const TaskKey worker = must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 2 * kMs);
  node.run_for(100 * kMs);
  // 80 ms of CPU in the last 100 ms: busy. The worker, charged 100 ms of
  // vruntime while the sleeper was charged none, ranks worse and stops.
  report_cpu(node, sleeper, 82 * kMs);
  EXPECT_EQ(node.torus().task(sleeper).state, TaskState::kRunning);
  EXPECT_EQ(node.torus().task(worker).state, TaskState::kStopped);
  const TorusStats s = node.torus().stats();
  EXPECT_EQ(s.blocked, 0u);
  EXPECT_EQ(s.slots_busy, 1);
}

TEST(TorusBlocked, InBetweenNothingChanges) {
  SimNode node(one_slot());
  const TaskKey task = must(node.submit(spec(), work(kForever)));
  must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, task, 30 * kMs);  // 30%: not blocked
  EXPECT_EQ(node.torus().stats().blocked, 0u);
  node.run_for(100 * kMs);
  report_cpu(node, task, 32 * kMs);  // blocked
  EXPECT_EQ(node.torus().stats().blocked, 1u);
  node.run_for(100 * kMs);
  report_cpu(node, task, 72 * kMs);  // 40%: still blocked (hysteresis)
  EXPECT_EQ(node.torus().stats().blocked, 1u);
}

TEST(TorusBlocked, ShortWindowsAreNotJudged) {
  SimNode node(one_slot());
  const TaskKey task = must(node.submit(spec(), work(kForever)));
  must(node.submit(spec(), work(kForever)));
  node.run_for(kCpuSampleMinUs - 1 * kMs);
  report_cpu(node, task, 0);
  EXPECT_EQ(node.torus().stats().blocked, 0u);
}

TEST(TorusBlocked, IoAwareOffKeepsStrictSlots) {
  TorusConfig c = one_slot();
  c.io_aware = false;
  SimNode node(c);
  const TaskKey sleeper = must(node.submit(spec(), work(kForever)));
  const TaskKey worker = must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 0);
  EXPECT_EQ(node.torus().task(worker).state, TaskState::kQueued);
  EXPECT_EQ(node.torus().stats().blocked, 0u);
}

// A blocked task that exits, or is cancelled, leaves the counts whole: the
// next waiting task takes the slot, and nothing runs beyond the slots.
TEST(TorusBlocked, ABlockedTaskThatEndsLeavesTheCountsWhole) {
  SimNode node(one_slot(Policy::kRoundRobin));
  const TaskKey sleeper = must(node.submit(spec(), work(150 * kMs)));
  must(node.submit(spec(), work(kForever)));
  must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 0);
  ASSERT_EQ(node.torus().stats().blocked, 1u);
  node.run_for(200 * kMs);  // the sleeper's work is done: it exits
  EXPECT_EQ(node.torus().task(sleeper).state, TaskState::kCompleted);
  const TorusStats s = node.torus().stats();
  EXPECT_EQ(s.blocked, 0u);
  EXPECT_EQ(s.slots_busy, 1);
  EXPECT_EQ(s.active_processes, 1u);
}

// Blocked tasks are charged no vruntime and no account usage under Fair.
TEST(TorusBlocked, FairChargesABlockedTaskNothing) {
  SimNode node(one_slot());
  const TaskKey sleeper = must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 0);
  const std::uint64_t before = node.torus().task(sleeper).vruntime_ns;
  node.run_for(1000 * kMs);
  EXPECT_EQ(node.torus().task(sleeper).vruntime_ns, before);
}

}  // namespace
}  // namespace braid::sched
