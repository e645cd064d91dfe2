// Hold/release, dependency kinds and array throttles.
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

TaskSpec depends(std::string id, DepKind kind) {
  TaskSpec s = spec();
  s.add_dependency(std::move(id), kind);
  return s;
}

TaskSpec throttled(std::uint64_t group, std::uint32_t throttle, int index) {
  TaskSpec s = spec();
  s.array_group = group;
  s.array_throttle = throttle;
  s.array_index = index;
  return s;
}

// --- hold / release ---

TEST(TorusHold, HeldQueuedTaskNeverStartsUntilReleased) {
  SimNode node(config(Policy::kFair, 1));
  TaskKey a = must(node.submit(spec(), work(10 * kMs)));
  TaskKey b = must(node.submit(spec(), work(1 * kMs)));
  ASSERT_EQ(node.torus().task(b).state, TaskState::kQueued);  // a holds the one slot
  Actions out;
  ASSERT_TRUE(node.torus().hold(b, 0, out).ok());
  node.apply(out);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kHeld);
  EXPECT_EQ(node.torus().task(b).reason, "held");
  EXPECT_EQ(node.torus().stats().count(TaskState::kHeld), 1u);
  node.run_for(100 * kMs);
  EXPECT_EQ(node.torus().task(a).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kHeld);
  EXPECT_EQ(node.torus().task(b).attempts, 0);
  out.clear();
  ASSERT_TRUE(node.torus().release(b, node.now_us(), out).ok());
  node.apply(out);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(b).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().stats().count(TaskState::kHeld), 0u);
}

TEST(TorusHold, SubmitHeldAndRefusals) {
  SimNode node(config(Policy::kFair, 1));
  TaskSpec held = spec();
  held.hold = true;
  TaskKey h = must(node.submit(held, work(1 * kMs)));
  TaskKey r = must(node.submit(spec(), work(50 * kMs)));
  EXPECT_EQ(node.torus().task(h).state, TaskState::kHeld);
  EXPECT_FALSE(node.torus().task(h).spec.hold);  // consumed at admission
  node.run_for(5 * kMs);
  ASSERT_EQ(node.torus().task(r).state, TaskState::kRunning);
  Actions out;
  Status running = node.torus().hold(r, node.now_us(), out);
  ASSERT_FALSE(running.ok());
  EXPECT_EQ(running.error().message,
            "task local:2 is running: only pending or queued tasks can be held");
  Status not_held = node.torus().release(r, node.now_us(), out);
  ASSERT_FALSE(not_held.ok());
  EXPECT_EQ(not_held.error().message,
            "task local:2 is running, not held: only held tasks can be released");
  EXPECT_TRUE(node.torus().hold(h, node.now_us(), out).ok());  // held again: no change
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));          // idle: only h is left, held
  EXPECT_EQ(node.torus().task(r).state, TaskState::kCompleted);
  // Cancel works on a held task.
  out.clear();
  ASSERT_TRUE(node.torus().cancel(h, node.now_us(), out).ok());
  EXPECT_EQ(node.torus().task(h).state, TaskState::kCancelled);
  EXPECT_FALSE(node.torus().hold(h, node.now_us(), out).ok());
}

TEST(TorusHold, HeldPendingTaskStaysHeldAfterItsDependencyCompletes) {
  SimNode node(config(Policy::kFair, 1));
  TaskKey a = must(node.submit(spec(), work(10 * kMs)));
  TaskKey b = must(node.submit(depends("local:1", DepKind::kOk), work(1 * kMs)));
  TaskKey c = must(node.submit(depends("local:2", DepKind::kOk), work(1 * kMs)));
  Actions out;
  ASSERT_TRUE(node.torus().hold(b, node.now_us(), out).ok());
  node.apply(out);
  node.run_for(100 * kMs);
  EXPECT_EQ(node.torus().task(a).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kHeld);
  EXPECT_EQ(node.torus().task(b).deps_remaining, 0u);
  EXPECT_EQ(node.torus().task(c).state, TaskState::kPending);
  out.clear();
  ASSERT_TRUE(node.torus().release(b, node.now_us(), out).ok());
  node.apply(out);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(b).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(c).state, TaskState::kCompleted);
}

