// Durability: the store and everything written to it. Owns the database
// (storage::Store), the node meta and the storage::Committer, whose thread
// does every write; its answers are posted back to the loop.
//
//  - a submission (Submissions) is written with the node meta's next
//    sequence in one synced batch (store_submission); it is admitted and
//    answered only once that write is durable; a failed write refuses it
//    and changes nothing;
//  - every other state change of a task is written, in order, unsynced:
//    it survives a crash of braidd, not necessarily of the machine.
//    Preemption flips (running <-> stopped of a started attempt) are
//    coalesced and written within kFlipFlushDelay: recovery treats both
//    states alike, and writing each one cost more daemon CPU than the rest of
//    time-slicing;
//  - at start, recover() restores every stored task; tasks that were running
//    or stopped when the previous run died have their leftover processes
//    ended, then are requeued (reason "node restarted", no retry used,
//    counted in node_requeues) if requeue_on_restart allows and the task has
//    been requeued by crashes fewer than max_node_requeues times, else failed;
//  - at a graceful shutdown, tasks whose processes the shutdown ended are
//    requeued (reason "node shut down"), without using a retry or a node
//    requeue (persist_interrupted). A second SIGTERM stops at once: what the
//    shutdown had not yet stored is found at the next start like a crash;
//  - finished tasks are purged after retention_us, oldest first, and beyond
//    retention_max_tasks, with their files in the logs dir (<id>.out,
//    <id>.err; a file an --output pattern named is the user's and stays);
//    a task another part still uses (Hooks::in_use) is kept meanwhile.
//
// Runs on the loop; reads and writes Tasks' side records (record_no,
// process, stored_started, cpu_done_us).
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "node/clock.h"
#include "node/daemon_config.h"
#include "node/histogram.h"
#include "node/lifetime.h"
#include "node/tasks.h"
#include "storage/committer.h"
#include "storage/store.h"

namespace braid::node {

class Durability final {
 public:
  struct Hooks {
    // Whether another part still refers to the finished task (keep it).
    std::function<bool(sched::TaskKey)> in_use;
    // The write of these tasks' terminal records finished: (key, record_no).
    std::function<void(const std::vector<std::pair<sched::TaskKey, std::uint64_t>>&,
                       const sched::Status&)>
        on_ends_stored;
  };

  // Opens <config.data_dir>/db; an Error (unreadable or corrupt database, a
  // database of another node) means the node must not start.
  static sched::Result<std::pair<std::unique_ptr<storage::Store>, storage::NodeMeta>> open_store(
      const Clock& clock, const DaemonConfig& config);

  // The meta's next_sequence is where Tasks' torus starts handing out ids.
  Durability(asio::io_context& io, const Clock& clock, const DaemonConfig& config,
             std::unique_ptr<storage::Store> store, storage::NodeMeta meta, Tasks& tasks);
  void set_hooks(Hooks hooks) { hooks_ = std::move(hooks); }  // before recover()
  Durability(const Durability&) = delete;
  Durability& operator=(const Durability&) = delete;

  // Takes a new incarnation and restores every stored task (see above), then
  // starts what may start and the purge timer.
  sched::Status recover();
  // Tracks a new task stored as record_no (Tasks::track, and its environment's users).
  void track(sched::TaskKey key, std::uint64_t record_no);

  // From Tasks' events, in action order:
  void note_started(sched::TaskKey key);         // its process mark, stored with it
  void on_state_changed(sched::TaskKey key);     // written at the end of the batch
  void on_actions_done();                        // writes the batch's changes
  void persist_interrupted(sched::TaskKey key);  // graceful shutdown ended its attempt
  // A started task's change (not a flip) that must not wait with the flips.
  void store_now_if_flip(sched::TaskKey key);

  // The submission's records, with the meta's next sequence, in one synced
  // batch; `done` runs on the loop.
  void store_submission(storage::Batch batch, std::function<void(const sched::Status&)> done);
  // Drops every finished task not in use now; returns how many.
  std::uint64_t clear();

