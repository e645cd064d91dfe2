// The gossip protocol on sim::Cluster, for 10-20 nodes on the fast profile:
// joining, failure detection, false positives under loss, a stalled node,
// a partition that heals, restarts, leaves, load changes and determinism.
// Every test prints its seed on failure (SCOPED_TRACE): replay it by setting
// kSeed, or with braid_gossip_sim --seed.
#include "tests/sim/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/sim/fact_log.h"

namespace braid::sim {
namespace {

using gossip::kMicrosPerMilli;
using gossip::kMicrosPerSecond;

constexpr std::uint64_t kSeed = 20251001;

std::string seed_trace(std::uint64_t seed) { return "seed " + std::to_string(seed); }

ClusterOptions options(std::uint64_t seed, double drop_probability = 0) {
  ClusterOptions o;
  o.seed = seed;
  o.faults.drop_probability = drop_probability;
  return o;
}

// Starts `n` nodes within 200 ms, all joining through node 0; returns after
// the last start.
void start_all(Cluster& cluster, std::size_t n) {
  cluster.add_nodes(n);
  const Micros begin = cluster.now();
  cluster.start(0, {});
  for (NodeIndex i = 1; i < n; ++i) {
    const Micros at =
        cluster.now() + (static_cast<Micros>(i) * 200 * kMicrosPerMilli) / static_cast<Micros>(n);
    cluster.at(at, [&cluster, i] { cluster.start(i, {0}); });
  }
  cluster.run_until(begin + 200 * kMicrosPerMilli);
}

bool converge(Cluster& cluster, Micros within_us) {
  return cluster.run_until([&] { return cluster.converged(); }, cluster.now() + within_us,
                           10 * kMicrosPerMilli);
}

// The longest the Lifeguard suspicion of one member can last (one accuser).
Micros max_suspicion_us(const gossip::GossipConfig& c, std::size_t n) {
  const double scale = std::max(1.0, std::log10(static_cast<double>(n)));
  return static_cast<Micros>(static_cast<double>(c.suspicion_mult * c.probe_interval_us) * scale) *
         c.suspicion_max_timeout_mult;
}

// A crash is known everywhere within: a full probe round of one node (every
// node probes every member once per round), the probe's interval, the
// longest suspicion, and dissemination (retransmits of the dead update).
Micros detection_bound_us(const gossip::GossipConfig& c, std::size_t n) {
  const int retransmits =
      c.retransmit_mult * static_cast<int>(std::ceil(std::log10(static_cast<double>(n + 1))));
  return static_cast<Micros>(n) * c.probe_interval_us + max_suspicion_us(c, n) +
         retransmits * c.gossip_interval_us;
}

NodeIndex count_up(const Cluster& cluster) {
  NodeIndex up = 0;
  for (NodeIndex i = 0; i < cluster.size(); ++i) up += cluster.up(i) ? 1 : 0;
  return up;
}

void expect_clean(const Cluster& cluster) {
  EXPECT_EQ(cluster.counters().rejected, 0u) << cluster.counters().first_rejection;
  EXPECT_LE(cluster.counters().largest_message_bytes, gossip::kMaxMessageBytes);
}

TEST(SimCluster, JoinThroughOneSeedConverges) {
  const std::uint64_t seed = kSeed;
  SCOPED_TRACE(seed_trace(seed));
  Cluster cluster(options(seed));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, 16);
  ASSERT_TRUE(converge(cluster, 10 * kMicrosPerSecond));
  for (NodeIndex i = 0; i < 16; ++i) {
    EXPECT_EQ(cluster.node(i)->alive_count(), 16u) << Cluster::name_of(i);
    EXPECT_EQ(cluster.node(i)->members().size(), 16u) << Cluster::name_of(i);
  }
  EXPECT_EQ(log.false_positives().dead_events, 0u) << log.false_positives().first;
  expect_clean(cluster);
}

TEST(SimCluster, ACrashIsKnownEverywhereWithinTheConfiguredBound) {
  const std::uint64_t seed = kSeed + 1;
  SCOPED_TRACE(seed_trace(seed));
  constexpr std::size_t kNodes = 16;
  Cluster cluster(options(seed));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, kNodes);
  ASSERT_TRUE(converge(cluster, 10 * kMicrosPerSecond));
  cluster.run_until(cluster.now() + 2 * kMicrosPerSecond);
  const Micros bound = detection_bound_us(cluster.config(), kNodes);
  cluster.crash(5);
  const std::size_t fact = log.watch(FactKind::kDead, 5, cluster.now());
  ASSERT_TRUE(cluster.run_until([&] { return log.known_everywhere(fact); }, cluster.now() + bound,
                                10 * kMicrosPerMilli))
      << "not known everywhere within " << bound << " us: " << to_string(log.delays(fact));
  EXPECT_LE(log.everywhere_after_us(fact), bound);
  EXPECT_EQ(log.false_positives().dead_events, 0u) << log.false_positives().first;
  expect_clean(cluster);
}

