// The checks a receiver makes before it adopts an offered task
// (docs/migration.md, "Adopt only what you can run"), as far as they are
// not the torus's (Torus::check: cpus, memory, accounts).
#pragma once

#include <optional>
#include <string>

#include "sched/migration_message.h"
#include "sched/task.h"

namespace braid::node {

// Whether argv[0] resolves as the task would run it: a path (relative to its
// cwd, "/" when none), or a name on its PATH (its env's, else its
// submitter's environment's, else this daemon's) naming an executable file.
bool program_resolves(const sched::TaskSpec& spec);

// Whether the task's offer fits sched::kMaxMigrationMessageBytes (with room
// for the encoding's overhead): a bigger spec (arguments and environments)
// stays where it is, since a receiver's transport would refuse the message.
bool travels(const sched::TaskSpec& spec);

// Why this node cannot run the task, or nullopt: its working directory is
// missing, or its program does not resolve.
std::optional<std::string> missing_for(const sched::TaskSpec& spec);

// Why a node with `node_labels` refuses the task (issue 11 §2), or nullopt:
// the first label it needs that the node lacks, "needs node label gpu=1;
// this node has none" (or "...; this node has gpu=0"). Pure.
std::optional<std::string> missing_labels(const std::vector<sched::Label>& node_labels,
                                          const sched::TaskSpec& spec);

}  // namespace braid::node
