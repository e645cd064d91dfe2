// Task ids on the `braid` command line: each argument is one id ("n:5") or
// a range of one node's ids ("n:5..n:104", both ends included). Pure.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sched/result.h"

namespace braid::node {

// Most ids one command may name (the daemon's per-call limit).
constexpr std::size_t kIdArgsMax = 100'000;

// The ids the arguments name, in order, ranges expanded. A range must join
// two ids of one node with "..", the first sequence not above the last:
// anything else is an Error naming the argument and the allowed forms.
sched::Result<std::vector<std::string>> expand_ids(const std::vector<std::string>& args);

}  // namespace braid::node
