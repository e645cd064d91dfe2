// The I/O mix of issue 9 §5 under one tool: `cpu_tasks` CPU-bound burners
// (braid-burn `cpu_ms`) and `sleepers` mostly-sleeping tasks (`sh -c 'for i
// in $(seq SLEEPS); do sleep SEC; done'`), all submitted at once, the
// sleepers first (so under strict slots they hold the slots while the
// burners queue):
//  - kPlain (the baseline): every task started at once as a plain process,
//    the kernel sharing the CPUs;
//  - kBraid: the sleepers then the burners submitted to one braidd with
//    `slots`, one `braid wait` per burner and one for the sleepers.
// Times are seconds from the first start or submit.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "tests/bench/workload/batch.h"

namespace braid::bench::workload {

struct IoMixParams {
  int slots = 2;
  int cpu_tasks = 2;
  int cpu_ms = 4000;
  int sleepers = 4;
  int sleeps = 40;  // each sleeper's `sleep` calls
  int sleep_ms = 100;
};

struct IoMixFigures {
  double makespan_s = 0;           // until the last task finished
  std::vector<double> cpu_done_s;  // when each burner finished, in submit order
  double sleepers_done_s = 0;      // when the last sleeper finished
};

// Throws when a task fails or the run passes `timeout`; BraiddDidNotStart
// (sessions.h) when braidd refuses the tool's flags.
IoMixFigures run_io_mix(const Tool& tool, const IoMixParams& p, std::chrono::seconds timeout);

// The sleepers' command (for the harness's header line).
std::vector<std::string> sleeper_argv(const IoMixParams& p);

}  // namespace braid::bench::workload
