// What `braid stats` shows of braidd --migrate: the handoff machines'
// counters (sched/handoff.h) read through Migration's accessors, and how many
// handoffs are unresolved now (donor journal entries migrating or reclaimed,
// receiver adoptions awaiting the donor's confirmation). Both are 0 once
// every handoff has been resolved.
#pragma once

#include "node/migration.h"
#include "rpc/control_backend.h"

namespace braid::node {

rpc::MigrationCounters migration_counters(const Migration& migration);

}  // namespace braid::node
