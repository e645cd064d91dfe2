// The torus side of migration: a queued task offered away leaves the run
// queue, comes back on abort, becomes a forwarding pointer when moved, and
// ends (for its dependents) when its outcome arrives.
#include <gtest/gtest.h>

#include "sched/sim_node.h"
#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;

Status apply(SimNode& node, Status s, const Actions& out) {
  node.apply(out);
  return s;
}

// A busy node, a queued task that moves to n2, and a task that waits for
// it: the keys (busy, moved, dependent).
struct Moved {
  TaskKey busy, moved, dependent;
};
Moved move_one_with_a_dependent(SimNode& node) {
  const TaskKey busy = must(node.submit(spec(), work(20 * kMs)));  // holds the slot
  const TaskKey moved = must(node.submit(spec(), work(5 * kMs)));
  TaskSpec later = spec();
  later.after = {node.torus().task(moved).id};
  const TaskKey dependent = must(node.submit(later, work(5 * kMs)));
  Actions out;
  EXPECT_TRUE(apply(node, node.torus().begin_migration(moved, node.now_us(), out), out));
  out.clear();
  EXPECT_TRUE(apply(node, node.torus().finish_migration(moved, "n2", node.now_us(), out), out));
  return {busy, moved, dependent};
}

TEST(TorusMigration, AnOfferedTaskNeverStartsHereUntilItComesBack) {
  SimNode node(config(Policy::kFair, 1));
  const TaskKey busy = must(node.submit(spec(), work(50 * kMs)));
  const TaskKey offered = must(node.submit(spec(), work(5 * kMs)));
  node.run_for(1 * kMs);
  Actions out;
  ASSERT_TRUE(apply(node, node.torus().begin_migration(offered, node.now_us(), out), out));
  EXPECT_EQ(node.torus().task(offered).state, TaskState::kMigrating);
  EXPECT_EQ(node.torus().stats().tasks_by_state[static_cast<std::size_t>(TaskState::kQueued)], 0u);
  EXPECT_EQ(node.torus().top_queued_priority(), -1);
  node.run_for(100 * kMs);  // the slot frees up: the offered task must not start
  EXPECT_EQ(node.torus().task(busy).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(offered).state, TaskState::kMigrating);
  EXPECT_EQ(node.torus().task(offered).attempts, 0);
  out.clear();
  ASSERT_TRUE(apply(node, node.torus().abort_migration(offered, node.now_us(), out), out));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(offered).state, TaskState::kCompleted);
}

TEST(TorusMigration, OnlyAQueuedUnpinnedTaskCanBeOffered) {
  SimNode node(config(Policy::kFair, 1));
  const TaskKey running = must(node.submit(spec(), work(50 * kMs)));
  TaskSpec pinned = spec();
  pinned.pinned = true;
  const TaskKey pin = must(node.submit(pinned, work(5 * kMs)));
  TaskSpec later = spec();
  later.after = {node.torus().task(running).id};
  const TaskKey pending = must(node.submit(later, work(5 * kMs)));
  node.run_for(1 * kMs);
  Actions out;
  auto s = node.torus().begin_migration(running, node.now_us(), out);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("is running, not queued"), std::string::npos);
  s = node.torus().begin_migration(pin, node.now_us(), out);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("pinned"), std::string::npos);
  EXPECT_FALSE(node.torus().begin_migration(pending, node.now_us(), out));
  EXPECT_FALSE(node.torus().finish_migration(pin, "n2", node.now_us(), out));
  EXPECT_FALSE(node.torus().abort_migration(pin, node.now_us(), out));
}

TEST(TorusMigration, AMovedTaskHoldsItsDependentsUntilItsOutcomeArrives) {
  SimNode node(config(Policy::kFair, 1));
  const auto [busy, moved, dependent] = move_one_with_a_dependent(node);
  Actions out;
  EXPECT_EQ(node.torus().task(moved).state, TaskState::kMoved);
  EXPECT_EQ(node.torus().task(moved).moved_to, "n2");
  node.run_for(200 * kMs);
  EXPECT_EQ(node.torus().task(busy).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(dependent).state, TaskState::kPending);  // still waiting

  OutcomeReport report;
  report.task_id = node.torus().task(moved).id;
  report.executor = "n3";  // it moved on from n2 and ran on n3
  report.state = TaskState::kCompleted;
  report.exit = ExitStatus::exited(0);
  report.attempts = 1;
  report.started_at_us = 1000;
  report.finished_at_us = 2000;
  out.clear();
  ASSERT_TRUE(apply(node, node.torus().apply_outcome(moved, report, node.now_us(), out), out));
  EXPECT_EQ(node.torus().task(moved).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(moved).moved_to, "n3");
  EXPECT_EQ(node.torus().task(moved).finished_at_us, 2000);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(dependent).state, TaskState::kCompleted);
  out.clear();
  EXPECT_FALSE(node.torus().apply_outcome(moved, report, node.now_us(), out));  // once only
}

TEST(TorusMigration, AFailedOutcomeCancelsTheDependentsAsALocalFailureWould) {
  SimNode node(config(Policy::kFair, 1));
  const auto [busy, moved, dependent] = move_one_with_a_dependent(node);
  Actions out;
  OutcomeReport report;
  report.task_id = node.torus().task(moved).id;
  report.executor = "n2";
  report.state = TaskState::kFailed;
  report.exit = ExitStatus::exited(3);
  report.reason = "exit 3";
  out.clear();
  ASSERT_TRUE(apply(node, node.torus().apply_outcome(moved, report, node.now_us(), out), out));
  EXPECT_EQ(node.torus().task(dependent).state, TaskState::kCancelled);
}