  // This run's incarnation (after recover(): above every earlier run's).
  std::uint64_t incarnation() const { return meta_.incarnation; }
  // The peers an earlier run stored (the members family).
  sched::Result<std::vector<storage::MemberRecord>> stored_members() const;
  // Membership changes, unsynced, in order after what is queued before them.
  void store_members(storage::Batch batch);
  // Migration (node/migration.h): a batch written in order after what is
  // queued before it; synced when `done` is given (which runs on the loop
  // once it and everything before it is durable).
  void store(storage::Batch batch, std::function<void(const sched::Status&)> done);
  // What the migration machines restore from.
  struct MigrationState {
    std::vector<storage::HandoffRecord> journal;
    std::vector<storage::FenceRecord> fences;
    std::vector<storage::OutcomeReport> outbox;
    std::uint64_t epoch_floor = 0;
  };
  sched::Result<MigrationState> load_migration() const;
  // A task of another origin (adopted) that ends here owes its origin an
  // outcome: the outcome is put in the outbox in the same write as the
  // task's terminal record, and `listener` hears of it once that write is
  // stored (node/migration sends it until the origin acknowledges).
  void set_outcome_listener(std::function<void(const storage::OutcomeReport&)> listener) {
    outcome_listener_ = std::move(listener);
  }
  void stop_timers();  // at shutdown

  // Metrics: attempts requeued by recover() (interrupted by a crash), and
  // the committer's write times (rounds without and with a sync), measured on
  // its thread into relaxed-atomic histograms (no lock).
  std::uint64_t requeued_at_start() const { return requeued_at_start_; }
  HistogramSnapshot store_write_times() const { return write_times_.snapshot(); }
  HistogramSnapshot store_sync_times() const { return sync_times_.snapshot(); }

 private:
  storage::TaskRecord record_of(sched::TaskKey key) const;
  // The outcome an ended task owes its origin; none for this node's own.
  std::optional<storage::OutcomeReport> outcome_owed(const sched::Task& task) const;
  void persist(const std::vector<sched::TaskKey>& keys);  // unsynced, in order
  bool is_flip(sched::TaskKey key) const;                 // running <-> stopped of a stored start
  void defer_flip(sched::TaskKey key);                    // persisted by flush_flips() soon
  void flush_flips();
  void purge();
  // Drops a finished task: from the torus, and its record into `batch`.
  void forget_finished(sched::TaskKey key, storage::Batch& batch);
  void remove_logs(const sched::Task& task);  // its files in the logs dir
  void arm_purge_timer();
  bool in_use(sched::TaskKey key) const;
  // Posts `done` to the loop from the committer's thread; dropped once this is gone.
  storage::Committer::Done on_loop(std::function<void(const sched::Status&)> done);

  asio::io_context& io_;
  const Clock& clock_;
  const DaemonConfig& config_;
  Tasks& tasks_;
  Hooks hooks_;
  std::function<void(const storage::OutcomeReport&)> outcome_listener_;
  std::unique_ptr<storage::Store> store_;
  storage::NodeMeta meta_;
  std::uint64_t requeued_at_start_ = 0;
  SharedHistogram write_times_{short_bounds()};  // before committer_: it writes them
  SharedHistogram sync_times_{short_bounds()};
  std::unique_ptr<storage::Committer> committer_;  // after store_: drains into it when destroyed
  std::vector<sched::TaskKey> changed_;            // this batch of actions' changes
  // Tasks that use each stored environment (by id); at 0 it is deleted.
  std::unordered_map<std::uint64_t, std::size_t> env_users_;
  std::vector<sched::TaskKey> deferred_flips_;  // waiting for flush_flips()
  asio::steady_timer flip_timer_;
  bool flip_timer_armed_ = false;
  std::deque<sched::TaskKey> finished_;  // terminal tasks, oldest first (purge order)
  asio::steady_timer purge_timer_;
  Lifetime lifetime_;  // last: destroyed first
};

}  // namespace braid::node
