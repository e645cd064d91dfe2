// Policies, preemption, quantum and control of the torus.
#include "sched/torus.h"

#include <gtest/gtest.h>

#include "sched/test_util.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::finish_order;
using testing::first_at;
using testing::must;
using testing::spec;
using testing::switch_ins;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;

TEST(TorusRoundRobin, RotatesInArrivalOrderEachQuantum) {
  SimNode node(config(Policy::kRoundRobin, 1, 10 * kMs));
  TaskKey a = must(node.submit(spec(9), work(25 * kMs)));
  TaskKey b = must(node.submit(spec(1), work(25 * kMs)));
  TaskKey c = must(node.submit(spec(5), work(25 * kMs)));
  ASSERT_TRUE(node.run_until_idle(1000 * kMs));
  // Priorities do not matter to RoundRobin: FIFO, one quantum each.
  std::vector<TaskKey> expected{a, b, c, a, b, c, a, b, c};
  EXPECT_EQ(switch_ins(node), expected);
  EXPECT_EQ(first_at(node, Action::Kind::kStop, a), 10 * kMs);
  EXPECT_EQ(first_at(node, Action::Kind::kStop, b), 20 * kMs);
}

TEST(TorusPriority, HighestFirstFifoWithinALevel) {
  SimNode node(config(Policy::kPriority, 1, 10 * kMs));
  TaskKey blocker = must(node.submit(spec(10), work(5 * kMs)));
  TaskKey low = must(node.submit(spec(3), work(1 * kMs)));
  TaskKey high1 = must(node.submit(spec(7), work(1 * kMs)));
  TaskKey mid = must(node.submit(spec(5), work(1 * kMs)));
  TaskKey high2 = must(node.submit(spec(7), work(1 * kMs)));
  ASSERT_TRUE(node.run_until_idle(1000 * kMs));
  EXPECT_EQ(finish_order(node), (std::vector<TaskKey>{blocker, high1, high2, mid, low}));
}

TEST(TorusPriority, HigherArrivalTakesTheLowestRunningSlotAtOnce) {
  SimNode node(config(Policy::kPriority, 2, 10 * kMs));
  TaskKey p3 = must(node.submit(spec(3), work(500 * kMs)));
  TaskKey p6 = must(node.submit(spec(6), work(500 * kMs)));
  node.run_for(3 * kMs);
  TaskKey p9 = must(node.submit(spec(9), work(50 * kMs)));
  // Decided in the same call, well within two quanta.
  EXPECT_EQ(first_at(node, Action::Kind::kStart, p9), 3 * kMs);
  EXPECT_EQ(first_at(node, Action::Kind::kStop, p3), 3 * kMs);
  EXPECT_EQ(node.torus().task(p6).state, TaskState::kRunning);
  EXPECT_EQ(node.torus().task(p3).state, TaskState::kStopped);
  // An equal arrival never preempts: it waits for a running task to end.
  TaskKey p6b = must(node.submit(spec(6), work(1 * kMs)));
  EXPECT_EQ(node.torus().task(p6b).state, TaskState::kQueued);
  node.run_for(40 * kMs);
  EXPECT_EQ(node.torus().task(p6b).state, TaskState::kQueued);
  // The priority-3 task does not run while higher ones are runnable.
  EXPECT_EQ(node.torus().task(p3).state, TaskState::kStopped);
  node.run_for(20 * kMs);  // p9 ends at 53 ms, then p6b; p3 gets the freed slot
  EXPECT_EQ(node.torus().task(p6b).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().task(p3).state, TaskState::kRunning);
}

TEST(TorusPriority, LowerPriorityDoesNotPreemptAtQuantumEnd) {
  SimNode node(config(Policy::kPriority, 1, 10 * kMs));
  TaskKey high = must(node.submit(spec(8), work(50 * kMs)));
  TaskKey low = must(node.submit(spec(2), work(5 * kMs)));
  node.run_for(45 * kMs);
  EXPECT_EQ(node.torus().task(high).preemptions, 0);
  EXPECT_EQ(node.torus().task(low).state, TaskState::kQueued);
  ASSERT_TRUE(node.run_until_idle(100 * kMs));
  EXPECT_EQ(finish_order(node), (std::vector<TaskKey>{high, low}));
}

