// SimNode: one torus driven by virtual time and virtual processes.
//
// The deterministic shell around the torus, for unit tests, the demo and
// benchmarks. A virtual process needs `work_us` of CPU; it burns CPU only
// while the torus has it running, exits when the work is done, and honours
// kStop/kResume/kKill exactly as a process group would. SimNode also checks
// that the action stream is coherent (never stop a stopped process, never
// start a task twice, ...) and aborts with the offending action otherwise.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sched/torus.h"

namespace braid::sched {

// How a virtual task behaves, attempt by attempt.
struct SimBehaviour {
  Micros work_us = 10 * kMicrosPerMilli;  // CPU needed per attempt
  std::vector<int> exit_codes{0};         // attempt i exits with exit_codes[min(i, size-1)]
  bool spawn_fails = false;               // every start fails: "spawn failed: ..."
};

class SimNode final {
 public:
  explicit SimNode(TorusConfig config);

  Torus& torus() { return torus_; }
  const Torus& torus() const { return torus_; }
  Micros now_us() const { return now_us_; }

  // Submits at the current time; the behaviour applies to every attempt.
  Result<TaskKey> submit(TaskSpec spec, SimBehaviour behaviour = {});
  // Torus::submit_as (an id from reserve_sequences) at the current time.
  Result<TaskKey> submit_as(std::string id, TaskSpec spec, SimBehaviour behaviour = {});
  // Torus::forget (the history purge): the key may be reused by a later task.
  Status forget(TaskKey key);
  // A crash and restart, as braidd's recover() does it: every process is
  // gone and a fresh torus (same config with the current policy, quantum and
  // next sequence) restores every task from its durable fields, in admission
  // order. A task that was running or stopped is first requeued (reason
  // "node restarted", the attempt not counted, node_requeues + 1) or, when its
  // spec refuses a requeue or node_requeues reached max_node_requeues,
  // failed. Returns the new key of each old key (kNoTask where no task was).
  // Does not decide yet: call torus().trigger() after, as the daemon does.
  std::vector<TaskKey> restart(int max_node_requeues);
  // Advances time in steps of step_us: running processes burn CPU, finished
  // ones exit (reported at the end of the step), then the torus ticks.
  void run_for(Micros duration_us, Micros step_us = kMicrosPerMilli);
  // Runs until no task is pending, queued, running or stopped, or the limit.
  // Returns true when idle.
  bool run_until_idle(Micros limit_us, Micros step_us = kMicrosPerMilli);

  // Applies actions produced by a torus call made directly by the test.
  void apply(const Actions& actions);

  // Every action so far, in order, with the time it was applied.
  struct Logged {
    Micros at_us;
    Action action;
  };
  const std::vector<Logged>& log() const { return log_; }
  // Processes alive now (started and not yet exited), and those running.
  std::size_t alive_count() const { return procs_.size(); }
  std::size_t running_count() const;
  bool is_stopped(TaskKey key) const;

 private:
  struct Proc {
    Micros work_left_us = 0;
    int exit_code = 0;
    bool stopped = false;
    bool killed = false;
    bool spawn_failed = false;  // exits at once with "spawn failed"
  };
  void apply_one(const Action& action);
  [[noreturn]] void incoherent(const char* what, const Task& task) const;
  void deliver_exits();

  Result<TaskKey> admitted(Result<TaskKey> key, SimBehaviour behaviour, const Actions& out);

  TorusConfig config_;
  Torus torus_;
  Micros now_us_ = 0;
  std::map<TaskKey, SimBehaviour> behaviours_;
  std::vector<std::uint64_t> admission_;  // by key: admission number (restart order)
  std::uint64_t admissions_ = 0;
  std::map<TaskKey, Proc> procs_;  // ordered: deterministic exit order
  std::vector<Logged> log_;
};

}  // namespace braid::sched
