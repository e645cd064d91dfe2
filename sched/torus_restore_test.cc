// Ids given by the caller, restore after a restart, forgetting history.
#include <gtest/gtest.h>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::spec;

Task record(std::string id, TaskState state, TaskSpec s = spec()) {
  Task t;
  t.id = std::move(id);
  t.state = state;
  t.spec = std::move(s);
  return t;
}

TaskKey must_restore(Torus& torus, Task t, Actions& out) {
  auto key = torus.restore(std::move(t), 1000, out);
  EXPECT_TRUE(key.ok()) << (key.ok() ? "" : key.error().message);
  return key.ok() ? key.value() : kNoTask;
}

std::size_t persists(const Actions& out) {
  return std::count_if(out.begin(), out.end(),
                       [](const Action& a) { return a.kind == Action::Kind::kPersist; });
}

TEST(TorusIds, ReservedSequencesAreNeverGivenAgain) {
  Torus torus(config(Policy::kFair));
  EXPECT_EQ(torus.reserve_sequences(3), 1u);
  Actions out;
  auto key = torus.submit(spec(), 0, out);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(torus.task(key.value()).id, "local:4");
  EXPECT_EQ(torus.next_sequence(), 5u);
  auto as = torus.submit_as(torus.make_id(2), spec(), 0, out);
  ASSERT_TRUE(as.ok());
  EXPECT_EQ(torus.task(as.value()).id, "local:2");
  auto again = torus.submit_as("local:2", spec(), 0, out);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, "task id \"local:2\" is already known on this node");
}

TEST(TorusRestore, KeepsDurableFieldsAndQueuesWithoutWrites) {
  Torus torus(config(Policy::kPriority, 1));
  Actions out;
  Task t = record("n:7", TaskState::kQueued, spec(8));
  t.reason = "node restarted";
  t.attempts = 2;
  t.preemptions = 5;
  t.cpu_time_us = 1234;
  t.submitted_at_us = 50;
  t.started_at_us = 60;
  const TaskKey key = must_restore(torus, t, out);
  EXPECT_EQ(persists(out), 0u);
  const Task& r = torus.task(key);
  EXPECT_EQ(r.state, TaskState::kQueued);
  EXPECT_EQ(r.reason, "node restarted");
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.preemptions, 5);
  EXPECT_EQ(r.cpu_time_us, 1234);
  EXPECT_EQ(r.submitted_at_us, 50);
  EXPECT_EQ(r.started_at_us, 60);
  EXPECT_EQ(torus.stats().count(TaskState::kQueued), 1u);
  torus.trigger(1000, out);
  EXPECT_NE(std::find(out.begin(), out.end(), Action{Action::Kind::kStart, key}), out.end());
  EXPECT_EQ(torus.task(key).state, TaskState::kRunning);
  EXPECT_EQ(torus.task(key).attempts, 3);
}

TEST(TorusRestore, RefusesStartedDuplicateAndInvalidRecords) {
  Torus torus(config(Policy::kFair));
  Actions out;
  auto running = torus.restore(record("n:1", TaskState::kRunning), 0, out);
  ASSERT_FALSE(running.ok());
  EXPECT_EQ(running.error().message,
            "restore: task n:1 is running; only pending, queued, held, migrating, moved or "
            "finished tasks can be restored");
  must_restore(torus, record("n:2", TaskState::kCompleted), out);
  EXPECT_FALSE(torus.restore(record("n:2", TaskState::kQueued), 0, out).ok());
  TaskSpec bad = spec(11);
  auto invalid = torus.restore(record("n:3", TaskState::kQueued, bad), 0, out);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().message, "restore: task n:3: priority must be 0..10, got 11");
}

