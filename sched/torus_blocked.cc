// Torus I/O awareness: running tasks seen mostly blocked lend their slots
// and started places (torus.h, "I/O-aware slots").
#include <algorithm>

#include "sched/torus.h"

namespace braid::sched {

void Torus::set_task_cpu_demand(TaskKey key, Micros demand_us, Micros now_us, Actions& out) {
  if (!config_.io_aware || !exists(key) || at(key).state != TaskState::kRunning) return;
  advance(now_us, out);  // may end its slice, or kill it at its time limit
  Task& t = at(key);
  if (t.state != TaskState::kRunning || t.kill_cause != KillCause::kNone) return;
  auto [it, first] = cpu_samples_.try_emplace(key, CpuSample{demand_us, t.run_time_us});
  if (first) return;  // resumed since the last sample: this one is the baseline
  CpuSample& sample = it->second;
  const Micros ran_us = t.run_time_us - sample.run_us;
  if (ran_us < kCpuSampleMinUs) return;  // too short a window to judge
  const Micros used_us = std::max<Micros>(0, demand_us - sample.demand_us);
  sample.run_us = t.run_time_us;
  sample.demand_us = demand_us;
  // demand/ran against the thresholds, in integers: below 1/4 of one cpu
  // per slot held is blocked; back at 1/2 or more it is busy again.
  const Micros capacity_us = ran_us * t.spec.cpus;
  if (!t.blocked && used_us * kBlockedBelowDenominator < capacity_us) {
    set_blocked(t, true);
  } else if (t.blocked && used_us * kBusyAboveDenominator >= capacity_us) {
    // Charged nothing while blocked: it comes back at the minimum, as a woken
    // task does, so its sleep earns it no claim on the others' CPU.
    t.vruntime_ns = std::max(t.vruntime_ns, min_vruntime_ns_);
    set_blocked(t, false);  // may exceed the slots: decide() takes a lent slot back
  } else {
    return;
  }
  decide(last_now_us_, out, /*ignore_pause=*/false);
}

void Torus::set_blocked(Task& t, bool blocked) {
  if (t.blocked == blocked) return;
  t.blocked = blocked;
  slots_busy_ += blocked ? -t.spec.cpus : t.spec.cpus;
  blocked ? ++blocked_count_ : --blocked_count_;
}

void Torus::stop_sampling(TaskKey key) {
  set_blocked(at(key), false);  // its slots count again: the caller takes them off
  cpu_samples_.erase(key);
}

void Torus::take_back_lent_slots(Micros now_us, std::uint64_t decision, Actions& out) {
  while (slots_busy_ > config_.slots) {
    // The busy task that ranks worst, then the one dispatched last: usually
    // the task that borrowed the slot.
    TaskKey victim = kNoTask;
    std::uint64_t victim_major = 0;
    for (TaskKey key : running_) {
      const Task& t = at(key);
      if (t.blocked || t.kill_cause != KillCause::kNone) continue;
      const std::uint64_t major = rank_major(policy_, t.spec.priority, t.vruntime_ns);
      if (victim == kNoTask || major > victim_major ||
          (major == victim_major && t.dispatched_at_us > at(victim).dispatched_at_us)) {
        victim = key;
        victim_major = major;
      }
    }
    if (victim == kNoTask) return;  // only ending tasks: their exits free the slots
    preempt(victim, now_us, decision, out);
  }
}

}  // namespace braid::sched
