// `braid submit --export`: which of the submitter's environment a task
// gets, as Slurm's --export has it. Pure: the caller passes the environment.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sched/result.h"

namespace braid::node {

// `spec` is:
//   ALL             every variable of `environ` (the default; entries that are
//                   not KEY=VALUE are left out);
//   NONE            none (the task gets only what --env adds, and BRAID_*);
//   a comma list of NAMEs (taken from `environ` when set there) and
//   NAME=VALUE entries (set as given), optionally starting with ALL
//   ("ALL,DEBUG=1": everything, plus DEBUG=1).
// Returns "KEY=VALUE" entries; a later entry of a name replaces an earlier
// one. A bad name is an Error naming it and the allowed forms, and so are
// more than `entries_max` entries.
constexpr std::size_t kExportEntriesMax = 4096;  // rpc::kEnvEntriesMax
sched::Result<std::vector<std::string>> export_environment(std::string_view spec,
                                                           const char* const* environ);

}  // namespace braid::node
