#include "sched/run_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace braid::sched {
namespace {

std::vector<TaskKey> drain(RunQueue& q) {
  std::vector<TaskKey> keys;
  while (!q.empty()) {
    keys.push_back(q.peek()->key);
    q.pop();
  }
  return keys;
}

TEST(RunQueue, EmptyHasNoHead) {
  RunQueue q;
  EXPECT_EQ(q.peek(), nullptr);
  EXPECT_TRUE(q.empty());
}

TEST(RunQueue, EqualMajorsAreFifoBySeq) {
  RunQueue q;
  for (TaskKey k = 0; k < 5; ++k) q.push({0, k + 1, k, 0});
  EXPECT_EQ(drain(q), (std::vector<TaskKey>{0, 1, 2, 3, 4}));
}

TEST(RunQueue, LowerMajorFirstAcrossLevels) {
  RunQueue q;
  q.push({5, 1, 10, 5});
  q.push({0, 2, 11, 0});
  q.push({5, 3, 12, 5});
  q.push({2, 4, 13, 2});
  EXPECT_EQ(drain(q), (std::vector<TaskKey>{11, 13, 10, 12}));
}

// Whatever order entries arrive in, they leave in rank order: the sorted
// deque takes front/back arrivals, the stray heap the rest.
TEST(RunQueue, RandomArrivalsLeaveInRankOrder) {
  std::mt19937_64 rng(7);
  RunQueue q;
  std::vector<QueueEntry> all;
  std::uint64_t seq = 1;
  for (int round = 0; round < 2000; ++round) {
    if (rng() % 3 != 0 || q.empty()) {
      QueueEntry e{rng() % 50, seq++, static_cast<TaskKey>(round),
                   static_cast<std::uint8_t>(rng() % kPriorityLevels)};
      q.push(e);
      all.push_back(e);
    } else {
      auto best = std::min_element(all.begin(), all.end(), ranks_before);
      ASSERT_EQ(q.peek()->seq, best->seq);
      q.pop();
      all.erase(best);
    }
    ASSERT_EQ(q.size(), all.size());
  }
  std::sort(all.begin(), all.end(), ranks_before);
  for (const QueueEntry& e : all) {
    ASSERT_EQ(q.peek()->seq, e.seq);
    q.pop();
  }
  EXPECT_TRUE(q.empty());
}

TEST(RunQueue, OneLevelCanBePeekedAndPoppedOnItsOwn) {
  RunQueue q;
  q.push({1, 1, 10, 3});  // the overall head
  q.push({5, 2, 20, 0});
  q.push({4, 3, 21, 0});  // out of order within level 0
  EXPECT_EQ(q.peek_level(2), nullptr);
  ASSERT_NE(q.peek_level(0), nullptr);
  EXPECT_EQ(q.peek_level(0)->key, 21u);
  q.pop_level(0);
  EXPECT_EQ(q.peek_level(0)->key, 20u);
  EXPECT_EQ(q.peek()->key, 10u);  // the overall head is unaffected
  q.pop_level(0);
  EXPECT_EQ(q.peek_level(0), nullptr);
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(drain(q), (std::vector<TaskKey>{10}));
}

TEST(RunQueue, ClearEmptiesEveryLevel) {
  RunQueue q;
  q.push({3, 1, 1, 3});
  q.push({1, 2, 2, 1});
  q.push({2, 3, 3, 1});  // out of order in level 1: goes to its stray heap
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.peek(), nullptr);
}

}  // namespace
}  // namespace braid::sched
