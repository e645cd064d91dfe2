// Migration: braidd's part of issue 11 (docs/migration.md, "braidd's part").
// Moves queued tasks between this node and its peers. Owns the pure machines
// (sched::Balancer, sched::HandoffDonor, sched::HandoffReceiver) and carries
// out their actions on the torus (through Tasks), the store (Durability) and
// the peers (Peers).
//
// Order and durability. Each list of actions a machine returns is carried out
// in order: its persists (journal entries, fences, the epoch floor) are one
// write, synced, and what follows them (messages, torus changes) runs once
// the write is durable. Lists run in the order they were produced (a FIFO),
// so a later one never overtakes an earlier one waiting for its write. An
// adopted task is put in the torus held (Torus::mark_adoption) and its record
// is made durable before `accepted` is sent.
//
// Outcomes go home. A task of another origin that ends here is put in the
// outbox with its terminal record (Durability); its OutcomeReport is sent to
// the origin (the id's node part) every outcome_retry_us while the origin is
// alive, and at once when it comes alive, until the origin acknowledges it;
// then the outbox entry is deleted. The origin applies an outcome to its
// moved task (Torus::apply_outcome: its dependents and waiters see the end),
// and acknowledges once that is stored; an outcome for a task it no longer
// holds as moved is acknowledged and counted (outcomes_unexpected).
//
// Migration is off unless braidd is started with --migrate.
//
// Single-threaded: everything on the loop's thread.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/clock.h"
#include "node/durability.h"
#include "node/lifetime.h"
#include "node/peers.h"
#include "node/refusal_reason.h"
#include "node/tasks.h"
#include "rpc/control_backend.h"
#include "sched/balance.h"
#include "sched/handoff.h"
#include "sched/migration_message.h"

namespace braid::node {

struct MigrationOptions {
  sched::BalanceConfig balance;                                   // balance.self: this node's name
  sched::Micros round_interval_us = 25 * sched::kMicrosPerMilli;  // at most one round per
  // A peer in the journal that gossip does not report alive this long after
  // the start is treated as dead (its migrating tasks are taken back).
  sched::Micros restart_grace_us = 10 * sched::kMicrosPerSecond;
  sched::Micros outcome_retry_us = 2 * sched::kMicrosPerSecond;
  // While this node has more queued than free slots, its load is published
  // again this often even if unchanged (peers skip projections older than
  // balance.stale_after_us, and an idle peer pulls only from fresh ones),
  // and a balancing round runs; as often while tasks wait for a node with
  // their labels.
  sched::Micros backlog_refresh_us = 1 * sched::kMicrosPerSecond;
  std::uint64_t seed = 1;
  std::function<gossip::Load()> load;  // this node's load as gossiped (braidd's load_of)
  // false (braidd --no-migrate): the node moves nothing and refuses offers,
  // but still resolves what its store holds (handoffs, held adoptions, the
  // outbox) and applies outcomes of its tasks that moved before.
  bool balancing = true;
};

struct MigrationStats {
  std::uint64_t rounds = 0;
  std::uint64_t offers_made = 0;
  std::uint64_t adopted = 0;
  std::uint64_t refused_by_us = 0;
  std::uint64_t store_failures = 0;       // a write failed: the node stops migrating
  std::uint64_t outcomes_sent = 0;        // reports sent (retries included)
  std::uint64_t outcomes_acked = 0;       // reports the origin acknowledged
  std::uint64_t outcomes_applied = 0;     // reports applied here, as the origin
  std::uint64_t outcomes_unexpected = 0;  // reports for a task not held here as moved
  std::uint64_t load_refreshes = 0;       // unchanged loads published again (backlog)
  std::uint64_t from_non_members = 0;     // messages from names not live members (ignored)
  std::uint64_t pulls_ignored = 0;        // work requests within pull_answer_interval_us
};

class Migration final {
 public:
  Migration(asio::io_context& io, const Clock& clock, Tasks& tasks, Durability& durability,
            Peers& peers, MigrationOptions options);
  Migration(const Migration&) = delete;
  Migration& operator=(const Migration&) = delete;

