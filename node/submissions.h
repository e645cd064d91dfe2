// Submissions: the pipeline from a `submit` call to tasks in the torus.
// Each submission is checked (its dependencies pinned, so no purge drops
// them meanwhile), given ids, encoded, written durably in one synced batch
// with the node meta (Durability::store_submission; group commit), then
// admitted to the torus and answered. A failed check or write refuses the
// whole submission and changes nothing.
//
// A submission may hold 100000 tasks. Each step (check, encode, admit) does
// at most kTasksPerTurn of them (or kTurnBudgetUs of work) per loop turn and
// posts the rest, so other clients' calls, timers and process exits are
// served in between. Admission follows id order (the order submissions
// reserved their ids), not the order their writes finished.
//
// Runs on the loop.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "node/clock.h"
#include "node/daemon_config.h"
#include "node/durability.h"
#include "node/lifetime.h"
#include "node/tasks.h"
#include "node/waiters.h"
#include "rpc/control_backend.h"

namespace braid::node {

class Submissions final {
 public:
  Submissions(asio::io_context& io, const Clock& clock, const DaemonConfig& config, Tasks& tasks,
              Durability& durability, Waiters& waiters);
  // `on_idle` runs whenever the last pending submission was answered.
  void set_on_idle(std::function<void()> on_idle) { on_idle_ = std::move(on_idle); }
  // While draining (braid drain), every submission is refused.
  void set_draining(bool draining) { draining_ = draining; }
  bool draining() const { return draining_; }
  Submissions(const Submissions&) = delete;
  Submissions& operator=(const Submissions&) = delete;

  kj::Promise<kj::Own<rpc::SubmitOutcome>> submit(std::vector<sched::TaskSpec> specs);
  // Whether a pending submission depends on the task (it must not be purged).
  bool pinned(sched::TaskKey key) const { return pinned_.count(key) != 0; }
  bool empty() const { return submissions_.empty(); }
  std::uint64_t admitted_total() const { return admitted_total_; }  // tasks admitted (metrics)

 private:
  // A submission on its way: checked, encoded, stored, then admitted, each
  // a chunk of tasks per loop turn.
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

  Submission* find_submission(std::uint64_t serial);
  void prepare_some(std::uint64_t serial);  // check, then encode, then commit
  void on_submission_stored(std::uint64_t serial, const sched::Status& status);
  void admit_some();  // the oldest stored submission, a chunk per turn
  void end_submission(std::uint64_t serial, std::string error);  // answers it, forgets it
  void drop_stored_queued(const std::vector<sched::TaskKey>& admitted);

  asio::io_context& io_;
  const Clock& clock_;
  const DaemonConfig& config_;
  Tasks& tasks_;
  Durability& durability_;
  Waiters& waiters_;
  std::function<void()> on_idle_;
  std::list<Submission> submissions_;   // not admitted yet
  std::deque<std::uint64_t> reserved_;  // serials of submissions with ids, in id order
  bool draining_ = false;
  bool admit_posted_ = false;  // an admit_some() is queued on the loop
  std::uint64_t next_submission_serial_ = 1;
  std::size_t tasks_being_stored_ = 0;              // in submissions_
  std::unordered_map<sched::TaskKey, int> pinned_;  // dependencies of pending submissions
  std::uint64_t admitted_total_ = 0;
  Lifetime lifetime_;  // last: destroyed first
};

}  // namespace braid::node
