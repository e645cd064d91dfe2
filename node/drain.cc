#include "node/drain.h"

namespace braid::node {

rpc::DrainView drain_view(const sched::Torus& torus, bool draining,
                          const sched::BalanceConfig* balance) {
  rpc::DrainView view;
  view.draining = draining;
  view.migrate = balance != nullptr;
  for (sched::TaskKey key = 0; key < torus.task_count(); ++key) {
    if (!torus.exists(key)) continue;
    const sched::Task& t = torus.task(key);
    if (sched::is_terminal(t.state) || t.state == sched::TaskState::kMoved) continue;
    if (sched::is_started(t.state)) {
      ++view.running;
    } else if (t.state == sched::TaskState::kMigrating ||
               (t.state == sched::TaskState::kQueued &&
                (balance == nullptr || sched::may_migrate(t, t.hops, *balance)))) {
      ++view.queued;
    } else {
      ++view.staying;
    }
  }
  return view;
}

}  // namespace braid::node
