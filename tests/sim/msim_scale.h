// A scale run of the migration simulator (issue 11 §6): `nodes` nodes of
// `slots` slots, nodes * slots * tasks_per_slot tasks of 0.5..1.5 s (mean
// 1 s) submitted at time 0 to 1% of the nodes (at least one), a lossy
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
};

struct ScaleReport {
  std::string failure;  // "" unless the run did not finish or check_world failed
  std::size_t tasks = 0;
  double ideal_s = 0;
  double makespan_s = 0;
  double ratio = 0;
  double migrations_per_task = 0;
  sim::Summary idle_gap;  // microseconds
  std::uint64_t messages = 0;
  int most_run_by_one_node = 0;  // tasks
  std::string hops;              // " hops:tasks" for each hop count, of the executed tasks
};

ScaleReport scale_run(const ScaleOptions& options);
// One line: the options and the figures.
std::string describe(const ScaleOptions& options, const ScaleReport& report);

}  // namespace braid::msim
