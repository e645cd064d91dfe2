// TaskSide: what braidd keeps about a task beside the torus's own record, one
// per task key (sched::TaskKey indexes both tables; keys are reused after a
// purge, and Tasks::track() resets the record for the new task).
#pragma once

#include <cstdint>

#include "sched/task.h"
#include "sched/types.h"
#include "storage/task_record.h"

namespace braid::node {

struct TaskSide {
  sched::Micros cpu_done_us = 0;      // measured CPU of the task's ended attempts
  sched::Micros slice_began_us = -1;  // torus time its current slice began; -1 off a slot
  std::uint64_t record_no = 0;        // where the task is stored
  storage::ProcessMark process;       // the started attempt's processes (stored with it)
  bool stored_started = false;        // its last stored state was running or stopped
  // The state clients see: the torus's, except that an end shows only once
  // it is durable (until then the state stored before it). Waiters keeps it.
  sched::TaskState shown_state = sched::TaskState::kQueued;
  // Torus time it was admitted here (submitted, adopted or restored) while
  // it has not started since; -1 after its first start (metrics: queue wait).
  sched::Micros waiting_since_us = -1;
};

}  // namespace braid::node
