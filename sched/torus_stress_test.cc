// Randomized stress: 100k tasks through one torus with every kind of input,
// checking invariants after every step. Now and then it forgets a finished
// task (the history purge; keys are reused), submits under reserved ids
// (reserve_sequences + submit_as) and restarts: a fresh torus restores every
// task as braidd's recover() does, and the run goes on there. The seed is
// printed on failure; set BRAID_STRESS_SEED to replay one.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <unordered_map>
#include <vector>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::spec;

constexpr Micros kMs = kMicrosPerMilli;
constexpr std::size_t kTasks = 100'000;
constexpr int kSlots = 4;
constexpr int kMaxNodeRequeues = 2;

class Checker {
 public:
  explicit Checker(const SimNode& node) : node_(node) {}

  // Cheap checks, after every step; `tasks` is how many the table should hold.
  void step(std::size_t tasks) {
    const Torus& torus = node_.torus();
    const TorusStats s = torus.stats();
    int busy = 0;
    std::uint32_t blocked = 0;
    for (TaskKey k : torus.running()) {
      const Task& t = torus.task(k);
      ASSERT_EQ(t.state, TaskState::kRunning) << t.id;
      if (t.blocked) {
        ++blocked;
      } else {
        busy += t.spec.cpus;
      }
    }
    ASSERT_EQ(busy, s.slots_busy);
    ASSERT_EQ(blocked, s.blocked);
    // Paused, a blocked task that turns busy keeps its CPU until the resume
    // takes a lent slot back.
    if (!s.paused) {
      ASSERT_LE(s.slots_busy, kSlots) << "more running than slots allow";
    }
    ASSERT_EQ(torus.running().size(), node_.running_count());
    ASSERT_EQ(s.active_processes, node_.alive_count());
    ASSERT_EQ(s.count(TaskState::kRunning) + s.count(TaskState::kStopped), s.active_processes);
    std::uint64_t sum = 0;
    for (std::uint64_t n : s.tasks_by_state) sum += n;
    ASSERT_EQ(sum, tasks) << "tasks lost or duplicated";
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
    int top_queued = -1;
    for (TaskKey k = 0; k < torus.task_count(); ++k) {
      if (!torus.exists(k)) continue;
      const Task& t = torus.task(k);
      ++by_state[static_cast<std::size_t>(t.state)];
      if (t.state == TaskState::kQueued) top_queued = std::max(top_queued, t.spec.priority);
      attempts += static_cast<std::uint64_t>(t.attempts);
      preemptions += static_cast<std::uint64_t>(t.preemptions);
      ASSERT_LE(t.attempts, t.spec.retries + 1) << t.id;
      if (t.state == TaskState::kQueued || is_started(t.state)) {  // dependencies met
        for (std::size_t i = 0; i < t.spec.after.size(); ++i) {
          const std::optional<TaskKey> dep = torus.find(t.spec.after[i]);
          if (!dep) continue;  // purged after it ended
          const TaskState end = torus.task(*dep).state;
          ASSERT_TRUE(is_terminal(end) && satisfies(t.spec.dep_kind(i), end))
              << t.id << " is " << to_string(t.state) << " but its dependency " << t.spec.after[i]
              << " is " << to_string(end);
        }
      }
      if (t.spec.array_throttle > 0 && is_started(t.state)) {
        ASSERT_LE(++started_by_array[t.spec.array_group], t.spec.array_throttle) << t.id;
      }
    }
    ASSERT_EQ(torus.top_queued_priority(), top_queued);
    ASSERT_EQ(by_state, s.tasks_by_state);
    ASSERT_EQ(attempts + forgotten_attempts_, s.total_scheduled + base_attempts_);
    ASSERT_EQ(preemptions + forgotten_preemptions_, s.preemptions + base_preemptions_);
    ASSERT_EQ(s.context_switches, s.total_scheduled + resumes_);
  }

