// Dependencies, retries, time limits, cancellation and admission.
#include <gtest/gtest.h>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::finish_order;
using testing::first_at;
using testing::must;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;

TaskSpec after(std::vector<std::string> ids) {
  TaskSpec s = spec();
  s.after = std::move(ids);
  return s;
}

TEST(TorusDependencies, ChainRunsInOrder) {
  SimNode node(config(Policy::kFair, 2));
  TaskKey a = must(node.submit(spec(), work(5 * kMs)));
  TaskKey b = must(node.submit(after({node.torus().task(a).id}), work(5 * kMs)));
  TaskKey c = must(node.submit(after({node.torus().task(b).id}), work(5 * kMs)));
  EXPECT_EQ(node.torus().task(b).state, TaskState::kPending);
  EXPECT_EQ(node.torus().task(b).reason, "waiting for 1 dependency");
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(finish_order(node), (std::vector<TaskKey>{a, b, c}));
  EXPECT_GE(first_at(node, Action::Kind::kStart, c), node.torus().task(b).finished_at_us);
}

TEST(TorusDependencies, WaitsForEveryDependency) {
  SimNode node(config(Policy::kFair, 2));
  TaskKey a = must(node.submit(spec(), work(5 * kMs)));
  TaskKey b = must(node.submit(spec(), work(50 * kMs)));
  TaskKey c =
      must(node.submit(after({node.torus().task(a).id, node.torus().task(b).id}), work(1 * kMs)));
  node.run_for(20 * kMs);
  EXPECT_EQ(node.torus().task(c).state, TaskState::kPending);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(c).state, TaskState::kCompleted);
  EXPECT_GE(node.torus().task(c).started_at_us, node.torus().task(b).finished_at_us);
}

TEST(TorusDependencies, FailurePropagatesDownTheChain) {
  SimNode node(config(Policy::kFair, 1));
  TaskKey a = must(node.submit(spec(), work(5 * kMs, {3})));
  TaskKey b = must(node.submit(after({"local:1"}), work(5 * kMs)));
  TaskKey c = must(node.submit(after({"local:2"}), work(5 * kMs)));
  TaskKey unrelated = must(node.submit(spec(), work(5 * kMs)));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(a).state, TaskState::kFailed);
  EXPECT_EQ(node.torus().task(a).reason, "exit 3");
  EXPECT_EQ(node.torus().task(b).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(b).reason, "dependency local:1 failed");
  EXPECT_EQ(node.torus().task(c).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(c).reason, "dependency local:2 failed");
  EXPECT_EQ(node.torus().task(unrelated).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(c).attempts, 0);
}

TEST(TorusDependencies, CancellingADependencyCancelsDependents) {
  SimNode node(config(Policy::kFair, 1));
  must(node.submit(spec(), work(50 * kMs)));
  TaskKey queued = must(node.submit(spec(), work(5 * kMs)));
  TaskKey dependent = must(node.submit(after({node.torus().task(queued).id}), work(5 * kMs)));
  Actions out;
  ASSERT_TRUE(node.torus().cancel(queued, node.now_us(), out).ok());
  node.apply(out);
  EXPECT_EQ(node.torus().task(queued).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(dependent).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(dependent).reason, "dependency local:2 failed");
}

TEST(TorusDependencies, FinishedDependenciesAreResolvedAtSubmit) {
  SimNode node(config(Policy::kFair, 1));
  must(node.submit(spec(), work(1 * kMs)));
  must(node.submit(spec(), work(1 * kMs, {1})));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  TaskKey ok = must(node.submit(after({"local:1"}), work(1 * kMs)));
  TaskKey doomed = must(node.submit(after({"local:2"}), work(1 * kMs)));
  EXPECT_EQ(node.torus().task(ok).state, TaskState::kRunning);
  EXPECT_EQ(node.torus().task(doomed).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(doomed).reason, "dependency local:2 failed");
}

