#include "node/drain.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

sched::TaskSpec spec() {
  sched::TaskSpec s;
  s.argv = {"true"};
  return s;
}

// One slot: the first task starts, the others wait in their states.
struct OneSlot {
  OneSlot() : torus(config()) {}
  static sched::TorusConfig config() {
    sched::TorusConfig c;
    c.node_name = "n0";
    c.slots = 1;
    return c;
  }
  sched::TaskKey submit(sched::TaskSpec s) {
    auto key = torus.submit(std::move(s), 0, out);
    EXPECT_TRUE(key);
    return key.value();
  }
  sched::Torus torus;
  sched::Actions out;
};

TEST(Drain, QueuedTasksThatMayLeaveAreCountedApartFromThoseThatStayAndTheStarted) {
  OneSlot n;
  n.submit(spec());  // starts
  n.submit(spec());  // queued: may leave
  sched::TaskSpec pinned = spec();
  pinned.pinned = true;
  n.submit(pinned);  // queued, stays
  sched::TaskSpec held = spec();
  held.hold = true;
  n.submit(held);  // held, stays
  const sched::BalanceConfig balance;
  const rpc::DrainView view = drain_view(n.torus, true, &balance);
  EXPECT_TRUE(view.draining);
  EXPECT_TRUE(view.migrate);
  EXPECT_EQ(view.running, 1u);
  EXPECT_EQ(view.queued, 1u);
  EXPECT_EQ(view.staying, 2u);
  // Without migration nothing can leave: every queued task counts as queued.
  const rpc::DrainView off = drain_view(n.torus, false, nullptr);
  EXPECT_FALSE(off.migrate);
  EXPECT_EQ(off.queued, 2u);
  EXPECT_EQ(off.staying, 1u);
}

TEST(Drain, ATaskBeingOfferedIsStillQueuedAndAMovedOneIsGone) {
  OneSlot n;
  n.submit(spec());
  const sched::TaskKey a = n.submit(spec());
  const sched::TaskKey b = n.submit(spec());
  ASSERT_TRUE(n.torus.begin_migration(a, 0, n.out));
  ASSERT_TRUE(n.torus.begin_migration(b, 0, n.out));
  ASSERT_TRUE(n.torus.finish_migration(b, "n1", 0, n.out));
  const sched::BalanceConfig balance;
  const rpc::DrainView view = drain_view(n.torus, true, &balance);
  EXPECT_EQ(view.queued, 1u);  // a, being offered
  EXPECT_EQ(view.staying, 0u);
  EXPECT_EQ(view.running, 1u);
}

}  // namespace
}  // namespace braid::node
