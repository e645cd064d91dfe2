// sim::FactLog on synthetic events: what counts as learning a fact and what
// counts as a false positive.
#include "tests/sim/fact_log.h"

#include <gtest/gtest.h>

namespace braid::sim {
namespace {

using gossip::Event;
using gossip::kMicrosPerSecond;
using gossip::MemberState;

Event state_event(const std::string& name, MemberState state, gossip::Incarnation incarnation) {
  return Event{Event::Kind::kState, name, state, incarnation};
}

class FactLogTest : public ::testing::Test {
 protected:
  FactLogTest() : cluster_(ClusterOptions{}), log_(cluster_) {
    cluster_.add_nodes(4);
    for (NodeIndex i = 0; i < 4; ++i) cluster_.start(i, {});
  }
  Cluster cluster_;
  FactLog log_;
};

TEST_F(FactLogTest, ALiveNodeDeclaredDeadIsAFalsePositive) {
  log_.on_event(1, state_event("n2", MemberState::kSuspect, 1), 100);
  log_.on_event(1, state_event("n2", MemberState::kDead, 1), 200);
  log_.on_event(3, state_event("n2", MemberState::kDead, 1), 300);
  const FalsePositives& fp = log_.false_positives();
  EXPECT_EQ(fp.suspect_events, 1u);
  EXPECT_EQ(fp.dead_events, 2u);
  EXPECT_EQ(fp.dead_subjects, 1u);
  EXPECT_NE(fp.first.find("n2"), std::string::npos);
  EXPECT_NE(fp.first.find("n1"), std::string::npos);
}

TEST_F(FactLogTest, ACrashedNodeDeclaredDeadIsNot) {
  cluster_.crash(2);
  log_.on_event(1, state_event("n2", MemberState::kDead, 1), 200);
  EXPECT_EQ(log_.false_positives().dead_events, 0u);
}

TEST_F(FactLogTest, AStalledNodeIsCountedApart) {
  cluster_.stall(2, kMicrosPerSecond);
  log_.on_event(1, state_event("n2", MemberState::kDead, 1), cluster_.now());
  EXPECT_EQ(log_.false_positives().dead_events, 0u);
  EXPECT_EQ(log_.false_positives().stalled_dead_events, 1u);
  // Long after the stall, a death is a false positive again.
  log_.set_stall_grace(0);
  cluster_.run_until(10 * kMicrosPerSecond);
  log_.on_event(1, state_event("n2", MemberState::kDead, 1), cluster_.now());
  EXPECT_EQ(log_.false_positives().dead_events, 1u);
}

TEST_F(FactLogTest, FactsRecordTheFirstTimeEachObserverLearned) {
  const std::size_t dead = log_.watch(FactKind::kDead, 2, 1000);
  cluster_.crash(2);
  log_.on_event(0, state_event("n2", MemberState::kSuspect, 1), 1500);
  EXPECT_FALSE(log_.known_everywhere(dead));
  log_.on_event(0, state_event("n2", MemberState::kDead, 1), 2000);
  log_.on_event(0, state_event("n2", MemberState::kDead, 1), 2500);  // again: ignored
  log_.on_event(1, state_event("n2", MemberState::kDead, 1), 3000);
  EXPECT_FALSE(log_.known_everywhere(dead));
  EXPECT_EQ(log_.everywhere_after_us(dead), -1);
  log_.on_event(3, state_event("n2", MemberState::kDead, 1), 5000);
  EXPECT_TRUE(log_.known_everywhere(dead));
  EXPECT_EQ(log_.everywhere_after_us(dead), 4000);
  const Summary summary = log_.delays(dead);
  EXPECT_EQ(summary.count, 3u);
  EXPECT_EQ(summary.median_us, 2000);
  EXPECT_EQ(summary.max_us, 4000);
}

TEST_F(FactLogTest, AliveFactsNeedTheIncarnation) {
  const std::size_t alive = log_.watch(FactKind::kAlive, 1, 0, 3);
  log_.on_event(0, state_event("n1", MemberState::kAlive, 2), 10);
  EXPECT_LT(log_.fact(alive).learned_us[0], 0);
  log_.on_event(0, Event{Event::Kind::kJoined, "n1", MemberState::kAlive, 3}, 20);
  EXPECT_EQ(log_.fact(alive).learned_us[0], 20);
}

}  // namespace
}  // namespace braid::sim
