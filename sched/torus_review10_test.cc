// Review of 12a5c03..1b545d5 (account limit, account placement, I/O-aware
// sample order): reproducers. Each test states what the contract (torus.h,
// docs) promises; a failure is the bug.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::account_spec;
using testing::config;
using testing::must;
using testing::spec;
using testing::starts_after;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;
constexpr Micros kSec = kMicrosPerSecond;

// torus.h: "An account that starts to queue again is placed level with the
// least-used account with queued tasks: one that was idle ... at that usage,
// so neither idling nor past use counts". 33e5778 took accounts that do not
// compete (started only) out of the reference, but an account whose queued
// tasks cannot take a slot still counts: t's array is throttled to 1 started
// member, so t stays "queued" for good while its usage grows at 1 cpu, a's at
// 3. c, idle until now, comes back at t's usage (1/3 of a's) and takes every
// slot t cannot use until it has caught up with a: a's batch gets no start
// for ~40 s (it grows with a's history), the starvation 33e5778 fixed for s.
TEST(Review10, AReturningAccountIsNotPlacedAtAThrottledArraysUsage) {
  TorusConfig c = config(Policy::kFair, 4, 10 * kMs);
  c.started_max = 4;
  SimNode node(c);
  for (int i = 0; i < 300; ++i) {
    TaskSpec s = account_spec("t");
    s.array_group = 7;
    s.array_throttle = 1;
    s.array_index = i;
    must(node.submit(s, work(1 * kSec)));
  }
  std::set<TaskKey> as, cs;
  for (int i = 0; i < 300; ++i) as.insert(must(node.submit(account_spec("a"), work(1 * kSec))));
  node.run_for(60 * kSec, 10 * kMs);  // t used ~60 cpu-s, a ~180 cpu-s; both still queue
  const Micros t0 = node.now_us();
  for (int i = 0; i < 300; ++i) cs.insert(must(node.submit(account_spec("c"), work(1 * kSec))));
  node.run_for(20 * kSec, 10 * kMs);
  const int a_starts = starts_after(node, as, t0);
  const int c_starts = starts_after(node, cs, t0);
  std::printf("in 20 s after c came back: a started %d, c started %d\n", a_starts, c_starts);
  EXPECT_GT(a_starts, c_starts / 3) << "a's batch starved by c, placed at t's throttled usage";
}

}  // namespace
}  // namespace braid::sched
