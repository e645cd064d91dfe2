#include "tests/sim/network.h"

#include <gtest/gtest.h>

namespace braid::sim {
namespace {

TEST(Network, DropRateIsRoughlyAsConfigured) {
  for (double p : {0.0, 0.05, 0.2}) {
    std::mt19937_64 rng(42);
    Network network(NetworkFaults{.drop_probability = p}, rng);
    int arrived = 0;
    const int kSends = 100'000;
    for (int i = 0; i < kSends; ++i) arrived += network.route(0, 1).copies;
    const double lost = 1.0 - static_cast<double>(arrived) / kSends;
    EXPECT_NEAR(lost, p, 0.01) << "drop_probability " << p;
    EXPECT_EQ(network.counters().dropped_loss, static_cast<std::uint64_t>(kSends - arrived));
  }
}

TEST(Network, DelayStaysWithinBasePlusJitterAndReorders) {
  std::mt19937_64 rng(7);
  Network network(NetworkFaults{.delay_base_us = 1000, .delay_jitter_us = 500}, rng);
  Micros low = 1'000'000, high = 0;
  int overtaken = 0;
  Micros previous_arrival = 0;
  for (int i = 0; i < 10'000; ++i) {
    Route route = network.route(0, 1);
    ASSERT_EQ(route.copies, 1);
    low = std::min(low, route.delay_us[0]);
    high = std::max(high, route.delay_us[0]);
    const Micros arrival = i * 100 + route.delay_us[0];  // one send every 100 us
    if (arrival < previous_arrival) ++overtaken;
    previous_arrival = arrival;
  }
  EXPECT_GE(low, 1000);
  EXPECT_LE(high, 1500);
  EXPECT_GT(overtaken, 0);  // jitter larger than the send gap lets later ones overtake
}

TEST(Network, DuplicatesAboutAsConfigured) {
  std::mt19937_64 rng(3);
  Network network(NetworkFaults{.duplicate_probability = 0.1}, rng);
  int copies = 0;
  for (int i = 0; i < 10'000; ++i) copies += network.route(0, 1).copies;
  EXPECT_NEAR(copies, 11'000, 300);
  EXPECT_EQ(network.counters().duplicated, static_cast<std::uint64_t>(copies - 10'000));
}

TEST(Network, OneWayBlockDropsOnlyThatDirection) {
  std::mt19937_64 rng(1);
  Network network(NetworkFaults{}, rng);
  network.block(0, 1);
  EXPECT_EQ(network.route(0, 1).copies, 0);
  EXPECT_EQ(network.route(1, 0).copies, 1);
  EXPECT_EQ(network.route(0, 2).copies, 1);
  network.unblock(0, 1);
  EXPECT_EQ(network.route(0, 1).copies, 1);
  EXPECT_EQ(network.counters().dropped_partition, 1u);
}

TEST(Network, PartitionBlocksBothWaysBetweenSidesOnlyUntilHealed) {
  std::mt19937_64 rng(1);
  Network network(NetworkFaults{}, rng);
  network.partition({0, 1}, {2, 3});
  EXPECT_TRUE(network.blocked(0, 2));
  EXPECT_TRUE(network.blocked(3, 1));
  EXPECT_FALSE(network.blocked(0, 1));
  EXPECT_FALSE(network.blocked(2, 3));
  network.heal();
  EXPECT_FALSE(network.blocked(0, 2));
}

TEST(Network, SameSeedSameDecisions) {
  auto decisions = [](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Network network(NetworkFaults{.drop_probability = 0.3, .duplicate_probability = 0.1}, rng);
    std::vector<Micros> out;
    for (int i = 0; i < 1000; ++i) {
      Route route = network.route(0, 1);
      for (int c = 0; c < route.copies; ++c) out.push_back(route.delay_us[c]);
      out.push_back(-1);
    }
    return out;
  };
  EXPECT_EQ(decisions(9), decisions(9));
  EXPECT_NE(decisions(9), decisions(10));
}

}  // namespace
}  // namespace braid::sim
