// Torus: the states of a task that migrates (see torus.h "Migration").
#include <algorithm>

#include "sched/torus.h"

namespace braid::sched {
namespace {

Error wrong_state(const Task& task, std::string_view op, std::string_view allowed) {
  return Error{std::string(op) + ": task " + task.id + " is " + std::string(to_string(task.state)) +
               ", not " + std::string(allowed)};
}

}  // namespace

Status Torus::begin_migration(TaskKey key, Micros now_us, Actions& out) {
  if (!exists(key)) return Error{"migrate: unknown task key " + std::to_string(key)};
  Task& task = at(key);
  if (task.state != TaskState::kQueued || task.started_this_attempt) {
    return wrong_state(task, "migrate", "queued");
  }
  if (task.spec.pinned) return Error{"migrate: task " + task.id + " is pinned to this node"};
  advance(now_us, out);
  task.queue_seq = 0;  // its queue entry goes stale
  task.reason = "offered to a peer";
  set_state(key, TaskState::kMigrating, out);
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

Status Torus::abort_migration(TaskKey key, Micros now_us, Actions& out) {
  if (!exists(key)) return Error{"migrate: unknown task key " + std::to_string(key)};
  if (at(key).state != TaskState::kMigrating) {
    return wrong_state(at(key), "abort migration", "migrating");
  }
  advance(now_us, out);
  // Restored after a restart on a node that shrank: it may not fit any
  // more, and queued it would hold the slots reserved for ever.
  if (Status s = fits(at(key).spec); !s) {
    finish(key, TaskState::kFailed, "cannot run on this node any more: " + s.error().message,
           last_now_us_, out);
    decide(last_now_us_, out, /*ignore_pause=*/false);
    return ok_status();
  }
  wake(key, out);
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

Status Torus::finish_migration(TaskKey key, std::string moved_to, Micros now_us, Actions& out) {
  if (!exists(key)) return Error{"migrate: unknown task key " + std::to_string(key)};
  Task& task = at(key);
  if (task.state != TaskState::kMigrating) {
    return wrong_state(task, "finish migration", "migrating");
  }
  if (moved_to.empty()) return Error{"finish migration: task " + task.id + ": no node named"};
  advance(now_us, out);
  task.reason = "moved to " + moved_to;
  task.moved_to = std::move(moved_to);
  set_state(key, TaskState::kMoved, out);
  return ok_status();
}

Result<TaskKey> Torus::take_back(TaskKey key, TaskSpec spec, Micros now_us, Actions& out) {
  if (!exists(key) || at(key).state != TaskState::kMoved) {
    return Error{"take back: task key " + std::to_string(key) + " is not a moved task"};
  }
  if (Status s = fits(spec); !s) return s.error();
  if (spec.account != at(key).spec.account) {
    return Error{"take back: task " + at(key).id + " came back under another account"};
  }
  advance(now_us, out);
  Task& task = at(key);
  const bool hold = spec.hold;
  spec.hold = false;
  spec.after = task.spec.after;  // its dependencies were resolved here already
  spec.after_kinds = task.spec.after_kinds;
  task.spec = std::move(spec);
  task.moved_to.clear();
  task.reason.clear();
  if (hold) {
    task.reason = "held";
    set_state(key, TaskState::kHeld, out);
  } else {
    wake(key, out);
  }
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return key;
}

Status Torus::add_refusal(TaskKey key, std::string node, std::string reason, Actions& out) {
  if (!exists(key)) return Error{"refusal: unknown task key " + std::to_string(key)};
  at(key).add_refusal(std::move(node), std::move(reason));
  out.push_back({Action::Kind::kPersist, key});
  return ok_status();
}

Status Torus::mark_adoption(TaskKey key, std::string donor, std::uint64_t epoch, int hops,
                            Actions& out) {
  if (!exists(key)) return Error{"adopt: unknown task key " + std::to_string(key)};
  Task& task = at(key);
  if (task.state != TaskState::kHeld) return wrong_state(task, "adopt", "held");
  if (epoch == 0 || donor.empty()) return Error{"adopt: task " + task.id + ": no donor or epoch"};
  task.adopted_from = std::move(donor);
  task.adoption_epoch = epoch;
  task.hops = std::clamp(hops, 0, 255);
  task.reason = "adopted from " + task.adopted_from + ", waiting for its confirmation";
  out.push_back({Action::Kind::kPersist, key});
  return ok_status();
}

Status Torus::confirm_adoption(TaskKey key, Micros now_us, Actions& out) {
  if (!exists(key)) return Error{"adopt: unknown task key " + std::to_string(key)};
  Task& task = at(key);
  if (task.state != TaskState::kHeld || task.adoption_epoch == 0) {
    return wrong_state(task, "confirm adoption", "held for a handoff's confirmation");
  }
  task.adoption_epoch = 0;
  return release(key, now_us, out);
}

Status Torus::discard_adoption(TaskKey key, Micros now_us, Actions& out) {
  if (!exists(key)) return Error{"adopt: unknown task key " + std::to_string(key)};
  Task& task = at(key);
  if (task.state != TaskState::kHeld || task.adoption_epoch == 0) {
    return wrong_state(task, "discard adoption", "held for a handoff's confirmation");
  }
  advance(now_us, out);
  task.adoption_epoch = 0;
  task.moved_to = task.adopted_from;
  task.reason = "not adopted: " + task.adopted_from + " kept it";
  set_state(key, TaskState::kMoved, out);
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

Status Torus::apply_outcome(TaskKey key, const OutcomeReport& report, Micros now_us, Actions& out) {
  if (!exists(key)) return Error{"outcome: unknown task key " + std::to_string(key)};
  Task& task = at(key);
  if (task.state != TaskState::kMoved) return wrong_state(task, "outcome", "moved");
  if (!is_terminal(report.state)) {
    return Error{"outcome: task " + task.id + ": " + std::string(to_string(report.state)) +
                 " is not an end"};
  }
  advance(now_us, out);
  task.exit = report.exit;
  task.attempts = report.attempts;
  task.cpu_time_us = report.cpu_time_us;
  task.started_at_us = report.started_at_us;
  task.moved_to = report.executor;  // the node that ran it (show says where)
  finish(key, report.state, report.reason, last_now_us_, out);
  if (report.finished_at_us >= 0) task.finished_at_us = report.finished_at_us;
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

}  // namespace braid::sched