TEST(TorusFair, AlwaysDispatchesTheLowestVruntime) {
  TorusConfig c = config(Policy::kFair, 2, 10 * kMs);
  c.fair_window_quanta = 0;  // a decision every quantum
  SimNode node(c);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(node.submit(spec(2 + i % 7), work(40 * kMs)).ok());
  std::size_t checked = 0;
  for (int step = 0; step < 400; ++step) {
    std::size_t before = node.log().size();
    node.run_for(1 * kMs);
    for (std::size_t i = before; i < node.log().size(); ++i) {
      const Action& a = node.log()[i].action;
      if (a.kind != Action::Kind::kResume && a.kind != Action::Kind::kStart) continue;
      // Nothing still waiting may have had a lower vruntime than the pick.
      const Task& picked = node.torus().task(a.key);
      for (TaskKey k = 0; k < node.torus().task_count(); ++k) {
        const Task& t = node.torus().task(k);
        if (t.state == TaskState::kQueued || t.state == TaskState::kStopped) {
          EXPECT_GE(t.vruntime_ns, picked.vruntime_ns)
              << t.id << " waited while " << picked.id << " ran";
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 20u);
}

TEST(TorusQuantum, ChangeTakesEffectAtTheNextDecision) {
  SimNode node(config(Policy::kRoundRobin, 1, 100 * kMs));
  TaskKey a = must(node.submit(spec(), work(1000 * kMs)));
  TaskKey b = must(node.submit(spec(), work(1000 * kMs)));
  node.run_for(20 * kMs);
  EXPECT_EQ(node.torus().stats().preemptions, 0u);
  Actions out;
  ASSERT_TRUE(node.torus().set_quantum(5 * kMs, node.now_us(), out).ok());
  node.apply(out);
  // a has run 20ms >= the new 5ms quantum: it yields in that very decision.
  EXPECT_EQ(first_at(node, Action::Kind::kStop, a), 20 * kMs);
  node.run_for(10 * kMs);
  EXPECT_EQ(first_at(node, Action::Kind::kStop, b), 25 * kMs);
  EXPECT_EQ(node.torus().stats().quantum_micros, 5 * kMs);

  out.clear();
  ASSERT_TRUE(node.torus().set_quantum(50 * kMs, node.now_us(), out).ok());
  node.apply(out);
  const Micros switched_at = node.now_us();
  node.run_for(200 * kMs);
  Micros stop1 = first_at(node, Action::Kind::kStop, a, switched_at);
  Micros stop2 = first_at(node, Action::Kind::kStop, b, switched_at);
  EXPECT_EQ(std::abs(stop2 - stop1), 50 * kMs);
}

TEST(TorusQuantum, OutOfRangeIsRefusedWithTheRange) {
  Torus torus(config(Policy::kFair));
  Actions out;
  Status s = torus.set_quantum(0, 0, out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "quantum must be 1ms..1s, got 0s");
  EXPECT_FALSE(torus.set_quantum(2 * kMicrosPerSecond, 0, out).ok());
  EXPECT_EQ(torus.quantum_us(), kQuantumDefaultUs);
  TorusConfig bad = config(Policy::kFair);
  bad.quantum_us = 500;
  EXPECT_EQ(validate_config(bad).error().message, "quantum must be 1ms..1s, got 500us");
}

TEST(TorusPolicy, SwitchKeepsEveryTaskAndTheirOrder) {
  SimNode node(config(Policy::kRoundRobin, 2, 5 * kMs));
  std::vector<TaskKey> keys;
  for (int i = 0; i < 60; ++i)
    keys.push_back(must(node.submit(spec(i % 11), work((i % 7 + 1) * kMs))));
  const Policy order[] = {Policy::kPriority, Policy::kFair, Policy::kRoundRobin, Policy::kFair};
  for (Policy p : order) {
    node.run_for(7 * kMs);
    TorusStats before = node.torus().stats();
    Actions out;
    node.torus().set_policy(p, node.now_us(), out);
    node.apply(out);
    TorusStats after = node.torus().stats();
    EXPECT_EQ(after.policy, p);
    EXPECT_EQ(before.count(TaskState::kQueued) + before.count(TaskState::kStopped) +
                  before.count(TaskState::kRunning),
              after.count(TaskState::kQueued) + after.count(TaskState::kStopped) +
                  after.count(TaskState::kRunning) + after.count(TaskState::kCompleted) -
                  before.count(TaskState::kCompleted));
  }
  ASSERT_TRUE(node.run_until_idle(10'000 * kMs));
  for (TaskKey k : keys) EXPECT_EQ(node.torus().task(k).state, TaskState::kCompleted);
  EXPECT_EQ(node.torus().stats().count(TaskState::kCompleted), keys.size());
}

TEST(TorusControl, PauseStopsPreemptionButKeepsSlotsBusy) {
  SimNode node(config(Policy::kRoundRobin, 1, 10 * kMs));
  Actions out;
  node.torus().pause(0, out);
  TaskKey a = must(node.submit(spec(), work(100 * kMs)));
  TaskKey b = must(node.submit(spec(), work(100 * kMs)));
  EXPECT_EQ(node.torus().task(a).state, TaskState::kRunning);  // free slot still filled
  node.run_for(50 * kMs);
  EXPECT_EQ(node.torus().stats().preemptions, 0u);
  EXPECT_TRUE(node.torus().stats().paused);
  // trigger decides even while paused
  out.clear();
  node.torus().trigger(node.now_us(), out);
  node.apply(out);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kRunning);
  EXPECT_EQ(node.torus().stats().preemptions, 1u);
  node.run_for(50 * kMs);
  EXPECT_EQ(node.torus().stats().preemptions, 1u);
  out.clear();
  node.torus().resume(node.now_us(), out);
  node.apply(out);
  EXPECT_EQ(node.torus().stats().preemptions, 2u);  // a slice that long ends at once
}

TEST(TorusControl, PausedTorusAsksForNoTickUntilSomethingIsDue) {
  SimNode node(config(Policy::kRoundRobin, 1, 10 * kMs));
  must(node.submit(spec(), work(1000 * kMs)));
  must(node.submit(spec(), work(1000 * kMs)));
  EXPECT_EQ(node.torus().next_tick_us(), 10 * kMs);
  Actions out;
  node.torus().pause(node.now_us(), out);
  node.run_for(50 * kMs);
  // A slice that cannot end is not a deadline (a past one would spin the caller).
  EXPECT_EQ(node.torus().next_tick_us(), kNever);
  TaskSpec limited = spec();
  limited.time_limit_us = 500 * kMs;
  must(node.submit(limited, work(1000 * kMs)));
  EXPECT_EQ(node.torus().next_tick_us(), kNever);  // queued, not running: no limit ticking
  node.torus().resume(node.now_us(), out);
  node.apply(out);
  EXPECT_GT(node.torus().next_tick_us(), node.now_us());
}

TEST(TorusControl, ScheduleNextEndsTheLongestSliceNow) {
  SimNode node(config(Policy::kRoundRobin, 1, 100 * kMs));
  TaskKey a = must(node.submit(spec(), work(1000 * kMs)));
  TaskKey b = must(node.submit(spec(), work(1000 * kMs)));
  node.run_for(3 * kMs);
  Actions out;
  node.torus().schedule_next(node.now_us(), out);
  node.apply(out);
  EXPECT_EQ(node.torus().task(a).state, TaskState::kStopped);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kRunning);
}

TEST(TorusControl, PriorityIsSetBoostedLoweredAndClamped) {
  SimNode node(config(Policy::kPriority, 1));
  TaskKey a = must(node.submit(spec(5), work(100 * kMs)));
  TaskKey b = must(node.submit(spec(5), work(100 * kMs)));
  Actions out;
  ASSERT_TRUE(node.torus().set_priority(b, 10, node.now_us(), out).ok());
  node.apply(out);
  // b now outranks a strictly: it takes the slot at once.
  EXPECT_EQ(node.torus().task(b).state, TaskState::kRunning);
  out.clear();
  ASSERT_TRUE(node.torus().boost(b, node.now_us(), out).ok());
  EXPECT_EQ(node.torus().task(b).spec.priority, 10);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(node.torus().lower(a, node.now_us(), out).ok());
  node.apply(out);
  EXPECT_EQ(node.torus().task(a).spec.priority, 0);
  Status s = node.torus().set_priority(a, 11, node.now_us(), out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "priority must be 0..10, got 11");
}

TEST(TorusStats, CountersAgreeWithTheActionsTaken) {
  SimNode node(config(Policy::kRoundRobin, 2, 10 * kMs));
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(node.submit(spec(), work(35 * kMs)).ok());
  node.run_for(50 * kMs);
  TorusStats s = node.torus().stats();
  std::uint64_t starts = 0, resumes = 0, stops = 0;
  for (const auto& l : node.log()) {
    starts += l.action.kind == Action::Kind::kStart;
    resumes += l.action.kind == Action::Kind::kResume;
    stops += l.action.kind == Action::Kind::kStop;
  }
  EXPECT_EQ(s.total_scheduled, starts);
  EXPECT_EQ(s.context_switches, starts + resumes);
  EXPECT_EQ(s.preemptions, stops);
  EXPECT_EQ(s.active_processes, node.alive_count());
  EXPECT_EQ(s.slots_busy, 2);
  EXPECT_EQ(s.policy, Policy::kRoundRobin);
  EXPECT_EQ(s.quantum_micros, 10 * kMs);
  EXPECT_GT(s.preemptions, 0u);
}

TEST(TorusConfig, BadConfigIsNamed) {
  TorusConfig c = config(Policy::kFair);
  c.slots = 0;
  EXPECT_EQ(validate_config(c).error().message, "slots must be 1..4096, got 0");
  c = config(Policy::kFair);
  c.node_name = "bad name";
  EXPECT_NE(validate_config(c).error().message.find("node name \"bad name\""), std::string::npos);
  c = config(Policy::kFair, 4);
  c.started_max = 2;
  EXPECT_EQ(validate_config(c).error().message, "started_max must be >= slots (4), got 2");
}

}  // namespace
}  // namespace braid::sched
