// A submitter's environment of a typical size for the benchmarks: what
// `braid submit` attaches (node/braid_main.cc attach_environment), one copy
// shared by every task of a submission.
#pragma once

#include <memory>
#include <vector>

#include "sched/task.h"

namespace braid::bench {

// `entries` synthetic "BENCH_VAR_NN=..." entries of about `bytes` in all
// (a login shell's environment is ~40 entries, ~3 KB). entries 0 = null.
std::shared_ptr<const sched::Environment> typical_environment(int entries, int bytes);

// Points every spec's base_env at `env` (one submission, one environment).
void attach(std::vector<sched::TaskSpec>& specs,
            const std::shared_ptr<const sched::Environment>& env);

}  // namespace braid::bench
