// Review of issue 9's accounts and I/O-aware slots: reproducers of suspected
// bugs. Each test states what the contract (torus.h) promises; a failure is
// the bug.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::account_spec;
using testing::config;
using testing::finish_order;
using testing::must;
using testing::report_cpu;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;
constexpr Micros kSec = kMicrosPerSecond;
constexpr Micros kForever = 3600 * kSec;

// A blocked task stays in running_ with a frozen vruntime, and
// update_min_vruntime() takes the minimum over running_: min_vruntime_ stays
// pinned at the sleeper's vruntime for as long as it sleeps. A task
// submitted later starts at that stale minimum ("A new or woken task starts
// at the current minimum so it can neither starve the others"), far below
// the busy tasks, and then holds the slot until it has caught up: the busy
// tasks starve for about as long as the sleeper has slept.
TEST(Review9, ABlockedSleeperMustNotLetANewTaskStarveTheOthers) {
  TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
  c.started_max = 8;
  SimNode node(c);
  const TaskKey sleeper = must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 0);
  ASSERT_EQ(node.torus().stats().blocked, 1u);
  const TaskKey a = must(node.submit(spec(), work(kForever)));
  const TaskKey b = must(node.submit(spec(), work(kForever)));
  node.run_for(30 * kSec);  // a and b share the slot (the sleeper lends it)
  must(node.submit(spec(), work(kForever)));
  const Micros a_before = node.torus().task(a).cpu_time_us;
  const Micros b_before = node.torus().task(b).cpu_time_us;
  // Fair window: 100 quanta of 10 ms = 1 s; within 5 s each of a and b must
  // have had the slot again.
  node.run_for(5 * kSec);
  EXPECT_GT(node.torus().task(a).cpu_time_us, a_before) << "a starved by the newcomer";
  EXPECT_GT(node.torus().task(b).cpu_time_us, b_before) << "b starved by the newcomer";
}

// Same for the sleeper itself once it turns busy: it kept the vruntime it had
// when it fell asleep and then holds a slot for about as long as it slept.
TEST(Review9, ASleeperTurningBusyMustNotMonopolizeTheSlot) {
  TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
  c.started_max = 8;
  SimNode node(c);
  const TaskKey sleeper = must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 0);
  const TaskKey a = must(node.submit(spec(), work(kForever)));
  const TaskKey b = must(node.submit(spec(), work(kForever)));
  node.run_for(30 * kSec);
  // Busy again: 100% over the next window.
  const Micros demand0 = 0;
  report_cpu(node, sleeper, demand0);  // baseline unchanged (same window)
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 30 * kSec + 100 * kMs);
  ASSERT_EQ(node.torus().stats().blocked, 0u);
  const Micros a_before = node.torus().task(a).cpu_time_us;
  const Micros b_before = node.torus().task(b).cpu_time_us;
  node.run_for(5 * kSec);
  EXPECT_GT(node.torus().task(a).cpu_time_us, a_before) << "a starved by the woken sleeper";
  EXPECT_GT(node.torus().task(b).cpu_time_us, b_before) << "b starved by the woken sleeper";
}

// schedule_next() picks the running task dispatched first, blocked or not; a
// blocked task is then skipped by pick_victim(), so `braid schedule-next`
// ends no slice at all.
TEST(Review9, ScheduleNextEndsASliceEvenWhenTheOldestRunningTaskIsBlocked) {
  TorusConfig c = config(Policy::kRoundRobin, 1, 1000 * kMs);  // no slice ends by itself
  c.started_max = 4;
  SimNode node(c);
  const TaskKey sleeper = must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 0);
  ASSERT_EQ(node.torus().stats().blocked, 1u);
  const TaskKey a = must(node.submit(spec(), work(kForever)));
  const TaskKey b = must(node.submit(spec(), work(kForever)));
  node.run_for(10 * kMs);
  ASSERT_EQ(node.torus().task(a).state, TaskState::kRunning);
  ASSERT_EQ(node.torus().task(b).state, TaskState::kQueued);
  Actions out;
  node.torus().schedule_next(node.now_us(), out);
  node.apply(out);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kRunning) << "schedule_next ended no slice";
}

// Pause: "no preemption, running tasks keep their slots" (torus.h, cli.md).
// A blocked task that turns busy while paused stops a running task anyway.
TEST(Review9, PausedNoRunningTaskIsStopped) {
  TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
  c.started_max = 1;
  SimNode node(c);
  const TaskKey sleeper = must(node.submit(spec(), work(kForever)));
  const TaskKey worker = must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 0);
  ASSERT_EQ(node.torus().task(worker).state, TaskState::kRunning);
  Actions out;
  node.torus().pause(node.now_us(), out);
  node.apply(out);
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 90 * kMs);  // busy again
  EXPECT_EQ(node.torus().task(worker).state, TaskState::kRunning) << "preempted while paused";
}

