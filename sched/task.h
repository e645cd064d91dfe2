// The task model: what an operator submits (TaskSpec), the states a task moves
// through (TaskState), how a process ended (ExitStatus) and the record the
// torus keeps (Task). Plain data; the rules live in torus.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sched/result.h"
#include "sched/types.h"

namespace braid::sched {

// pending  : waiting for dependencies or for a retry's backoff to pass
// queued   : runnable, never started in this attempt (the only state that may migrate)
// running  : holds CPU slots
// stopped  : started, then preempted (its process group is stopped)
// migrating/moved : reserved for handoff between nodes (gossip issue)
// completed / failed / cancelled : terminal; a task reaches exactly one
// held     : kept out of the run queues until released (`braid hold`); its
//            dependencies still resolve meanwhile (appended: stored values stay)
enum class TaskState : std::uint8_t {
  kPending,
  kQueued,
  kRunning,
  kStopped,
  kMigrating,
  kMoved,
  kCompleted,
  kFailed,
  kCancelled,
  kHeld,
};
constexpr std::size_t kTaskStates = 10;

std::string_view to_string(TaskState state);
Result<TaskState> parse_task_state(std::string_view name);
bool is_terminal(TaskState state);
// running or stopped: an attempt whose processes exist.
bool is_started(TaskState state);

// Dependency kinds, as Slurm's --dependency: afterok (the dependency
// completed), afterany (it ended, whatever the outcome), afternotok (it
// failed or was cancelled). A dependency whose end rules its dependent out
// cancels the dependent ("dependency <id> failed" / "... completed").
enum class DepKind : std::uint8_t { kOk, kAny, kFail };
std::string_view to_string(DepKind kind);  // "after", "after-any", "after-fail"
// Whether a dependency that ended in `end` (terminal) lets a `kind` dependent run.
bool satisfies(DepKind kind, TaskState end);

// After a crash of its node, is a task that was running or stopped requeued
// (when it has retries left) or failed? kNodeDefault follows the node's
// requeue_on_restart setting.
enum class RequeueOnRestart : std::uint8_t { kNodeDefault, kYes, kNo };

// A submitter's environment, stored once per submission and shared by its
// tasks (a 100000-task array holds one copy).
struct Environment {
  std::uint64_t id = 0;              // the node's handle for it (its submission's first sequence)
  std::vector<std::string> entries;  // "KEY=VALUE", as the submitter had them
};

// What an operator asks for. Validated by validate_spec() before it is stored.
struct TaskSpec {
  // Scalars first: the scheduler reads them on every decision (cache locality).
  int priority = kPriorityDefault;  // kPriorityMin..kPriorityMax, higher runs first
  int cpus = 1;                     // slots held while running, 1..slots
  std::uint64_t memory_bytes = 0;   // admission limit; 0 = no limit
  Micros time_limit_us = 0;         // running time allowed per attempt; 0 = none
  int retries = 0;                  // re-runs after a failure, 0..kRetriesMax
  bool pinned = false;              // never migrates to another node
  RequeueOnRestart requeue_on_restart = RequeueOnRestart::kNodeDefault;
  Micros retry_backoff_us = kRetryBackoffDefaultUs;  // doubles after each failure

  std::vector<std::string> argv;   // argv[0] is the program; never empty
  std::vector<std::string> env;    // extra "KEY=VALUE" entries
  std::string cwd;                 // empty: the daemon's choice
  std::vector<std::string> after;  // task ids that must complete first
  std::string name;                // free text for people

  // Appended fields (issue 8). Kinds of `after`, index for index; empty =
  // every dependency is afterok (the common case costs no memory).
  std::vector<DepKind> after_kinds;
  int array_index = -1;              // index in its --array; -1 = not an array task
  std::uint32_t array_throttle = 0;  // at most this many of its array started at once; 0 = none
  std::uint64_t array_group = 0;     // identifies its array (the node's choice); != 0 if throttled
  bool hold = false;                 // submit held; read at admission only, not stored

  DepKind dep_kind(std::size_t i) const {
    return i < after_kinds.size() ? after_kinds[i] : DepKind::kOk;
  }
  // Appends a dependency, keeping after_kinds parallel to after.
  void add_dependency(std::string id, DepKind kind);
  // Output (see node/output_paths.h). output: a pattern for stdout's file
  // (%j id, %a array index, %x name, %% a '%'), relative to cwd; empty =
  // <logs>/<id>.out. separate_stderr: stderr to <logs>/<id>.err instead of
  // merged into stdout's file.
  std::string output;
  bool separate_stderr = false;
  // The submitter's environment (`braid submit --export`), shared by every
  // task of its submission; null = the daemon's own. `env` adds to it.
  std::shared_ptr<const Environment> base_env;
  // Appended (issue 9): the account whose share of the node the task uses
  // (`braid submit --account`, as Slurm's). Under Fair the node's CPU is
  // shared fairly between accounts first, then between an account's tasks.
  // [A-Za-z0-9._-]{0,63}; empty = the default account.
  std::string account;
};

// The characters of node names, accounts and the node part of task ids:
// A-Z a-z 0-9 . _ -
constexpr bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// The account names validate_spec() allows: [A-Za-z0-9._-]{0,63}.
bool is_account_name(std::string_view name);

// An environment entry a program can read by name: "KEY=VALUE" with a
// non-empty KEY (getenv skips anything else).
bool is_env_entry(std::string_view entry);

// Checks every field of a spec that does not depend on the node (priority
// range, argv non-empty, env shape, retries, durations). Node-dependent checks
// (cpus vs slots, memory vs capacity, known dependencies) are the torus's.
Status validate_spec(const TaskSpec& spec);

// A task id is "<node name>:<sequence>": [A-Za-z0-9._-]{1,63} ':' [0-9]{1,20}.
// Checked wherever an id arrives from outside, before any path is built from
// it (log files, cgroups). The error quotes the id and the allowed shape.
Status validate_task_id(std::string_view id);
// The origin part of a task id (up to its last ':'; all of it if none).
std::string_view origin_of(std::string_view task_id);

// How a started attempt ended, as the executor observed it.
struct ExitStatus {
  enum class Kind : std::uint8_t { kExited, kSignaled, kSpawnFailed };
  Kind kind = Kind::kExited;
  int code = 0;       // exit code (kExited) or signal number (kSignaled)
  std::string error;  // strerror text for kSpawnFailed

