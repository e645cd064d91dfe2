// Daemon: one braid node. Owns the torus, the executor and the store, feeds
// the torus time and process exits, carries out its actions, and answers the
// control interface (rpc::ControlBackend). Everything runs on the one thread
// that runs the io_context; nothing here locks. Disk writes go through the
// storage::Committer's thread, whose answers are posted back to the loop.
//
// Durability (daemon_store.cc):
//  - a submission is written (with the node meta's next sequence) in one
//    synced batch and admitted to the torus, and answered, only once that
//    write is durable; a failed write refuses it and changes nothing;
//  - every other state change of a task is written, in order, unsynced:
//    it survives a crash of braidd, not necessarily of the machine.
//    Preemption flips (running <-> stopped of a started attempt) are
//    coalesced and written within kFlipFlushDelay: recovery treats both
//    states alike, and writing each one cost more daemon CPU than the rest of
//    time-slicing;
//  - at start, open() restores every stored task; tasks that were running or
//    stopped when the previous run died have their leftover processes ended,
//    then are requeued (reason "node restarted", no retry used, counted in
//    node_requeues) if requeue_on_restart allows and the task has been
//    requeued by crashes fewer than max_node_requeues times, else failed;
//  - at a graceful shutdown, tasks whose processes the shutdown ended are
//    requeued (reason "node shut down"), without using a retry or a node
//    requeue. A second SIGTERM stops at once: what the shutdown had not yet
//    stored is found at the next start like a crash (a node requeue);
//  - finished tasks are purged after retention_us, oldest first, and beyond
//    retention_max_tasks, with their files in the logs dir (<id>.out,
//    <id>.err; a file an --output pattern named is the user's and stays).
//
// Torus time is wall-clock anchored: microseconds since the Unix epoch at
// start, then advanced by the monotonic clock. Stored times stay meaningful
// across restarts, and a clock step while running does not disturb slices.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "node/clock.h"
#include "node/daemon_config.h"
#include "node/executor.h"
#include "node/lifetime.h"
#include "node/slice_stats.h"
#include "rpc/control_backend.h"
#include "sched/chunked_vector.h"
#include "sched/torus.h"
#include "storage/committer.h"
#include "storage/store.h"

namespace braid::node {

class Daemon final : public rpc::ControlBackend {
 public:
  // Opens <data_dir>/db, takes a new incarnation and restores every stored
  // task (see above). An Error (unreadable or corrupt database, a database of
  // another node) means the node must not start; nothing was changed. The
  // clock must be the steady clock Asio's timers use.
  static sched::Result<std::unique_ptr<Daemon>> open(asio::io_context& io, const Clock& clock,
                                                     DaemonConfig config);
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Graceful stop: no new starts, every task's processes are ended (SIGTERM,
  // SIGKILL after kill_grace); `on_done` runs once none is left.
  void shutdown(std::function<void()> on_done);
  // Expires when the daemon is destroyed (for objects that may outlive it,
  // such as the control server of a call still under way).
  std::weak_ptr<const bool> lifetime_token() const { return lifetime_.token(); }

  // rpc::ControlBackend
  kj::Promise<kj::Own<rpc::SubmitOutcome>> submit(std::vector<sched::TaskSpec> specs) override;
  sched::Result<rpc::ListPage> list(const rpc::ListQuery& query) override;
  sched::Result<std::vector<rpc::TaskView>> show(const std::vector<std::string>& ids) override;
  kj::Promise<kj::Own<rpc::WaitOutcome>> wait(std::vector<std::string> ids,
                                              sched::Micros timeout_us) override;
  sched::Status cancel(const std::vector<std::string>& ids) override;
  sched::Result<rpc::LogChunk> read_log(const std::string& id, bool stderr_stream,
                                        std::uint64_t offset, std::uint32_t max_bytes) override;
  rpc::StatsView stats() override;
  sched::Status set_policy(sched::Policy policy) override;
  sched::Status set_quantum(sched::Micros quantum_us) override;
  sched::Result<int> priority(const std::string& id, rpc::PriorityOp op, int value) override;
  sched::Status scheduler(rpc::SchedulerOp op) override;
  sched::Result<std::uint64_t> cancel_where(std::optional<sched::TaskState> state,
                                            const std::string& name_glob) override;
  sched::Result<std::uint64_t> clear() override;
  sched::Status hold(const std::vector<std::string>& ids, bool release) override;