// Accounts: only an account that was idle ("nothing queued or started")
// comes back at the busy accounts' least usage. rebuild_queues() (a policy
// switch) clears every fresh queue and pushes the entries again, and
// push_fresh() then resets the usage of every account with queued tasks and
// nothing started: an account that waited because it had used more is
// forgiven its usage by an unrelated policy switch.
TEST(Review9, APolicySwitchDoesNotForgiveAWaitingAccountItsUsage) {
  const auto run = [](bool switch_policy) {
    TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
    c.started_max = 1;
    SimNode node(c);
    must(node.submit(account_spec("x"), work(10 * kSec)));
    const TaskKey x2 = must(node.submit(account_spec("x"), work(1 * kSec)));
    node.run_for(1 * kSec);
    std::vector<TaskKey> ys;
    for (int i = 0; i < 3; ++i) ys.push_back(must(node.submit(account_spec("y"), work(1 * kSec))));
    node.run_for(9500 * kMs);  // x1 ended at 10 s; y's first task runs
    if (switch_policy) {
      Actions out;
      node.torus().set_policy(Policy::kPriority, node.now_us(), out);
      node.torus().set_policy(Policy::kFair, node.now_us(), out);
      node.apply(out);
    }
    EXPECT_TRUE(node.run_until_idle(60 * kSec));
    const std::vector<TaskKey> order = finish_order(node);
    return order.back() == x2;  // x used 10 s, y 3 s: x2 comes last
  };
  EXPECT_TRUE(run(false));
  EXPECT_TRUE(run(true)) << "after Fair->Priority->Fair, x2 overtook y's tasks";
}

// Decision cost: every fresh_head() scans every account with queued tasks,
// and every push_fresh() of an idle account scans the whole account table.
// Submitting n tasks in n accounts costs O(n^2) (one decide per submit);
// in one account it is O(n log n). The docs say "a few per node is the
// expected case", but nothing bounds the number of accounts: any submitter
// can name a new one per task.
// What a decision costs with many accounts is measured by braid_torus_bench
// (BM_Decision, Fair, 10..999 accounts).
TEST(Review9, ManyAccountsAreBounded) {
  const auto submit_all = [](int n, bool distinct) {
    TorusConfig c = config(Policy::kFair, 2, 10 * kMs);
    c.started_max = 2;
    SimNode node(c);
    for (int i = 0; i < n; ++i) {
      must(node.submit(account_spec(distinct ? "a" + std::to_string(i) : "a"), work(kForever)));
    }
    // One more account is refused, naming the limit.
    Result<TaskKey> more = node.submit(account_spec("one-more"), work(kForever));
    EXPECT_EQ(more.ok(), !distinct);
    if (!more.ok()) {
      EXPECT_NE(more.error().message.find("at most 1000"), std::string::npos);
    }
  };
  const int n = static_cast<int>(kAccountsMax) - 1;  // the default account is one
  submit_all(n, false);
  submit_all(n, true);
}

// push_fresh() treats "fresh queue empty and nothing started" as idle, but
// an account whose queued tasks are all parked beside their throttled array
// is not idle: each time a member ends, unpark_one() pushes the next one and
// the account's usage is reset to the busy accounts' least. Here x (1 s used)
// should win against y (2 s used); after the reset they tie and y wins.
TEST(Review9, AThrottledArrayKeepsItsAccountUsageWhenAMemberEnds) {
  TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
  c.started_max = 1;
  SimNode node(c);
  std::vector<TaskKey> ys;
  for (int i = 0; i < 4; ++i) ys.push_back(must(node.submit(account_spec("y"), work(2 * kSec))));
  std::vector<TaskKey> xs;
  for (int i = 0; i < 3; ++i) {
    TaskSpec s = account_spec("x");
    s.array_group = 7;
    s.array_throttle = 1;
    s.array_index = i;
    xs.push_back(must(node.submit(s, work(1 * kSec))));
  }
  ASSERT_TRUE(node.run_until_idle(60 * kSec));
  const std::vector<TaskKey> order = finish_order(node);
  // y1 (0-2 s), x1 (2-3 s: x used 0 < 2), then x2 (x used 1 < y used 2).
  ASSERT_GE(order.size(), 3u);
  EXPECT_EQ(order[0], ys[0]);
  EXPECT_EQ(order[1], xs[0]);
  EXPECT_EQ(order[2], xs[1]) << "x's usage was reset to y's when x1 ended";
}

}  // namespace
}  // namespace braid::sched
