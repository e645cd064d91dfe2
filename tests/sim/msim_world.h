// msim::World: the migration simulator's runner (issue 11 §6). Many
// msim::Node instances (tests/sim/msim_node.h) on one virtual clock, wired
// through the gossip simulator's network fault model (tests/sim/network.h:
// loss, duplication, delay and reordering, one-way blocks and partitions)
// and its event queue. One seed drives the whole run: one std::mt19937_64
// makes every network decision and draws each node's seed, so a run replays.
//
// Loads and liveness come from a "projection with delay" model, not from
// gossip::Node (composing the two was more than this step could afford):
//  - load: each node's load, versioned on every change, is seen by every
//    peer projection_delay_us later, in snapshots refreshed every
//    projection_period_us (the age the balancer discounts is real);
//  - liveness: a crash is declared dead to every up node detect_dead_us
//    later (unless the node is back by then, as a SWIM refutation); a
//    declared node is declared alive detect_alive_us after it restarts;
//    false_death() declares a live node dead for a while (a wrong verdict);
//    a restarted node hears on_peer_alive of every live peer detect_alive_us
//    after its restart (its gossip rejoined and saw them first).
// Node names are "n<index>".
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/sim/event_queue.h"
#include "tests/sim/msim_ledger.h"
#include "tests/sim/msim_node.h"
#include "tests/sim/network.h"

namespace braid::msim {

using sim::NodeIndex;

struct WorldOptions {
  std::size_t nodes = 5;
  NodeConfig node;
  sim::NetworkFaults faults;
  std::uint64_t seed = 1;
  Micros projection_delay_us = 300 * kMicrosPerMilli;
  Micros projection_period_us = 100 * kMicrosPerMilli;
  Micros detect_dead_us = 2 * kMicrosPerSecond;
  Micros detect_alive_us = 500 * kMicrosPerMilli;
  // 0: each node's balancer sees every live peer's projection (what a
  // braidd's membership table holds). > 0 (an approximation, so that 10 000
  // nodes fit in time: each call of peers() costs this much instead of n):
  // the projections are split by backlog into light (< target_backlog),
  // middle and heavy (>= target_backlog + 2, the only peers a node with a
  // backlog >= 0 may pull from) and a node sees at most view_sample of each,
  // a window at a random offset into each group (shuffled at each refresh).
  std::size_t view_sample = 0;
};

struct WorldCounters {
  std::uint64_t messages_sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t dropped_down = 0;  // to a crashed node
  std::uint64_t crashes = 0;
  std::uint64_t false_deaths = 0;  // live nodes declared dead
};

class World final : public PeerView {
 public:
  explicit World(WorldOptions options);
  ~World() override;

  std::size_t size() const { return nodes_.size(); }
  Node& node(NodeIndex i) { return *nodes_[i]; }
  const Node& node(NodeIndex i) const { return *nodes_[i]; }
  static std::string name_of(NodeIndex i) { return "n" + std::to_string(i); }
  // The node named `name`, if any.
  std::optional<NodeIndex> index_of(const std::string& name) const {
    const auto it = by_name_.find(name);
    return it == by_name_.end() ? std::nullopt : std::optional<NodeIndex>(it->second);
  }

  // Starts every node, empty.
  void start_all();
  std::string submit(NodeIndex i, Micros work_us);
  void crash(NodeIndex i);
  void restart(NodeIndex i);
  void false_death(NodeIndex i, Micros duration_us);
  bool declared_dead(NodeIndex i) const { return declared_dead_.contains(i); }

  void at(Micros at_us, std::function<void()> action);
  void run_until(Micros until_us);
  bool run_until(const std::function<bool()>& done, Micros deadline_us, Micros check_every_us);
  Micros now() const { return now_us_; }

  // Called after each delivered message, with its receiver (crash runs
  // crash nodes right at handoff moments from here).
  void set_after_deliver(std::function<void(NodeIndex, const sched::MigrationMessage&)> hook) {
    after_deliver_ = std::move(hook);
  }
  sim::Network& network() { return network_; }
  std::mt19937_64& rng() { return rng_; }
  Ledger& ledger() { return ledger_; }
  const Ledger& ledger() const { return ledger_; }
  const WorldCounters& counters() const { return counters_; }
  // Idle gaps: from when a node had nothing running and nothing queued
  // until it next had work (gaps still open are not listed).
  const std::vector<Micros>& idle_gaps() const { return idle_gaps_; }
  // Forgets the gaps so far; idle nodes' gaps start now.
  void restart_idle_gaps();

  const std::vector<sched::PeerLoad>& peers(const std::string& observer, Micros now_us) override;

 private:
  struct Published {
    Micros at_us;
    sched::PeerLoad load;
  };
  struct InFlight {
    NodeIndex to = 0;
    sched::MigrationMessage message;
  };

  void flush(NodeIndex i);  // sends its outgoing, publishes its load, reschedules it
  void deliver(std::uint32_t slot);
  void declare_dead(NodeIndex i);
  void declare_alive(NodeIndex i);
  std::vector<std::string> dead_names(NodeIndex except) const;

  WorldOptions options_;
  std::mt19937_64 rng_;
  sim::Network network_;
  sim::EventQueue queue_;
  Micros now_us_ = 0;
  Ledger ledger_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unordered_map<std::string, NodeIndex> by_name_;
  std::vector<Micros> tick_at_;
  std::vector<std::uint64_t> crash_gen_;
  std::set<NodeIndex> declared_dead_;
  std::vector<std::deque<Published>> published_;
  std::vector<std::uint64_t> versions_;
  std::vector<sched::PeerLoad> snapshot_;
  std::vector<Micros> snapshot_measured_us_;                     // by snapshot_ entry
  std::unordered_map<std::string, std::size_t> snapshot_index_;  // name -> snapshot_ entry
  std::vector<std::vector<std::size_t>> groups_;  // view_sample: snapshot_ entries by backlog
  std::vector<sched::PeerLoad> view_;             // view_sample: what peers() returned last
  Micros snapshot_built_us_ = -1;                 // when snapshot_ was read from published_
  std::vector<Micros> idle_since_;
  std::vector<Micros> idle_gaps_;
  std::vector<InFlight> in_flight_;
  std::vector<std::uint32_t> free_in_flight_;
  std::vector<std::function<void()>> actions_;
  std::vector<std::uint32_t> free_actions_;
  WorldCounters counters_;
  std::function<void(NodeIndex, const sched::MigrationMessage&)> after_deliver_;
};

}  // namespace braid::msim
