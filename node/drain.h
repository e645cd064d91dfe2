// Drain (issue 11 §5, docs/migration.md "Drain"): what `braid drain` reports
// of a node's tasks. A draining node takes no new tasks (Submissions refuses
// submissions, node/migration refuses offers and gossips accepting=false) and
// offers every queued task that may move to its peers; its own free slots
// keep running its queue meanwhile. The drain is done when no queued task
// that may leave is left: only started tasks (and those that never leave:
// pending, held, pinned, members of a throttled array, at the hop limit).
#pragma once

#include "rpc/control_backend.h"
#include "sched/balance.h"
#include "sched/torus.h"

namespace braid::node {

// `balance`: migration's config; null when migration is off (then every
// queued task counts as queued: none can leave).
rpc::DrainView drain_view(const sched::Torus& torus, bool draining,
                          const sched::BalanceConfig* balance);

}  // namespace braid::node
