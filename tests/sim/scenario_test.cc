// The scenarios of braid_gossip_sim on small clusters (fast profile): they
// produce their figures and replay exactly from their seed.
#include "tests/sim/scenario.h"

#include <gtest/gtest.h>

namespace braid::sim {
namespace {

ScenarioOptions small(const std::string& scenario, std::uint64_t seed) {
  ScenarioOptions o;
  o.scenario = scenario;
  o.nodes = 20;
  o.seed = seed;
  o.config = gossip::GossipConfig::fast();
  o.faults.drop_probability = 0.05;
  o.duration_us = 10 * gossip::kMicrosPerSecond;
  o.stagger_us = 100 * gossip::kMicrosPerMilli;
  o.trials = 2;
  return o;
}

TEST(SimScenario, EachScenarioMeasuresItsFact) {
  const std::uint64_t seed = 31;
  SCOPED_TRACE("seed " + std::to_string(seed));
  for (const char* name : {"join", "massjoin", "fail", "load"}) {
    SCOPED_TRACE(name);
    const ScenarioReport r = run_scenario(small(name, seed));
    EXPECT_EQ(r.note, "");
    EXPECT_EQ(r.learn.missing, 0u);
    EXPECT_GT(r.learn.count, 0u);
    EXPECT_GE(r.everywhere_us, r.learn.median_us);
    EXPECT_GT(r.bytes_per_node_s, 0);
    EXPECT_EQ(r.false_positives.dead_events, 0u) << r.false_positives.first;
    EXPECT_EQ(r.counters.rejected, 0u) << r.counters.first_rejection;
  }
}

TEST(SimScenario, PhasesShareOneConvergedCluster) {
  const std::vector<ScenarioReport> reports = run_phases(small("", 32), {"idle", "load", "fail"});
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[0].scenario, "idle");
  EXPECT_GT(reports[0].bytes_per_node_s, 0);
  EXPECT_EQ(reports[2].scenario, "fail");
  EXPECT_EQ(reports[2].learn.missing, 0u);
  EXPECT_LT(reports[0].sim_s, reports[2].sim_s);
}

TEST(SimScenario, ASeedReplaysTheSameRun) {
  const ScenarioReport a = run_scenario(small("fail", 33));
  const ScenarioReport b = run_scenario(small("fail", 33));
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.learn.max_us, b.learn.max_us);
  EXPECT_NE(a.trace_hash, run_scenario(small("fail", 34)).trace_hash);
}

// Issue 10 §9: the last member to learn of a join into a converged cluster is
// at most 2x the median late (Serf's stragglers were 10-97 s late).
TEST(SimScenario, TheLastMemberLearnsOfAJoinWithinTwiceTheMedian) {
  for (std::uint64_t seed : {41, 42, 43}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ScenarioOptions o = small("join", seed);
    o.nodes = 60;
    o.trials = 3;
    o.config = gossip::GossipConfig::lan();
    o.faults.drop_probability = 0;
    const ScenarioReport r = run_scenario(o);
    EXPECT_EQ(r.note, "");
    EXPECT_EQ(r.learn.missing, 0u);
    EXPECT_GT(r.worst_tail, 0);
    EXPECT_LE(r.worst_tail, 2.0) << "median " << r.learn.median_us << " max " << r.learn.max_us;
  }
}

}  // namespace
}  // namespace braid::sim