  // Before node.forget(key): the task leaves the table (and its counts).
  void forgetting(TaskKey key) {
    const Task& t = node_.torus().task(key);
    ASSERT_TRUE(key < ended_.size() && ended_[key]) << t.id << " forgotten before it ended";
    ended_[key] = false;
    --ended_count_;
    ++forgotten_;
    forgotten_attempts_ += static_cast<std::uint64_t>(t.attempts);
    forgotten_preemptions_ += static_cast<std::uint64_t>(t.preemptions);
  }

  // After node.restart(): a fresh torus with fresh stats and new keys.
  void restarted() {
    const Torus& torus = node_.torus();
    seen_ = node_.log().size();
    resumes_ = 0;
    forgotten_attempts_ = forgotten_preemptions_ = base_attempts_ = base_preemptions_ = 0;
    ended_.assign(torus.task_count(), false);
    ended_count_ = 0;
    for (TaskKey k = 0; k < torus.task_count(); ++k) {
      const Task& t = torus.task(k);
      base_attempts_ += static_cast<std::uint64_t>(t.attempts);
      base_preemptions_ += static_cast<std::uint64_t>(t.preemptions);
      if (is_terminal(t.state)) {
        ended_[k] = true;
        ++ended_count_;
      }
    }
  }

  std::uint64_t ended() const { return ended_count_; }
  std::uint64_t forgotten() const { return forgotten_; }

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
  std::uint64_t forgotten_ = 0;
  // Attempts and preemptions of forgotten tasks, and of the restored ones at
  // the last restart (the new torus's stats start at zero).
  std::uint64_t forgotten_attempts_ = 0, forgotten_preemptions_ = 0;
  std::uint64_t base_attempts_ = 0, base_preemptions_ = 0;
};

// What a restart must keep of a task, by id.
struct Before {
  TaskState state;
  std::string reason;
};