  static ExitStatus exited(int code) { return {Kind::kExited, code, {}}; }
  static ExitStatus signaled(int signal) { return {Kind::kSignaled, signal, {}}; }
  static ExitStatus spawn_failed(std::string error) {
    return {Kind::kSpawnFailed, 0, std::move(error)};
  }
  bool success() const { return kind == Kind::kExited && code == 0; }
  // "exit 3", "signal 9", "spawn failed: No such file or directory".
  std::string describe() const;
};

// Why the torus asked for a task's processes to end.
enum class KillCause : std::uint8_t { kNone, kCancel, kTimeLimit };

// A node that refused a task offered to it in a migration, and why.
struct Refusal {
  std::string node;
  std::string reason;

  bool operator==(const Refusal&) const = default;
};
constexpr std::size_t kRefusalsKept = 8;              // Task::refusals keeps the last this many
constexpr std::size_t kRefusalReasonBytesMax = 1024;  // longer reasons are cut (add_refusal)

// The torus's record of one task. Read-only outside the torus.
struct Task {
  // Fields the scheduler touches on every decision come first, beside the
  // spec's scalars, so a decision reads one or two cache lines per task.
  TaskState state = TaskState::kQueued;
  KillCause kill_cause = KillCause::kNone;  // torus bookkeeping
  bool started_this_attempt = false;        // torus bookkeeping; false: a fresh (queued) task
  bool blocked = false;  // torus: running but seen mostly blocked: lends its slots (torus.h)
  int attempts = 0;      // attempts started so far
  int preemptions = 0;
  std::uint64_t queue_seq = 0;              // torus: live run-queue entry's seq; 0 = not queued
  std::uint64_t preempted_in_decision = 0;  // torus: decision that last preempted it
  Micros slice_start_us = 0;                // torus: when the current slice on a slot began
  Micros dispatched_at_us = 0;              // torus: when the task last got its slot
  Micros run_time_us = 0;                   // time spent running, this attempt (time limit)
  Micros cpu_time_us = 0;                   // time spent running, all attempts
  std::uint64_t vruntime_ns = 0;            // weighted virtual runtime (Fair), see policy.h
  std::uint32_t account = 0;                // torus: index of spec.account in the torus
  TaskSpec spec;  // spec.priority is the current priority (control may change it)

  std::string id;                  // "<origin-node>:<sequence>", unique cluster-wide
  std::string reason;              // why it failed or was cancelled, or why it waits; "" otherwise
  std::optional<ExitStatus> exit;  // the last attempt's end, once there was one
  Micros submitted_at_us = 0;
  Micros started_at_us = -1;         // first start of the first attempt; -1 = never
  Micros finished_at_us = -1;        // -1 = not terminal
  Micros not_before_us = 0;          // torus: pending retry's earliest start
  std::uint32_t deps_remaining = 0;  // torus: dependencies not yet completed
  std::vector<TaskKey> dependents;   // torus: tasks whose `after` names this one
  int node_requeues = 0;             // attempts requeued because the node crashed (bounded)
  // Appended (issue 11, migration; docs/migration.md). Stored by the record
  // codec only when not the default.
  int hops = 0;                   // migrations so far (0..255)
  std::string moved_to;           // forwarding pointer: the node it was handed to; non-empty
                                  // only in state kMoved
  std::string adopted_from;       // the donor, when this node adopted it; "" = submitted here
  std::vector<Refusal> refusals;  // nodes that refused it and why, oldest first; at most
                                  // kRefusalsKept (the last ones)
  // != 0: adopted from adopted_from with this handoff epoch and held until
  // that donor confirms (sched/handoff.h HandoffReceiver): never started, and
  // `braid release` refuses it. 0 once confirmed (or submitted here).
  std::uint64_t adoption_epoch = 0;

  // Records a refusal: appends it, reason cut to kRefusalReasonBytesMax (at
  // a UTF-8 character boundary), and drops the oldest beyond kRefusalsKept.
  void add_refusal(std::string node, std::string reason);
};

}  // namespace braid::sched