TEST(TorusHold, ReleasedBeforeItsDependencyEndsGoesBackToWaiting) {
  SimNode node(config(Policy::kFair, 1));
  must(node.submit(spec(), work(50 * kMs)));
  TaskKey b = must(node.submit(depends("local:1", DepKind::kOk), work(1 * kMs)));
  Actions out;
  ASSERT_TRUE(node.torus().hold(b, node.now_us(), out).ok());
  ASSERT_TRUE(node.torus().release(b, node.now_us(), out).ok());
  node.apply(out);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kPending);
  EXPECT_EQ(node.torus().task(b).reason, "waiting for 1 dependency");
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(b).state, TaskState::kCompleted);
}

TEST(TorusHold, HeldDependentOfAFailedTaskIsCancelled) {
  SimNode node(config(Policy::kFair, 1));
  must(node.submit(spec(), work(5 * kMs, {1})));
  TaskKey b = must(node.submit(depends("local:1", DepKind::kOk), work(1 * kMs)));
  Actions out;
  ASSERT_TRUE(node.torus().hold(b, node.now_us(), out).ok());
  node.apply(out);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(b).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(b).reason, "dependency local:1 failed");
}

TEST(TorusHold, HeldRetryKeepsItsBackoffWhenReleased) {
  SimNode node(config(Policy::kFair, 1));
  TaskSpec s = spec();
  s.retries = 1;
  s.retry_backoff_us = 500 * kMs;
  TaskKey a = must(node.submit(s, work(1 * kMs, {1, 0})));
  node.run_for(10 * kMs);
  ASSERT_EQ(node.torus().task(a).state, TaskState::kPending);
  Actions out;
  ASSERT_TRUE(node.torus().hold(a, node.now_us(), out).ok());
  node.apply(out);
  node.run_for(100 * kMs);
  ASSERT_TRUE(node.torus().release(a, node.now_us(), out).ok());
  node.apply(out);
  EXPECT_EQ(node.torus().task(a).state, TaskState::kPending);  // backoff not over
  node.run_for(300 * kMs);
  EXPECT_EQ(node.torus().task(a).state, TaskState::kPending);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(a).state, TaskState::kCompleted);
  EXPECT_GE(node.torus().task(a).finished_at_us, 500 * kMs);
}

// --- dependency kinds ---

TEST(TorusDepKinds, AfterAnyRunsWhateverTheOutcome) {
  SimNode node(config(Policy::kFair, 1));
  must(node.submit(spec(), work(5 * kMs, {3})));
  TaskKey any = must(node.submit(depends("local:1", DepKind::kAny), work(1 * kMs)));
  TaskKey ok = must(node.submit(depends("local:1", DepKind::kOk), work(1 * kMs)));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(any).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(ok).state, TaskState::kCancelled);
}

TEST(TorusDepKinds, AfterFailRunsOnlyAfterAFailure) {
  SimNode node(config(Policy::kFair, 1));
  TaskKey good = must(node.submit(spec(), work(5 * kMs)));
  TaskKey bad = must(node.submit(spec(), work(5 * kMs, {2})));
  TaskKey on_good = must(node.submit(depends("local:1", DepKind::kFail), work(1 * kMs)));
  TaskKey on_bad = must(node.submit(depends("local:2", DepKind::kFail), work(1 * kMs)));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(good).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(bad).state, TaskState::kFailed);
  EXPECT_EQ(node.torus().task(on_good).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(on_good).reason, "dependency local:1 completed");
  EXPECT_EQ(node.torus().task(on_good).attempts, 0);
  EXPECT_EQ(node.torus().task(on_bad).state, TaskState::kCompleted);
}

TEST(TorusDepKinds, AfterFailRunsAfterACancel) {
  SimNode node(config(Policy::kFair, 1));
  TaskKey a = must(node.submit(spec(), work(500 * kMs)));
  TaskKey b = must(node.submit(depends("local:1", DepKind::kFail), work(1 * kMs)));
  node.run_for(5 * kMs);
  Actions out;
  ASSERT_TRUE(node.torus().cancel(a, node.now_us(), out).ok());
  node.apply(out);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(a).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kCompleted);
}

