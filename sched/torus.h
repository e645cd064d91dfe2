// Torus: the autonomous local scheduler of one node, as pure logic.
//
// It owns the node's task table and decides which tasks hold the node's CPU
// slots. It never reads a clock, never makes a syscall and never blocks:
// every input carries `now_us` (monotonic, microseconds) and every decision
// is appended to `out` as Actions for the caller to carry out. The same code
// runs inside braidd, in unit tests and in the cluster simulator.
//
// Model:
//  - `slots` CPU slots; a running task holds spec.cpus of them. Tasks that
//    were started but do not hold slots are stopped (time-slicing).
//  - At most `started_max` attempts are started (running + stopped) at once.
//    Other runnable tasks wait in `queued`.
//  - Memory: a started task counts for the larger of its spec.memory_bytes
//    and its measured memory (set_task_memory), and started tasks stay within
//    the node's memory_bytes. A fresh task starts only if the memory the
//    machine has left (set_memory_available) covers what it is expected to
//    use: its memory_bytes, else the largest measured started task. With
//    nothing started one task may always start, so the node makes progress.
//    A queued task of strictly higher priority than a running one may start
//    beyond started_max, up to started_max + slots (Priority and Fair): urgent
//    work is not held back by a full started set.
//  - Slicing happens only where it buys something. Each decision ("decide")
//    first ends slices, by policy (policy.h for the ranks):
//      RoundRobin: a running task whose quantum expired yields to any waiting
//        task (fixed quantum among the started tasks; started_max bounds them).
//      Priority: a strictly higher-priority waiting task takes the slot of
//        the lowest-priority running one at once; equal priorities never
//        preempt each other (they run to completion, first in first out).
//      Fair: a running task whose quantum expired yields when the waiting task
//        is owed at least fair_window_quanta quanta of CPU time (its vruntime
//        lag, converted at its own weight); equal vruntimes never preempt.
//    Then free slots are filled in rank order. A waiting task that needs more free
//    slots than exist keeps them reserved as they free up (no backfill), so
//    wide tasks are never starved.
//  - Accounts (spec.account): under Fair the next queued task to start comes
//    from the account that has used the least CPU time (cpus x seconds),
//    then in the account's own rank order. An account that starts to queue
//    again is placed level with the least-used account with queued tasks
//    that could start (not all parked beside a throttled array):
//    one that was idle (nothing queued or started) at that usage, so neither
//    idling nor past use counts; one that only ran what it had started at
//    the higher of its own and that usage, so it banks no credit.
//    A batch of one account therefore does not hold back a later, smaller
//    submission of another. RoundRobin and Priority ignore accounts. A
//    decision looks at every account with queued tasks; check() refuses a
//    new account once tasks of kAccountsMax are held, counting the new
//    accounts of the submission checked with it. submit_as() does not apply
//    this limit (a stored task is always admitted), so submissions checked
//    at the same time may overshoot it by each other's new accounts.
//  - I/O-aware slots (config.io_aware): the caller reports the measured CPU
//    demand of running tasks (set_task_cpu_demand: CPU time used plus time
//    spent runnable waiting for a CPU, so a task starved by a busy machine
//    is not mistaken for one that sleeps). A running task whose demand was
//    below 1/4 of its cpus over at least kCpuSampleMinUs of running time is
//    `blocked`: it keeps running, but lends its slots and its started place
//    to waiting tasks, and Fair charges it no vruntime or account usage.
//    Once it demands at least 1/2 again it is busy and takes its slots back:
//    the busy running task that ranks worst (then the one dispatched last)
//    is stopped.
//  - Time limits count running time only; when reached, the task is killed
//    and fails with reason "time limit" (not retried).
//  - Failed attempts are retried while attempts <= spec.retries, after
//    spec.retry_backoff_us * 2^(attempt-1) (capped at kRetryBackoffMaxUs);
//    the task waits in `pending` meanwhile.
//  - Dependencies (spec.after, each with a DepKind, task.h): a task stays
//    `pending` until every dependency ended in a way its kind accepts
//    (after: completed; after-any: any end; after-fail: failed or
//    cancelled). A dependency that ends otherwise cancels the task with
//    reason "dependency <id> failed" (after) or "dependency <id> completed"
//    (after-fail), and that end resolves the task's own dependents in turn.
//  - Hold: a held task (state `held`) is never started; its dependencies
//    still resolve (and may cancel it). release() puts it back to pending
//    (dependencies or a retry backoff left) or queued.
//  - Arrays: tasks with spec.array_throttle > 0 and the same array_group
//    have at most array_throttle attempts started (running + stopped) at
//    once. A queued task of a group at its throttle that reaches the head of
//    the fresh queue is parked beside its group (O(log n)) instead of
//    blocking the tasks behind it, and goes back when a member's attempt
//    ends.
//  - Node labels (config.labels, spec.constraints): a runnable task whose
//    constraints this node's labels do not satisfy is queued but never
//    enters a run queue, so it never starts here; its reason says which
//    label it needs ("needs node label gpu=1; this node has none: ...").
//    It waits to migrate to a node that has them (runs_here(), and
//    sched/balance.h MovableTask::must_leave), or to be cancelled. A pinned
//    task, or a throttled array's, that could never run here (they never
//    move) is refused at submission.
//  - Every state transition (and every priority change) is reported as
//    Action::kPersist, so the caller can store the record atomically.
//
// Thread-safety: none; one owner thread, like the rest of the node's state.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sched/action.h"
#include "sched/check.h"
#include "sched/id_index.h"
#include "sched/labels.h"
#include "sched/migration_message.h"
#include "sched/policy.h"
#include "sched/result.h"
#include "sched/run_queue.h"
#include "sched/stats.h"
#include "sched/task.h"
#include "sched/types.h"

