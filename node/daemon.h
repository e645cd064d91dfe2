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
//    then are requeued (reason "node restarted", the attempt counted) if
//    requeue_on_restart allows and retries are left, else failed;
//  - at a graceful shutdown, tasks whose processes the shutdown ended are
//    requeued the same way (reason "node shut down"), without using a retry;
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
#include <vector>

#include "node/clock.h"
#include "node/daemon_config.h"
#include "node/executor.h"
#include "node/slice_stats.h"
#include "rpc/control_backend.h"
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

  // rpc::ControlBackend
  kj::Promise<kj::Own<rpc::SubmitOutcome>> submit(std::vector<sched::TaskSpec> specs) override;
  sched::Result<std::vector<rpc::TaskView>> list(bool all,
                                                 std::optional<sched::TaskState> state) override;
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

 private:
  struct Waiter {
    std::uint64_t serial = 0;  // identifies it to its timeout handler, which may outlive it
    std::vector<sched::TaskKey> keys;
    kj::Own<kj::PromiseFulfiller<kj::Own<rpc::WaitOutcome>>> fulfiller;
    std::unique_ptr<asio::steady_timer> timeout;
  };
  // A submission whose durable write is under way.
  struct Submission {
    std::uint64_t serial = 0;
    std::vector<sched::TaskSpec> specs;
    std::uint64_t first_sequence = 0;  // ids first_sequence.. in spec order
    std::vector<sched::TaskKey> pins;  // dependencies kept from purge meanwhile
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
  void on_submission_stored(std::uint64_t serial, const sched::Status& status);
  void drop_stored_queued(const std::vector<sched::TaskKey>& admitted);
  void track(sched::TaskKey key, std::uint64_t record_no);  // a new (or reused) key
  void note_started(sched::TaskKey key);
  void note_finished(sched::TaskKey key);
  void persist_interrupted(sched::TaskKey key);  // graceful shutdown ended its attempt
  void purge();
  void remove_logs(const sched::Task& task);  // its files in the logs dir
  void arm_purge_timer();
  bool held(sched::TaskKey key) const;  // a waiter or a pending submission refers to it
  // Posts `done` to the loop from the committer's thread; dropped once the daemon is gone.
  storage::Committer::Done on_loop(std::function<void(const sched::Status&)> done);
  void on_process_exit(sched::TaskKey key, const sched::ExitStatus& status);
  void arm_timer();
  sched::Result<std::vector<sched::TaskKey>> keys_of(const std::vector<std::string>& ids) const;
  rpc::TaskView view(sched::TaskKey key) const;
  kj::Own<rpc::WaitOutcome> outcome_of(const std::vector<sched::TaskKey>& keys) const;
  void settle_waiters();
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
  sched::Micros timer_due_us_ = sched::kNever;
  sched::Actions actions_;

  // By key, sized and reset by track() for every key the torus hands out
  // (keys are reused after a purge).
  std::vector<sched::Micros> cpu_done_us_;       // measured CPU of ended attempts
  std::vector<sched::Micros> slice_began_us_;    // while on a slot
  std::vector<std::uint64_t> record_no_;         // where the task is stored
  std::vector<storage::ProcessMark> processes_;  // the started attempt's processes
  std::vector<std::uint8_t> stored_started_;     // its last stored state was running/stopped
  std::vector<sched::TaskKey> deferred_flips_;   // waiting for flush_flips()
  asio::steady_timer flip_timer_;
  bool flip_timer_armed_ = false;
  std::deque<sched::TaskKey> finished_;  // terminal tasks, oldest first (purge order)
  std::list<Submission> submissions_;    // waiting for their durable write
  std::uint64_t next_submission_serial_ = 1;
  std::size_t tasks_being_stored_ = 0;              // in submissions_
  std::unordered_map<sched::TaskKey, int> pinned_;  // dependencies of pending submissions
  asio::steady_timer purge_timer_;
  SliceStats slices_;
  std::list<Waiter> waiters_;
  std::uint64_t next_waiter_serial_ = 1;
  bool shutting_down_ = false;
  std::function<void()> on_shutdown_done_;
  // Asio handlers that already completed cannot be cancelled: they check this
  // token and do nothing once the daemon is gone.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
};

}  // namespace braid::node
