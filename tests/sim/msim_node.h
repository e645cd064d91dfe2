// msim::Node: one simulated braid node for the migration simulator (issue 11
// §6). It runs the real pure machines unchanged: a sched::Torus over virtual
// processes (a task is just a duration: argv {"work", "<microseconds>"}), a
// sched::Balancer, a sched::HandoffDonor and a sched::HandoffReceiver, and
// glues them the way braidd's node/ glue must (docs/migration.md):
//  - every persist action of every machine goes to its Store (msim_store.h),
//    at once: the actions of one input are atomic (a crash falls between two
//    inputs, never inside one);
//  - crash() loses everything but the Store; restart() rebuilds the torus
//    (started tasks requeued, "node restarted"), the donor and the receiver
//    from it, requeues tasks left migrating without a journal entry, and
//    resends its outcome outbox;
//  - an offer of a task this node forwarded before (kMoved here) is refused
//    ("forwarded it before"): re-adopting would need to replace a kMoved
//    record, which the torus has no operation for;
//  - a task that ends here and whose origin is another node is reported to
//    the origin from the persisted outbox, retried with backoff until acked;
//    the origin applies it (Torus::apply_outcome) and acks duplicates too.
// It does not know the network: messages go to outgoing(), the world carries
// them; peers' loads come from a PeerView; liveness from on_peer_dead/alive.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "sched/balance.h"
#include "sched/handoff.h"
#include "sched/migration_message.h"
#include "sched/torus.h"
#include "tests/sim/msim_ledger.h"
#include "tests/sim/msim_store.h"

namespace braid::msim {

using sched::kMicrosPerMilli;
using sched::kMicrosPerSecond;

struct NodeConfig {
  int slots = 2;
  sched::BalanceConfig balance;
  Micros balance_interval_us = 100 * kMicrosPerMilli;   // a balancing round
  Micros outcome_retry_min_us = 200 * kMicrosPerMilli;  // doubling ...
  Micros outcome_retry_max_us = 5 * kMicrosPerSecond;   // ... up to this
  int max_node_requeues = 1'000'000;                    // crash runs: never fail a task
  // docs/migration.md "Adopt only what you can run": refuse an offer
  // ("busy") when this node's backlog, held adoptions counted, is already >=
  // this many tasks (0: its queue fills its free slots). -1 = never (the
  // first design, which let many donors flood one idle node).
  int refuse_at_backlog = 0;
  // A slot freed here (a process exited) brings the next round forward, to
  // at most balance_interval_us after the last one, as braidd's rounds run
  // "on a load change, at most every 100 ms". false: a round every interval.
  bool round_on_exit = true;
};

// The peers' load projections as this node sees them now. The observer's
// own entry, if listed, must be stale or not accepting: the balancer does not
// know its node's name, and an old figure of itself would look like a peer.
class PeerView {
 public:
  virtual ~PeerView() = default;
  virtual const std::vector<sched::PeerLoad>& peers(const std::string& observer, Micros now_us) = 0;
};

using Body = decltype(sched::MigrationMessage::body);

struct Outgoing {
  std::string to;
  sched::MigrationMessage message;
};

struct NodeCounters {
  std::uint64_t offers_begun = 0;
  std::uint64_t moved_out = 0;  // handoffs this node completed as donor
  std::uint64_t requeued = 0;   // handoffs ended with the task back here
  std::uint64_t released = 0;   // adoptions released to run here
  std::uint64_t pulls = 0;      // work requests sent
  std::uint64_t outcomes_applied = 0;
  std::uint64_t refused_busy = 0;  // offers this node refused "busy"
};

class Node {
 public:
  Node(std::string name, NodeConfig config, std::uint64_t seed, Ledger& ledger, PeerView& view);

  const std::string& name() const { return name_; }
  bool up() const { return up_; }
  // A fresh node with an empty store.
  void start(Micros now_us);
  // Everything but the store is lost; processes die (the ledger hears).
  void crash();
  // Rebuilds from the store. `dead_peers`: peers the failure detector says are dead now.
  void restart(Micros now_us, const std::vector<std::string>& dead_peers);

  // Submits a task of work_us here; its id.
  std::string submit(Micros work_us, Micros now_us);
  void receive(const sched::MigrationMessage& message, Micros now_us);
  void on_peer_dead(const std::string& peer, Micros now_us);
  void on_peer_alive(const std::string& peer, Micros now_us);
  // Runs what is due: process exits, torus, handoff and outbox timers, balancing.
  void wake(Micros now_us);
  Micros next_wake_us() const;

  // The load this node gossips (gossip::Load's fields).
  sched::PeerLoad load() const;
  std::vector<Outgoing>& outgoing() { return outgoing_; }

  const Store& store() const { return store_; }
  const sched::Torus& torus() const { return *torus_; }
  const sched::HandoffDonor& donor() const { return *donor_; }
  const sched::HandoffReceiver& receiver() const { return *receiver_; }
  const NodeCounters& counters() const { return counters_; }
  // Whether nothing is left to do here: no handoff or outcome unresolved.
  bool settled() const;

 private:
  struct Proc {
    std::string id;
    Micros work_left_us = 0;
    Micros since_us = 0;  // running since (when not stopped)
    bool stopped = false;
    bool killed = false;
  };
  struct Retry {
    Micros due_us = 0;
    Micros backoff_us = 0;
  };

  void build(Micros now_us);  // fresh machines (config, seed)
  void apply(const sched::Actions& actions, Micros now_us);
  void apply(const sched::DonorActions& actions, Micros now_us);
  void apply(const sched::ReceiverActions& actions, Micros now_us,
             const sched::MigratingTask* offered = nullptr);
  void persist(sched::TaskKey key, Micros now_us);
  void release(const std::string& id, Micros now_us);
  void send(const std::string& to, Body body);
  void send_outcome(const std::string& id, Micros now_us);
  void on_outcome(const std::string& from, const sched::OutcomeReport& report, Micros now_us);
  void exits(Micros now_us);
  // Whether the round offered or pulled (only such rounds count toward the
  // least spacing of rounds brought forward: braidd runs none without a change).
  bool balance(Micros now_us);
  void begin(const sched::Offer& offer, Micros now_us);
  sched::LocalLoad local_load() const;
  std::vector<sched::MovableTask> movable() const;
  sched::TaskKey key_of(const std::string& id) const;

  std::string name_;
  NodeConfig config_;
  std::mt19937_64 seeds_;  // draws the machines' seeds at each (re)start
  Ledger& ledger_;
  PeerView& view_;
  bool up_ = false;
  Store store_;
  std::optional<sched::Torus> torus_;
  std::optional<sched::Balancer> balancer_;
  std::optional<sched::HandoffDonor> donor_;
  std::optional<sched::HandoffReceiver> receiver_;
  std::map<sched::TaskKey, Proc> procs_;
  std::map<std::string, Retry> outbox_retry_;
  Micros next_balance_us_ = 0;
  Micros last_balance_us_ = -1;  // the last round that acted; -1: none yet
  std::vector<Outgoing> outgoing_;
  NodeCounters counters_;
};

}  // namespace braid::msim