// Every task is restored once under its id, in the state the restart rules give it.
void check_restart(const Torus& torus, const std::unordered_map<std::string, Before>& before,
                   const std::vector<TaskKey>& new_key) {
  std::size_t live = 0;
  for (TaskKey k = 0; k < new_key.size(); ++k) {
    if (new_key[k] != kNoTask) ++live;
  }
  ASSERT_EQ(live, before.size()) << "tasks lost or duplicated by the restart";
  ASSERT_EQ(torus.task_count(), before.size());
  for (TaskKey k = 0; k < torus.task_count(); ++k) {
    const Task& t = torus.task(k);
    auto it = before.find(t.id);
    ASSERT_NE(it, before.end()) << t.id << " appeared at the restart";
    ASSERT_TRUE(torus.find(t.id) == k) << t.id;
    const TaskState was = it->second.state;
    const bool dep_cancel =
        t.state == TaskState::kCancelled && t.reason.rfind("dependency ", 0) == 0;
    if (is_terminal(was)) {
      ASSERT_EQ(t.state, was) << t.id;
      ASSERT_EQ(t.reason, it->second.reason) << t.id;
    } else if (is_started(was)) {
      ASSERT_TRUE(t.state == TaskState::kQueued || t.state == TaskState::kFailed)
          << t.id << " was " << to_string(was) << ", is " << to_string(t.state);
      ASSERT_EQ(t.reason, "node restarted") << t.id;
    } else if (was == TaskState::kHeld) {  // held stays held, unless a dependency rules it out
      ASSERT_TRUE(t.state == TaskState::kHeld || dep_cancel)
          << t.id << " is " << to_string(t.state);
    } else if (was == TaskState::kQueued) {
      ASSERT_EQ(t.state, TaskState::kQueued) << t.id;
    } else {  // pending: a dependency the restart failed may release or cancel it
      ASSERT_TRUE(t.state == TaskState::kPending || t.state == TaskState::kQueued || dep_cancel)
          << t.id << " is " << to_string(t.state);
    }
  }
}

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
  std::vector<TaskKey> keys;  // every task in the table (forgotten ones leave)
  std::vector<TaskKey> held;
  std::size_t steps = 0, submitted = 0, restarts = 0, steps_with_blocked = 0;
  std::uint64_t earlier_preemptions = 0, forgotten_completed = 0;

  auto random_spec = [&] {
    TaskSpec s = spec(static_cast<int>(rng() % 11));
    s.cpus = chance(10) ? 2 : 1;
    s.memory_bytes = (rng() % 8) << 20;
    s.retries = chance(20) ? static_cast<int>(rng() % 3) : 0;
    s.retry_backoff_us = static_cast<Micros>(rng() % 5) * kMs;
    s.time_limit_us = chance(10) ? static_cast<Micros>(rng() % 5 + 1) * kMs : 0;
    s.requeue_on_restart = chance(10) ? RequeueOnRestart::kNo : RequeueOnRestart::kNodeDefault;
    if (!keys.empty() && chance(20)) {
      std::size_t back = std::min<std::size_t>(keys.size(), 50);
      s.add_dependency(node.torus().task(keys[keys.size() - 1 - rng() % back]).id,
                       static_cast<DepKind>(rng() % 3));
    }
    if (chance(10)) {  // members of a few throttled arrays
      s.array_group = rng() % 3 + 1;
      s.array_throttle = static_cast<std::uint32_t>(s.array_group);
    }
    if (chance(50)) s.account = "account" + std::to_string(rng() % 3);  // else the default
    s.hold = chance(1);
    return s;
  };
  auto random_behaviour = [&] {
    // A few long ones, so that CPU measurements can find tasks blocked.
    const Micros work_ms = chance(2) ? 60 + static_cast<Micros>(rng() % 40) : rng() % 6;
    return SimBehaviour{work_ms * kMs, {chance(15) ? 1 : 0, 0}, chance(2)};
  };

  while (submitted < kTasks) {
    Actions out;
    const Micros now = node.now_us();
    const int dice = static_cast<int>(rng() % 1000);
    const bool crash = steps == 30'000 || (dice == 999 && rng() % 100 == 0);
    if (crash) {  // a crash and restart
      ++restarts;
      std::unordered_map<std::string, Before> before;
      for (TaskKey k : keys) {
        const Task& t = node.torus().task(k);
        before.emplace(t.id, Before{t.state, t.reason});
      }
      earlier_preemptions += node.torus().stats().preemptions;
      const std::vector<TaskKey> new_key = node.restart(kMaxNodeRequeues);
      ASSERT_NO_FATAL_FAILURE(check_restart(node.torus(), before, new_key)) << "step " << steps;
      check.restarted();
      ASSERT_NO_FATAL_FAILURE(check.full()) << "restart at step " << steps;
      for (TaskKey& k : keys) k = new_key[k];
      std::vector<TaskKey> still_held;
      for (TaskKey k : held) {
        if (k < new_key.size() && new_key[k] != kNoTask) still_held.push_back(new_key[k]);
      }
      held = std::move(still_held);
      node.torus().trigger(node.now_us(), out);
    } else if (dice < 470) {
      keys.push_back(testing::must(node.submit(random_spec(), random_behaviour())));
      ++submitted;
    } else if (dice < 550) {  // ids reserved first (stored, then admitted), some left unused
      const std::uint64_t n = rng() % 3 + 1;
      const std::uint64_t first = node.torus().reserve_sequences(n);
      for (std::uint64_t i = 0; i < n && submitted < kTasks; ++i) {
        if (chance(10)) continue;  // its store failed: the sequence stays unused
        const std::string id = node.torus().make_id(first + (i + rng() % n) % n);
        if (node.torus().find(id)) continue;
        keys.push_back(testing::must(node.submit_as(id, random_spec(), random_behaviour())));
        ++submitted;
      }
    } else if (dice < 570 && !node.torus().running().empty()) {
      // A CPU measurement: mostly blocked, busy, or in between.
      const std::vector<TaskKey>& running = node.torus().running();
      const TaskKey k = running[rng() % running.size()];
      const Micros ran_us = node.torus().task(k).run_time_us;
      node.torus().set_task_cpu_demand(k, ran_us * static_cast<Micros>(rng() % 4) / 3, now, out);
    } else if (dice < 820 || keys.empty()) {
      node.run_for(static_cast<Micros>(rng() % 3 + 1) * kMs, 1 * kMs);
    } else if (dice < 870) {
      TaskKey k = keys[rng() % keys.size()];
      (void)node.torus().cancel(k, now, out);  // refusals (already ended) are fine
    } else if (dice < 910) {
      TaskKey k = keys[rng() % keys.size()];
      if (!is_terminal(node.torus().task(k).state)) {
        ASSERT_TRUE(node.torus().set_priority(k, static_cast<int>(rng() % 11), now, out).ok());
      }
    } else if (dice < 920) {
      node.torus().set_policy(static_cast<Policy>(rng() % 3), now, out);
    } else if (dice < 930) {
      ASSERT_TRUE(
          node.torus().set_quantum(static_cast<Micros>(rng() % 10 + 1) * kMs, now, out).ok());
    } else if (dice < 940) {
      if (node.torus().stats().paused) {
        node.torus().resume(now, out);
      } else {
        node.torus().pause(now, out);
      }
    } else if (dice < 950) {
      node.torus().schedule_next(now, out);
    } else if (dice < 960) {
      TaskKey k = keys[rng() % keys.size()];
      if (node.torus().hold(k, now, out).ok()) held.push_back(k);  // refusals are fine
    } else if (dice < 970) {
      if (!held.empty() && chance(70)) {
        const std::size_t i = rng() % held.size();
        (void)node.torus().release(held[i], now, out);  // may have been cancelled meanwhile
        held[i] = held.back();
        held.pop_back();
      } else {
        node.torus().trigger(now, out);
      }
    } else {  // the history purge
      const std::size_t i = rng() % keys.size();
      const TaskKey k = keys[i];
      const Task& t = node.torus().task(k);
      if (is_terminal(t.state)) {
        if (t.state == TaskState::kCompleted) ++forgotten_completed;
        ASSERT_NO_FATAL_FAILURE(check.forgetting(k));
        ASSERT_TRUE(node.forget(k).ok());
        keys[i] = keys.back();
        keys.pop_back();
        std::erase(held, k);
      } else {
        ASSERT_FALSE(node.forget(k).ok()) << t.id << " is " << to_string(t.state);
      }
    }
    node.apply(out);
    ++steps;
    if (node.torus().stats().blocked > 0) ++steps_with_blocked;
    ASSERT_NO_FATAL_FAILURE(check.step(keys.size())) << "step " << steps;
    if (steps % 5'000 == 0) {  // also checks every array throttle
      ASSERT_NO_FATAL_FAILURE(check.full()) << "step " << steps;
    }
  }

  Actions out;
  node.torus().resume(node.now_us(), out);
  for (TaskKey k : keys) {
    if (node.torus().task(k).state == TaskState::kHeld) {
      ASSERT_TRUE(node.torus().release(k, node.now_us(), out).ok());
    }
  }
  node.apply(out);
  ASSERT_TRUE(node.run_until_idle(3600 * kMicrosPerSecond, 1 * kMs));
  ASSERT_NO_FATAL_FAILURE(check.step(keys.size()));
  ASSERT_NO_FATAL_FAILURE(check.full());
  EXPECT_EQ(check.ended() + check.forgotten(), kTasks);
  EXPECT_EQ(node.alive_count(), 0u);
  const TorusStats s = node.torus().stats();
  EXPECT_EQ(s.count(TaskState::kCompleted) + s.count(TaskState::kFailed) +
                s.count(TaskState::kCancelled) + check.forgotten(),
            kTasks);
  EXPECT_GT(check.forgotten(), 1000u);
  EXPECT_GT(restarts, 0u);
  EXPECT_GT(steps_with_blocked, 200u) << "the I/O-aware paths were hardly exercised";
  EXPECT_GT(s.preemptions + earlier_preemptions, 1000u);
  EXPECT_GT(s.count(TaskState::kCompleted) + forgotten_completed, kTasks / 2);
  std::fprintf(stderr, "steps %zu (%zu with blocked tasks), restarts %zu, forgotten %llu\n", steps,
               steps_with_blocked, restarts, static_cast<unsigned long long>(check.forgotten()));
}

}  // namespace
}  // namespace braid::sched
