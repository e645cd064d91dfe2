// Torus: the states of a task that migrates (see torus.h "Migration").
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
