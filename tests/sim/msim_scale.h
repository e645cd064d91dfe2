// A scale run of the migration simulator (issue 11 §6): `nodes` nodes of
// `slots` slots, nodes * slots * tasks_per_slot tasks of 0.5..1.5 s (mean
// 1 s) submitted at once (after warmup_us) to 1% of the nodes (at least one), a lossy
// network (loss applies to handoff, pull and outcome messages; the load
// projections follow the delayed-projection model of msim_world.h). No
// crashes. Measures:
//  - makespan over the ideal (total work / total slots);
//  - migrations per task (completed handoffs / tasks);
//  - idle gaps: how long a node with nothing running or queued waited
//    for work (median, p99, max), while work was left somewhere.
#pragma once

#include <cstdint>
#include <string>

#include "tests/sim/msim_world.h"
#include "tests/sim/summary.h"

namespace braid::msim {

struct ScaleOptions {
  std::size_t nodes = 1000;
  int slots = 2;
  int tasks_per_slot = 10;
  double loss = 0;
  std::uint64_t seed = 1;
  int refuse_at_backlog = 0;  // NodeConfig::refuse_at_backlog
  // The cluster runs this long before the tasks are submitted (their
  // makespan counts from the submission): 0 submits into a cluster whose
  // nodes have not seen one another's loads yet (projection_delay_us).
  Micros warmup_us = 1 * kMicrosPerSecond;
  std::size_t view_sample = 0;   // WorldOptions::view_sample (0: every peer)
  sched::BalanceConfig balance;  // the balancer's settings (defaults: braidd's)
  Micros balance_interval_us = 100 * kMicrosPerMilli;  // NodeConfig::balance_interval_us
  bool round_on_exit = true;                           // NodeConfig::round_on_exit
};

struct ScaleReport {
  std::string failure;  // "" unless the run did not finish or check_world failed
  std::size_t tasks = 0;
  double ideal_s = 0;
  double makespan_s = 0;
  double ratio = 0;
  // The omniscient scheduler's makespan: each task in submission order on
  // the slot that frees first, no latency (it does not know lengths, as braid
  // does not); its ratio to the ideal is what any online placement pays for
  // the last tasks' lengths.
  double greedy_s = 0;
  double greedy_ratio = 0;  // makespan / greedy_s
  double migrations_per_task = 0;
  sim::Summary idle_gap;  // microseconds
  std::uint64_t messages = 0;
  int most_run_by_one_node = 0;  // tasks
  std::string hops;              // " hops:tasks" for each hop count, of the executed tasks
  // Where the makespan beyond the ideal goes, in seconds of the whole
  // cluster (idle slot-seconds / slots, sampled every 100 ms until the last
  // completion; they sum to about makespan - ideal):
  //  - ramp: before busy slots first reach 95% of all slots;
  //  - starved: after the ramp, slots idle while as many tasks wait queued
  //    at the origins (or migrating, or held) somewhere (min of the two);
  //  - imbalance: the rest of the idle slots while tasks were still queued;
  //  - tail: idle slots once nothing is queued anywhere (every remaining
  //    task running: the last tasks' lengths).
  double lost_ramp_s = 0;
  double lost_starved_s = 0;
  double lost_imbalance_s = 0;
  double lost_tail_s = 0;
  double ramp_s = 0;               // when busy slots first reached 95%
  double handoff_task_s = 0;       // after the ramp: tasks migrating or held, summed over time
  std::uint64_t refused_busy = 0;  // offers refused "busy"
  std::uint64_t pulls = 0;         // work requests sent
};

ScaleReport scale_run(const ScaleOptions& options);
// One line: the options and the figures.
std::string describe(const ScaleOptions& options, const ScaleReport& report);

}  // namespace braid::msim
