// Fair: CPU shares over 10 simulated seconds with 1 ms ticks.
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

std::vector<double> cpu_ms(const SimNode& node, const std::vector<TaskKey>& keys) {
  std::vector<double> out;
  for (TaskKey k : keys) out.push_back(static_cast<double>(node.torus().task(k).cpu_time_us) / kMs);
  return out;
}

void expect_equal_shares(int slots, int tasks) {
  SimNode node(config(Policy::kFair, slots, 10 * kMs));
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
  SimNode node(config(Policy::kFair, 1, 10 * kMs));
  TaskKey p7 = must(node.submit(spec(7), work(kForever)));
  TaskKey p5 = must(node.submit(spec(5), work(kForever)));
  node.run_for(10 * kMicrosPerSecond, 1 * kMs);
  std::vector<double> cpu = cpu_ms(node, {p7, p5});
  const double want = static_cast<double>(fair_weight(7)) / fair_weight(5);  // ~1.549
  EXPECT_NEAR(cpu[0] / cpu[1], want, want * 0.05) << cpu[0] << "ms vs " << cpu[1] << "ms";
}

TEST(TorusFair, LowestPriorityIsNotStarved) {
  SimNode node(config(Policy::kFair, 1, 10 * kMs));
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
  SimNode node(config(Policy::kFair, 1, 10 * kMs));
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

}  // namespace
}  // namespace braid::sched