TEST(TorusDependencies, UnknownIdsAreRefusedAndNothingIsStored) {
  Torus torus(config(Policy::kFair));
  Actions out;
  Result<TaskKey> r = torus.submit(after({"nowhere:9"}), 0, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "after: \"nowhere:9\" is not a known task (a dependency must exist; cycles are "
            "impossible)");
  // The next id was not used, so a cycle through a future id cannot be built.
  r = torus.submit(after({"local:1"}), 0, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(torus.task_count(), 0u);
  EXPECT_TRUE(out.empty());
}

TEST(TorusRetries, RetryWithExponentialBackoffUntilSuccess) {
  SimNode node(config(Policy::kFair, 1));
  TaskSpec s = spec();
  s.retries = 3;
  s.retry_backoff_us = 100 * kMs;
  TaskKey a = must(node.submit(s, work(10 * kMs, {1, 2, 0})));
  node.run_for(15 * kMs);
  EXPECT_EQ(node.torus().task(a).state, TaskState::kPending);
  EXPECT_EQ(node.torus().task(a).reason, "retry 1/3 after exit 1, in 100ms");
  ASSERT_TRUE(node.run_until_idle(10 * kMicrosPerSecond));
  const Task& t = node.torus().task(a);
  EXPECT_EQ(t.state, TaskState::kCompleted);
  EXPECT_EQ(t.attempts, 3);
  std::vector<Micros> starts;
  for (const auto& l : node.log()) {
    if (l.action.kind == Action::Kind::kStart) starts.push_back(l.at_us);
  }
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(starts[1] - starts[0], 10 * kMs + 100 * kMs);  // ran 10ms, waited 100ms
  EXPECT_EQ(starts[2] - starts[1], 10 * kMs + 200 * kMs);  // then 200ms
}

TEST(TorusRetries, ExhaustedRetriesFailWithTheLastReason) {
  SimNode node(config(Policy::kFair, 1));
  TaskSpec s = spec();
  s.retries = 2;
  s.retry_backoff_us = 1 * kMs;
  TaskKey a = must(node.submit(s, work(1 * kMs, {7})));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(a).state, TaskState::kFailed);
  EXPECT_EQ(node.torus().task(a).reason, "exit 7");
  EXPECT_EQ(node.torus().task(a).attempts, 3);
}

TEST(TorusTimeLimit, CountsOnlyRunningTimeAndIsNotRetried) {
  SimNode node(config(Policy::kRoundRobin, 1, 10 * kMs));
  TaskSpec limited = spec();
  limited.time_limit_us = 30 * kMs;
  limited.retries = 5;
  TaskKey a = must(node.submit(limited, work(1000 * kMs)));
  TaskKey b = must(node.submit(spec(), work(1000 * kMs)));
  ASSERT_TRUE(node.run_until_idle(10 * kMicrosPerSecond));
  const Task& t = node.torus().task(a);
  EXPECT_EQ(t.state, TaskState::kFailed);
  EXPECT_EQ(t.reason, "time limit");
  EXPECT_EQ(t.attempts, 1);
  EXPECT_EQ(t.cpu_time_us, 30 * kMs);
  // Sharing the slot with b, it ran 30ms within ~50ms of wall time.
  EXPECT_EQ(first_at(node, Action::Kind::kKill, a), 50 * kMs);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kCompleted);
}

TEST(TorusCancel, EveryLiveStateCanBeCancelled) {
  SimNode node(config(Policy::kRoundRobin, 1, 10 * kMs));
  TaskKey running = must(node.submit(spec(), work(1000 * kMs)));
  TaskKey stopped = must(node.submit(spec(), work(1000 * kMs)));
  node.run_for(15 * kMs);  // running ran first, was stopped; now `stopped` runs
  std::swap(running, stopped);
  TaskKey queued = must(node.submit(spec(), work(1000 * kMs)));
  TaskKey pending = must(node.submit(after({node.torus().task(queued).id}), work(1 * kMs)));
  ASSERT_EQ(node.torus().task(running).state, TaskState::kRunning);
  ASSERT_EQ(node.torus().task(stopped).state, TaskState::kStopped);
  Actions out;
  for (TaskKey k : {pending, running, stopped}) {
    ASSERT_TRUE(node.torus().cancel(k, node.now_us(), out).ok());
  }
  EXPECT_EQ(std::count(out.begin(), out.end(), Action{Action::Kind::kKill, running}), 1);
  EXPECT_EQ(std::count(out.begin(), out.end(), Action{Action::Kind::kKill, stopped}), 1);
  node.apply(out);
  out.clear();
  ASSERT_TRUE(node.torus().cancel(queued, node.now_us(), out).ok());
  node.apply(out);
  for (TaskKey k : {pending, running, stopped, queued}) {
    EXPECT_EQ(node.torus().task(k).state, TaskState::kCancelled) << node.torus().task(k).id;
  }
  EXPECT_EQ(node.alive_count(), 0u);
  Status again = node.torus().cancel(running, node.now_us(), out);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message,
            "task local:2 is already cancelled: only pending, queued, held, running or stopped "
            "tasks can be cancelled");
}