namespace braid::sched {

constexpr Micros kNever = std::numeric_limits<Micros>::max();

struct TorusConfig {
  // Origin part of the ids this node gives: "<node_name>:<sequence>".
  std::string node_name = "local";
  // Sequence of the next id (storage restores it after a restart).
  std::uint64_t next_sequence = 1;
  // CPU slots: how many cpus' worth of tasks run at once.
  int slots = 1;
  // Memory admission: started tasks' memory_bytes stay within this; 0 = no limit.
  std::uint64_t memory_bytes = 0;
  // Policy at start; switchable at run time.
  Policy policy = Policy::kFair;
  // Slice length, kQuantumMinUs..kQuantumMaxUs; switchable at run time.
  Micros quantum_us = kQuantumDefaultUs;
  // Attempts started (running + stopped) at once; bounds stopped processes.
  std::uint32_t started_max = 256;
  // Fair: the CPU time, in quanta, a waiting task must be owed before it
  // preempts (0: at every quantum, as plain round robin over vruntime).
  std::uint32_t fair_window_quanta = kFairWindowDefaultQuanta;
  // Mostly blocked running tasks lend their slots (Model, I/O-aware slots).
  bool io_aware = true;
  // Appended (issue 11 §2): this node's labels (validate_labels). A queued
  // task whose spec.constraints they do not satisfy is never started here
  // (see Model, "Node labels"); `migrates` only words its reason.
  std::vector<Label> labels;
  bool migrates = false;  // braidd --migrate: such a task is offered to peers
};

// I/O awareness: the shortest running time over which a task's CPU use is
// judged, and the thresholds (used / (running time x cpus)).
constexpr Micros kCpuSampleMinUs = 50 * kMicrosPerMilli;
constexpr Micros kBlockedBelowDenominator = 4;  // below 1/4: blocked
constexpr Micros kBusyAboveDenominator = 2;     // at least 1/2: busy again

// Checks a config; the error names the field and what is allowed.
Status validate_config(const TorusConfig& config);
// Node names are [A-Za-z0-9._-]{1,63}, so "<name>:<seq>" ids parse back.
Status validate_node_name(std::string_view name);
// "quantum must be 1ms..1s, got 0s" unless kQuantumMinUs <= quantum_us <= kQuantumMaxUs.
Status validate_quantum(Micros quantum_us);

class Torus final {
 public:
  // Requires validate_config(config).ok().
  explicit Torus(TorusConfig config);

  // --- inputs: each appends the resulting actions to `out` ---

