// review12: failing reproducers against the simulator's scenarios (hostile
// review of issue 10's join rewrite and quiet() settle).
#include <gtest/gtest.h>

#include "tests/sim/scenario.h"

namespace braid::sim {
namespace {

// converge() now settles with run(quiet, setup_deadline()): until no up node
// has anything queued (tests/sim/scenario.cc quiet()). On a lossy network
// the suspicion/refutation churn never stops, so quiet() never holds and the
// settle silently runs to the setup deadline (max(300 s, 300 probe
// intervals) of simulated time), ignoring the failure; every fail, load and
// idle phase at 20% loss then starts ~300 s late, and the run's false
// positives ("over the whole run") count those 300 s too, so the figures of
// docs/benchmarks.md at 20% loss are not comparable with the earlier ones.
// Measured (seed 11, lan, 100 nodes, 20% loss, as in docs/benchmarks.md):
// sim_s 325.5 = converge 12.3 s + the full 300 s settle deadline + 3 s +
// 10 s idle: quiet() never held. (10 nodes, or 40 on the fast profile, do
// settle; 100 on the fast profile took ~110 s.) ~14 s of wall time.
// Should hold: the settle ends within a bounded time (a few gossip
// lifetimes of an update) or the report says it did not settle.
TEST(Review12, TheSettleBeforeAPhaseEndsOnALossyNetwork) {
  ScenarioOptions o;
  o.scenario = "idle";
  o.nodes = 100;
  o.seed = 11;
  o.config = gossip::GossipConfig::lan();  // braidd's default, as in docs/benchmarks.md
  o.faults.drop_probability = 0.20;
  o.duration_us = 10 * gossip::kMicrosPerSecond;
  o.stagger_us = 100 * gossip::kMicrosPerMilli;
  const ScenarioReport r = run_scenario(o);
  EXPECT_EQ(r.note, "");
  const double setup_and_idle_s =
      static_cast<double>(r.converge_us) / 1e6 +
      10 * static_cast<double>(o.config.probe_interval_us) / 1e6 /* settled */ + 10 /* idle */;
  // Generous: 60 s of simulated settling on top.
  EXPECT_LT(r.sim_s, setup_and_idle_s + 60)
      << "the run took " << r.sim_s << " simulated s for converge " << r.converge_us / 1e6
      << " s + 10 probe intervals + 10 s idle: quiet() never held";
}

}  // namespace
}  // namespace braid::sim
