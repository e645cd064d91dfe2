// Fair: CPU shares over simulated seconds with 1 ms ticks, and the fair
// window that keeps equal tasks from preempting each other every quantum.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;
constexpr Micros kForever = 3600 * kMicrosPerSecond;  // work that outlasts the test

// Fair that preempts at every quantum (fair window 0): the vruntime
// bookkeeping itself, at the finest grain.
TorusConfig per_quantum(int slots) {
  TorusConfig c = config(Policy::kFair, slots, 10 * kMs);
  c.fair_window_quanta = 0;
  return c;
}

std::vector<double> cpu_ms(const SimNode& node, const std::vector<TaskKey>& keys) {
  std::vector<double> out;
  for (TaskKey k : keys) out.push_back(static_cast<double>(node.torus().task(k).cpu_time_us) / kMs);
  return out;
}

void expect_equal_shares(int slots, int tasks) {
  SimNode node(per_quantum(slots));
  std::vector<TaskKey> keys;
  for (int i = 0; i < tasks; ++i) keys.push_back(must(node.submit(spec(), work(kForever))));
  node.run_for(10 * kMicrosPerSecond, 1 * kMs);
  std::vector<double> cpu = cpu_ms(node, keys);
  const double total = std::accumulate(cpu.begin(), cpu.end(), 0.0);
  EXPECT_NEAR(total, 10'000.0 * slots, 1.0);  // work-conserving: no slot idles
  auto [lo, hi] = std::minmax_element(cpu.begin(), cpu.end());
  EXPECT_LE((*hi - *lo) / *hi, 0.02) << "min " << *lo << "ms max " << *hi << "ms";
}

TEST(TorusFair, EqualPrioritiesGetSharesWithinTwoPercentOnOneSlot) { expect_equal_shares(1, 4); }

TEST(TorusFair, EqualPrioritiesGetSharesWithinTwoPercentOnTwoSlots) { expect_equal_shares(2, 5); }

TEST(TorusFair, Priority7Versus5GetsTheWeightRatioWithinFivePercent) {
  SimNode node(per_quantum(1));
  TaskKey p7 = must(node.submit(spec(7), work(kForever)));
  TaskKey p5 = must(node.submit(spec(5), work(kForever)));
  node.run_for(10 * kMicrosPerSecond, 1 * kMs);
  std::vector<double> cpu = cpu_ms(node, {p7, p5});
  const double want = static_cast<double>(fair_weight(7)) / fair_weight(5);  // ~1.549
  EXPECT_NEAR(cpu[0] / cpu[1], want, want * 0.05) << cpu[0] << "ms vs " << cpu[1] << "ms";
}

TEST(TorusFair, LowestPriorityIsNotStarved) {
  SimNode node(per_quantum(1));
  std::vector<TaskKey> heavy;
  for (int i = 0; i < 10; ++i) heavy.push_back(must(node.submit(spec(10), work(kForever))));
  TaskKey light = must(node.submit(spec(0), work(kForever)));
  node.run_for(10 * kMicrosPerSecond, 1 * kMs);
  const double share = static_cast<double>(node.torus().task(light).cpu_time_us) / (10'000 * kMs);
  const double want = 335.0 / (10 * 3121.0 + 335.0);  // its weight over all weights, ~1.06%
  EXPECT_GT(share, want * 0.5);
  EXPECT_LT(share, want * 1.5);
}

TEST(TorusFair, LateArrivalStartsAtTheMinimumAndCannotMonopolise) {
  SimNode node(per_quantum(1));
  std::vector<TaskKey> old;
  for (int i = 0; i < 3; ++i) old.push_back(must(node.submit(spec(), work(kForever))));
  node.run_for(5 * kMicrosPerSecond, 1 * kMs);
  std::vector<double> before = cpu_ms(node, old);
  TaskKey late = must(node.submit(spec(), work(kForever)));
  node.run_for(2 * kMicrosPerSecond, 1 * kMs);
  // Over the 2 s after it arrived, four equal tasks share the slot: ~500ms each.
  const double late_ms = static_cast<double>(node.torus().task(late).cpu_time_us) / kMs;
  EXPECT_NEAR(late_ms, 500.0, 500.0 * 0.1);
  std::vector<double> after = cpu_ms(node, old);
  for (std::size_t i = 0; i < old.size(); ++i) EXPECT_NEAR(after[i] - before[i], 500.0, 50.0);
}

// With the default window (100 quanta = 1 s here), two equal tasks on one slot
// switch only when the waiting one is owed a second: every 2 s after the
// first, not every quantum, and their shares still converge.
TEST(TorusFair, EqualTasksSwitchOnlyWhenTheWaitingOneIsOwedTheWindow) {
  TorusConfig c = config(Policy::kFair, 1, 10 * kMs);
  ASSERT_EQ(c.fair_window_quanta, 100u);
  SimNode node(c);
  TaskKey a = must(node.submit(spec(), work(kForever)));
  TaskKey b = must(node.submit(spec(), work(kForever)));
  node.run_for(999 * kMs, 1 * kMs);
  EXPECT_EQ(node.torus().task(a).cpu_time_us, 999 * kMs);  // owed less than the window
  node.run_for(2 * kMs, 1 * kMs);
  EXPECT_EQ(node.torus().task(b).state, TaskState::kRunning);
  node.run_for(59 * kMicrosPerSecond, 1 * kMs);
  const std::uint64_t switches = node.torus().stats().preemptions;
  EXPECT_GE(switches, 29u);  // one per 2 s
  EXPECT_LE(switches, 31u);
  std::vector<double> cpu = cpu_ms(node, {a, b});
  EXPECT_NEAR(cpu[0], cpu[1], 1'000.0 + 10.0);  // never further apart than the window
}

// Tasks shorter than the window are never preempted by equal ones: a batch
// runs as xargs runs it, first in first out, with no stopped processes.
TEST(TorusFair, ABatchOfShortTasksRunsWithoutPreemption) {
  SimNode node(config(Policy::kFair, 2, 10 * kMs));
  std::vector<TaskKey> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(must(node.submit(spec(), work(700 * kMs))));
  ASSERT_TRUE(node.run_until_idle(10 * kMicrosPerSecond));
  EXPECT_EQ(node.torus().stats().preemptions, 0u);
  EXPECT_EQ(testing::finish_order(node), keys);
}

// The window is CPU time owed at the waiting task's own weight: a priority-10
// arrival (weight 3121, ~3x the default's) preempts after ~1/3 of the window.
TEST(TorusFair, AHigherPriorityArrivalWaitsAThirdOfTheWindow) {
  SimNode node(config(Policy::kFair, 1, 10 * kMs));
  must(node.submit(spec(), work(kForever)));
  node.run_for(100 * kMs, 1 * kMs);
  TaskKey urgent = must(node.submit(spec(10), work(1 * kMicrosPerSecond)));
  const Micros arrived_us = node.now_us();
  while (node.torus().task(urgent).state != TaskState::kCompleted) {
    ASSERT_LT(node.now_us(), arrived_us + 5 * kMicrosPerSecond);
    node.run_for(1 * kMs, 1 * kMs);
  }
  const Micros waited_us = node.torus().task(urgent).finished_at_us - arrived_us - kMicrosPerSecond;
  EXPECT_GE(waited_us, 320 * kMs);
  EXPECT_LE(waited_us, 350 * kMs);  // 1 s x 1024 / 3121 = 328 ms, to the next quantum end
}

}  // namespace
}  // namespace braid::sched
