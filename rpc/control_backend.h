// ControlBackend: what the control interface asks of a node, in plain braid
// structs. rpc/ converts and validates Cap'n Proto messages and calls it;
// node/ implements it. Keeps generated readers out of node/ and node/ out of
// rpc/.
#pragma once

#include <kj/async.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sched/policy.h"
#include "sched/result.h"
#include "sched/stats.h"
#include "sched/task.h"

namespace braid::rpc {

// A task as the CLI shows it. Timestamps: microseconds since the Unix epoch, 0 = never.
struct TaskView {
  std::string id;
  std::string name;
  sched::TaskState state = sched::TaskState::kQueued;
  std::string node;
  int priority = sched::kPriorityDefault;
  std::vector<std::string> argv;
  std::optional<sched::ExitStatus> exit;  // the last attempt's end
  std::string reason;
  sched::Micros cpu_time_us = 0;  // measured CPU of its processes, all attempts
  sched::Micros run_time_us = 0;  // time it held a slot, all attempts
  std::uint64_t vruntime_ns = 0;
  int preemptions = 0;
  int attempts = 0;
  sched::Micros submitted_at_us = 0;
  sched::Micros started_at_us = 0;
  sched::Micros finished_at_us = 0;
  int pid = 0;
  int cpus = 1;
  int retries = 0;
  int array_index = -1;
  int node_requeues = 0;
  std::string account;  // empty = the default account
  // Migration (docs/migration.md).
  int hops = 0;
  std::string moved_to;      // moved: the node it was handed to (or ran on)
  std::string adopted_from;  // the donor, when this node adopted it
  std::vector<sched::Refusal> refusals;
  std::vector<sched::Label> constraints;  // node labels it needs (issue 11 §2)
};

struct StatsView {
  sched::TorusStats torus;
  std::string node;
  std::string executor;  // "cgroup" or "signals"
  sched::Micros uptime_us = 0;
  std::uint64_t slice_count = 0;
  sched::Micros slice_error_p50_us = 0;
  sched::Micros slice_error_p99_us = 0;
  std::uint64_t memory_total_bytes = 0;  // what started tasks' memory is admitted against
  std::string memory_limits;             // "enforced" (cgroup memory.max) or "admitted"
  bool io_aware = false;                 // blocked tasks lend their slots (torus.h)
  std::vector<sched::Label> labels;      // this node's labels (braidd --label)
};

// A member as `braid peers` shows it.
struct PeerView {
  std::string name;
  std::string address;
  std::string state;  // alive, suspect, dead, left
  std::uint64_t incarnation = 0;
  std::uint32_t queued = 0;
  std::uint32_t running = 0;
  std::uint32_t blocked = 0;
  std::uint32_t slots = 0;
  std::uint32_t free_slots = 0;
  std::int32_t top_queued_priority = -1;
  bool accepting = true;
  sched::Micros age_us = -1;  // of the load figure; -1: none known
  bool is_self = false;
};

struct GossipCounters {
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_sent = 0;  // as encoded on the wire
  std::uint64_t bytes_received = 0;
  std::uint64_t dropped = 0;
  std::uint64_t probes = 0;
  std::uint64_t suspicions_raised = 0;
  std::uint64_t deaths_declared = 0;
  std::uint64_t refutations = 0;
  std::uint64_t refused_auth = 0;
  std::uint64_t invalid = 0;
  int health_score = 0;
  std::uint64_t timer_fires = 0;  // the gossip timer, run on braidd's loop
  std::uint64_t timer_late_10ms = 0;
  std::uint64_t timer_late_max_us = 0;
};

struct MigrationCounters {
  bool enabled = false;
  std::uint64_t offers_made = 0;
  std::uint64_t moved_away = 0;
  std::uint64_t refused_by_peers = 0;
  std::uint64_t reclaimed = 0;
  std::uint64_t adopted = 0;
  std::uint64_t refused_by_us = 0;
  std::uint64_t unresolved = 0;  // donor journal entries migrating or reclaimed, now
  std::uint64_t outcomes_owed = 0;
  std::uint64_t outcomes_applied = 0;
  std::uint64_t outcomes_unexpected = 0;
  std::uint64_t forced_releases = 0;
  std::uint64_t held = 0;  // adoptions awaiting the donor's confirmation, now
  std::uint64_t released = 0;
  std::uint64_t discarded = 0;
};

struct PeersView {
  std::vector<PeerView> members;
  std::string listen;  // empty: no peer listener
  GossipCounters gossip;
  MigrationCounters migration;
};

// What `braid drain` reports (node/drain.h).
struct DrainView {
  bool draining = false;
  bool migrate = false;
  std::uint64_t queued = 0;
  std::uint64_t staying = 0;
  std::uint64_t running = 0;
};

// Tests only: the faults the peer transport injects in what it sends.
struct PeerFaultsRequest {
  int drop_permille = 0;             // 0..1000 of sent messages dropped
  std::vector<std::string> blocked;  // peer addresses nothing is sent to
};
constexpr std::size_t kPeerFaultsBlockedMax = 1024;

struct WaitOutcome {
  std::vector<TaskView> tasks;
  bool timed_out = false;
  std::string error;  // non-empty: refused (unknown id, ...)
};

struct SubmitOutcome {
  std::vector<std::string> ids;  // in the order of the specs
  std::string error;             // non-empty: refused, nothing was submitted
};

struct LogChunk {
  std::string data;
  bool finished = false;  // the task is terminal: no more output will come
};

// Which tasks `list` returns, a page at a time, in admission order.
struct ListQuery {
  bool all = false;                       // include finished tasks
  std::optional<sched::TaskState> state;  // only this state (any when unset)
  std::string name_glob;                  // fnmatch(3) pattern on the name; empty = any
  std::uint64_t after = 0;                // cursor: tasks admitted after it; 0 = from the first
  std::uint32_t limit = 0;                // at most this many; 0 = kListPageMax
  // Also every live peer's tasks (first page only: after == 0), each
  // peer's first `limit` (docs/cli.md `ps --cluster`).
  bool cluster = false;
};
constexpr std::uint32_t kListPageMax = 10'000;
struct ListPage {
  std::vector<TaskView> tasks;
  std::uint64_t next = 0;  // cursor of the next page; 0 = no more tasks
  // cluster: one line per peer whose tasks are missing or cut ("NODE: why").
  std::vector<std::string> peer_errors;
};

// Answers that may need other nodes (node/following.h): an error, or the value.
struct LogReply {
  LogChunk chunk;
  std::string error;  // non-empty: refused, or the node that has the log did not answer
};
struct ListReply {
  ListPage page;
  std::string error;
};

enum class PriorityOp { kSet, kBoost, kLower };
enum class SchedulerOp { kPause, kResume, kTrigger, kNext };

// Implemented by the node. Called on the node's loop thread only.
class ControlBackend {
 public:
  virtual ~ControlBackend() = default;