TEST(TorusRestore, ResolvesDependenciesAgain) {
  Torus torus(config(Policy::kFair, 1));
  Actions out;
  must_restore(torus, record("n:1", TaskState::kCompleted), out);
  must_restore(torus, record("n:2", TaskState::kFailed), out);
  const TaskKey live = must_restore(torus, record("n:3", TaskState::kQueued), out);
  TaskSpec on_done = spec();
  on_done.after = {"n:1", "n:0"};  // n:0 is not known: purged after completing
  const TaskKey ready = must_restore(torus, record("n:4", TaskState::kPending, on_done), out);
  TaskSpec on_failed = spec();
  on_failed.after = {"n:2"};
  const TaskKey doomed = must_restore(torus, record("n:5", TaskState::kPending, on_failed), out);
  TaskSpec on_live = spec();
  on_live.after = {"n:3"};
  const TaskKey waiting = must_restore(torus, record("n:6", TaskState::kQueued, on_live), out);

  EXPECT_EQ(torus.task(ready).state, TaskState::kQueued);
  EXPECT_EQ(torus.task(doomed).state, TaskState::kCancelled);
  EXPECT_EQ(torus.task(doomed).reason, "dependency n:2 failed");
  EXPECT_EQ(torus.task(waiting).state, TaskState::kPending);
  EXPECT_EQ(torus.task(waiting).reason, "waiting for 1 dependency");
  EXPECT_EQ(persists(out), 3u);  // ready, doomed and waiting changed; nothing else did

  // The restored dependency releases its dependent as usual.
  out.clear();
  torus.trigger(2000, out);
  for (TaskKey k : {live, ready}) {
    if (torus.task(k).state == TaskState::kRunning) {
      ASSERT_TRUE(torus.on_exit(k, ExitStatus::exited(0), 3000, out).ok());
    }
  }
  torus.trigger(4000, out);
  ASSERT_TRUE(torus.task(live).state == TaskState::kRunning ||
              torus.task(live).state == TaskState::kCompleted);
  if (torus.task(live).state == TaskState::kRunning) {
    ASSERT_TRUE(torus.on_exit(live, ExitStatus::exited(0), 5000, out).ok());
  }
  EXPECT_NE(torus.task(waiting).state, TaskState::kPending);
}

TEST(TorusRestore, RetryBackoffIsKept) {
  Torus torus(config(Policy::kFair, 1));
  Actions out;
  Task t = record("n:1", TaskState::kPending);
  t.spec.retries = 2;
  t.attempts = 1;
  t.not_before_us = 10'000;
  t.reason = "retry 1/2 after exit 1, in 1s";
  const TaskKey key = must_restore(torus, t, out);
  EXPECT_EQ(persists(out), 0u);
  EXPECT_EQ(torus.next_tick_us(), 10'000);
  torus.tick(10'000, out);
  EXPECT_EQ(torus.task(key).state, TaskState::kRunning);
}

TEST(TorusRestore, TaskTooWideForTheNodeFails) {
  Torus torus(config(Policy::kFair, 2));
  Actions out;
  TaskSpec wide = spec();
  wide.cpus = 4;
  const TaskKey key = must_restore(torus, record("n:1", TaskState::kQueued, wide), out);
  EXPECT_EQ(torus.task(key).state, TaskState::kFailed);
  EXPECT_EQ(torus.task(key).reason,
            "cannot run on this node any more: cpus must be 1..2 (this node's slots), got 4");
  EXPECT_EQ(persists(out), 1u);
}

TEST(TorusForget, DropsFinishedTasksAndReusesTheirKeys) {
  Torus torus(config(Policy::kFair, 1));
  Actions out;
  const TaskKey done = must_restore(torus, record("n:1", TaskState::kCompleted), out);
  const TaskKey live = must_restore(torus, record("n:2", TaskState::kQueued), out);
  auto refused = torus.forget(live);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "forget: task n:2 is queued; only finished tasks can be forgotten");
  ASSERT_TRUE(torus.forget(done).ok());
  EXPECT_FALSE(torus.exists(done));
  EXPECT_FALSE(torus.find("n:1"));
  EXPECT_EQ(torus.stats().count(TaskState::kCompleted), 0u);
  EXPECT_FALSE(torus.forget(done).ok());
  auto reused = torus.submit(spec(), 2000, out);
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(reused.value(), done);
  EXPECT_EQ(torus.task(done).state, TaskState::kQueued);  // the slot holds n:2; this one waits
  EXPECT_EQ(torus.task_count(), 2u);
}

TEST(TorusForget, AReusedKeyDoesNotInheritTheDependenciesOfItsFormerTask) {
  Torus torus(config(Policy::kFair, 2));
  Actions out;
  const TaskKey dep = torus.submit(spec(), 0, out).value();      // runs
  const TaskKey blocker = torus.submit(spec(), 0, out).value();  // runs
  TaskSpec on_dep = spec();
  on_dep.after = {torus.task(dep).id};
  const TaskKey waiting = torus.submit(on_dep, 0, out).value();
  ASSERT_TRUE(torus.cancel(waiting, 10, out).ok());
  ASSERT_TRUE(torus.forget(waiting).ok());
  TaskSpec on_blocker = spec();
  on_blocker.after = {torus.task(blocker).id};
  const TaskKey reused = torus.submit(on_blocker, 20, out).value();
  ASSERT_EQ(reused, waiting);
  ASSERT_EQ(torus.task(reused).state, TaskState::kPending);
  // The first task fails: the task that merely reuses a key must not follow it.
  ASSERT_TRUE(torus.on_exit(dep, ExitStatus::exited(3), 30, out).ok());
  EXPECT_EQ(torus.task(reused).state, TaskState::kPending);
  EXPECT_EQ(torus.task(reused).reason, "waiting for 1 dependency");
}

}  // namespace
}  // namespace braid::sched
