#include "sched/check.h"

#include <gtest/gtest.h>

#include <string>

#include "sched/task.h"

namespace braid::sched {
namespace {

TEST(Check, HoldingCheckEvaluatesNoValue) {
  int evaluated = 0;
  auto count = [&] { return ++evaluated; };
  BRAID_CHECK(1 + 1 == 2, count());
  BRAID_CHECK(true);
  EXPECT_EQ(evaluated, 0);
}

TEST(CheckDeathTest, FailingCheckPrintsWhereWhatAndTheValues) {
  const std::uint64_t key = 42;
  const TaskState state = TaskState::kRunning;
  const std::string id = "job-7";
  EXPECT_DEATH(BRAID_CHECK(key < 10, key, state, id),
               "check_test.cc:[0-9]+: check failed: key < "
               "10 \\[key=42, state=running, id=job-7\\]");
}

TEST(CheckDeathTest, NamesSplitOnlyAtTopLevelCommas) {
  auto add = [](int a, int b) { return a + b; };
  EXPECT_DEATH(BRAID_CHECK(false, add(1, 2), "a,b", true, 'x'),
               "check failed: false \\[add\\(1, 2\\)=3, \"a,b\"=a,b, true=true, 'x'=120\\]");
}

TEST(CheckDeathTest, ACheckWithoutValuesPrintsTheCondition) {
  EXPECT_DEATH(BRAID_CHECK(2 < 1), "check failed: 2 < 1");
}

}  // namespace
}  // namespace braid::sched