TEST(SimCluster, NoFalsePositivesAtFivePercentLossOverSixtySeconds) {
  const std::uint64_t seed = kSeed + 2;
  SCOPED_TRACE(seed_trace(seed));
  Cluster cluster(options(seed, 0.05));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, 16);
  ASSERT_TRUE(converge(cluster, 20 * kMicrosPerSecond));
  cluster.run_until(cluster.now() + 60 * kMicrosPerSecond);
  EXPECT_EQ(log.false_positives().dead_events, 0u) << log.false_positives().first;
  EXPECT_TRUE(cluster.converged());
  expect_clean(cluster);
}

TEST(SimCluster, AStalledNodeRefutesAndGetsNoOtherNodeDeclaredDead) {
  const std::uint64_t seed = kSeed + 3;
  SCOPED_TRACE(seed_trace(seed));
  constexpr std::size_t kNodes = 12;
  Cluster cluster(options(seed));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, kNodes);
  ASSERT_TRUE(converge(cluster, 10 * kMicrosPerSecond));
  cluster.run_until(cluster.now() + 2 * kMicrosPerSecond);
  const gossip::Incarnation before = cluster.node(3)->incarnation();
  cluster.stall(3, 5 * kMicrosPerSecond);
  cluster.run_until(cluster.now() + 5 * kMicrosPerSecond);
  ASSERT_EQ(cluster.status(3), NodeStatus::kUp);
  // Alive everywhere within seconds of resuming.
  const std::size_t alive = log.watch(FactKind::kAlive, 3, cluster.now(), before);
  const bool everywhere = cluster.run_until(
      [&] {
        for (NodeIndex i = 0; i < kNodes; ++i) {
          auto m = cluster.node(i)->member("n3");
          if (!m || m->state != gossip::MemberState::kAlive) return false;
        }
        return true;
      },
      cluster.now() + 3 * kMicrosPerSecond, 10 * kMicrosPerMilli);
  EXPECT_TRUE(everywhere) << to_string(log.delays(alive));
  cluster.run_until(cluster.now() + 10 * kMicrosPerSecond);
  EXPECT_TRUE(cluster.converged());
  // The stalled node may have been suspected or declared dead; nobody else.
  EXPECT_EQ(log.false_positives().dead_events, 0u) << log.false_positives().first;
  if (log.false_positives().stalled_dead_events > 0) {
    EXPECT_GT(cluster.node(3)->incarnation(), before);
  }
  expect_clean(cluster);
}

