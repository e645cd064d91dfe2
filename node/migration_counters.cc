#include "node/migration_counters.h"

namespace braid::node {

rpc::MigrationCounters migration_counters(const Migration& migration) {
  const sched::DonorStats& d = migration.donor().stats();
  const sched::ReceiverStats& r = migration.receiver().stats();
  rpc::MigrationCounters c;
  c.enabled = true;
  c.offers = d.offers;
  c.moved = d.moved;
  c.refused = d.refused;
  c.reclaimed = d.reclaimed;
  c.adopted = r.adopted;
  c.released = r.released;
  c.discarded = r.discarded;
  c.forced = r.forced;
  c.unresolved = migration.donor().entries();
  c.held = migration.receiver().held_count();
  return c;
}

}  // namespace braid::node
