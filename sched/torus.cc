// Torus lifecycle: submission, exits, retries, dependencies and control.
// Decisions (who holds a slot) live in torus_decide.cc.
#include "sched/torus.h"

#include <algorithm>

#include "sched/duration.h"

namespace braid::sched {
namespace {

std::string plural(std::uint64_t n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

}  // namespace

std::string_view to_string(Action::Kind kind) {
  switch (kind) {
    case Action::Kind::kStart:
      return "start";
    case Action::Kind::kStop:
      return "stop";
    case Action::Kind::kResume:
      return "resume";
    case Action::Kind::kKill:
      return "kill";
    case Action::Kind::kPersist:
      return "persist";
  }
  return "unknown";
}

Status validate_node_name(std::string_view name) {
  bool shape_ok = !name.empty() && name.size() <= 63;
  for (char c : name) shape_ok = shape_ok && is_name_char(c);
  if (!shape_ok) {
    return Error{"node name \"" + std::string(name) +
                 "\" must be 1..63 characters of A-Z a-z 0-9 . _ -"};
  }
  return ok_status();
}

Status validate_quantum(Micros quantum_us) {
  if (quantum_us < kQuantumMinUs || quantum_us > kQuantumMaxUs) {
    return Error{"quantum must be " + format_duration(kQuantumMinUs) + ".." +
                 format_duration(kQuantumMaxUs) + ", got " + format_duration(quantum_us)};
  }
  return ok_status();
}

Status validate_config(const TorusConfig& config) {
  if (Status s = validate_node_name(config.node_name); !s) return s;
  if (config.next_sequence == 0) return Error{"next_sequence must be >= 1, got 0"};
  if (config.slots < 1 || config.slots > 4096) {
    return Error{"slots must be 1..4096, got " + std::to_string(config.slots)};
  }
  if (Status s = validate_quantum(config.quantum_us); !s) return s;
  if (config.started_max < static_cast<std::uint32_t>(config.slots)) {
    return Error{"started_max must be >= slots (" + std::to_string(config.slots) + "), got " +
                 std::to_string(config.started_max)};
  }
  if (Status s = validate_labels(config.labels); !s) return s;
  if (config.fair_window_quanta > kFairWindowMaxQuanta) {
    return Error{"fair_window must be 0.." + std::to_string(kFairWindowMaxQuanta) +
                 " quanta, got " + std::to_string(config.fair_window_quanta)};
  }
  return ok_status();
}

Torus::Torus(TorusConfig config)
    : config_(std::move(config)),
      policy_(config_.policy),
      quantum_us_(config_.quantum_us),
      next_sequence_(config_.next_sequence) {
  const Status valid = validate_config(config_);
  BRAID_CHECK(valid.ok(), valid.error().message);
  account_index("");  // index 0: the default account
}

std::optional<TaskKey> Torus::find(std::string_view id) const { return index_.find(id); }

int Torus::top_queued_priority() const {
  for (int p = kPriorityMax; p >= kPriorityMin; --p) {
    if (queued_by_priority_[static_cast<std::size_t>(p - kPriorityMin)] > 0) return p;
  }
  return -1;
}

TorusStats Torus::stats() const {
  TorusStats s = stats_;
  s.active_processes = started_count_;
  s.policy = policy_;
  s.quantum_micros = quantum_us_;
  s.paused = paused_;
  s.slots = config_.slots;
  s.slots_busy = slots_busy_;
  s.blocked = blocked_count_;
  s.memory_started_bytes = started_memory_bytes_;
  s.memory_available_bytes = memory_available_bytes_;
  return s;
}

Status Torus::check(const TaskSpec& spec, std::size_t new_accounts_before) const {
  if (Status s = admissible(spec); !s) return s;
  const std::size_t held = account_by_name_.size() + new_accounts_before;
  if (held >= kAccountsMax && !holds_account(spec.account)) {
    return Error{"account \"" + spec.account +
                 "\" would be one too many: this node holds tasks of " + std::to_string(held) +
                 " accounts (at most " + std::to_string(kAccountsMax) +
                 "); use one of them or purge finished tasks"};
  }
  return ok_status();
}

Status Torus::admissible(const TaskSpec& spec) const {
  if (Status s = validate_spec(spec); !s) return s;
  if (task_count() - free_keys_.size() >= kTasksMax) {
    return Error{"this node holds " + plural(tasks_.size(), "task") + ", its limit"};
  }
  for (const std::string& dep_id : spec.after) {
    // Ids are given here, so a new task can only name tasks that already
    // exist: a dependency cycle would need an unknown id and is refused here.
    if (!find(dep_id)) {
      return Error{"after: \"" + dep_id + "\" is not a known task (a dependency must exist; " +
                   "cycles are impossible)"};
    }
  }
  // Neither a pinned task nor a throttled array's (its throttle is kept
  // here, sched/balance.h may_migrate) ever moves: one that lacks a label here could never run.
  if (spec.pinned || spec.array_throttle > 0) {
    if (auto why = unmet_labels_reason(config_.labels, spec.constraints)) {
      return Error{std::string(spec.pinned ? "a pinned task" : "a throttled array's task") +
                   " that " + *why + ": it could never run"};
    }
  }
  return fits(spec);
}

Status Torus::fits(const TaskSpec& spec) const {
  if (spec.cpus > config_.slots) {
    return Error{"cpus must be 1.." + std::to_string(config_.slots) + " (this node's slots), got " +
                 std::to_string(spec.cpus)};
  }
  if (config_.memory_bytes != 0 && spec.memory_bytes > config_.memory_bytes) {
    return Error{"memory must be at most " + std::to_string(config_.memory_bytes) +
                 " bytes (this node's memory), got " + std::to_string(spec.memory_bytes)};
  }
  return ok_status();
}

TaskKey Torus::new_key() {
  if (free_keys_.empty()) {
    tasks_.emplace_back();
    return static_cast<TaskKey>(tasks_.size() - 1);
  }
  const TaskKey key = free_keys_.back();
  free_keys_.pop_back();
  tasks_[key] = Task{};
  return key;
}

Result<TaskKey> Torus::submit(TaskSpec spec, Micros now_us, Actions& out) {
  if (Status s = check(spec); !s) return s.error();
  return submit_as(make_id(next_sequence_++), std::move(spec), now_us, out);
}

Result<TaskKey> Torus::submit_as(std::string id, TaskSpec spec, Micros now_us, Actions& out) {
  if (Status s = admissible(spec); !s) return s.error();
  // Another node's array throttle cannot be kept here (its group number
  // means another array on this node): an adopted task runs unthrottled.
  if (id.rfind(config_.node_name + ":", 0) != 0) {
    spec.array_throttle = 0;
    spec.array_group = 0;
  }
  if (std::optional<TaskKey> known = find(id)) {
    if (at(*known).state == TaskState::kMoved)
      return take_back(*known, std::move(spec), now_us, out);
    return Error{"task id \"" + id + "\" is already known on this node"};
  }

  advance(now_us, out);
  const TaskKey key = new_key();
  Task& task = at(key);
  task.id = std::move(id);
  task.spec = std::move(spec);
  const bool hold = task.spec.hold;
  task.spec.hold = false;  // consumed: the state says it from now on
  task.submitted_at_us = last_now_us_;
  task.state = TaskState::kPending;
  ++stats_.tasks_by_state[static_cast<std::size_t>(TaskState::kPending)];
  index_.insert(task.id, key);
  join_group(key);
  join_account(key);

  if (std::optional<TaskKey> ruled_out = link_dependencies(key)) {
    finish(key, TaskState::kCancelled, ruled_out_reason(at(*ruled_out)), last_now_us_, out);
  } else if (hold) {
    at(key).reason = "held";
    set_state(key, TaskState::kHeld, out);
  } else if (at(key).deps_remaining > 0) {
    note_waiting(key);
    out.push_back({Action::Kind::kPersist, key});
  } else {
    make_runnable(key, out);
  }
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return key;
}

Status Torus::on_exit(TaskKey key, const ExitStatus& status, Micros now_us, Actions& out) {
  if (key >= tasks_.size()) return Error{"on_exit: unknown task key " + std::to_string(key)};
  Task& task = at(key);
  if (!is_started(task.state)) {
    return Error{"on_exit: task " + task.id + " is " + std::string(to_string(task.state)) +
                 ", not running or stopped"};
  }
  account(now_us);  // its last stretch counts; no time-limit kill for a task that has ended
  release_slot(key);
  task.exit = status;
  const KillCause cause = task.kill_cause;
  task.kill_cause = KillCause::kNone;
  if (status.success()) {
    finish(key, TaskState::kCompleted, "", last_now_us_, out);
  } else if (cause == KillCause::kCancel) {
    ++stats_.cancels;
    finish(key, TaskState::kCancelled, "cancelled", last_now_us_, out);
  } else if (cause == KillCause::kTimeLimit) {
    finish(key, TaskState::kFailed, "time limit", last_now_us_, out);
  } else if (task.attempts <= task.spec.retries) {
    schedule_retry(key, last_now_us_, out);
  } else {
    finish(key, TaskState::kFailed, status.describe(), last_now_us_, out);
  }
  advance(last_now_us_, out);
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

void Torus::tick(Micros now_us, Actions& out) {
  advance(now_us, out);
  decide(last_now_us_, out, /*ignore_pause=*/false);
}

Status Torus::cancel(TaskKey key, Micros now_us, Actions& out) {
  if (key >= tasks_.size()) return Error{"cancel: unknown task key " + std::to_string(key)};
  Task& task = at(key);
  if (task.state == TaskState::kHeld && task.adoption_epoch != 0) {
    // Its donor may still hold it (the handoff is unresolved): an end here
    // would reach the origin while the task lives on there.
    return Error{"task " + task.id + " waits for " + task.adopted_from +
                 " to confirm its handoff: it can be cancelled once confirmed"};
  }
  switch (task.state) {
    case TaskState::kPending:
    case TaskState::kQueued:
    case TaskState::kHeld:
      advance(now_us, out);
      task.queue_seq = 0;
      ++stats_.cancels;
      finish(key, TaskState::kCancelled, "cancelled", last_now_us_, out);
      decide(last_now_us_, out, /*ignore_pause=*/false);
      return ok_status();
    case TaskState::kRunning:
    case TaskState::kStopped:
      if (task.kill_cause == KillCause::kNone) {
        advance(now_us, out);
        task.kill_cause = KillCause::kCancel;
        task.queue_seq = 0;  // a stopped task is no longer scheduled; it is ending
        out.push_back({Action::Kind::kKill, key});
      }
      return ok_status();
    default:
      return Error{"task " + task.id + " is already " + std::string(to_string(task.state)) +
                   ": only pending, queued, held, running or stopped tasks can be cancelled"};
  }
}

Status Torus::check_hold(TaskKey key, bool release) const {
  if (!exists(key)) return Error{"hold: unknown task key " + std::to_string(key)};
  const Task& task = at(key);
  if (release && task.state != TaskState::kHeld) {
    return Error{"task " + task.id + " is " + std::string(to_string(task.state)) +
                 ", not held: only held tasks can be released"};
  }
  if (release && task.adoption_epoch != 0) {
    return Error{"task " + task.id + " waits for " + task.adopted_from +
                 " to confirm its handoff: it is released then (braid show says why)"};
  }
  if (!release && task.state != TaskState::kHeld && task.state != TaskState::kPending &&
      task.state != TaskState::kQueued) {
    return Error{"task " + task.id + " is " + std::string(to_string(task.state)) +
                 ": only pending or queued tasks can be held"};
  }
  return ok_status();
}

Status Torus::hold(TaskKey key, Micros now_us, Actions& out) {
  if (Status s = check_hold(key, /*release=*/false); !s) return s;
  Task& task = at(key);
  if (task.state == TaskState::kHeld) return ok_status();
  advance(now_us, out);
  task.queue_seq = 0;  // its queue entry goes stale; a pending backoff entry too
  task.reason = "held";
  set_state(key, TaskState::kHeld, out);
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

Status Torus::release(TaskKey key, Micros now_us, Actions& out) {
  if (Status s = check_hold(key, /*release=*/true); !s) return s;
  advance(now_us, out);
  wake(key, out);
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

void Torus::set_policy(Policy policy, Micros now_us, Actions& out) {
  advance(now_us, out);
  if (policy != policy_) {
    policy_ = policy;
    rebuild_queues();
  }
  decide(last_now_us_, out, /*ignore_pause=*/false);
}

Status Torus::set_quantum(Micros quantum_us, Micros now_us, Actions& out) {
  if (Status s = validate_quantum(quantum_us); !s) return s;
  advance(now_us, out);
  quantum_us_ = quantum_us;
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

Status Torus::set_priority(TaskKey key, int priority, Micros now_us, Actions& out) {
  if (key >= tasks_.size()) return Error{"priority: unknown task key " + std::to_string(key)};
  if (priority < kPriorityMin || priority > kPriorityMax) {
    return Error{"priority must be " + std::to_string(kPriorityMin) + ".." +
                 std::to_string(kPriorityMax) + ", got " + std::to_string(priority)};
  }
  Task& task = at(key);
  if (is_terminal(task.state)) {
    return Error{"task " + task.id + " is already " + std::string(to_string(task.state)) +
                 ": its priority can no longer change"};
  }
  advance(now_us, out);
  if (task.state == TaskState::kQueued) {
    --queued_by_priority_[static_cast<std::size_t>(task.spec.priority - kPriorityMin)];
    ++queued_by_priority_[static_cast<std::size_t>(priority - kPriorityMin)];
  }
  task.spec.priority = priority;
  if (task.queue_seq != 0) enqueue(key);  // re-rank; the old entry goes stale
  out.push_back({Action::Kind::kPersist, key});
  decide(last_now_us_, out, /*ignore_pause=*/false);
  return ok_status();
}

Status Torus::boost(TaskKey key, Micros now_us, Actions& out) {
  if (key >= tasks_.size()) return Error{"boost: unknown task key " + std::to_string(key)};
  return set_priority(key, std::min(at(key).spec.priority + 1, kPriorityMax), now_us, out);
}

Status Torus::lower(TaskKey key, Micros now_us, Actions& out) {
  if (key >= tasks_.size()) return Error{"lower: unknown task key " + std::to_string(key)};
  return set_priority(key, std::max(at(key).spec.priority - 1, kPriorityMin), now_us, out);
}

void Torus::pause(Micros now_us, Actions& out) {
  advance(now_us, out);
  paused_ = true;
}

void Torus::resume(Micros now_us, Actions& out) {
  advance(now_us, out);
  paused_ = false;
  decide(last_now_us_, out, /*ignore_pause=*/false);
}

void Torus::trigger(Micros now_us, Actions& out) {
  advance(now_us, out);
  decide(last_now_us_, out, /*ignore_pause=*/true);
}

void Torus::schedule_next(Micros now_us, Actions& out) {
  advance(now_us, out);
  TaskKey longest = kNoTask;
  for (TaskKey key : running_) {
    const Task& t = at(key);
    if (t.kill_cause != KillCause::kNone || t.blocked) continue;  // no slot to give
    if (longest == kNoTask || t.dispatched_at_us < at(longest).dispatched_at_us) longest = key;
  }
  if (longest != kNoTask) at(longest).slice_start_us = last_now_us_ - quantum_us_;
  forced_yield_ = longest;
  decide(last_now_us_, out, /*ignore_pause=*/true);
  forced_yield_ = kNoTask;
}

// --- lifecycle helpers ---

void Torus::set_state(TaskKey key, TaskState state, Actions& out) {
  Task& task = at(key);
  BRAID_CHECK(!is_terminal(task.state), task.id, task.state, state);
  --stats_.tasks_by_state[static_cast<std::size_t>(task.state)];
  ++stats_.tasks_by_state[static_cast<std::size_t>(state)];
  const std::size_t priority = static_cast<std::size_t>(task.spec.priority - kPriorityMin);
  // A task that never runs here (node labels) does not make its account
  // compete: it would keep the account from coming back level (enter_queued).
  if (state == TaskState::kQueued && task.state != TaskState::kQueued) {
    if (runs_here(task)) {
      enter_queued(key);
    } else {
      ++queued_elsewhere_;
    }
    ++queued_by_priority_[priority];
  }
  if (task.state == TaskState::kQueued && state != TaskState::kQueued) {
    if (runs_here(task)) {
      --accounts_[task.account].queued;
    } else {
      --queued_elsewhere_;
    }
    --queued_by_priority_[priority];
  }
  task.state = state;
  out.push_back({Action::Kind::kPersist, key});
}

void Torus::make_runnable(TaskKey key, Actions& out) {
  Task& task = at(key);
  task.reason.clear();
  task.run_time_us = 0;
  task.started_this_attempt = false;
  // A new or woken task starts at the current minimum so it can neither
  // starve the others nor be starved by its own past.
  task.vruntime_ns = std::max(task.vruntime_ns, min_vruntime_ns_);
  set_state(key, TaskState::kQueued, out);
  if (!runs_here(task)) {
    // Queued, never in a run queue: it waits to move to a node that has the labels.
    task.reason = *unmet_labels_reason(config_.labels, task.spec.constraints) +
                  (config_.migrates ? ": waits to move to a node that has it"
                                    : ": waits (braidd runs without --migrate, so it never moves)");
    return;
  }
  enqueue(key);
}

void Torus::finish(TaskKey key, TaskState state, std::string reason, Micros now_us, Actions& out) {
  Task& task = at(key);
  BRAID_CHECK(is_terminal(state), task.id, task.state, state);
  task.queue_seq = 0;
  task.reason = std::move(reason);
  task.finished_at_us = now_us;
  if (task.state != TaskState::kMoved) {  // a moved task's outcome ended elsewhere
    ++(state == TaskState::kCompleted ? stats_.ended_completed
       : state == TaskState::kFailed  ? stats_.ended_failed
                                      : stats_.ended_cancelled);
  }
  set_state(key, state, out);
  resolve_dependents(key, now_us, out);
}

void Torus::schedule_retry(TaskKey key, Micros now_us, Actions& out) {
  Task& task = at(key);
  int shift = std::min(task.attempts - 1, 40);
  Micros backoff = task.spec.retry_backoff_us;
  for (int i = 0; i < shift && backoff < kRetryBackoffMaxUs; ++i) backoff *= 2;
  backoff = std::min(backoff, kRetryBackoffMaxUs);
  task.not_before_us = now_us + backoff;
  ++stats_.retries;
  task.reason = "retry " + std::to_string(task.attempts) + "/" + std::to_string(task.spec.retries) +
                " after " + task.exit->describe() + ", in " + format_duration(backoff);
  set_state(key, TaskState::kPending, out);
  backoff_.emplace_back(task.not_before_us, key);
  std::push_heap(backoff_.begin(), backoff_.end(), std::greater<>());
}

void Torus::note_waiting(TaskKey key) {
  at(key).reason = "waiting for " + plural(at(key).deps_remaining, "dependency");
}

void Torus::wake(TaskKey key, Actions& out) {
  Task& t = at(key);
  if (t.deps_remaining > 0) {
    note_waiting(key);
    if (t.state == TaskState::kPending) {
      out.push_back({Action::Kind::kPersist, key});
    } else {
      set_state(key, TaskState::kPending, out);
    }
  } else if (t.not_before_us > last_now_us_) {
    // A retry that was waiting out its backoff when it was held.
    t.reason = "retry in " + format_duration(t.not_before_us - last_now_us_);
    set_state(key, TaskState::kPending, out);
    backoff_.emplace_back(t.not_before_us, key);
    std::push_heap(backoff_.begin(), backoff_.end(), std::greater<>());
  } else {
    make_runnable(key, out);
  }
}

bool Torus::dependency_met(const Task& dependent, const Task& dep) const {
  const TaskSpec& spec = dependent.spec;
  for (std::size_t i = 0; i < spec.after.size(); ++i) {
    if (spec.after[i] == dep.id && !satisfies(spec.dep_kind(i), dep.state)) return false;
  }
  return true;
}

std::string Torus::ruled_out_reason(const Task& dep) {
  return "dependency " + dep.id + (dep.state == TaskState::kCompleted ? " completed" : " failed");
}

std::optional<TaskKey> Torus::link_dependencies(TaskKey key) {
  const std::vector<std::string>& after = at(key).spec.after;
  for (std::size_t i = 0; i < after.size(); ++i) {
    const std::optional<TaskKey> dep = find(after[i]);
    if (!dep || *dep == key) continue;  // purged after an end that did not rule this task out
    if (std::find(after.begin(), after.begin() + static_cast<std::ptrdiff_t>(i), after[i]) !=
        after.begin() + static_cast<std::ptrdiff_t>(i)) {
      continue;  // named twice (maybe with two kinds): one link
    }
    Task& d = at(*dep);
    if (is_terminal(d.state)) {
      if (!dependency_met(at(key), d)) return *dep;
      continue;
    }
    d.dependents.push_back(key);
    ++at(key).deps_remaining;
  }
  return std::nullopt;
}

// An end settles the task's dependents: each one whose kinds accept the end
// has one dependency fewer (and runs once none is left, unless held); one
// whose kinds refuse it is cancelled, and that end settles its own
// dependents in turn. Iterative: chains may be 100k long.
void Torus::resolve_dependents(TaskKey key, Micros now_us, Actions& out) {
  std::vector<TaskKey> ended{key};
  while (!ended.empty()) {
    const TaskKey f = ended.back();
    ended.pop_back();
    std::vector<TaskKey> dependents = std::move(at(f).dependents);
    at(f).dependents.clear();
    for (TaskKey dep : dependents) {
      Task& d = at(dep);
      const bool waiting = d.state == TaskState::kPending || d.state == TaskState::kHeld;
      if (!waiting || d.deps_remaining == 0) continue;  // cancelled meanwhile, or a stale link
      if (dependency_met(d, at(f))) {
        --d.deps_remaining;
        if (d.state == TaskState::kHeld) continue;  // stays held; release() decides
        if (d.deps_remaining == 0) {
          make_runnable(dep, out);
        } else {
          note_waiting(dep);
        }
        continue;
      }
      d.deps_remaining = 0;
      d.queue_seq = 0;
      d.reason = ruled_out_reason(at(f));
      d.finished_at_us = now_us;
      ++stats_.ended_cancelled;
      set_state(dep, TaskState::kCancelled, out);
      ended.push_back(dep);
    }
  }
}

}  // namespace braid::sched