  // All or nothing: either every spec is accepted (ids in order) or none is.
  // Resolves once the tasks are stored durably (or refused).
  virtual kj::Promise<kj::Own<SubmitOutcome>> submit(std::vector<sched::TaskSpec> specs) = 0;
  // One page of the tasks the query selects. A page may hold fewer than
  // `limit` tasks (even none) with next != 0: the node bounds the work of one
  // call; keep asking until next == 0.
  virtual sched::Result<ListPage> list(const ListQuery& query) = 0;
  virtual sched::Result<std::vector<TaskView>> show(const std::vector<std::string>& ids) = 0;
  // Resolves when every task is terminal or timeout_us passed (0 = never).
  // (On the heap: GCC 12 reports false maybe-uninitialized warnings for
  // non-trivial values held in kj::Promise.)
  virtual kj::Promise<kj::Own<WaitOutcome>> wait(std::vector<std::string> ids,
                                                 sched::Micros timeout_us) = 0;
  virtual sched::Status cancel(const std::vector<std::string>& ids) = 0;
  virtual sched::Result<LogChunk> read_log(const std::string& id, bool stderr_stream,
                                           std::uint64_t offset, std::uint32_t max_bytes) = 0;
  virtual StatsView stats() = 0;
  virtual sched::Status set_policy(sched::Policy policy) = 0;
  virtual sched::Status set_quantum(sched::Micros quantum_us) = 0;
  // Returns the task's priority after the change.
  virtual sched::Result<int> priority(const std::string& id, PriorityOp op, int value) = 0;
  virtual sched::Status scheduler(SchedulerOp op) = 0;
  // scheduler(kNext) that also answers the pid of the task its decision
  // started or resumed (nullopt: none, e.g. nothing queued). HTTP
  // `POST /kernel/schedule-next`.
  virtual sched::Result<std::optional<int>> schedule_next() {
    if (sched::Status s = scheduler(SchedulerOp::kNext); !s) return s.error();
    return std::optional<int>();
  }
  // Cancels every unfinished task in `state` (nullopt: any) whose name
  // matches `name_glob` (empty: any). Returns how many.
  virtual sched::Result<std::uint64_t> cancel_where(std::optional<sched::TaskState> state,
                                                    const std::string& name_glob) = 0;
  // Purges every finished task no one refers to. Returns how many.
  virtual sched::Result<std::uint64_t> clear() = 0;
  // Holds (release = false) or releases every task named; all are checked
  // first, so a refusal changes nothing.
  virtual sched::Status hold(const std::vector<std::string>& ids, bool release) = 0;
  // The cluster as this node knows it (a node without peers: none).
  virtual PeersView peers() { return {}; }
  // A task's log wherever it is, and a list with the peers' tasks
  // (query.cluster). Default: this node's own (read_log, list).
  virtual kj::Promise<kj::Own<LogReply>> read_log_anywhere(const std::string& id,
                                                           bool stderr_stream, std::uint64_t offset,
                                                           std::uint32_t max_bytes) {
    auto reply = kj::heap<LogReply>();
    auto chunk = read_log(id, stderr_stream, offset, max_bytes);
    if (chunk) {
      reply->chunk = std::move(chunk).value();
    } else {
      reply->error = chunk.error().message;
    }
    return kj::mv(reply);
  }
  virtual kj::Promise<kj::Own<ListReply>> list_cluster(const ListQuery& query) {
    auto reply = kj::heap<ListReply>();
    auto page = list(query);
    if (page) {
      reply->page = std::move(page).value();
    } else {
      reply->error = page.error().message;
    }
    return kj::mv(reply);
  }
  // Starts (cancel = false) or ends a drain, or (query) changes nothing;
  // answers its state.
  virtual sched::Result<DrainView> drain(bool /*cancel*/, bool /*query*/) {
    return sched::Error{"this node cannot drain"};
  }
  // Tests only: replaces the injected peer faults (a node without peers refuses).
  virtual sched::Status set_peer_faults(const PeerFaultsRequest& /*faults*/) {
    return sched::Error{"this node has no peers (start braidd with --listen)"};
  }
};

}  // namespace braid::rpc
