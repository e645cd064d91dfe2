// Randomized stress: 100k tasks through one torus with every kind of input,
// checking invariants after every step. The seed is printed on failure; set
// BRAID_STRESS_SEED to replay one.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::spec;

constexpr Micros kMs = kMicrosPerMilli;
constexpr std::size_t kTasks = 100'000;
constexpr int kSlots = 4;

class Checker {
 public:
  explicit Checker(const SimNode& node) : node_(node) {}

  // Cheap checks, after every step.
  void step() {
    const Torus& torus = node_.torus();
    const TorusStats s = torus.stats();
    int busy = 0;
    for (TaskKey k : torus.running()) {
      const Task& t = torus.task(k);
      ASSERT_EQ(t.state, TaskState::kRunning) << t.id;
      busy += t.spec.cpus;
    }
    ASSERT_EQ(busy, s.slots_busy);
    ASSERT_LE(s.slots_busy, kSlots) << "more running than slots allow";
    ASSERT_EQ(torus.running().size(), node_.running_count());
    ASSERT_EQ(s.active_processes, node_.alive_count());
    ASSERT_EQ(s.count(TaskState::kRunning) + s.count(TaskState::kStopped), s.active_processes);
    std::uint64_t sum = 0;
    for (std::uint64_t n : s.tasks_by_state) sum += n;
    ASSERT_EQ(sum, torus.task_count());
    // Each task reaches exactly one terminal state: no persist after the end.
    const auto& log = node_.log();
    for (; seen_ < log.size(); ++seen_) {
      const Action& a = log[seen_].action;
      if (a.kind == Action::Kind::kResume) ++resumes_;
      if (a.kind != Action::Kind::kPersist) continue;
      if (a.key >= ended_.size()) ended_.resize(a.key + 1, false);
      ASSERT_FALSE(ended_[a.key]) << torus.task(a.key).id << " changed after it ended";
      // Persist entries are read after the call, so the current state is the
      // latest; a task that ended gets no further entries.
      if (is_terminal(torus.task(a.key).state) && last_persist_for(a.key) == seen_) {
        ended_[a.key] = true;
        ++ended_count_;
      }
    }
    ASSERT_EQ(ended_count_, s.count(TaskState::kCompleted) + s.count(TaskState::kFailed) +
                                s.count(TaskState::kCancelled));
  }

  // Full table scan: stats agree with the task table.
  void full() {
    const Torus& torus = node_.torus();
    const TorusStats s = torus.stats();
    std::array<std::uint64_t, kTaskStates> by_state{};
    std::map<std::uint64_t, std::uint32_t> started_by_array;
    std::uint64_t attempts = 0, preemptions = 0;
    for (TaskKey k = 0; k < torus.task_count(); ++k) {
      const Task& t = torus.task(k);
      ++by_state[static_cast<std::size_t>(t.state)];
      attempts += static_cast<std::uint64_t>(t.attempts);
      preemptions += static_cast<std::uint64_t>(t.preemptions);
      ASSERT_LE(t.attempts, t.spec.retries + 1) << t.id;
      if (t.spec.array_throttle > 0 && is_started(t.state)) {
        ASSERT_LE(++started_by_array[t.spec.array_group], t.spec.array_throttle) << t.id;
      }
    }
    ASSERT_EQ(by_state, s.tasks_by_state);
    ASSERT_EQ(attempts, s.total_scheduled);
    ASSERT_EQ(preemptions, s.preemptions);
    ASSERT_EQ(s.context_switches, s.total_scheduled + resumes_);
  }

  std::uint64_t ended() const { return ended_count_; }

 private:
  std::size_t last_persist_for(TaskKey key) {
    const auto& log = node_.log();
    std::size_t last = seen_;
    for (std::size_t i = seen_; i < log.size(); ++i) {
      if (log[i].action.kind == Action::Kind::kPersist && log[i].action.key == key) last = i;
    }
    return last;
  }

  const SimNode& node_;
  std::size_t seen_ = 0;
  std::uint64_t resumes_ = 0;
  std::vector<bool> ended_;
  std::uint64_t ended_count_ = 0;
};