// A chain through every kind: a fails -> b (after-ok a) cancelled ->
// c (after-any b) runs -> d (after-fail c) cancelled as "completed" ->
// e (after-fail d) runs, f (after d) is cancelled.
TEST(TorusDepKinds, ChainMixesKinds) {
  SimNode node(config(Policy::kFair, 2));
  TaskKey a = must(node.submit(spec(), work(5 * kMs, {1})));
  TaskKey b = must(node.submit(depends("local:1", DepKind::kOk), work(1 * kMs)));
  TaskKey c = must(node.submit(depends("local:2", DepKind::kAny), work(1 * kMs)));
  TaskKey d = must(node.submit(depends("local:3", DepKind::kFail), work(1 * kMs)));
  TaskKey e = must(node.submit(depends("local:4", DepKind::kFail), work(1 * kMs)));
  TaskKey f = must(node.submit(depends("local:4", DepKind::kOk), work(1 * kMs)));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(a).state, TaskState::kFailed);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(c).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(d).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(d).reason, "dependency local:3 completed");
  EXPECT_EQ(node.torus().task(e).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(f).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(f).reason, "dependency local:4 failed");
}

TEST(TorusDepKinds, AlreadyEndedDependenciesSettleAtSubmit) {
  SimNode node(config(Policy::kFair, 1));
  must(node.submit(spec(), work(1 * kMs)));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  TaskKey fail = must(node.submit(depends("local:1", DepKind::kFail), work(1 * kMs)));
  TaskKey any = must(node.submit(depends("local:1", DepKind::kAny), work(1 * kMs)));
  EXPECT_EQ(node.torus().task(fail).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().task(fail).reason, "dependency local:1 completed");
  EXPECT_EQ(node.torus().task(any).state, TaskState::kRunning);  // the slot was free
  // The same dependency named with two kinds needs both.
  TaskSpec both = depends("local:1", DepKind::kAny);
  both.add_dependency("local:1", DepKind::kFail);
  EXPECT_EQ(both.after_kinds.size(), 2u);
  TaskKey never = must(node.submit(both, work(1 * kMs)));
  EXPECT_EQ(node.torus().task(never).state, TaskState::kCancelled);
}

TEST(TorusDepKinds, RestoreResolvesEachKind) {
  Torus torus(config(Policy::kFair, 1));
  Actions out;
  auto restore = [&](std::string id, TaskState state, TaskSpec s) {
    Task t;
    t.id = std::move(id);
    t.state = state;
    t.spec = std::move(s);
    auto key = torus.restore(std::move(t), 1000, out);
    EXPECT_TRUE(key.ok()) << (key.ok() ? "" : key.error().message);
    return key.ok() ? key.value() : kNoTask;
  };
  restore("n:1", TaskState::kCompleted, spec());
  restore("n:2", TaskState::kFailed, spec());
  restore("n:3", TaskState::kCancelled, spec());
  const TaskKey fail_on_ok = restore("n:4", TaskState::kPending, depends("n:1", DepKind::kFail));
  const TaskKey fail_on_fail = restore("n:5", TaskState::kPending, depends("n:2", DepKind::kFail));
  const TaskKey any_on_cancel = restore("n:6", TaskState::kPending, depends("n:3", DepKind::kAny));
  const TaskKey ok_on_cancel = restore("n:7", TaskState::kPending, depends("n:3", DepKind::kOk));
  // n:0 was purged: it ended without ruling out its dependents (their
  // cancellation would have been stored first), so it is met for every kind.
  const TaskKey purged_fail = restore("n:8", TaskState::kPending, depends("n:0", DepKind::kFail));
  const TaskKey purged_ok = restore("n:9", TaskState::kPending, depends("n:0", DepKind::kOk));
  TaskSpec held_spec = depends("n:5", DepKind::kOk);
  const TaskKey held = restore("n:10", TaskState::kHeld, held_spec);
  EXPECT_EQ(torus.task(fail_on_ok).state, TaskState::kCancelled);
  EXPECT_EQ(torus.task(fail_on_ok).reason, "dependency n:1 completed");
  EXPECT_EQ(torus.task(fail_on_fail).state, TaskState::kQueued);
  EXPECT_EQ(torus.task(any_on_cancel).state, TaskState::kQueued);
  EXPECT_EQ(torus.task(ok_on_cancel).state, TaskState::kCancelled);
  EXPECT_EQ(torus.task(purged_fail).state, TaskState::kQueued);
  EXPECT_EQ(torus.task(purged_ok).state, TaskState::kQueued);
  EXPECT_EQ(torus.task(held).state, TaskState::kHeld);
  EXPECT_EQ(torus.task(held).deps_remaining, 1u);
  EXPECT_EQ(torus.stats().count(TaskState::kHeld), 1u);
  EXPECT_EQ(torus.stats().count(TaskState::kPending), 0u);
}

