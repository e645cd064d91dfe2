#include "gossip/membership.h"

#include <gtest/gtest.h>

#include <map>

namespace braid::gossip {
namespace {

using S = MemberState;
constexpr S A = S::kAlive, U = S::kSuspect, D = S::kDead, L = S::kLeft;

struct Case {
  S known;
  Incarnation known_inc;
  S claim;
  Incarnation claim_inc;
  bool wins;
};

// The precedence of gossip/types.h, every state pair at lower, same and
// higher incarnation.
const Case kCases[] = {
    // Lower incarnations never win.
    {A, 5, A, 4, false},
    {A, 5, U, 4, false},
    {A, 5, D, 4, false},
    {A, 5, L, 4, false},
    {U, 5, A, 4, false},
    {D, 5, A, 4, false},
    {L, 5, L, 4, false},
    // Same incarnation: left > dead > suspect > alive.
    {A, 5, A, 5, false},
    {A, 5, U, 5, true},
    {A, 5, D, 5, true},
    {A, 5, L, 5, true},
    {U, 5, A, 5, false},
    {U, 5, U, 5, false},
    {U, 5, D, 5, true},
    {U, 5, L, 5, true},
    {D, 5, A, 5, false},
    {D, 5, U, 5, false},
    {D, 5, D, 5, false},
    {D, 5, L, 5, true},
    {L, 5, A, 5, false},
    {L, 5, U, 5, false},
    {L, 5, D, 5, false},
    {L, 5, L, 5, false},
    // Higher: alive and suspect override alive and suspect ...
    {A, 5, A, 6, true},
    {A, 5, U, 6, true},
    {U, 5, A, 6, true},
    {U, 5, U, 6, true},
    // ... dead and left override anything ...
    {A, 5, D, 6, true},
    {U, 5, L, 6, true},
    {D, 5, L, 6, true},
    {L, 5, D, 6, true},
    // ... and only the member itself (alive) overrides dead and left.
    {D, 5, A, 6, true},
    {L, 5, A, 6, true},
    {D, 5, U, 6, false},
    {L, 5, U, 6, false},
};

TEST(Membership, PrecedenceTable) {
  for (const Case& c : kCases) {
    EXPECT_EQ(overrides(c.known, c.known_inc, c.claim, c.claim_inc), c.wins)
        << to_string(c.known) << "@" << c.known_inc << " <- " << to_string(c.claim) << "@"
        << c.claim_inc;
  }
}

Member self_member() {
  Member m;
  m.name = "self";
  m.address = "10.0.0.1:1";
  m.incarnation = 1;
  return m;
}

TEST(Membership, NewMembersOnlyThroughAliveWithAnAddress) {
  MembershipTable t(self_member());
  EXPECT_EQ(t.apply("x", S::kSuspect, 3, "10.0.0.2:1", 0), MembershipTable::Applied::kIgnored);
  EXPECT_EQ(t.apply("x", S::kDead, 3, "", 0), MembershipTable::Applied::kIgnored);
  EXPECT_EQ(t.apply("x", S::kAlive, 3, "", 0), MembershipTable::Applied::kIgnored);
  EXPECT_EQ(t.apply("x", S::kAlive, 3, "10.0.0.2:1", 7), MembershipTable::Applied::kNew);
  EXPECT_EQ(t.find("x")->state_since_us, 7);
  EXPECT_EQ(t.live_count(), 2u);
  EXPECT_EQ(t.apply("self", S::kDead, 9, "", 0), MembershipTable::Applied::kIgnored);
}

TEST(Membership, AppliesAndCountsLiveMembers) {
  MembershipTable t(self_member());
  t.apply("x", S::kAlive, 1, "10.0.0.2:1", 0);
  t.apply("y", S::kAlive, 1, "10.0.0.3:1", 0);
  EXPECT_EQ(t.live_count(), 3u);
  EXPECT_EQ(t.apply("x", S::kDead, 1, "", 5), MembershipTable::Applied::kChanged);
  EXPECT_EQ(t.live_count(), 2u);
  EXPECT_EQ(t.find("x")->state_since_us, 5);
  // A restart: alive at a higher incarnation, at a new address.
  EXPECT_EQ(t.apply("x", S::kAlive, 2, "10.0.0.9:1", 6), MembershipTable::Applied::kChanged);
  EXPECT_EQ(t.find("x")->address, "10.0.0.9:1");
  EXPECT_EQ(t.live_count(), 3u);
  t.erase("y");
  t.erase("self");  // never
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.live_count(), 2u);
}

TEST(Membership, SamplesDistinctMatchingOthers) {
  MembershipTable t(self_member());
  for (int i = 0; i < 200; ++i) {
    t.apply("m" + std::to_string(i), S::kAlive, 1, "10.0.0.2:" + std::to_string(i + 1), 0);
  }
  for (int i = 0; i < 200; i += 2) t.apply("m" + std::to_string(i), S::kDead, 1, "", 0);
  std::mt19937_64 rng(3);
  std::map<std::string, int> counts;
  for (int round = 0; round < 100; ++round) {
    auto picks = t.sample(rng, 3, [](const Member& m) { return m.state == S::kAlive; });
    ASSERT_EQ(picks.size(), 3u);
    EXPECT_NE(picks[0], picks[1]);
    EXPECT_NE(picks[1], picks[2]);
    EXPECT_NE(picks[0], picks[2]);
    for (const Member* m : picks) {
      EXPECT_EQ(m->state, S::kAlive);
      EXPECT_NE(m->name, "self");
      ++counts[m->name];
    }
  }
  EXPECT_GT(counts.size(), 50u);  // spread over the 100 alive
  MembershipTable small(self_member());
  small.apply("x", S::kAlive, 1, "10.0.0.2:1", 0);
  EXPECT_EQ(small.sample(rng, 3, [](const Member&) { return true; }).size(), 1u);
}

}  // namespace
}  // namespace braid::gossip
