// The simulator's scenarios (issue 10 §8): each builds a sim::Cluster from
// one seed, runs one experiment and reports how long facts took to be known
// everywhere, the failure detector's false positives, traffic, the largest
// message and the simulator's own speed.
//  - join: a converged cluster, then `trials` nodes (at most half) join through
//    node 0 one after another;
//  - massjoin: every node starts at once, joining through nodes 0, 1 and 2;
//  - fail: a converged cluster; a random node crashes (trials times, one
//    after another); time until every live node sees it dead;
//  - load: a converged cluster; one node's load changes (trials times);
//    time until every node knows the new version;
//  - idle: a converged cluster for duration_us: traffic and false positives.
// Delays are per observer (per observer and joining node for the joins).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/sim/cluster.h"
#include "tests/sim/fact_log.h"
#include "tests/sim/summary.h"

namespace braid::sim {

struct ScenarioOptions {
  std::string scenario = "join";  // join | massjoin | fail | load | idle
  std::size_t nodes = 10;
  std::uint64_t seed = 1;
  gossip::GossipConfig config = gossip::GossipConfig::lan();
  NetworkFaults faults;
  Micros duration_us = 60 * gossip::kMicrosPerSecond;  // idle: the window measured
  Micros stagger_us = 1 * gossip::kMicrosPerSecond;    // join: start spread
  int trials = 1;                                      // fail, load: facts one after another
  double wall_budget_s = 0;                            // > 0: give up past this wall time
};

struct ScenarioReport {
  std::string scenario;
  Summary learn;              // delay until each observer learned
  Micros everywhere_us = -1;  // the worst fact's delay until known everywhere; -1: never
  // The worst fact's last observer over its median observer (issue 10 §9's
  // tail goal: at most 2); 0 when no fact has a nonzero median.
  double worst_tail = 0;
  Micros converge_us = -1;         // setup: from the last start until converged; -1: never
  FalsePositives false_positives;  // over the whole run
  double bytes_per_node_s = 0;     // encoded bytes sent per up node per second, measured window
  std::size_t largest_message_bytes = 0;
  double sim_s = 0;
  double wall_s = 0;
  ClusterCounters counters;
  std::uint64_t trace_hash = 0;
  bool gave_up = false;  // wall_budget_s exceeded
  std::string note;      // why a figure is missing
};

ScenarioReport run_scenario(const ScenarioOptions& options);
// One converged cluster, then each of `phases` (idle, load, fail) in turn:
// cheaper than a cluster per scenario at 1000 nodes. False positives are
// counted over the whole run in every report.
std::vector<ScenarioReport> run_phases(const ScenarioOptions& options,
                                       const std::vector<std::string>& phases);

}  // namespace braid::sim