TEST(TorusMigration, MovedAndMigratingTasksSurviveARestartWithTheirPointers) {
  TorusConfig c = config(Policy::kFair, 1);
  Torus torus(c);
  Task moved;
  moved.id = "local:1";
  moved.spec = spec();
  moved.state = TaskState::kMoved;
  moved.moved_to = "n2";
  moved.hops = 1;
  Task migrating;
  migrating.id = "local:2";
  migrating.spec = spec();
  migrating.state = TaskState::kMigrating;
  Task adopted;
  adopted.id = "n9:7";
  adopted.spec = spec();
  adopted.state = TaskState::kQueued;
  adopted.adopted_from = "n9";
  adopted.hops = 2;
  adopted.refusals = {{"n4", "no such program: foo"}};
  Actions out;
  const TaskKey a = must(torus.restore(moved, 0, out));
  const TaskKey b = must(torus.restore(migrating, 0, out));
  const TaskKey d = must(torus.restore(adopted, 0, out));
  EXPECT_EQ(torus.task(a).state, TaskState::kMoved);
  EXPECT_EQ(torus.task(a).moved_to, "n2");
  EXPECT_EQ(torus.task(b).state, TaskState::kMigrating);
  EXPECT_EQ(torus.task(d).adopted_from, "n9");
  EXPECT_EQ(torus.task(d).hops, 2);
  ASSERT_EQ(torus.task(d).refusals.size(), 1u);
  out.clear();
  torus.tick(1000, out);
  for (const Action& action : out) {
    if (action.kind == Action::Kind::kStart) {
      EXPECT_EQ(action.key, d);  // only the adopted task may start here
    }
  }
  ASSERT_TRUE(torus.abort_migration(b, 2000, out));
  EXPECT_EQ(torus.task(b).state, TaskState::kQueued);
}

TEST(TorusMigration, AnAdoptedTaskWaitsForItsDonorsConfirmationNotForAUserRelease) {
  SimNode node(config(Policy::kFair, 2));
  TaskSpec held = spec();
  held.hold = true;
  Actions out;
  const TaskKey key = must(node.torus().submit_as("n9:4", held, node.now_us(), out));
  ASSERT_TRUE(node.torus().mark_adoption(key, "n9", 7, 2, out));
  ASSERT_TRUE(node.torus().add_refusal(key, "n4", "no such program: foo", out));
  node.apply(out);
  EXPECT_EQ(node.torus().task(key).adoption_epoch, 7u);
  EXPECT_EQ(node.torus().task(key).hops, 2);
  ASSERT_EQ(node.torus().task(key).refusals.size(), 1u);
  EXPECT_EQ(node.torus().task(key).refusals[0].node, "n4");
  out.clear();
  const auto refused = node.torus().release(key, node.now_us(), out);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("waits for n9 to confirm its handoff"), std::string::npos);
  node.run_for(50 * kMs);
  EXPECT_EQ(node.torus().task(key).state, TaskState::kHeld);
  const auto not_cancelled = node.torus().cancel(key, node.now_us(), out);  // nor a cancel
  ASSERT_FALSE(not_cancelled);
  EXPECT_NE(not_cancelled.error().message.find("can be cancelled once confirmed"),
            std::string::npos);
  out.clear();
  ASSERT_TRUE(apply(node, node.torus().confirm_adoption(key, node.now_us(), out), out));
  EXPECT_EQ(node.torus().task(key).adoption_epoch, 0u);
  node.run_for(5 * kMs);
  EXPECT_NE(node.torus().task(key).state, TaskState::kHeld);
  EXPECT_EQ(node.torus().task(key).attempts, 1);
}

TEST(TorusMigration, ADiscardedAdoptionPointsBackToItsDonorAndIsAdoptedAgainByALaterOffer) {
  SimNode node(config(Policy::kFair, 2));
  TaskSpec held = spec();
  held.hold = true;
  Actions out;
  const TaskKey key = must(node.torus().submit_as("n9:4", held, node.now_us(), out));
  ASSERT_TRUE(node.torus().mark_adoption(key, "n9", 7, 1, out));
  ASSERT_TRUE(apply(node, node.torus().discard_adoption(key, node.now_us(), out), out));
  EXPECT_EQ(node.torus().task(key).state, TaskState::kMoved);
  EXPECT_EQ(node.torus().task(key).moved_to, "n9");
  EXPECT_EQ(node.torus().task(key).adoption_epoch, 0u);
  EXPECT_FALSE(node.torus().discard_adoption(key, node.now_us(), out));  // only a held adoption
  out.clear();
  // The donor offers it again (epoch 8): the same record comes back held.
  const TaskKey again = must(node.torus().submit_as("n9:4", held, node.now_us(), out));
  EXPECT_EQ(again, key);
  ASSERT_TRUE(node.torus().mark_adoption(key, "n9", 8, 1, out));
  ASSERT_TRUE(apply(node, node.torus().confirm_adoption(key, node.now_us(), out), out));
  node.run_for(5 * kMs);
  EXPECT_EQ(node.torus().task(key).attempts, 1);
}

}  // namespace
}  // namespace braid::sched
