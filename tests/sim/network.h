// The simulated network's fault model: for each message sent from one node
// to another it decides whether it arrives and after how long. Faults:
//  - loss: each copy is dropped with drop_probability;
//  - delay: delay_base_us plus a uniform jitter in [0, delay_jitter_us], so
//    a later message can overtake an earlier one (reordering);
//  - duplication: with duplicate_probability a second copy travels with its
//    own delay (and its own chance of loss);
//  - partitions: blocked directed pairs, so reachability can be one-way.
// Every random draw comes from the generator it is given (the run's one
// seeded generator), so decisions replay exactly.
#pragma once

#include <cstdint>
#include <random>
#include <unordered_set>
#include <vector>

#include "tests/sim/event_queue.h"

namespace braid::sim {

struct NetworkFaults {
  double drop_probability = 0.0;
  double duplicate_probability = 0.0;
  Micros delay_base_us = 100;
  Micros delay_jitter_us = 400;
};

struct NetworkCounters {
  std::uint64_t sent = 0;               // route() calls
  std::uint64_t dropped_loss = 0;       // copies lost to drop_probability
  std::uint64_t dropped_partition = 0;  // messages on a blocked pair
  std::uint64_t duplicated = 0;         // extra copies
};

// Where the copies of one message go: none (dropped), one, or two (a duplicate).
struct Route {
  int copies = 0;
  Micros delay_us[2] = {0, 0};
};

class Network {
 public:
  Network(NetworkFaults faults, std::mt19937_64& rng);

  const NetworkFaults& faults() const { return faults_; }
  void set_faults(const NetworkFaults& faults) { faults_ = faults; }

  // Messages from `from` to `to` are dropped until unblocked (one way only).
  void block(NodeIndex from, NodeIndex to);
  void unblock(NodeIndex from, NodeIndex to);
  // Blocks both directions between every member of `a` and every member of `b`.
  void partition(const std::vector<NodeIndex>& a, const std::vector<NodeIndex>& b);
  // Removes every block.
  void heal();
  bool blocked(NodeIndex from, NodeIndex to) const;

  // Decides the fate of one message.
  Route route(NodeIndex from, NodeIndex to);
  const NetworkCounters& counters() const { return counters_; }

 private:
  static std::uint64_t pair_key(NodeIndex from, NodeIndex to) {
    return (std::uint64_t{from} << 32) | to;
  }
  Micros draw_delay();
  bool draw(double probability);

  NetworkFaults faults_;
  std::mt19937_64& rng_;
  std::unordered_set<std::uint64_t> blocked_;
  NetworkCounters counters_;
};

}  // namespace braid::sim
