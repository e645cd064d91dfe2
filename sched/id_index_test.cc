#include "sched/id_index.h"

#include <gtest/gtest.h>

#include <string>

namespace braid::sched {
namespace {

std::string id_of(std::size_t i) { return "node:" + std::to_string(i); }

TEST(IdIndex, FindsWhatWasInserted) {
  IdIndex index;
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.find("a:1"));
  EXPECT_TRUE(index.insert("a:1", 3));
  EXPECT_TRUE(index.insert("peer-7:12", 4));  // any id, not only this node's
  EXPECT_EQ(index.find("a:1"), TaskKey{3});
  EXPECT_EQ(index.find("peer-7:12"), TaskKey{4});
  EXPECT_FALSE(index.find("a:2"));
  EXPECT_EQ(index.size(), 2u);
}

TEST(IdIndex, RefusesAnIdItHoldsAndKeepsTheFirstKey) {
  IdIndex index;
  EXPECT_TRUE(index.insert("a:1", 3));
  EXPECT_FALSE(index.insert("a:1", 9));
  EXPECT_EQ(index.find("a:1"), TaskKey{3});
  EXPECT_EQ(index.size(), 1u);
}

// A duplicate is refused at every size, also by the insert that would begin
// a step (the full map must not hand the id over to the draining side and
// take it a second time) and while a step is under way.
TEST(IdIndex, RefusesDuplicatesAtEverySize) {
  IdIndex index;
  ASSERT_TRUE(index.insert(id_of(0), 0));
  for (std::size_t i = 1; i < 20'000; ++i) {
    ASSERT_FALSE(index.insert(id_of(i - 1), 1)) << i;
    ASSERT_FALSE(index.insert(id_of(i / 2), 1)) << i;
    ASSERT_EQ(index.size(), i);
    ASSERT_TRUE(index.insert(id_of(i), static_cast<TaskKey>(i))) << i;
  }
  for (std::size_t i = 0; i < 20'000; ++i) ASSERT_EQ(index.find(id_of(i)), i) << i;
}

TEST(IdIndex, EraseDropsOnlyThatId) {
  IdIndex index;
  index.insert("a:1", 1);
  index.insert("a:2", 2);
  EXPECT_TRUE(index.erase("a:1"));
  EXPECT_FALSE(index.erase("a:1"));
  EXPECT_FALSE(index.find("a:1"));
  EXPECT_EQ(index.find("a:2"), TaskKey{2});
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.insert("a:1", 5));  // an erased id can come back
  EXPECT_EQ(index.find("a:1"), TaskKey{5});
}

// Many steps: every id stays findable while entries move between the maps,
// and each step ends (the draining map empties) before the next begins.
TEST(IdIndex, GrowsInStepsAndKeepsEveryId) {
  IdIndex index;
  constexpr std::size_t kIds = 200'000;
  std::size_t steps = 0;
  bool was_growing = false;
  for (std::size_t i = 0; i < kIds; ++i) {
    ASSERT_TRUE(index.insert(id_of(i), static_cast<TaskKey>(i)));
    if (index.growing() && !was_growing) ++steps;
    was_growing = index.growing();
    if (i % 997 == 0) {  // spot checks, old and new ids, during steps too
      ASSERT_EQ(index.find(id_of(i / 2)), static_cast<TaskKey>(i / 2)) << i;
      ASSERT_FALSE(index.insert(id_of(i / 3), 0)) << i;
    }
  }
  EXPECT_GE(steps, 10u);
  EXPECT_EQ(index.size(), kIds);
  for (std::size_t i = 0; i < kIds; ++i) ASSERT_EQ(index.find(id_of(i)), i) << i;
}

TEST(IdIndex, AStepEndsWithinHalfAsManyInsertsAsTheIndexHeld) {
  IdIndex index;
  std::size_t i = 0;
  while (!index.growing()) ASSERT_TRUE(index.insert(id_of(i++), 0));
  const std::size_t held = index.size();
  std::size_t inserts = 0;
  while (index.growing()) {
    ASSERT_TRUE(index.insert(id_of(i++), 0));
    ++inserts;
  }
  EXPECT_LE(inserts, held / IdIndex::kMovesPerInsert + 1);
}

TEST(IdIndex, EraseAndFindReachEntriesNotMovedYet) {
  IdIndex index;
  std::size_t i = 0;
  for (; i < 1000 || !index.growing(); ++i) index.insert(id_of(i), static_cast<TaskKey>(i + 1));
  // Right after a step began nearly everything is still in the draining map.
  for (std::size_t k = 0; k < 50; ++k) {
    ASSERT_EQ(index.find(id_of(k)), static_cast<TaskKey>(k + 1)) << k;
    ASSERT_TRUE(index.erase(id_of(k))) << k;
    ASSERT_FALSE(index.find(id_of(k))) << k;
  }
  EXPECT_EQ(index.size(), i - 50);
  while (index.growing()) index.insert(id_of(i++), 0);
  for (std::size_t k = 0; k < 50; ++k) ASSERT_FALSE(index.find(id_of(k))) << k;
  for (std::size_t k = 50; k < 100; ++k) ASSERT_EQ(index.find(id_of(k)), k + 1) << k;
}

TEST(IdIndex, ReserveFinishesAStepUnderWay) {
  IdIndex index;
  std::size_t i = 0;
  for (; !index.growing(); ++i) index.insert(id_of(i), static_cast<TaskKey>(i + 1));
  index.reserve(10 * i);
  EXPECT_FALSE(index.growing());
  EXPECT_EQ(index.size(), i);
  for (std::size_t k = 0; k < i; ++k) ASSERT_EQ(index.find(id_of(k)), k + 1) << k;
  for (std::size_t k = i; k < 9 * i; ++k) {  // room reserved: no step
    index.insert(id_of(k), 0);
    ASSERT_FALSE(index.growing()) << k;
  }
}

}  // namespace
}  // namespace braid::sched