 private:
  // A `wait` call: answered once `remaining` of its keys have a durable end.
  struct Waiter {
    std::vector<sched::TaskKey> keys;  // as asked (the answer lists them in this order)
    std::size_t remaining = 0;         // keys whose end is not durable yet
    kj::Own<kj::PromiseFulfiller<kj::Own<rpc::WaitOutcome>>> fulfiller;
    std::unique_ptr<asio::steady_timer> timeout;
  };
  // A submission on its way: checked, encoded, stored, then admitted, each
  // a chunk of tasks per loop turn (daemon_submit.cc).
  struct Submission {
    std::uint64_t serial = 0;
    std::vector<sched::TaskSpec> specs;
    std::size_t checked = 0;           // specs checked (their dependencies pinned)
    std::size_t encoded = 0;           // records put into `batch`
    std::size_t admitted = 0;          // specs admitted to the torus (once stored)
    std::uint64_t first_sequence = 0;  // ids first_sequence.. in spec order, once checked
    bool stored = false;   // its durable write succeeded; it waits for admission in id order
    storage::Batch batch;  // the records, until committed
    std::vector<sched::TaskKey> pins;              // dependencies kept from purge meanwhile
    std::unordered_set<std::string> new_accounts;  // checked specs' accounts the torus lacks
    kj::Own<rpc::SubmitOutcome> outcome = kj::heap<rpc::SubmitOutcome>();
    kj::Own<kj::PromiseFulfiller<kj::Own<rpc::SubmitOutcome>>> fulfiller;
  };

  Daemon(asio::io_context& io, const Clock& clock, DaemonConfig config,
         std::unique_ptr<storage::Store> store, storage::NodeMeta meta);

  sched::Micros now_us() const;                         // torus time (see above)
  sched::Micros wall_us(sched::Micros torus_us) const;  // torus time for people; -1 -> 0
  void carry_out();  // executes actions_ and re-arms the tick timer

  // daemon_store.cc (daemon_submit.cc: submit and what follows its write)
  sched::Status recover();
  storage::TaskRecord record_of(sched::TaskKey key) const;
  void persist(const std::vector<sched::TaskKey>& keys);  // unsynced, in order
  bool is_flip(sched::TaskKey key) const;                 // running <-> stopped of a stored start
  void defer_flip(sched::TaskKey key);                    // persisted by flush_flips() soon
  void flush_flips();
  Submission* find_submission(std::uint64_t serial);
  void prepare_some(std::uint64_t serial);  // check, then encode, then commit
  void on_submission_stored(std::uint64_t serial, const sched::Status& status);
  void admit_some();  // the oldest stored submission, a chunk per turn
  void end_submission(std::uint64_t serial, std::string error);  // answers it, forgets it
  // The write of these tasks' terminal records finished (key, record_no).
  void on_ends_stored(const std::vector<std::pair<sched::TaskKey, std::uint64_t>>& ended,
                      const sched::Status& status);
  void drop_stored_queued(const std::vector<sched::TaskKey>& admitted);
  void track(sched::TaskKey key, std::uint64_t record_no);  // a new (or reused) key
  void note_started(sched::TaskKey key);
  void note_finished(sched::TaskKey key);
  void persist_interrupted(sched::TaskKey key);  // graceful shutdown ended its attempt
  void purge();
  // Drops a finished task: from the torus, and its record into `batch`.
  void forget_finished(sched::TaskKey key, storage::Batch& batch);
  // Live entries of admission_ in record order from the first after `after`.
  template <typename Visit>
  void for_each_admitted(std::uint64_t after, Visit&& visit) const;
  void remove_logs(const sched::Task& task);  // its files in the logs dir
  void arm_purge_timer();
  // A waiter or a pending submission refers to it, or its end is not durable yet.
  bool in_use(sched::TaskKey key) const;
  // Posts `done` to the loop from the committer's thread; dropped once the daemon is gone.
  storage::Committer::Done on_loop(std::function<void(const sched::Status&)> done);
  void on_process_exit(sched::TaskKey key, const sched::ExitStatus& status);
  void arm_timer();
  // daemon_memory.cc: every kMemorySamplePeriod while attempts are started,
  // the started tasks' memory and the machine's MemAvailable go to the torus.
  void arm_memory_sampler();
  void sample_memory();
  // daemon_cpu.cc: every kCpuSamplePeriod while tasks run (I/O-aware slots,
  // cgroup executor), the running tasks' measured CPU goes to the torus.
  bool samples_cpu() const;
  void arm_cpu_sampler();
  void sample_cpu();
  // From the tick: samples now if the sampler's timer is armed and at least
  // kCpuSampleEarlyUs have passed since the last sample, so that while
  // slices end every quantum the sampler costs no wake-up of its own.
  void sample_cpu_at_tick();
  sched::Result<std::vector<sched::TaskKey>> keys_of(const std::vector<std::string>& ids) const;
  rpc::TaskView view(sched::TaskKey key) const;
  // daemon_wait.cc: waiters, and what clients are told of task states.
  kj::Own<rpc::WaitOutcome> outcome_of(const std::vector<sched::TaskKey>& keys) const;
  // The state clients see: the torus's, except that an end shows only once
  // it is durable (until then the state stored before it).
  sched::TaskState shown_state(sched::TaskKey key) const {
    return static_cast<sched::TaskState>(shown_state_[key]);
  }
  void note_state(sched::TaskKey key);  // a kPersist: the torus state changed
  void on_end_durable(sched::TaskKey key);
  void fail_watchers(sched::TaskKey key, const std::string& error);
  void finish_waiter(std::uint64_t serial, bool timed_out, const std::string& error);
  void forget_waiter(std::uint64_t serial);             // its client went away
  void unwatch(std::uint64_t serial, const Waiter& w);  // drops its watchers_, waited_on_ entries
  void unreference(sched::TaskKey key);                 // one waited_on_ less
  void check_shutdown_done();