  // Accepts a task (validate_spec plus cpus <= slots, memory within the node,
  // every dependency a known task). Returns its key; the id is task(key).id.
  Result<TaskKey> submit(TaskSpec spec, Micros now_us, Actions& out);
  // The checks submit() makes, without submitting: lets a caller accept a
  // batch all or nothing.
  // `new_accounts_before`: accounts, not held yet, that specs checked
  // earlier in the same submission add (see Accounts above).
  Status check(const TaskSpec& spec, std::size_t new_accounts_before = 0) const;
  bool holds_account(const std::string& account) const {
    return account_by_name_.contains(account);
  }

  // --- ids, durability and restarts (torus_restore.cc) ---

  // Hands out `count` fresh id sequences and returns the first; a caller that
  // must store a submission before admitting it reserves ids, stores, then
  // calls submit_as(). Sequences are never handed out twice.
  std::uint64_t reserve_sequences(std::uint64_t count);
  std::uint64_t next_sequence() const { return next_sequence_; }
  // "<node_name>:<sequence>".
  std::string make_id(std::uint64_t sequence) const;
  // submit() under a given id (from reserve_sequences, or a task adopted from
  // another node). The id must not be known yet. The account limit is not
  // applied: check() applied it before the task was stored.
  Result<TaskKey> submit_as(std::string id, TaskSpec spec, Micros now_us, Actions& out);
  // Puts back a task from storage after a restart. Call in admission order
  // (a task's dependencies first), then trigger() once to fill the slots.
  // The record's durable fields are kept (id, spec, state, reason, exit,
  // attempts, preemptions, times, vruntime); state must be pending, queued
  // held or terminal (the node requeues or fails tasks that were running or
  // stopped before it restores them). Dependencies are resolved again by
  // their kinds. One that is not known any more was purged after it ended,
  // whatever its end was: had that end ruled this task out, the task's
  // cancellation would have been stored before the purge (writes are
  // ordered), so a purged dependency counts as met for every kind. A task that can no longer run
  // here (cpus above slots, memory above the node's) fails with a reason saying so. Only tasks
  // whose state or reason changed are reported with kPersist.
  Result<TaskKey> restore(Task record, Micros now_us, Actions& out);
  // Makes room for `tasks` tasks in all (before restoring many).
  void reserve(std::size_t tasks);
  // Drops a terminal task (history purge). Its key may be reused by a later
  // task; the caller must not hold on to it.
  Status forget(TaskKey key);
  // A key below task_count() that holds a task (not forgotten).
  bool exists(TaskKey key) const { return key < tasks_.size() && !tasks_[key].id.empty(); }
  // The executor saw the task's attempt end. Requires state running/stopped.
  Status on_exit(TaskKey key, const ExitStatus& status, Micros now_us, Actions& out);
  // --- memory (torus_memory.cc) ---
  // A started task's measured memory (RSS, or its cgroup's memory.current):
  // it counts against memory_bytes instead of its spec.memory_bytes while
  // larger. Ignored for a task that is not started.
  void set_task_memory(TaskKey key, std::uint64_t bytes);
  // Memory the machine has left for new work (MemAvailable); 0 = unknown.
  // Decides at once (with the measurements given since: a task held back may
  // start now). The daemon calls it after each round of set_task_memory.
  void set_memory_available(std::uint64_t bytes, Micros now_us, Actions& out);

  // --- I/O awareness (torus_blocked.cc) ---
  // The measured CPU demand of a running task's current attempt, cumulative
  // (CPU time of its process tree plus time it waited runnable for a CPU).
  // Judges the task blocked or busy over the running time since its last
  // judged sample, and decides at once when that changed. The first sample
  // after a resume is a baseline. Ignored unless io_aware and running.
  void set_task_cpu_demand(TaskKey key, Micros demand_us, Micros now_us, Actions& out);

  // Time passes: accounting, time limits, retry backoffs, quantum expiry.
  void tick(Micros now_us, Actions& out);

  // --- control ---
  Status cancel(TaskKey key, Micros now_us, Actions& out);
  // Holds a pending or queued task (a held one stays held); refuses others.
  Status hold(TaskKey key, Micros now_us, Actions& out);
  // Releases a held task; refuses a task that is not held.
  Status release(TaskKey key, Micros now_us, Actions& out);
  // What hold() (release = false) or release() would refuse, without doing it.
  Status check_hold(TaskKey key, bool release) const;

