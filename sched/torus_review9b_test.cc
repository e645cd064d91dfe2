// Second review of issue 9's accounts and I/O-aware slots (after a4ba18f):
// reproducers. Each test states what the contract (torus.h, docs) promises;
// a failure is the bug.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::account_spec;
using testing::config;
using testing::must;
using testing::report_cpu;
using testing::spec;
using testing::starts_after;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;
constexpr Micros kSec = kMicrosPerSecond;
constexpr Micros kForever = 3600 * kSec;

// "An account that was idle comes back at the least usage of the busy ones,
// so neither idling nor past use counts" (torus.h). The reference includes
// busy accounts that do not compete for more (s: one long task, nothing
// queued), whose usage falls ever further behind. c, idle until now, comes
// back at s's usage, 2/3 below a's, and takes every freed slot until it has
// caught up: a's batch gets no start for ~40 s (grows with a's history).
TEST(Review9b, AReturningAccountIsNotCreditedTheGapToAnAccountThatDoesNotCompete) {
  TorusConfig c = config(Policy::kFair, 4, 10 * kMs);
  c.started_max = 4;
  SimNode node(c);
  must(node.submit(account_spec("s"), work(kForever)));
  std::set<TaskKey> as, cs;
  for (int i = 0; i < 300; ++i) as.insert(must(node.submit(account_spec("a"), work(1 * kSec))));
  node.run_for(60 * kSec);  // s used 60 cpu-s, a 180 cpu-s
  const Micros t0 = node.now_us();
  for (int i = 0; i < 300; ++i) cs.insert(must(node.submit(account_spec("c"), work(1 * kSec))));
  node.run_for(20 * kSec, 10 * kMs);
  const int a_starts = starts_after(node, as, t0);
  const int c_starts = starts_after(node, cs, t0);
  std::printf("in 20 s after c came back: a started %d, c started %d\n", a_starts, c_starts);
  EXPECT_GT(a_starts, c_starts / 3) << "a's batch starved by c, placed at s's usage";
}

// The same with the issue's own I/O scenario: a sleeper's account is busy
// (started) but is charged nothing while blocked, so its usage stays ~0 and
// every account that comes back is placed at ~0, below a's whole history.
TEST(Review9b, ABlockedSleepersAccountDoesNotSetTheUsageAReturningAccountGets) {
  TorusConfig c = config(Policy::kFair, 2, 10 * kMs);
  c.started_max = 2;
  SimNode node(c);
  const TaskKey sleeper = must(node.submit(account_spec("s"), work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, sleeper, 0);
  ASSERT_EQ(node.torus().stats().blocked, 1u);
  std::set<TaskKey> as, cs;
  for (int i = 0; i < 200; ++i) as.insert(must(node.submit(account_spec("a"), work(1 * kSec))));
  node.run_for(30 * kSec, 10 * kMs);  // a used ~60 cpu-s on both slots, s ~0.1
  const Micros t0 = node.now_us();
  for (int i = 0; i < 200; ++i) cs.insert(must(node.submit(account_spec("c"), work(1 * kSec))));
  node.run_for(10 * kSec, 10 * kMs);
  const int a_starts = starts_after(node, as, t0);
  const int c_starts = starts_after(node, cs, t0);
  std::printf("in 10 s after c came back: a started %d, c started %d\n", a_starts, c_starts);
  EXPECT_GT(a_starts, c_starts / 3) << "a's batch starved by c, placed at the sleeper's usage";
}

// "Killed tasks are not judged" (a4ba18f): set_task_cpu_demand() checks
// kill_cause before advance(), and advance() is what finds a time limit
// reached. A sample that arrives after the limit but before the tick (two
// timers on braidd's loop) judges the dying task busy again, and the task
// that borrowed its slot is stopped for it.
TEST(Review9b, ATaskKilledByItsTimeLimitInTheSameCallIsNotJudged) {
  TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
  c.started_max = 1;
  SimNode node(c);
  TaskSpec limited = spec();
  limited.time_limit_us = 1 * kSec;
  const TaskKey x = must(node.submit(limited, work(kForever)));
  node.run_for(100 * kMs);
  report_cpu(node, x, 0);
  ASSERT_EQ(node.torus().stats().blocked, 1u);
  const TaskKey y = must(node.submit(spec(), work(kForever)));
  ASSERT_EQ(node.torus().task(y).state, TaskState::kRunning);
  node.run_for(850 * kMs);  // x ran 950 ms
  Actions out;
  node.torus().set_task_cpu_demand(x, 900 * kMs, node.now_us() + 100 * kMs, out);
  ASSERT_NE(node.torus().task(x).kill_cause, KillCause::kNone);  // its time limit: killed
  const bool y_stopped = std::any_of(out.begin(), out.end(), [&](const Action& a) {
    return a.kind == Action::Kind::kStop && a.key == y;
  });
  node.apply(out);
  EXPECT_FALSE(y_stopped) << "y stopped to give a slot back to a task being killed";
}

// braidd checks every spec of a submission with check() before storing it,
// then admits the stored tasks with submit_as(), which checks again and is
// treated as unable to fail (node/daemon_submit.cc admit_some: "a stored
// submission no longer fits" -> std::abort()). check() counts only accounts
// already held, so one `braid submit --file` whose lines name 1000 new
// accounts (or two concurrent submits at 999 held) passes every check, and
// a later submit_as is refused: braidd aborts with the tasks already durable.
TEST(Review9b, WhatCheckAdmitsBeforeTheWriteSubmitAsAdmitsAfterIt) {
  SimNode node(config(Policy::kFair, 2, 10 * kMs));
  std::vector<TaskSpec> specs;
  for (std::size_t i = 0; i < kAccountsMax; ++i) {
    specs.push_back(account_spec("u" + std::to_string(i)));
  }
  for (const TaskSpec& s : specs) ASSERT_TRUE(node.torus().check(s).ok());
  const std::uint64_t first = node.torus().reserve_sequences(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    Result<TaskKey> key = node.submit_as(node.torus().make_id(first + i), specs[i], work(kForever));
    ASSERT_TRUE(key.ok()) << "stored task " << i + 1 << " refused: " << key.error().message;
  }
}

}  // namespace
}  // namespace braid::sched