TEST(TorusStress, HundredThousandTasksKeepEveryInvariant) {
  std::uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("BRAID_STRESS_SEED")) seed = std::strtoull(env, nullptr, 10);
  SCOPED_TRACE("BRAID_STRESS_SEED=" + std::to_string(seed));
  std::fprintf(stderr, "BRAID_STRESS_SEED=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };

  TorusConfig c = testing::config(Policy::kFair, kSlots, 2 * kMs);
  c.started_max = 16;
  c.memory_bytes = 64 << 20;
  SimNode node(c);
  Checker check(node);
  std::vector<TaskKey> keys;
  std::vector<TaskKey> held;
  std::size_t steps = 0;

  while (keys.size() < kTasks) {
    Actions out;
    const Micros now = node.now_us();
    const int dice = static_cast<int>(rng() % 100);
    if (dice < 55) {
      TaskSpec s = spec(static_cast<int>(rng() % 11));
      s.cpus = chance(10) ? 2 : 1;
      s.memory_bytes = (rng() % 8) << 20;
      s.retries = chance(20) ? static_cast<int>(rng() % 3) : 0;
      s.retry_backoff_us = static_cast<Micros>(rng() % 5) * kMs;
      s.time_limit_us = chance(10) ? static_cast<Micros>(rng() % 5 + 1) * kMs : 0;
      if (!keys.empty() && chance(20)) {
        std::size_t back = std::min<std::size_t>(keys.size(), 50);
        s.add_dependency(node.torus().task(keys[keys.size() - 1 - rng() % back]).id,
                         static_cast<DepKind>(rng() % 3));
      }
      if (chance(10)) {  // members of a few throttled arrays
        s.array_group = rng() % 3 + 1;
        s.array_throttle = static_cast<std::uint32_t>(s.array_group);
      }
      s.hold = chance(1);
      SimBehaviour b{static_cast<Micros>(rng() % 6) * kMs, {chance(15) ? 1 : 0, 0}, chance(2)};
      keys.push_back(testing::must(node.submit(std::move(s), b)));
    } else if (dice < 85 || keys.empty()) {
      node.run_for(static_cast<Micros>(rng() % 3 + 1) * kMs, 1 * kMs);
    } else if (dice < 90) {
      TaskKey k = keys[rng() % keys.size()];
      (void)node.torus().cancel(k, now, out);  // refusals (already ended) are fine
    } else if (dice < 94) {
      TaskKey k = keys[rng() % keys.size()];
      if (!is_terminal(node.torus().task(k).state)) {
        ASSERT_TRUE(node.torus().set_priority(k, static_cast<int>(rng() % 11), now, out).ok());
      }
    } else if (dice < 95) {
      node.torus().set_policy(static_cast<Policy>(rng() % 3), now, out);
    } else if (dice < 96) {
      ASSERT_TRUE(
          node.torus().set_quantum(static_cast<Micros>(rng() % 10 + 1) * kMs, now, out).ok());
    } else if (dice < 97) {
      if (node.torus().stats().paused) {
        node.torus().resume(now, out);
      } else {
        node.torus().pause(now, out);
      }
    } else if (dice < 98) {
      node.torus().schedule_next(now, out);
    } else if (dice < 99) {
      TaskKey k = keys[rng() % keys.size()];
      if (node.torus().hold(k, now, out).ok()) held.push_back(k);  // refusals are fine
    } else if (!held.empty() && chance(70)) {
      const std::size_t i = rng() % held.size();
      (void)node.torus().release(held[i], now, out);  // may have been cancelled meanwhile
      held[i] = held.back();
      held.pop_back();
    } else {
      node.torus().trigger(now, out);
    }
    node.apply(out);
    ++steps;
    ASSERT_NO_FATAL_FAILURE(check.step()) << "step " << steps;
    if (steps % 5'000 == 0) {  // also checks every array throttle
      ASSERT_NO_FATAL_FAILURE(check.full()) << "step " << steps;
    }
  }

  Actions out;
  node.torus().resume(node.now_us(), out);
  for (TaskKey k = 0; k < node.torus().task_count(); ++k) {
    if (node.torus().task(k).state == TaskState::kHeld) {
      ASSERT_TRUE(node.torus().release(k, node.now_us(), out).ok());
    }
  }
  node.apply(out);
  ASSERT_TRUE(node.run_until_idle(3600 * kMicrosPerSecond, 1 * kMs));
  ASSERT_NO_FATAL_FAILURE(check.step());
  ASSERT_NO_FATAL_FAILURE(check.full());
  EXPECT_EQ(check.ended(), kTasks);
  EXPECT_EQ(node.alive_count(), 0u);
  const TorusStats s = node.torus().stats();
  EXPECT_EQ(
      s.count(TaskState::kCompleted) + s.count(TaskState::kFailed) + s.count(TaskState::kCancelled),
      kTasks);
  EXPECT_GT(s.preemptions, 1000u);
  EXPECT_GT(s.count(TaskState::kCompleted), kTasks / 2);
}

}  // namespace
}  // namespace braid::sched
