// Actions: what the torus asks its caller (node/executor, a simulator or a
// test) to carry out. The torus has already updated its own state as if the
// action succeeded; failures come back as inputs (e.g. on_exit with
// ExitStatus::spawn_failed).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "sched/types.h"

namespace braid::sched {

struct Action {
  enum class Kind : std::uint8_t {
    kStart,    // launch a new attempt of the task (its spec is in Torus::task())
    kStop,     // preempted: stop the task's whole process group / cgroup
    kResume,   // continue a stopped task
    kKill,     // end the task: SIGTERM (resume first if stopped), SIGKILL after a grace period
    kPersist,  // the task's durable record changed (state, priority); store it
  };
  Kind kind;
  TaskKey key;

  bool operator==(const Action&) const = default;
};

using Actions = std::vector<Action>;

std::string_view to_string(Action::Kind kind);

}  // namespace braid::sched