  // Migration (issue 11, docs/migration.md; sched/torus_migration.cc). A
  // queued task being offered to a peer is kMigrating: out of the run queue,
  // never started here, until the handoff ends. abort_migration (refused,
  // not had, reclaimed) queues it again as it was; finish_migration (moved)
  // makes it kMoved with a forwarding pointer, and it stays unfinished for
  // its dependents until apply_outcome() records how it ended where it ran.
  Status begin_migration(TaskKey key, Micros now_us, Actions& out);
  Status abort_migration(TaskKey key, Micros now_us, Actions& out);
  Status finish_migration(TaskKey key, std::string moved_to, Micros now_us, Actions& out);
  Status apply_outcome(TaskKey key, const OutcomeReport& report, Micros now_us, Actions& out);
  // A task this node holds as moved comes back (offered back by a peer):
  // submit_as() of its id calls this. It is queued again (or held) with the
  // spec it comes back with, under the same key, so its dependents here keep
  // waiting on it.
  Result<TaskKey> take_back(TaskKey key, TaskSpec spec, Micros now_us, Actions& out);
  // An adopted task (submit_as with spec.hold) held until its donor confirms
  // the handoff: release() refuses it meanwhile. confirm_adoption() releases
  // it (the donor said go); discard_adoption() (the donor said no-go: it
  // kept the task) makes it kMoved back to its donor, so that a later offer
  // of the same task is adopted again (submit_as -> take_back).
  Status mark_adoption(TaskKey key, std::string donor, std::uint64_t epoch, int hops, Actions& out);
  Status discard_adoption(TaskKey key, Micros now_us, Actions& out);
  // A peer refused the task (Task::add_refusal: the last kRefusalsKept).
  Status add_refusal(TaskKey key, std::string node, std::string reason, Actions& out);
  Status confirm_adoption(TaskKey key, Micros now_us, Actions& out);
  void set_policy(Policy policy, Micros now_us, Actions& out);
  // Takes effect at once: the next decision measures slices with it.
  Status set_quantum(Micros quantum_us, Micros now_us, Actions& out);
  // priority must be kPriorityMin..kPriorityMax.
  Status set_priority(TaskKey key, int priority, Micros now_us, Actions& out);
  // +1 / -1, clamped to kPriorityMin..kPriorityMax.
  Status boost(TaskKey key, Micros now_us, Actions& out);
  Status lower(TaskKey key, Micros now_us, Actions& out);
  // Paused: no preemption, running tasks keep their slots; free slots are
  // still filled so the node keeps working.
  void pause(Micros now_us, Actions& out);
  void resume(Micros now_us, Actions& out);
  // Decide now (even while paused).
  void trigger(Micros now_us, Actions& out);
  // End the slice of the task that has held its slot longest, as if its
  // quantum expired, and decide now (even while paused).
  void schedule_next(Micros now_us, Actions& out);

  // --- queries ---
  const Task& task(TaskKey key) const { return tasks_.at(key); }
  std::optional<TaskKey> find(std::string_view id) const;
  // Keys in use lie below task_count(); forgotten ones fail exists().
  std::size_t task_count() const { return tasks_.size(); }
  const std::vector<TaskKey>& running() const { return running_; }
  TorusStats stats() const;
  // The highest priority among queued tasks (what a load projection says a
  // peer could take first), or -1 when none is queued. O(priority levels).
  int top_queued_priority() const;
  Policy policy() const { return policy_; }
  const std::vector<Label>& labels() const { return config_.labels; }
  // Whether this node's labels satisfy the task's constraints (else it
  // never starts here: see Model, "Node labels").
  bool runs_here(const Task& task) const {
    return task.spec.constraints.empty() || !first_unmet(config_.labels, task.spec.constraints);
  }
  // Queued tasks that never run here (!runs_here): they wait to migrate.
  std::uint32_t queued_elsewhere() const { return queued_elsewhere_; }
  bool io_aware() const { return config_.io_aware; }
  Micros quantum_us() const { return quantum_us_; }
  // When tick() next has something to do (a slice ends while others wait, a
  // time limit or a retry backoff is reached); kNever when nothing is due.
  Micros next_tick_us() const;

