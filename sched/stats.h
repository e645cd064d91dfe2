// Torus statistics. The first six names are the ones operators already script
// against; keep them stable.
#pragma once

#include <array>
#include <cstdint>

#include "sched/policy.h"
#include "sched/task.h"
#include "sched/types.h"

namespace braid::sched {

struct TorusStats {
  std::uint64_t total_scheduled = 0;   // attempts started (each kStart)
  std::uint64_t context_switches = 0;  // switch-ins onto a slot: starts + resumes
  std::uint64_t preemptions = 0;       // running tasks stopped by the scheduler (each kStop)
  std::uint32_t active_processes = 0;  // started attempts not yet exited (running + stopped)
  Policy policy = Policy::kFair;
  Micros quantum_micros = kQuantumDefaultUs;

  bool paused = false;
  int slots = 0;              // CPU slots of the node
  int slots_busy = 0;         // slots held by running tasks (blocked ones lend theirs)
  std::uint32_t blocked = 0;  // running tasks seen mostly blocked (torus.h, I/O-aware slots)
  std::array<std::uint64_t, kTaskStates> tasks_by_state{};  // indexed by TaskState
  std::uint64_t memory_started_bytes = 0;    // what started tasks count for (torus.h, Memory)
  std::uint64_t memory_available_bytes = 0;  // the machine's, as last measured; 0 = unknown

  // Events since the torus was made (metrics): tasks that reached an end here
  // (not outcomes of tasks that moved away and ended elsewhere), cancel
  // requests that ended a task, and attempts requeued by --retries.
  std::uint64_t ended_completed = 0;
  std::uint64_t ended_failed = 0;
  std::uint64_t ended_cancelled = 0;
  std::uint64_t cancels = 0;
  std::uint64_t retries = 0;

  std::uint64_t count(TaskState state) const {
    return tasks_by_state[static_cast<std::size_t>(state)];
  }
};

}  // namespace braid::sched