  asio::io_context& io_;
  const Clock& clock_;
  DaemonConfig config_;
  const sched::Micros start_monotonic_us_;
  const sched::Micros start_wall_us_;
  std::unique_ptr<storage::Store> store_;
  storage::NodeMeta meta_;
  std::unique_ptr<storage::Committer> committer_;  // after store_: drains into it when destroyed
  sched::Torus torus_;
  Executor executor_;
  asio::steady_timer tick_timer_;
  asio::steady_timer memory_timer_;
  bool memory_timer_armed_ = false;
  asio::steady_timer cpu_timer_;
  bool cpu_timer_armed_ = false;
  sched::Micros cpu_sampled_at_us_ = 0;  // clock_.monotonic_us() of the last sample
  sched::Micros timer_due_us_ = sched::kNever;
  sched::Actions actions_;

  // By key, sized and reset by track() for every key the torus hands out
  // (keys are reused after a purge). Chunked, like the torus's task table:
  // growing never copies what is there (a vector doubling held the loop).
  sched::ChunkedVector<sched::Micros> cpu_done_us_;       // measured CPU of ended attempts
  sched::ChunkedVector<sched::Micros> slice_began_us_;    // while on a slot
  sched::ChunkedVector<std::uint64_t> record_no_;         // where the task is stored
  sched::ChunkedVector<storage::ProcessMark> processes_;  // the started attempt's processes
  // (record_no, key) in admission order, for paged listing; an entry whose
  // key now holds another record (or none) is stale, and skipped.
  std::deque<std::pair<std::uint64_t, sched::TaskKey>> admission_;
  // Tasks that use each stored environment (by id); at 0 it is deleted.
  std::unordered_map<std::uint64_t, std::size_t> env_users_;
  std::size_t admission_stale_ = 0;
  sched::ChunkedVector<std::uint8_t> stored_started_;  // its last stored state was running/stopped
  std::vector<sched::TaskKey> deferred_flips_;         // waiting for flush_flips()
  asio::steady_timer flip_timer_;
  bool flip_timer_armed_ = false;
  std::deque<sched::TaskKey> finished_;  // terminal tasks, oldest first (purge order)
  std::list<Submission> submissions_;    // not admitted yet
  std::deque<std::uint64_t> reserved_;   // serials of submissions with ids, in id order
  bool admit_posted_ = false;            // an admit_some() is queued on the loop
  std::uint64_t next_submission_serial_ = 1;
  std::size_t tasks_being_stored_ = 0;              // in submissions_
  std::unordered_map<sched::TaskKey, int> pinned_;  // dependencies of pending submissions
  asio::steady_timer purge_timer_;
  SliceStats slices_;
  sched::ChunkedVector<std::uint8_t> shown_state_;     // by key, see shown_state()
  std::unordered_map<std::uint64_t, Waiter> waiters_;  // by serial
  // Waiters (serials) of each key whose end is not durable yet; a serial is
  // listed once per time its waiter names the key.
  std::unordered_map<sched::TaskKey, std::vector<std::uint64_t>> watchers_;
  std::unordered_map<sched::TaskKey, int> waited_on_;  // waiters naming each key
  // Tasks whose end could not be written (the store refuses writes from
  // then on): why, for anyone who waits for them.
  std::unordered_map<sched::TaskKey, std::string> unstored_ends_;
  std::uint64_t next_waiter_serial_ = 1;
  bool shutting_down_ = false;
  std::function<void()> on_shutdown_done_;
  // Every handler and posted callback holds a guard of it (declared last:
  // destroyed first, so no handler runs on a half-destroyed daemon).
  Lifetime lifetime_;
};

}  // namespace braid::node
