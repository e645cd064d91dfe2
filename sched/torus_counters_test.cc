// The torus's event counters (TorusStats: ended_*, cancels, retries), which
// braidd's metrics read.
#include <gtest/gtest.h>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;

TEST(TorusCounters, EndsByOutcomeRetriesAndCancelsAreCounted) {
  SimNode node(config(Policy::kFair, 1));
  TaskSpec retried = spec();
  retried.retries = 1;
  retried.retry_backoff_us = 1 * kMs;
  must(node.submit(retried, work(1 * kMs, {1, 0})));  // fails once, then succeeds
  must(node.submit(spec(), work(1 * kMs, {3})));      // fails
  const TaskKey running = must(node.submit(spec(), work(1000 * kMs)));
  TaskSpec dependent = spec();
  dependent.after = {node.torus().task(running).id};
  must(node.submit(dependent, work(1 * kMs)));  // ruled out when `running` is cancelled
  const TaskKey queued = must(node.submit(spec(), work(1 * kMs)));
  node.run_for(20 * kMs);
  ASSERT_EQ(node.torus().task(running).state, TaskState::kRunning);
  Actions out;
  ASSERT_TRUE(node.torus().cancel(queued, node.now_us(), out));
  ASSERT_TRUE(node.torus().cancel(running, node.now_us(), out));
  node.apply(out);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  const TorusStats s = node.torus().stats();
  EXPECT_EQ(s.ended_completed, 1u);
  EXPECT_EQ(s.ended_failed, 1u);
  EXPECT_EQ(s.ended_cancelled, 3u);  // two cancel requests and the ruled-out dependent
  EXPECT_EQ(s.cancels, 2u);
  EXPECT_EQ(s.retries, 1u);
}

}  // namespace
}  // namespace braid::sched