TEST(SimCluster, APartitionHealsAfterItEnds) {
  const std::uint64_t seed = kSeed + 4;
  SCOPED_TRACE(seed_trace(seed));
  constexpr std::size_t kNodes = 12;
  Cluster cluster(options(seed));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, kNodes);
  ASSERT_TRUE(converge(cluster, 10 * kMicrosPerSecond));
  std::vector<NodeIndex> left, right;
  for (NodeIndex i = 0; i < kNodes; ++i) (i < kNodes / 2 ? left : right).push_back(i);
  cluster.network().partition(left, right);
  // Long enough that each side declares the other dead.
  const std::size_t dead = log.watch(FactKind::kDead, right.front(), cluster.now());
  cluster.run_until([&] { return log.fact(dead).learned_us[left.front()] >= 0; },
                    cluster.now() + 30 * kMicrosPerSecond, 10 * kMicrosPerMilli);
  ASSERT_GE(log.fact(dead).learned_us[left.front()], 0) << "the partition was never noticed";
  cluster.run_until(cluster.now() + 2 * kMicrosPerSecond);
  EXPECT_LT(cluster.node(0)->alive_count(), kNodes);
  cluster.network().heal();
  const Micros bound = 10 * cluster.config().sync_interval_us + 5 * kMicrosPerSecond;
  EXPECT_TRUE(converge(cluster, bound)) << "not healed within " << bound << " us";
  for (NodeIndex i = 0; i < kNodes; ++i) EXPECT_EQ(cluster.node(i)->alive_count(), kNodes);
  expect_clean(cluster);
}

TEST(SimCluster, OneWayReachabilityDoesNotKillTheBlockedSender) {
  // n2 cannot reach n1 directly, but the indirect probes through others
  // still reach it: nobody should be declared dead.
  const std::uint64_t seed = kSeed + 5;
  SCOPED_TRACE(seed_trace(seed));
  Cluster cluster(options(seed));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, 10);
  ASSERT_TRUE(converge(cluster, 10 * kMicrosPerSecond));
  cluster.network().block(2, 1);
  cluster.run_until(cluster.now() + 30 * kMicrosPerSecond);
  EXPECT_EQ(log.false_positives().dead_events, 0u) << log.false_positives().first;
  EXPECT_TRUE(cluster.converged());
  expect_clean(cluster);
}

TEST(SimCluster, ARestartedNodeIsAliveAgainWithAHigherIncarnation) {
  const std::uint64_t seed = kSeed + 6;
  SCOPED_TRACE(seed_trace(seed));
  constexpr std::size_t kNodes = 10;
  Cluster cluster(options(seed));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, kNodes);
  ASSERT_TRUE(converge(cluster, 10 * kMicrosPerSecond));
  const gossip::Incarnation before = cluster.node(4)->incarnation();
  cluster.crash(4);
  const std::size_t dead = log.watch(FactKind::kDead, 4, cluster.now());
  ASSERT_TRUE(cluster.run_until([&] { return log.known_everywhere(dead); },
                                cluster.now() + detection_bound_us(cluster.config(), kNodes),
                                10 * kMicrosPerMilli));
  cluster.restart(4);
  EXPECT_GT(cluster.node(4)->incarnation(), before);
  ASSERT_TRUE(converge(cluster, 5 * kMicrosPerSecond));
  for (NodeIndex i = 0; i < kNodes; ++i) {
    auto m = cluster.node(i)->member("n4");
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->state, gossip::MemberState::kAlive);
    EXPECT_GT(m->incarnation, before);
  }
  EXPECT_EQ(log.false_positives().dead_events, 0u) << log.false_positives().first;
  expect_clean(cluster);
}

TEST(SimCluster, ALeaveIsKnownAsLeftEverywhere) {
  const std::uint64_t seed = kSeed + 7;
  SCOPED_TRACE(seed_trace(seed));
  constexpr std::size_t kNodes = 10;
  Cluster cluster(options(seed));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, kNodes);
  ASSERT_TRUE(converge(cluster, 10 * kMicrosPerSecond));
  const std::size_t left = log.watch(FactKind::kLeft, 7, cluster.now());
  cluster.leave(7);
  EXPECT_TRUE(cluster.run_until([&] { return log.known_everywhere(left); },
                                cluster.now() + 2 * kMicrosPerSecond, 10 * kMicrosPerMilli))
      << to_string(log.delays(left));
  cluster.run_until(cluster.now() + 5 * kMicrosPerSecond);
  for (NodeIndex i = 0; i < kNodes; ++i) {
    if (i == 7) continue;
    EXPECT_EQ(cluster.node(i)->member("n7")->state, gossip::MemberState::kLeft);
  }
  expect_clean(cluster);
}

