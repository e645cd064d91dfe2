// The started set stays bounded (started_max, plus slots for urgent work) and
// memory-held tasks are looked at again: regressions found in review.
#include <gtest/gtest.h>

#include <algorithm>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;
constexpr Micros kForever = 3600 * kMicrosPerSecond;

// Urgent starts beyond started_max stop at started_max + slots, though under
// Fair equal urgent tasks then rotate among themselves.
TEST(TorusStartedSet, UrgentStartsUnderFairStayWithinStartedMaxPlusSlots) {
  TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
  c.started_max = 1;
  SimNode node(c);
  must(node.submit(spec(0), work(kForever)));
  node.run_for(100 * kMs);
  for (int i = 0; i < 30; ++i) must(node.submit(spec(10), work(kForever)));
  node.run_for(60 * kMicrosPerSecond);
  EXPECT_LE(node.alive_count(), 2u) << "started: " << node.alive_count();
}

// Priority: forced slice ends (schedule_next) hand the slot to equal fresh
// tasks no further than the same bound.
TEST(TorusStartedSet, ForcedSliceEndsStayWithinStartedMaxPlusSlots) {
  TorusConfig c = config(Policy::kPriority, 1, 10 * kMs);
  c.started_max = 1;
  SimNode node(c);
  must(node.submit(spec(0), work(kForever)));
  node.run_for(10 * kMs);
  for (int i = 0; i < 20; ++i) must(node.submit(spec(10), work(kForever)));
  for (int i = 0; i < 20; ++i) {
    Actions out;
    node.torus().schedule_next(node.now_us(), out);
    node.apply(out);
    node.run_for(10 * kMs);
  }
  EXPECT_LE(node.alive_count(), 2u) << "started: " << node.alive_count();
}

// Under Priority no quantum tick looks again at a task held back by memory:
// the next round of measurements does.
TEST(TorusStartedSet, AMemoryHeldTaskStartsAtTheNextMeasurementUnderPriority) {
  SimNode node(config(Policy::kPriority, 2, 10 * kMs));
  Actions out;
  TaskKey a = must(node.submit(spec(), work(kForever)));
  node.run_for(1 * kMs);
  node.torus().set_task_memory(a, 600);
  node.torus().set_memory_available(500, node.now_us(), out);
  node.apply(out);
  out.clear();
  TaskKey b = must(node.submit(spec(), work(kForever)));
  ASSERT_EQ(node.torus().task(b).state, TaskState::kQueued);
  EXPECT_EQ(node.torus().next_tick_us(), kNever);
  // a shrinks; the machine's figure even drops a little.
  node.torus().set_task_memory(a, 100);
  node.torus().set_memory_available(490, node.now_us(), out);
  node.apply(out);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kRunning);
}

// Fair: a head held back by memory keeps its place whatever the priority of
// the tasks behind it (no backfill; only a full started set lets urgent work by).
TEST(TorusStartedSet, AMemoryHeldHeadKeepsItsPlaceAtEveryPriority) {
  for (int other : {0, 1, 4, 5, 6}) {
    SimNode node(config(Policy::kFair, 3, 10 * kMs));
    Actions out;
    TaskKey a = must(node.submit(spec(), work(kForever)));
    node.run_for(1 * kMs);
    node.torus().set_task_memory(a, 600);
    node.torus().set_memory_available(500, node.now_us(), out);
    node.apply(out);
    TaskKey head = must(node.submit(spec(), work(kForever)));  // expected 600: held
    TaskSpec small = spec(other);
    small.memory_bytes = 100;
    TaskKey s = must(node.submit(small, work(kForever)));
    node.run_for(50 * kMs);
    EXPECT_EQ(node.torus().task(head).state, TaskState::kQueued);
    EXPECT_EQ(node.torus().task(s).state, TaskState::kQueued) << "priority " << other;
  }
}

