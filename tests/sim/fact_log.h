// sim::FactLog: when each node learned each watched fact, and the failure
// detector's lies. It observes a sim::Cluster's Outbox events.
//
// Facts (watch()): a member is alive (kJoined or kState alive/suspect with
// at least the given incarnation), dead (state dead), left (state left), or
// its load reached a version (kLoad, checked against the observer's view).
// For each observer it keeps the first time it learned; a delay is measured
// from the fact's `since`. Observers that started after an alive fact's
// `since` are left out of its delays (they learn of it by joining).
//
// False positives: a node that is up (not crashed, not left) being declared
// dead by anyone, counted per observer event and per distinct (subject,
// incarnation). Deaths and suspicions of a node that was stalled within
// stall_grace_us are counted apart: a stalled node may be suspected or
// declared dead while stalled, but must refute it.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/sim/cluster.h"
#include "tests/sim/summary.h"

namespace braid::sim {

enum class FactKind : std::uint8_t { kAlive, kDead, kLeft, kLoad };

struct Fact {
  FactKind kind = FactKind::kAlive;
  NodeIndex subject = 0;
  Micros since_us = 0;
  std::uint64_t at_least = 0;      // kAlive: incarnation; kLoad: load version
  std::vector<Micros> learned_us;  // per observer; -1: not yet
};

struct FalsePositives {
  std::uint64_t dead_events = 0;    // observers learning a live node dead
  std::uint64_t dead_subjects = 0;  // distinct (subject, incarnation) declared dead while up
  std::uint64_t suspect_events = 0;
  std::uint64_t stalled_dead_events = 0;  // of a node that was stalled (allowed, must refute)
  std::uint64_t stalled_suspect_events = 0;
  std::string first;  // "n3 declared dead by n7 at 12.345 s", empty if none
};

class FactLog : public ClusterObserver {
 public:
  explicit FactLog(const Cluster& cluster);

  void set_stall_grace(Micros grace_us) { stall_grace_us_ = grace_us; }
  // Starts watching a fact; its id.
  std::size_t watch(FactKind kind, NodeIndex subject, Micros since_us, std::uint64_t at_least = 0);
  const Fact& fact(std::size_t id) const { return facts_[id]; }

  // Every up node other than the subject has learned it.
  bool known_everywhere(std::size_t id) const;
  // The delays of the up observers (not the subject) and how many have not learned.
  Summary delays(std::size_t id) const;
  // The delays of several facts pooled (e.g. every node's join).
  Summary delays(const std::vector<std::size_t>& ids) const;
  // The time the last up observer learned, minus since; -1 if one has not.
  Micros everywhere_after_us(std::size_t id) const;

  const FalsePositives& false_positives() const { return false_positives_; }

  void on_event(NodeIndex observer, const gossip::Event& event, Micros now_us) override;

 private:
  void learn(NodeIndex observer, NodeIndex subject, const gossip::Event& event, Micros now_us);
  void check_false_positive(NodeIndex observer, NodeIndex subject, const gossip::Event& event,
                            Micros now_us);
  void collect(std::size_t id, std::vector<Micros>& values, std::size_t& missing) const;

  const Cluster& cluster_;
  Micros stall_grace_us_;
  std::vector<Fact> facts_;
  std::vector<std::vector<std::size_t>> by_subject_;
  std::set<std::pair<NodeIndex, gossip::Incarnation>> dead_subjects_;
  FalsePositives false_positives_;
};

}  // namespace braid::sim
