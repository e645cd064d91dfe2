// msim::World: the delayed-projection model and the failure detector
// oracle, and the checker catching a task that completed twice.
#include "tests/sim/msim_world.h"

#include <gtest/gtest.h>

#include "tests/sim/msim_check.h"

namespace braid::msim {
namespace {

const sched::PeerLoad* find(const std::vector<sched::PeerLoad>& peers, const std::string& name) {
  for (const sched::PeerLoad& p : peers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

TEST(MsimWorld, PeersSeeALoadChangeOnlyAfterTheProjectionDelay) {
  WorldOptions w;
  w.nodes = 3;
  World world(w);
  world.start_all();
  world.run_until(kMicrosPerSecond);
  world.submit(1, 10 * kMicrosPerSecond);
  world.submit(1, 10 * kMicrosPerSecond);
  world.submit(1, 10 * kMicrosPerSecond);  // 2 running, 1 queued (until it moves)
  const Micros changed = world.now();
  const sched::PeerLoad* before = find(world.peers("n0", changed + 1), "n1");
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(before->running, 0u);
  world.run_until(changed + w.projection_delay_us + w.projection_period_us);
  const sched::PeerLoad* after = find(world.peers("n0", world.now()), "n1");
  ASSERT_NE(after, nullptr);
  EXPECT_GE(after->running, 1u);
  EXPECT_GE(after->age_us, w.projection_delay_us);
  // Its own figure is never a candidate for an observer.
  const sched::PeerLoad* self = find(world.peers("n1", world.now()), "n1");
  ASSERT_NE(self, nullptr);
  EXPECT_FALSE(self->accepting);
}

TEST(MsimWorld, ACrashIsDeclaredDeadAfterTheDelayUnlessTheNodeIsBack) {
  WorldOptions w;
  w.nodes = 3;
  World world(w);
  world.start_all();
  world.crash(2);
  world.run_until(w.detect_dead_us - 1);
  EXPECT_FALSE(world.declared_dead(2));
  world.run_until(w.detect_dead_us);
  EXPECT_TRUE(world.declared_dead(2));
  world.restart(2);
  world.run_until(world.now() + w.detect_alive_us);
  EXPECT_FALSE(world.declared_dead(2));
  world.crash(1);
  world.restart(1);  // back before the detector decided: a refutation
  world.run_until(world.now() + 2 * w.detect_dead_us);
  EXPECT_FALSE(world.declared_dead(1));
  world.false_death(0, kMicrosPerSecond);
  EXPECT_TRUE(world.declared_dead(0));
  EXPECT_EQ(world.counters().false_deaths, 1u);
}

TEST(MsimWorld, TheCheckerCatchesASecondCompletion) {
  WorldOptions w;
  w.nodes = 2;
  World world(w);
  world.start_all();
  const std::string id = world.submit(0, kMicrosPerSecond);
  ASSERT_TRUE(
      world.run_until([&] { return settled(world); }, 10 * kMicrosPerSecond, kMicrosPerMilli));
  EXPECT_EQ(check_world(world), "");
  world.ledger().completed(id, "n1", world.now());
  EXPECT_EQ(check_world(world), "task " + id + ": completed 2 times");
}

}  // namespace
}  // namespace braid::msim