// --- array throttles ---

TEST(TorusArrayThrottle, NeverMoreStartedThanTheThrottle) {
  SimNode node(config(Policy::kRoundRobin, 4, 2 * kMs));
  std::vector<TaskKey> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(must(node.submit(throttled(7, 2, i), work(5 * kMs))));
  std::size_t most = 0;
  for (int step = 0; step < 500 && !node.run_until_idle(kMs); ++step) {
    std::size_t started = 0;
    for (TaskKey k : keys) started += is_started(node.torus().task(k).state) ? 1 : 0;
    most = std::max(most, started);
  }
  EXPECT_EQ(most, 2u);
  for (TaskKey k : keys) EXPECT_EQ(node.torus().task(k).state, TaskState::kCompleted);
}

TEST(TorusArrayThrottle, AThrottledArrayDoesNotBlockTasksBehindIt) {
  // 2 slots, an array of 10 throttled to 1 submitted first, then 3 plain
  // tasks: the plain ones use the second slot at once (no head-of-line wait).
  SimNode node(config(Policy::kRoundRobin, 2, 100 * kMs));
  std::vector<TaskKey> array;
  for (int i = 0; i < 10; ++i)
    array.push_back(must(node.submit(throttled(3, 1, i), work(20 * kMs))));
  std::vector<TaskKey> plain;
  for (int i = 0; i < 3; ++i) plain.push_back(must(node.submit(spec(), work(5 * kMs))));
  node.run_for(20 * kMs);
  for (TaskKey k : plain) EXPECT_EQ(node.torus().task(k).state, TaskState::kCompleted);
  ASSERT_TRUE(node.run_until_idle(10 * kMicrosPerSecond));
  // The array ran in index order, one at a time.
  for (std::size_t i = 1; i < array.size(); ++i) {
    EXPECT_GE(node.torus().task(array[i]).started_at_us,
              node.torus().task(array[i - 1]).finished_at_us);
  }
}

TEST(TorusArrayThrottle, ManyTasksManyArrays) {
  // 20k tasks in 4 arrays with throttles 1..4 beside 2k plain tasks on 16
  // slots: every array respects its throttle at every step, and all finish.
  SimNode node(config(Policy::kFair, 16, 1 * kMs));
  std::vector<std::vector<TaskKey>> arrays(4);
  for (int i = 0; i < 5000; ++i) {
    for (int g = 0; g < 4; ++g) {
      arrays[static_cast<std::size_t>(g)].push_back(must(node.submit(
          throttled(static_cast<std::uint64_t>(g + 1), static_cast<std::uint32_t>(g + 1), i),
          work(1 * kMs))));
    }
    if (i % 10 == 0) must(node.submit(spec(), work(1 * kMs)));
  }
  // Submitted before the first run: nothing has started beyond the throttles.
  for (int step = 0; step < 100000; ++step) {
    if (node.run_until_idle(kMs)) break;
    if (step % 97 != 0) continue;
    for (std::size_t g = 0; g < arrays.size(); ++g) {
      std::size_t started = 0;
      for (TaskKey k : arrays[g]) started += is_started(node.torus().task(k).state) ? 1 : 0;
      ASSERT_LE(started, g + 1) << "array " << g;
    }
  }
  for (const auto& keys : arrays) {
    for (TaskKey k : keys) ASSERT_EQ(node.torus().task(k).state, TaskState::kCompleted);
  }
}