 private:
  // torus_decide.cc: time, queues and the decision itself.
  void account(Micros now_us);                // running time, cpu time, vruntime
  void advance(Micros now_us, Actions& out);  // account, then time limits and due retries
  void decide(Micros now_us, Actions& out, bool ignore_pause);
  std::optional<QueueEntry> best_waiting();
  static constexpr int kAnyLevel = -1;
  // The queue's (or one level's) head, dropping stale entries.
  const QueueEntry* live_head(RunQueue& queue, int level = kAnyLevel);
  // --- accounts and their queued tasks (torus_accounts.cc) ---
  // The index of an account name, added if new.
  std::uint32_t account_index(const std::string& name);
  // A task joins its spec's account when it is added, and leaves it when it
  // is forgotten; an account no task names is dropped.
  void join_account(TaskKey key);
  void leave_account(TaskKey key);
  // A task enters the queued state (set_state): an account that was idle
  // (nothing queued or started) comes back at the busy accounts' least usage.
  void enter_queued(TaskKey key);
  // Queues a fresh task's entry in its account's queue.
  void push_fresh(const QueueEntry& entry);
  // The next fresh task to start (or of one level), parking throttled array
  // members: under Fair from the account with the least usage, otherwise the
  // best-ranked head of any account. Drops accounts left without entries.
  const QueueEntry* fresh_head(int level = kAnyLevel);
  // The live head of an account's queue (or of one level), throttles applied.
  const QueueEntry* account_head(std::uint32_t account, int level);
  bool any_fresh() const { return !waiting_accounts_.empty(); }
  bool fresh_level_nonempty(int level) const;
  void clear_fresh();
  // When the head may not start for a full started set: the best fresh task
  // of a priority above `above_priority` that may.
  const QueueEntry* urgent_fresh_head(int above_priority);
  bool fresh_admissible(const Task& task) const;
  TaskKey pick_victim(Micros now_us, const QueueEntry& waiting, std::uint64_t decision) const;
  bool yields(const Task& running, std::uint64_t running_major, const QueueEntry& waiting,
              Micros now_us) const;
  std::uint64_t fair_window_ns() const;
  bool outranks_a_running_task(const Task& task) const;
  bool urgent_may_start() const;        // a policy with priorities, below the urgent cap
  int lowest_running_priority() const;  // kPriorityMax when nothing runs
  bool fresh_may_start() const;         // for next_tick_us()
  // torus_memory.cc.
  std::uint64_t counted_memory(TaskKey key) const;
  std::uint64_t expected_memory(const Task& task) const;
  bool memory_admits(const Task& task) const;
  void forget_memory(TaskKey key);  // its attempt ended
  // torus_blocked.cc. A task leaves the running set: it is no longer blocked
  // (its slots count again, for the caller to take off) nor sampled.
  void stop_sampling(TaskKey key);
  // Sets Task::blocked, keeping slots_busy_ and blocked_count_ in step.
  void set_blocked(Task& t, bool blocked);
  // While busy tasks hold more than the slots, stops the worst-ranked busy one.
  void take_back_lent_slots(Micros now_us, std::uint64_t decision, Actions& out);
  std::uint32_t unblocked_started() const { return started_count_ - blocked_count_; }
  void dispatch(TaskKey key, Micros now_us, Actions& out);
  void preempt(TaskKey key, Micros now_us, std::uint64_t decision, Actions& out);
  void release_slot(TaskKey key);
  void enqueue(TaskKey key);
  QueueEntry entry_of(TaskKey key) const;  // the task's rank under the current policy
  void rebuild_queues();
  void update_min_vruntime();

  // torus.cc: lifecycle.
  TaskKey new_key();  // a forgotten key, or a new one
  // Fits this node (cpus, memory) and names only known dependencies.
  Status fits(const TaskSpec& spec) const;
  Status admissible(const TaskSpec& spec) const;  // check() without the account limit
  void set_state(TaskKey key, TaskState state, Actions& out);
  void make_runnable(TaskKey key, Actions& out);
  void finish(TaskKey key, TaskState state, std::string reason, Micros now_us, Actions& out);
  void schedule_retry(TaskKey key, Micros now_us, Actions& out);
  void resolve_dependents(TaskKey key, Micros now_us, Actions& out);
  void note_waiting(TaskKey key);  // reason "waiting for N dependencies"
  // Links `key` to its unfinished dependencies (deps_remaining, dependents).
  // Dependencies that already ended are settled now; one that rules the
  // task out is returned (the caller cancels the task). Unknown ids were
  // purged after ending without ruling the task out: they count as met.
  std::optional<TaskKey> link_dependencies(TaskKey key);
  // Whether the end of `dep` lets `dependent` run (every kind it names dep with).
  bool dependency_met(const Task& dependent, const Task& dep) const;
  static std::string ruled_out_reason(const Task& dep);
  // Leaves `held` or a wait for dependencies: pending (backoff), or queued.
  void wake(TaskKey key, Actions& out);

