// msim::Node through a small World with a clean network: a task submitted
// to a busy node moves to an idle one, runs there once, its outcome goes
// home, and the origin's forwarding pointer names the executor; a restart
// rebuilds a node from its store alone.
#include "tests/sim/msim_node.h"

#include <gtest/gtest.h>

#include "tests/sim/msim_check.h"
#include "tests/sim/msim_world.h"

namespace braid::msim {
namespace {

WorldOptions two_nodes() {
  WorldOptions w;
  w.nodes = 2;
  w.seed = 7;
  w.node.slots = 1;
  return w;
}

TEST(MsimNode, AQueuedTaskMovesToTheIdleNodeAndItsOutcomeGoesHome) {
  World world(two_nodes());
  world.start_all();
  world.run_until(kMicrosPerSecond);  // loads are published and seen
  const std::string first = world.submit(0, 5 * kMicrosPerSecond);
  const std::string second = world.submit(0, 1 * kMicrosPerSecond);
  ASSERT_TRUE(world.run_until([&] { return settled(world) && world.ledger().completed() == 2; },
                              30 * kMicrosPerSecond, 100 * kMicrosPerMilli));
  EXPECT_EQ(check_world(world), "");
  EXPECT_EQ(world.ledger().tasks().at(first).executor, "n0");
  EXPECT_EQ(world.ledger().tasks().at(second).executor, "n1");
  const sched::Task& home = world.node(0).store().tasks.at(second);
  EXPECT_EQ(home.state, sched::TaskState::kCompleted);
  EXPECT_EQ(home.moved_to, "n1");  // show says where it ran
  const sched::Task& there = world.node(1).store().tasks.at(second);
  EXPECT_EQ(there.adopted_from, "n0");
  EXPECT_EQ(there.hops, 1);
  EXPECT_EQ(world.node(0).counters().moved_out, 1u);
  EXPECT_EQ(world.node(0).counters().outcomes_applied, 1u);
}

TEST(MsimNode, ARestartRebuildsFromTheStoreAndRequeuesTheRunningTask) {
  World world(two_nodes());
  world.start_all();
  world.run_until(kMicrosPerSecond);
  const std::string id = world.submit(0, 2 * kMicrosPerSecond);
  world.run_until(2 * kMicrosPerSecond);  // running on n0 (nothing to move: n0 had a free slot)
  ASSERT_EQ(world.ledger().tasks().at(id).alive_on.count("n0"), 1u);
  world.crash(0);
  EXPECT_FALSE(world.node(0).up());
  world.run_until(3 * kMicrosPerSecond);
  world.restart(0);
  EXPECT_EQ(world.node(0).torus().task(*world.node(0).torus().find(id)).reason, "node restarted");
  ASSERT_TRUE(world.run_until([&] { return settled(world) && world.ledger().completed() == 1; },
                              30 * kMicrosPerSecond, 100 * kMicrosPerMilli));
  EXPECT_EQ(check_world(world), "");
  EXPECT_EQ(world.ledger().tasks().at(id).starts, 2);
  EXPECT_EQ(world.ledger().tasks().at(id).crash_lost, 1);
}

TEST(MsimNode, ACrashLosesWhatWasNotPersisted) {
  World world(two_nodes());
  world.start_all();
  world.submit(0, kMicrosPerSecond);
  const std::uint64_t sequence = world.node(0).store().next_sequence;
  world.crash(0);
  world.restart(0);
  EXPECT_EQ(world.node(0).store().next_sequence, sequence);
  EXPECT_NE(world.submit(0, kMicrosPerSecond), "n0:1");  // ids are never given twice
}

}  // namespace
}  // namespace braid::msim
