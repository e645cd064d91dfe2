// Torus ids, restore after a restart, and forgetting purged history.
#include <algorithm>

#include "sched/torus.h"

namespace braid::sched {

std::uint64_t Torus::reserve_sequences(std::uint64_t count) {
  const std::uint64_t first = next_sequence_;
  next_sequence_ += count;
  return first;
}

std::string Torus::make_id(std::uint64_t sequence) const {
  return config_.node_name + ":" + std::to_string(sequence);
}

Result<TaskKey> Torus::restore(Task record, Micros now_us, Actions& out) {
  const TaskState stored = record.state;
  if (stored != TaskState::kPending && stored != TaskState::kQueued && stored != TaskState::kHeld &&
      stored != TaskState::kMigrating && stored != TaskState::kMoved && !is_terminal(stored)) {
    return Error{"restore: task " + record.id + " is " + std::string(to_string(stored)) +
                 "; only pending, queued, held, migrating, moved or finished tasks can be "
                 "restored"};
  }
  if (record.id.empty()) return Error{"restore: a task record has no id"};
  if (find(record.id)) return Error{"restore: task " + record.id + " is stored twice"};
  if (Status s = validate_spec(record.spec); !s) {
    return Error{"restore: task " + record.id + ": " + s.error().message};
  }
  account(now_us);

  const TaskKey key = new_key();
  Task& t = at(key);
  t.id = std::move(record.id);
  t.spec = std::move(record.spec);
  t.reason = std::move(record.reason);
  t.exit = std::move(record.exit);
  t.attempts = record.attempts;
  t.preemptions = record.preemptions;
  t.cpu_time_us = record.cpu_time_us;
  t.vruntime_ns = record.vruntime_ns;
  t.submitted_at_us = record.submitted_at_us;
  t.started_at_us = record.started_at_us;
  t.finished_at_us = record.finished_at_us;
  t.not_before_us = record.not_before_us;
  t.node_requeues = record.node_requeues;
  t.hops = record.hops;
  t.moved_to = std::move(record.moved_to);
  t.adopted_from = std::move(record.adopted_from);
  t.adoption_epoch = record.adoption_epoch;
  t.refusals = std::move(record.refusals);
  t.spec.hold = false;
  index_.insert(t.id, key);
  join_group(key);
  join_account(key);
  // Finished, or handed off (moved: the forwarding pointer, waiting for the
  // outcome; migrating: the handoff journal resolves it after the restart).
  if (is_terminal(stored) || stored == TaskState::kMoved || stored == TaskState::kMigrating) {
    t.state = stored;
    ++stats_.tasks_by_state[static_cast<std::size_t>(stored)];
    return key;
  }

  // Live again: pending until its dependencies and backoff say otherwise.
  t.state = TaskState::kPending;
  ++stats_.tasks_by_state[static_cast<std::size_t>(TaskState::kPending)];
  if (Status s = fits(t.spec); !s) {
    finish(key, TaskState::kFailed, "cannot run on this node any more: " + s.error().message,
           last_now_us_, out);
    return key;
  }
  if (std::optional<TaskKey> ruled_out = link_dependencies(key)) {
    finish(key, TaskState::kCancelled, ruled_out_reason(at(*ruled_out)), last_now_us_, out);
    return key;
  }
  if (stored == TaskState::kHeld) {
    t.state = TaskState::kHeld;  // held until release(), whatever its dependencies do
    --stats_.tasks_by_state[static_cast<std::size_t>(TaskState::kPending)];
    ++stats_.tasks_by_state[static_cast<std::size_t>(TaskState::kHeld)];
    return key;
  }
  if (at(key).deps_remaining > 0) {
    const std::string before = at(key).reason;
    note_waiting(key);
    if (stored != TaskState::kPending || before != at(key).reason) {
      out.push_back({Action::Kind::kPersist, key});
    }
    return key;
  }
  if (stored == TaskState::kPending && at(key).not_before_us > last_now_us_) {
    backoff_.emplace_back(at(key).not_before_us, key);  // a retry waiting out its backoff
    std::push_heap(backoff_.begin(), backoff_.end(), std::greater<>());
    return key;
  }
  // Runnable. A queued record keeps its reason (e.g. "node restarted").
  // One that waits for node labels gets its reason from this node's labels now.
  std::string reason = std::move(at(key).reason);
  make_runnable(key, out);
  if (stored == TaskState::kQueued) {
    if (runs_here(at(key)) && !reason.starts_with(kNeedsLabelPrefix)) at(key).reason = reason;
    if (at(key).reason == reason) out.pop_back();  // make_runnable's kPersist: no change
  }
  return key;
}

void Torus::reserve(std::size_t tasks) {
  index_.reserve(tasks);  // the task table (a deque) grows without moving anything
}

Status Torus::forget(TaskKey key) {
  if (!exists(key)) return Error{"forget: unknown task key " + std::to_string(key)};
  const Task& t = at(key);
  if (!is_terminal(t.state)) {
    return Error{"forget: task " + t.id + " is " + std::string(to_string(t.state)) +
                 "; only finished tasks can be forgotten"};
  }
  BRAID_CHECK(t.queue_seq == 0 && t.dependents.empty(), t.id, t.state, t.queue_seq,
              t.dependents.size());
  // A task cancelled while it waited is still listed by its dependencies;
  // the key must not carry that link over to the task that reuses it.
  for (const std::string& dep_id : t.spec.after) {
    const std::optional<TaskKey> dep = find(dep_id);
    if (!dep) continue;
    std::vector<TaskKey>& dependents = at(*dep).dependents;
    dependents.erase(std::remove(dependents.begin(), dependents.end(), key), dependents.end());
  }
  if (t.spec.array_throttle > 0) {
    auto group = arrays_.find(t.spec.array_group);
    if (group != arrays_.end() && --group->second.members == 0) arrays_.erase(group);
  }
  --stats_.tasks_by_state[static_cast<std::size_t>(t.state)];
  leave_account(key);
  index_.erase(t.id);
  tasks_[key] = Task{};  // frees its strings now; new_key() hands the key out again
  free_keys_.push_back(key);
  return ok_status();
}

}  // namespace braid::sched