  // --- array throttles ---
  struct ArrayGroup {
    std::uint32_t throttle = 0;
    std::uint32_t started = 0;       // members running or stopped
    std::uint32_t members = 0;       // members known to the torus (forget() drops them)
    std::vector<QueueEntry> parked;  // min-heap: queued members held back by the throttle
  };
  ArrayGroup* group_of(const Task& task);
  void join_group(TaskKey key);
  void unpark_one(ArrayGroup& group);
  Task& at(TaskKey key) {
    BRAID_CHECK(key < tasks_.size(), key, tasks_.size());
    return tasks_[key];
  }
  const Task& at(TaskKey key) const {
    BRAID_CHECK(key < tasks_.size(), key, tasks_.size());
    return tasks_[key];
  }

  TorusConfig config_;
  Policy policy_;
  Micros quantum_us_;
  bool paused_ = false;

  // Indexed by TaskKey. A deque: growing never moves the tasks already there
  // (a vector doubling past 262144 tasks held the loop ~0.3 s moving them).
  std::deque<Task> tasks_;
  IdIndex index_;                   // grows in steps: no rehash of every id at once
  std::vector<TaskKey> free_keys_;  // forgotten keys, reused first
  std::uint64_t next_sequence_;

  std::vector<TaskKey> running_;
  int slots_busy_ = 0;
  std::uint32_t started_count_ = 0;
  std::uint64_t started_memory_bytes_ = 0;  // sum of counted_memory() over started tasks
  std::unordered_map<TaskKey, std::uint64_t> measured_memory_;  // started tasks only
  std::uint64_t memory_available_bytes_ = 0;                    // 0 = unknown
  struct CpuSample {
    Micros demand_us = 0;  // measured CPU demand of the attempt at the last judged sample
    Micros run_us = 0;     // its run_time_us then
  };
  std::unordered_map<TaskKey, CpuSample> cpu_samples_;  // running tasks only
  std::uint32_t blocked_count_ = 0;                     // running tasks with blocked set

  struct Account {
    std::string name;
    RunQueue fresh;             // its queued tasks: runnable, not started in this attempt
    std::uint64_t used_ns = 0;  // cpus x running time of its tasks, after placement
    std::uint32_t started = 0;  // its tasks running or stopped
    std::uint64_t tasks = 0;    // tasks that name it
    std::uint64_t queued = 0;   // its tasks in state queued (in its queue or parked)
    bool waiting = false;       // listed in waiting_accounts_
  };
  std::vector<Account> accounts_;  // index 0: the default account ""
  std::unordered_map<std::string, std::uint32_t> account_by_name_;
  std::vector<std::uint32_t> waiting_accounts_;  // accounts whose fresh queue has entries
  std::vector<std::uint32_t> free_accounts_;     // dropped accounts' indices, reused first
  RunQueue stopped_;                             // stopped: started, waiting for a slot again
  std::uint64_t next_queue_seq_ = 1;
  std::uint64_t min_vruntime_ns_ = 0;

  std::unordered_map<std::uint64_t, ArrayGroup> arrays_;  // throttled arrays by array_group

  // Pending retries by earliest start; stale entries are skipped.
  std::vector<std::pair<Micros, TaskKey>> backoff_;

  Micros last_now_us_ = 0;
  std::uint64_t decisions_ = 0;
  TaskKey forced_yield_ = kNoTask;  // during schedule_next(): the slice it ends

  TorusStats stats_;
  std::array<std::uint32_t, kPriorityLevels> queued_by_priority_{};  // by priority - kPriorityMin
  std::uint32_t queued_elsewhere_ = 0;  // queued tasks that never run here (node labels)
};

}  // namespace braid::sched