TEST(SimCluster, ALoadChangeReachesEveryNode) {
  const std::uint64_t seed = kSeed + 8;
  SCOPED_TRACE(seed_trace(seed));
  constexpr std::size_t kNodes = 16;
  Cluster cluster(options(seed, 0.05));
  FactLog log(cluster);
  cluster.set_observer(&log);
  start_all(cluster, kNodes);
  ASSERT_TRUE(converge(cluster, 10 * kMicrosPerSecond));
  cluster.run_until(cluster.now() + 1 * kMicrosPerSecond);
  gossip::Load load{.queued = 50, .running = 4, .slots = 4, .top_queued_priority = 3};
  cluster.set_load(9, load);
  const std::uint64_t version = cluster.node(9)->member("n9")->load_version;
  const std::size_t fact = log.watch(FactKind::kLoad, 9, cluster.now(), version);
  // Dissemination: the update's retransmits over gossip rounds.
  ASSERT_TRUE(cluster.run_until(
      [&] { return log.known_everywhere(fact); },
      cluster.now() + 20 * cluster.config().gossip_interval_us + cluster.config().probe_interval_us,
      kMicrosPerMilli))
      << to_string(log.delays(fact));
  for (NodeIndex i = 0; i < kNodes; ++i) EXPECT_EQ(cluster.node(i)->member("n9")->load, load);
  expect_clean(cluster);
}

// Everything that happens in a faulty run with a crash, a restart, a stall
// and a partition, as one hash.
std::uint64_t faulty_run_trace(std::uint64_t seed) {
  ClusterOptions o = options(seed, 0.1);
  o.faults.duplicate_probability = 0.05;
  o.faults.delay_jitter_us = 5000;  // reordering
  Cluster cluster(o);
  start_all(cluster, 12);
  cluster.at(3 * kMicrosPerSecond, [&] { cluster.crash(2); });
  cluster.at(4 * kMicrosPerSecond, [&] { cluster.stall(5, 2 * kMicrosPerSecond); });
  cluster.at(5 * kMicrosPerSecond, [&] { cluster.network().partition({0, 1, 3}, {6, 7, 8}); });
  cluster.at(8 * kMicrosPerSecond, [&] { cluster.network().heal(); });
  cluster.at(9 * kMicrosPerSecond, [&] { cluster.restart(2); });
  cluster.at(10 * kMicrosPerSecond, [&] { cluster.set_load(1, gossip::Load{.queued = 7}); });
  cluster.run_until(15 * kMicrosPerSecond);
  return cluster.trace_hash() ^ cluster.counters().delivered;
}

TEST(SimCluster, TheSameSeedReplaysTheSameTrace) {
  const std::uint64_t seed = kSeed + 9;
  SCOPED_TRACE(seed_trace(seed));
  const std::uint64_t first = faulty_run_trace(seed);
  EXPECT_EQ(first, faulty_run_trace(seed));
  EXPECT_NE(first, faulty_run_trace(seed + 1));
}

TEST(SimCluster, NodesCountDeliveriesDropsAndStalls) {
  const std::uint64_t seed = kSeed + 10;
  SCOPED_TRACE(seed_trace(seed));
  Cluster cluster(options(seed, 0.2));
  start_all(cluster, 10);
  cluster.run_until(2 * kMicrosPerSecond);
  cluster.crash(8);
  cluster.stall(6, kMicrosPerSecond);
  cluster.run_until(5 * kMicrosPerSecond);
  const ClusterCounters& c = cluster.counters();
  EXPECT_GT(c.delivered, 0u);
  EXPECT_GT(c.dropped_down, 0u);   // to the crashed n8
  EXPECT_GT(c.held_by_stall, 0u);  // to the stalled n6
  EXPECT_GT(cluster.network().counters().dropped_loss, 0u);
  EXPECT_EQ(count_up(cluster), 9u);
  EXPECT_GT(cluster.bytes_sent(0), 0u);
  expect_clean(cluster);
}

}  // namespace
}  // namespace braid::sim