// Documented behaviour: a task with no --memory is expected to use what the
// largest started task uses, so one big task keeps the other slots idle.
TEST(TorusStartedSet, OneBigTaskKeepsTheOtherSlotsIdle) {
  SimNode node(config(Policy::kFair, 4, 10 * kMs));
  Actions out;
  TaskKey big = must(node.submit(spec(), work(kForever)));
  node.run_for(1 * kMs);
  node.torus().set_task_memory(big, 20'000);
  node.torus().set_memory_available(10'000, node.now_us(), out);
  node.apply(out);
  for (int i = 0; i < 3; ++i) must(node.submit(spec(), work(kForever)));
  node.run_for(1 * kMicrosPerSecond);
  EXPECT_EQ(node.running_count(), 1u);
}

// Under the defaults (Fair, started_max = slots, window 100) one low-priority
// background task does not let a whole default-priority batch start (it did:
// 41 started, each resident and stopped).
TEST(TorusStartedSet, OneBackgroundTaskDoesNotLetABatchStart) {
  TorusConfig c = config(Policy::kFair, 2, 10 * kMs);
  c.started_max = 2;  // braidd's default: slots
  SimNode node(c);
  must(node.submit(spec(0), work(kForever)));  // e.g. a nice'd background job
  node.run_for(100 * kMs);
  for (int i = 0; i < 40; ++i) must(node.submit(spec(), work(30 * kMicrosPerSecond)));
  std::size_t peak = 0;
  for (int i = 0; i < 600; ++i) {
    node.run_for(100 * kMs, 1 * kMs);
    peak = std::max(peak, node.alive_count());
  }
  EXPECT_LE(peak, 4u) << "peak started " << peak << ", preemptions "
                      << node.torus().stats().preemptions;
}

// started_memory_bytes_ and the started count through priority changes of
// running and stopped tasks, retries and policy switches: no BRAID_CHECK.
TEST(TorusStartedSet, CountsSurvivePriorityChangesRetriesAndPolicySwitches) {
  TorusConfig c = config(Policy::kFair, 2, 10 * kMs);
  c.started_max = 2;
  c.memory_bytes = 1'000'000;
  SimNode node(c);
  std::vector<TaskKey> keys;
  for (int i = 0; i < 12; ++i) {
    TaskSpec s = spec(i % 11);
    s.memory_bytes = 1000 * static_cast<std::uint64_t>(i);
    s.retries = 2;
    s.retry_backoff_us = 5 * kMs;
    keys.push_back(must(node.submit(s, work(300 * kMs, {1, 1, 0}))));
  }
  const Policy policies[] = {Policy::kFair, Policy::kPriority, Policy::kRoundRobin};
  for (int step = 0; step < 400; ++step) {
    Actions out;
    const TaskKey k = keys[static_cast<std::size_t>(step * 7) % keys.size()];
    if (!is_terminal(node.torus().task(k).state)) {
      (void)node.torus().set_priority(k, (step * 3) % 11, node.now_us(), out);
      if (is_started(node.torus().task(k).state)) node.torus().set_task_memory(k, step * 100u);
    }
    if (step % 37 == 0) node.torus().set_policy(policies[step / 37 % 3], node.now_us(), out);
    if (step % 53 == 0) node.torus().schedule_next(node.now_us(), out);
    node.apply(out);
    node.run_for(5 * kMs);
  }
  ASSERT_TRUE(node.run_until_idle(120 * kMicrosPerSecond));
  EXPECT_EQ(node.torus().stats().memory_started_bytes, 0u);
  EXPECT_EQ(node.torus().stats().active_processes, 0u);
  EXPECT_EQ(node.torus().stats().count(TaskState::kCompleted), keys.size());
  EXPECT_GT(node.torus().stats().preemptions, 0u);
}

// A batch behind a full started set needs no quantum ticks: nothing can
// change at a quantum's end (the node sleeps); an urgent arrival under Fair
// brings them back until it has started.
TEST(TorusStartedSet, ABatchBehindAFullStartedSetNeedsNoTicks) {
  TorusConfig c = config(Policy::kFair, 2, 10 * kMs);
  c.started_max = 2;
  SimNode node(c);
  for (int i = 0; i < 10; ++i) must(node.submit(spec(), work(kForever)));
  node.run_for(5 * kMs);
  EXPECT_EQ(node.torus().next_tick_us(), kNever);
  TaskKey urgent = must(node.submit(spec(10), work(100 * kMs)));
  EXPECT_NE(node.torus().next_tick_us(), kNever);
  while (node.torus().task(urgent).state != TaskState::kCompleted) {
    ASSERT_LT(node.now_us(), 5 * kMicrosPerSecond);
    node.run_for(1 * kMs);
  }
  // The task it stopped got its slot back: quiet again.
  EXPECT_EQ(node.running_count(), 2u);
  EXPECT_EQ(node.torus().next_tick_us(), kNever);
}

}  // namespace
}  // namespace braid::sched
