#include "gossip/probe_order.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace braid::gossip {
namespace {

TEST(ProbeOrder, EveryMemberOncePerPassInShuffledOrders) {
  std::mt19937_64 rng(7);
  ProbeOrder order;
  std::set<std::string> live = {"a", "b", "c", "d", "e"};
  auto probeable = [&](const std::string& n) { return live.count(n) > 0; };
  auto members = [&] { return std::vector<std::string>(live.begin(), live.end()); };
  std::set<std::vector<std::string>> passes;
  for (int pass = 0; pass < 6; ++pass) {
    std::vector<std::string> seen;
    for (int i = 0; i < 5; ++i) seen.push_back(*order.next(rng, probeable, members));
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), live);
    passes.insert(seen);
  }
  EXPECT_GT(passes.size(), 1u);  // reshuffled
}

TEST(ProbeOrder, SkipsTheDeadAndProbesNewMembers) {
  std::mt19937_64 rng(1);
  ProbeOrder order;
  std::set<std::string> live = {"a", "b", "c"};
  auto probeable = [&](const std::string& n) { return live.count(n) > 0; };
  auto members = [&] { return std::vector<std::string>(live.begin(), live.end()); };
  order.next(rng, probeable, members);
  live.erase("b");
  live.insert("z");
  order.add("z", rng);
  std::map<std::string, int> counts;
  for (int i = 0; i < 30; ++i) ++counts[*order.next(rng, probeable, members)];
  EXPECT_EQ(counts.count("b"), 0u);
  EXPECT_GE(counts["z"], 9);
  EXPECT_GE(counts["a"], 9);
  live.clear();
  EXPECT_EQ(order.next(rng, probeable, members), std::nullopt);
}

TEST(ProbeOrder, ProbeNextPutsAMemberFirstWithoutLosingTheRestOfThePass) {
  std::mt19937_64 rng(3);
  ProbeOrder order;
  std::set<std::string> live = {"a", "b", "c", "d"};
  auto probeable = [&](const std::string& n) { return live.count(n) > 0; };
  auto members = [&] { return std::vector<std::string>(live.begin(), live.end()); };
  const std::string first = *order.next(rng, probeable, members);
  const std::string suspect = first == "a" ? "b" : "a";
  order.probe_next(suspect);
  EXPECT_EQ(*order.next(rng, probeable, members), suspect);
  std::set<std::string> rest;
  for (int i = 0; i < 2; ++i) rest.insert(*order.next(rng, probeable, members));
  std::set<std::string> expected = live;
  expected.erase(first);
  expected.erase(suspect);    // moved forward, not copied: probed once this pass
  EXPECT_EQ(rest, expected);  // the pass goes on: every other member once
}

}  // namespace
}  // namespace braid::gossip
