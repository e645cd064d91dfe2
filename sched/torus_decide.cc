// Torus decisions: time accounting, the run queues and who holds a slot.
#include <algorithm>

#include "sched/torus.h"

namespace braid::sched {

void Torus::account(Micros now_us) {
  // Time never runs backwards in here, whatever the caller's clock did.
  now_us = std::max(now_us, last_now_us_);
  const Micros delta_us = now_us - last_now_us_;
  last_now_us_ = now_us;
  if (delta_us == 0) return;
  for (TaskKey key : running_) {
    Task& t = at(key);
    t.cpu_time_us += delta_us;
    t.run_time_us += delta_us;
    if (t.blocked) continue;  // holds no slot: Fair charges it nothing
    t.vruntime_ns += vruntime_delta_ns(delta_us, t.spec.priority);
    accounts_[t.account].used_ns +=
        static_cast<std::uint64_t>(delta_us) * 1000 * static_cast<std::uint64_t>(t.spec.cpus);
  }
}

void Torus::advance(Micros now_us, Actions& out) {
  account(now_us);
  for (TaskKey key : running_) {
    Task& t = at(key);
    if (t.spec.time_limit_us > 0 && t.run_time_us >= t.spec.time_limit_us &&
        t.kill_cause == KillCause::kNone) {
      t.kill_cause = KillCause::kTimeLimit;
      out.push_back({Action::Kind::kKill, key});
    }
  }
  while (!backoff_.empty() && backoff_.front().first <= last_now_us_) {
    const auto [when_us, key] = backoff_.front();
    std::pop_heap(backoff_.begin(), backoff_.end(), std::greater<>());
    backoff_.pop_back();
    const Task& t = at(key);
    if (t.state == TaskState::kPending && t.deps_remaining == 0 && t.not_before_us == when_us) {
      make_runnable(key, out);
    }
  }
  update_min_vruntime();
}

void Torus::update_min_vruntime() {
  std::uint64_t lowest = std::numeric_limits<std::uint64_t>::max();
  for (TaskKey key : running_) {
    // A blocked task is charged nothing: its vruntime would hold the minimum
    // back for as long as it sleeps.
    if (!at(key).blocked) lowest = std::min(lowest, at(key).vruntime_ns);
  }
  if (policy_ == Policy::kFair) {
    // Under Fair the queue heads carry the lowest vruntimes of their queues.
    if (const QueueEntry* head = live_head(stopped_)) lowest = std::min(lowest, head->major);
    for (std::uint32_t index : waiting_accounts_) {
      if (const QueueEntry* head = live_head(accounts_[index].fresh)) {
        lowest = std::min(lowest, head->major);
      }
    }
  }
  if (lowest != std::numeric_limits<std::uint64_t>::max()) {
    min_vruntime_ns_ = std::max(min_vruntime_ns_, lowest);
  }
}

const QueueEntry* Torus::live_head(RunQueue& queue, int level) {
  while (const QueueEntry* head = level == kAnyLevel ? queue.peek() : queue.peek_level(level)) {
    if (at(head->key).queue_seq == head->seq) return head;
    // Stale: the task left the queue or was re-ranked.
    level == kAnyLevel ? queue.pop() : queue.pop_level(head->level);
  }
  return nullptr;
}

// Under Fair the fresh queue is ordered by vruntime, so a full started set
// would keep an urgent task behind the equal ones ahead of it: the heads of
// the priority levels above the lowest started priority are looked at too.
const QueueEntry* Torus::urgent_fresh_head(int above_priority) {
  if (policy_ != Policy::kFair) return nullptr;  // Priority's head is its most urgent
  for (int p = kPriorityMax; p > above_priority; --p) {
    const QueueEntry* head = fresh_head(rank_level(policy_, p));
    if (head != nullptr && fresh_admissible(at(head->key))) return head;
  }
  return nullptr;
}

Torus::ArrayGroup* Torus::group_of(const Task& task) {
  if (task.spec.array_throttle == 0) return nullptr;
  auto it = arrays_.find(task.spec.array_group);
  return it == arrays_.end() ? nullptr : &it->second;
}

void Torus::join_group(TaskKey key) {
  const TaskSpec& spec = at(key).spec;
  if (spec.array_throttle == 0) return;
  ArrayGroup& group = arrays_[spec.array_group];
  if (group.members == 0) group.throttle = spec.array_throttle;
  ++group.members;
}

void Torus::unpark_one(ArrayGroup& group) {
  const auto after = [](const QueueEntry& a, const QueueEntry& b) { return ranks_before(b, a); };
  while (!group.parked.empty()) {
    const QueueEntry entry = group.parked.front();
    std::pop_heap(group.parked.begin(), group.parked.end(), after);
    group.parked.pop_back();
    if (at(entry.key).queue_seq != entry.seq) continue;  // left the queue meanwhile
    push_fresh(entry);  // same seq: it keeps its place in the arrival order
    return;
  }
}

bool Torus::fresh_admissible(const Task& task) const {
  if (unblocked_started() >= config_.started_max && !outranks_a_running_task(task)) return false;
  return memory_admits(task);
}

// Urgent work starts even when started_max is reached: a task of strictly
// higher priority than a running one, while fewer than started_max + slots
// are started (each such start displaces a running task of lower priority, so
// the excess stays below one slot's worth of displaced tasks). RoundRobin has
// no priorities.
bool Torus::outranks_a_running_task(const Task& task) const {
  return urgent_may_start() && task.spec.priority > lowest_running_priority();
}

bool Torus::urgent_may_start() const {
  return policy_ != Policy::kRoundRobin &&
         unblocked_started() < config_.started_max + static_cast<std::uint32_t>(config_.slots);
}

int Torus::lowest_running_priority() const {
  int lowest = kPriorityMax;  // none running: nothing is outranked
  for (TaskKey key : running_) lowest = std::min(lowest, at(key).spec.priority);
  return lowest;
}

std::optional<QueueEntry> Torus::best_waiting() {
  const QueueEntry* stopped = live_head(stopped_);
  const QueueEntry* fresh = fresh_head();
  if (fresh != nullptr && !fresh_admissible(at(fresh->key))) {
    // Held back by a full started set, urgent work may still start; held back
    // by memory, the head keeps its place (no backfill, as for wide tasks).
    fresh = unblocked_started() >= config_.started_max
                ? urgent_fresh_head(at(fresh->key).spec.priority)
                : nullptr;
  }
  if (stopped == nullptr && fresh == nullptr) return std::nullopt;
  if (stopped == nullptr) return *fresh;
  if (fresh == nullptr) return *stopped;
  return ranks_before(*fresh, *stopped) ? *fresh : *stopped;
}

// Whether a running task gives its slot to `waiting` now (torus.h, Model):
// RoundRobin at the end of its quantum; Priority at once, to a strictly
// higher priority only; Fair at the end of its quantum when `waiting` is owed
// at least the fair window of CPU time. A slice ended by schedule_next()
// yields to any waiting task that ranks at least as high.
bool Torus::yields(const Task& running, std::uint64_t running_major, const QueueEntry& waiting,
                   Micros now_us) const {
  const bool expired = now_us - running.slice_start_us >= quantum_us_;
  if (forced_yield_ != kNoTask && &at(forced_yield_) == &running) {
    return waiting.major <= running_major;
  }
  switch (policy_) {
    case Policy::kRoundRobin:
      return expired;
    case Policy::kPriority:
      return waiting.major < running_major;
    case Policy::kFair:
      return expired && waiting.major <= running_major &&
             owed_cpu_ns(running_major - waiting.major, at(waiting.key).spec.priority) >=
                 fair_window_ns();
  }
  return false;
}

std::uint64_t Torus::fair_window_ns() const {
  return static_cast<std::uint64_t>(config_.fair_window_quanta) *
         static_cast<std::uint64_t>(quantum_us_) * 1000;
}

// The running task that should give its slot to `waiting`, or kNoTask: among
// those that yield, the lowest-ranked, then the longest-held slot.
TaskKey Torus::pick_victim(Micros now_us, const QueueEntry& waiting, std::uint64_t decision) const {
  TaskKey victim = kNoTask;
  std::uint64_t victim_major = 0;
  for (TaskKey key : running_) {
    const Task& t = at(key);
    if (t.kill_cause != KillCause::kNone) continue;  // ending; keeps its slot until it exits
    if (t.blocked) continue;                         // holds no slot to give
    const std::uint64_t major = rank_major(policy_, t.spec.priority, t.vruntime_ns);
    if (t.preempted_in_decision == decision || !yields(t, major, waiting, now_us)) continue;
    if (victim == kNoTask || major > victim_major ||
        (major == victim_major && t.dispatched_at_us < at(victim).dispatched_at_us)) {
      victim = key;
      victim_major = major;
    }
  }
  return victim;
}

void Torus::decide(Micros now_us, Actions& out, bool ignore_pause) {
  const std::uint64_t decision = ++decisions_;
  const bool may_preempt = !paused_ || ignore_pause;
  // A blocked task turned busy: its lent slots come back first. Paused, no
  // task is stopped: they come back at resume.
  if (may_preempt && slots_busy_ > config_.slots) take_back_lent_slots(now_us, decision, out);
  // Fill free slots in rank order, ending slices where the best waiting task
  // needs a slot. A task stopped in this decision is not resumed in it (no
  // stop/continue pair that the kernel could collapse into nothing). A head
  // that needs more slots than are free keeps the freed ones reserved (no
  // backfill), so wide tasks are not starved.
  while (std::optional<QueueEntry> waiting = best_waiting()) {
    const Task& w = at(waiting->key);
    if (w.preempted_in_decision == decision) break;
    if (w.spec.cpus <= config_.slots - slots_busy_) {
      dispatch(waiting->key, now_us, out);
      continue;
    }
    if (!may_preempt) break;
    const TaskKey victim = pick_victim(now_us, *waiting, decision);
    if (victim == kNoTask) break;
    preempt(victim, now_us, decision, out);
    // The freed slot is the waiting task's: asked again, best_waiting() could
    // refuse it (an urgent start is admitted only while a lower priority runs).
    if (w.spec.cpus <= config_.slots - slots_busy_) dispatch(waiting->key, now_us, out);
  }
  if (may_preempt) {
    // Nobody better waits for the rest: their next slice starts now.
    for (TaskKey key : running_) {
      Task& t = at(key);
      if (now_us - t.slice_start_us >= quantum_us_) t.slice_start_us = now_us;
    }
  }
}

void Torus::dispatch(TaskKey key, Micros now_us, Actions& out) {
  Task& t = at(key);
  BRAID_CHECK(t.state == TaskState::kQueued || t.state == TaskState::kStopped, t.id, t.state);
  t.queue_seq = 0;  // its entry goes stale and is dropped at the next peek
  running_.push_back(key);
  slots_busy_ += t.spec.cpus;
  BRAID_CHECK(slots_busy_ <= config_.slots, t.id, t.spec.cpus, slots_busy_, config_.slots);
  t.slice_start_us = now_us;
  t.dispatched_at_us = now_us;
  const bool fresh = !t.started_this_attempt;
  if (fresh) {
    t.started_this_attempt = true;
    ++t.attempts;
    ++started_count_;
    started_memory_bytes_ += t.spec.memory_bytes;
    if (t.started_at_us < 0) t.started_at_us = now_us;
    ++stats_.total_scheduled;
    if (ArrayGroup* group = group_of(t)) ++group->started;
    ++accounts_[t.account].started;
    if (config_.io_aware) cpu_samples_[key] = CpuSample{};  // the attempt's CPU starts at 0
  }
  ++stats_.context_switches;
  set_state(key, TaskState::kRunning, out);
  out.push_back({fresh ? Action::Kind::kStart : Action::Kind::kResume, key});
}

void Torus::preempt(TaskKey key, Micros /*now_us*/, std::uint64_t decision, Actions& out) {
  Task& t = at(key);
  BRAID_CHECK(t.state == TaskState::kRunning, t.id, t.state);
  auto it = std::find(running_.begin(), running_.end(), key);
  BRAID_CHECK(it != running_.end(), t.id, key, running_.size());
  *it = running_.back();
  running_.pop_back();
  stop_sampling(key);
  slots_busy_ -= t.spec.cpus;
  ++t.preemptions;
  ++stats_.preemptions;
  t.preempted_in_decision = decision;
  set_state(key, TaskState::kStopped, out);
  out.push_back({Action::Kind::kStop, key});
  enqueue(key);
}

void Torus::release_slot(TaskKey key) {
  Task& t = at(key);
  if (t.state == TaskState::kRunning) {
    auto it = std::find(running_.begin(), running_.end(), key);
    BRAID_CHECK(it != running_.end(), t.id, key, running_.size());
    *it = running_.back();
    running_.pop_back();
    stop_sampling(key);
    slots_busy_ -= t.spec.cpus;
  }
  BRAID_CHECK(started_count_ > 0 && t.started_this_attempt, t.id, t.state, started_count_,
              t.started_this_attempt);
  --started_count_;
  --accounts_[t.account].started;
  forget_memory(key);
  t.started_this_attempt = false;
  t.queue_seq = 0;
  if (ArrayGroup* group = group_of(t)) {
    BRAID_CHECK(group->started > 0, t.id, t.spec.array_group, group->members);
    --group->started;
    unpark_one(*group);
  }
}

void Torus::enqueue(TaskKey key) {
  Task& t = at(key);
  t.queue_seq = next_queue_seq_++;
  t.started_this_attempt ? stopped_.push(entry_of(key)) : push_fresh(entry_of(key));
}

QueueEntry Torus::entry_of(TaskKey key) const {
  const Task& t = at(key);
  return QueueEntry{rank_major(policy_, t.spec.priority, t.vruntime_ns), t.queue_seq, key,
                    static_cast<std::uint8_t>(rank_level(policy_, t.spec.priority))};
}

// After a policy switch: same tasks, same arrival order, new ranks.
void Torus::rebuild_queues() {
  std::vector<TaskKey> queued;
  for (TaskKey key = 0; key < tasks_.size(); ++key) {
    if (tasks_[key].queue_seq != 0) queued.push_back(key);
  }
  std::sort(queued.begin(), queued.end(),
            [&](TaskKey a, TaskKey b) { return at(a).queue_seq < at(b).queue_seq; });
  clear_fresh();
  stopped_.clear();
  for (auto& [id, group] : arrays_) group.parked.clear();  // parked again as they come up
  for (TaskKey key : queued) {
    at(key).started_this_attempt ? stopped_.push(entry_of(key)) : push_fresh(entry_of(key));
  }
}

// Whether a queued task might start at a quantum's end: the started set has
// room, or (Fair) a queued task may start beyond it as urgent work. Stale
// queue entries only make it answer yes more often.
bool Torus::fresh_may_start() const {
  if (!any_fresh()) return false;
  if (unblocked_started() < config_.started_max) return true;
  if (policy_ != Policy::kFair || !urgent_may_start()) return false;
  const int lowest = lowest_running_priority();
  for (int p = kPriorityMax; p > lowest; --p) {
    if (fresh_level_nonempty(rank_level(policy_, p))) return true;
  }
  return false;
}

Micros Torus::next_tick_us() const {
  Micros next = kNever;
  // Paused, slices do not end (and are not renewed): only limits and backoffs
  // are due. Under Priority a quantum's end changes nothing (only an arrival or
  // a priority change preempts, and both decide at once). Nor does it while
  // the only waiting tasks are queued ones that may not start (a batch behind
  // a full started set): the node then sleeps instead of waking every quantum.
  const bool slices_end =
      !paused_ && policy_ != Policy::kPriority && (!stopped_.empty() || fresh_may_start());
  for (TaskKey key : running_) {
    const Task& t = at(key);
    if (slices_end) next = std::min(next, t.slice_start_us + quantum_us_);
    if (t.spec.time_limit_us > 0 && t.kill_cause == KillCause::kNone) {
      next =
          std::min(next, last_now_us_ + std::max<Micros>(0, t.spec.time_limit_us - t.run_time_us));
    }
  }
  if (!backoff_.empty()) next = std::min(next, backoff_.front().first);
  return next;
}

}  // namespace braid::sched