TEST(TorusSpawn, FailureFailsTheTaskAndTheNodeCarriesOn) {
  SimNode node(config(Policy::kFair, 1));
  TaskKey bad = must(node.submit(spec(), SimBehaviour{1 * kMs, {0}, true}));
  TaskKey good = must(node.submit(spec(), work(1 * kMs)));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(bad).state, TaskState::kFailed);
  EXPECT_EQ(node.torus().task(bad).reason, "spawn failed: No such file or directory");
  EXPECT_EQ(node.torus().task(good).state, TaskState::kCompleted);
}

TEST(TorusAdmission, NodeLimitsAreEnforcedAtSubmit) {
  TorusConfig c = config(Policy::kFair, 2);
  c.memory_bytes = 1000;
  Torus torus(c);
  Actions out;
  TaskSpec wide = spec();
  wide.cpus = 3;
  EXPECT_EQ(torus.submit(wide, 0, out).error().message,
            "cpus must be 1..2 (this node's slots), got 3");
  TaskSpec big = spec();
  big.memory_bytes = 1001;
  EXPECT_EQ(torus.submit(big, 0, out).error().message,
            "memory must be at most 1000 bytes (this node's memory), got 1001");
}

TEST(TorusAdmission, StartedTasksStayWithinMemory) {
  TorusConfig c = config(Policy::kRoundRobin, 2, 10 * kMs);
  c.memory_bytes = 1000;
  SimNode node(c);
  for (int i = 0; i < 3; ++i) {
    TaskSpec s = spec();
    s.memory_bytes = 600;
    must(node.submit(s, work(30 * kMs)));
  }
  // Only one 600-byte task fits at a time, even with a free slot.
  EXPECT_EQ(node.torus().stats().active_processes, 1u);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.now_us(), 90 * kMs);
  EXPECT_EQ(node.torus().stats().count(TaskState::kCompleted), 3u);
}

TEST(TorusAdmission, StartedMaxBoundsStoppedProcesses) {
  TorusConfig c = config(Policy::kRoundRobin, 1, 1 * kMs);
  c.started_max = 3;
  SimNode node(c);
  for (int i = 0; i < 10; ++i) must(node.submit(spec(), work(20 * kMs)));
  for (int i = 0; i < 150; ++i) {
    node.run_for(1 * kMs);
    ASSERT_LE(node.alive_count(), 3u);
  }
  EXPECT_TRUE(node.run_until_idle(kMicrosPerSecond));
}

// A full started set does not hold back urgent work: a strictly higher
// priority starts at once (Priority and Fair), an equal one waits its turn.
TEST(TorusAdmission, AHigherPriorityStartsBeyondStartedMax) {
  for (Policy policy : {Policy::kPriority, Policy::kFair, Policy::kRoundRobin}) {
    TorusConfig c = config(policy, 1, 10 * kMs);
    c.started_max = 1;
    SimNode node(c);
    must(node.submit(spec(5), work(10 * kMicrosPerSecond)));
    node.run_for(500 * kMs);
    TaskKey equal = must(node.submit(spec(5), work(100 * kMs)));
    TaskKey urgent = must(node.submit(spec(10), work(100 * kMs)));
    node.run_for(2 * kMicrosPerSecond);
    EXPECT_EQ(node.torus().task(equal).state, TaskState::kQueued) << to_string(policy);
    if (policy == Policy::kRoundRobin) {  // no priorities: started_max holds
      EXPECT_EQ(node.torus().task(urgent).state, TaskState::kQueued);
    } else {
      EXPECT_EQ(node.torus().task(urgent).state, TaskState::kCompleted) << to_string(policy);
      EXPECT_LE(node.alive_count(), 2u);
    }
  }
}

TEST(TorusAdmission, WideTaskIsNotStarvedByNarrowOnes) {
  SimNode node(config(Policy::kRoundRobin, 2, 10 * kMs));
  for (int i = 0; i < 4; ++i) must(node.submit(spec(), work(1000 * kMs)));
  TaskSpec wide = spec();
  wide.cpus = 2;
  TaskKey w = must(node.submit(wide, work(20 * kMs)));
  node.run_for(200 * kMs);
  EXPECT_EQ(node.torus().task(w).state, TaskState::kCompleted);
}

}  // namespace
}  // namespace braid::sched
