// Torus memory: measured memory counts, and fresh tasks wait while the
// machine's available memory would not cover them.
#include <gtest/gtest.h>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;

TaskSpec with_memory(std::uint64_t bytes) {
  TaskSpec s = spec();
  s.memory_bytes = bytes;
  return s;
}

TEST(TorusMemory, MeasuredMemoryAboveTheSpecCountsAgainstTheNode) {
  TorusConfig c = config(Policy::kFair, 2, 10 * kMs);
  c.memory_bytes = 1000;
  SimNode node(c);
  TaskKey a = must(node.submit(with_memory(100), work(100 * kMs)));
  node.run_for(1 * kMs);
  node.torus().set_task_memory(a, 900);  // it grew past what it declared
  TaskKey b = must(node.submit(with_memory(200), work(10 * kMs)));
  node.run_for(50 * kMs);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kQueued);  // 900 + 200 > 1000
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(testing::finish_order(node), (std::vector<TaskKey>{a, b}));
}

TEST(TorusMemory, FreshTasksWaitWhileAvailableMemoryWouldNotCoverThem) {
  SimNode node(config(Policy::kFair, 2, 10 * kMs));
  Actions out;
  TaskKey a = must(node.submit(spec(), work(1 * kMicrosPerSecond)));
  node.run_for(1 * kMs);
  node.torus().set_task_memory(a, 600);
  node.torus().set_memory_available(500, node.now_us(), out);
  TaskKey b = must(node.submit(spec(), work(10 * kMs)));  // expected like a: 600
  TaskKey small = must(node.submit(with_memory(400), work(10 * kMs)));
  node.run_for(50 * kMs);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kQueued);
  // Fair keeps arrival order among equals: the small one waits behind b.
  EXPECT_EQ(node.torus().task(small).state, TaskState::kQueued);
  node.torus().set_memory_available(700, node.now_us(), out);
  node.apply(out);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kRunning);
  ASSERT_TRUE(node.run_until_idle(2 * kMicrosPerSecond));
}

TEST(TorusMemory, WithNothingStartedOneTaskAlwaysStarts) {
  SimNode node(config(Policy::kFair, 2, 10 * kMs));
  Actions out;
  node.torus().set_memory_available(1, node.now_us(), out);
  TaskKey a = must(node.submit(with_memory(1000), work(10 * kMs)));
  TaskKey b = must(node.submit(with_memory(1000), work(10 * kMs)));
  node.run_for(1 * kMs);
  EXPECT_EQ(node.torus().task(a).state, TaskState::kRunning);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kQueued);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().stats().count(TaskState::kCompleted), 2u);
}

TEST(TorusMemory, AnEndedAttemptNoLongerCounts) {
  TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
  c.memory_bytes = 1000;
  SimNode node(c);
  TaskKey a = must(node.submit(spec(), work(10 * kMs)));
  node.run_for(1 * kMs);
  node.torus().set_task_memory(a, 990);
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  node.torus().set_task_memory(a, 5000);  // not started: ignored
  TaskKey b = must(node.submit(with_memory(1000), work(10 * kMs)));
  node.run_for(1 * kMs);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kRunning);
}

}  // namespace
}  // namespace braid::sched