  // After Durability::recover(): restores the machines from the store and
  // starts listening. An Error means the stored journal is inconsistent.
  sched::Status start();
  // The local load changed (Tasks' load listener): a round soon.
  void on_load_changed();
  // Drain (node/drain.h): refuses offers and offers every queued task that
  // may move, whatever its own free slots. Answers the drain's state.
  rpc::DrainView set_draining(bool draining);

  const MigrationStats& stats() const { return stats_; }
  std::size_t outcomes_owed() const { return outbox_.size(); }
  rpc::MigrationCounters counters() const;  // for `braid stats`
  // Refused offers by side and reason (metrics): every refusal answer this
  // node received (by_peers) or sent (by_us).
  const RefusalCounts& refusals() const { return refusals_; }
  const sched::HandoffDonor& donor() const { return donor_; }
  const sched::HandoffReceiver& receiver() const { return receiver_; }

 private:
  // One list of effects, run once its persists are durable.
  struct Step {
    bool stored = false;
    std::function<void()> effects;
  };

  void arm_round();
  void round();
  void offer(const sched::Offer& offer);
  void on_message(sched::MigrationMessage message);
  void on_offer(const std::string& from, const sched::HandoffOffer& offer);
  void on_member(const gossip::Event& event);
  void arm_tick();
  void tick();
  void on_outcome(const std::string& from, const sched::OutcomeReport& report);
  void owe(const storage::OutcomeReport& report);  // stored in the outbox: send until acked
  void send_outcomes(const std::string& origin);   // empty: every origin
  void arm_outcome_retry();
  void arm_backlog();

  // Carries out a donor's / receiver's actions (see the file comment).
  void run(sched::DonorActions actions);
  void run(sched::ReceiverActions actions, const sched::MigratingTask* offered);
  // Persists `batch` (synced) then runs `effects`, after every earlier step.
  void then(storage::Batch batch, std::function<void()> effects);
  void drain_steps();

  std::optional<sched::TaskKey> key_of(const std::string& task_id) const;
  std::vector<sched::MovableTask> movable_tasks() const;  // for push and answer_pull
  std::optional<std::string> cannot_run(const sched::MigratingTask& task) const;
  // Puts the task in the torus held; what must be durable with the answer
  // goes in `batch` (a task coming back: its stale moved entries erased).
  void adopt(const sched::MigratingTask& task, const std::string& donor, sched::Epoch epoch,
             storage::Batch& batch);
  std::optional<sched::MigratingTask> migrating_task(const std::string& task_id) const;
  void send(const std::string& to, sched::MigrationMessage message);
  sched::Micros now_us() const { return clock_.monotonic_us(); }

  asio::io_context& io_;
  const Clock& clock_;
  Tasks& tasks_;
  Durability& durability_;
  Peers& peers_;
  MigrationOptions options_;
  sched::Balancer balancer_;
  sched::HandoffDonor donor_;
  sched::HandoffReceiver receiver_;
  MigrationStats stats_;
  RefusalCounts refusals_;
  std::deque<std::shared_ptr<Step>> steps_;
  asio::steady_timer round_timer_;
  bool round_armed_ = false;
  sched::Micros last_round_us_ = -1;
  asio::steady_timer tick_timer_;
  sched::Micros tick_due_us_ = -1;
  asio::steady_timer grace_timer_;
  std::vector<std::string> journal_peers_;  // to declare dead if not seen after the grace
  std::map<std::string, storage::OutcomeReport> outbox_;  // by task id, until acked
  asio::steady_timer outcome_timer_;
  bool outcome_timer_armed_ = false;
  asio::steady_timer backlog_timer_;
  bool stopped_ = false;  // a store failure: no more migration
  bool draining_ = false;
  std::map<std::string, sched::Micros> pull_answered_us_;  // by live member: WorkRequest pacing
  Lifetime lifetime_;                                      // last: destroyed first
};

}  // namespace braid::node