TEST(TorusArrayThrottle, HoldCancelAndPolicySwitchKeepTheThrottle) {
  SimNode node(config(Policy::kFair, 4, 2 * kMs));
  std::vector<TaskKey> keys;
  for (int i = 0; i < 8; ++i) keys.push_back(must(node.submit(throttled(9, 2, i), work(20 * kMs))));
  node.run_for(3 * kMs);
  Actions out;
  // keys[2..] are queued or parked; hold one, cancel one, switch policy.
  ASSERT_TRUE(node.torus().hold(keys[5], node.now_us(), out).ok());
  ASSERT_TRUE(node.torus().cancel(keys[6], node.now_us(), out).ok());
  node.torus().set_policy(Policy::kPriority, node.now_us(), out);
  node.apply(out);
  std::size_t most = 0;
  for (int step = 0; step < 2000 && !node.run_until_idle(kMs); ++step) {
    std::size_t started = 0;
    for (TaskKey k : keys) started += is_started(node.torus().task(k).state) ? 1 : 0;
    most = std::max(most, started);
  }
  EXPECT_EQ(most, 2u);
  EXPECT_EQ(node.torus().task(keys[5]).state, TaskState::kHeld);
  EXPECT_EQ(node.torus().task(keys[6]).state, TaskState::kCancelled);
  out.clear();
  ASSERT_TRUE(node.torus().release(keys[5], node.now_us(), out).ok());
  node.apply(out);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(keys[5]).state, TaskState::kCompleted);
}

TEST(TorusArrayThrottle, SurvivesRestore) {
  Torus torus(config(Policy::kFair, 4));
  Actions out;
  std::vector<TaskKey> keys;
  for (int i = 0; i < 6; ++i) {
    Task t;
    t.id = "n:" + std::to_string(i + 1);
    t.state = TaskState::kQueued;
    t.spec = throttled(1, 2, i);
    auto key = torus.restore(std::move(t), 1000, out);
    ASSERT_TRUE(key.ok());
    keys.push_back(key.value());
  }
  torus.trigger(1000, out);
  std::size_t started = 0;
  for (TaskKey k : keys) started += is_started(torus.task(k).state) ? 1 : 0;
  EXPECT_EQ(started, 2u);
  ASSERT_TRUE(torus.on_exit(keys[0], ExitStatus::exited(0), 2000, out).ok());
  started = 0;
  for (TaskKey k : keys) started += is_started(torus.task(k).state) ? 1 : 0;
  EXPECT_EQ(started, 2u);
  EXPECT_TRUE(is_started(torus.task(keys[2]).state));  // the next index took the freed place
}

TEST(TorusArrayThrottle, ForgetDropsTheGroupWithItsLastMember) {
  SimNode node(config(Policy::kFair, 1));
  TaskKey a = must(node.submit(throttled(5, 1, 0), work(1 * kMs)));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  ASSERT_TRUE(node.torus().forget(a).ok());
  // A new array reusing group id 5 gets its own throttle.
  std::vector<TaskKey> keys;
  for (int i = 0; i < 4; ++i) keys.push_back(must(node.submit(throttled(5, 3, i), work(5 * kMs))));
  node.run_for(1 * kMs);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  for (TaskKey k : keys) EXPECT_EQ(node.torus().task(k).state, TaskState::kCompleted);
}

TEST(TaskSpecValidation, ArrayAndDependencyKinds) {
  TaskSpec s = spec();
  s.array_throttle = 2;
  ASSERT_FALSE(validate_spec(s).ok());
  EXPECT_EQ(validate_spec(s).error().message, "an array throttle needs an array group");
  s.array_group = 1;
  EXPECT_TRUE(validate_spec(s).ok());
  s.after = {"a:1"};
  s.after_kinds = {DepKind::kAny, DepKind::kFail};
  EXPECT_FALSE(validate_spec(s).ok());
  EXPECT_EQ(parse_task_state("held").value(), TaskState::kHeld);
  EXPECT_EQ(to_string(TaskState::kHeld), "held");
}

}  // namespace
}  // namespace braid::sched
