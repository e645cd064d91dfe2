#include "gossip/config.h"

#include <gtest/gtest.h>

namespace braid::gossip {
namespace {

TEST(Config, ProfilesValidate) {
  EXPECT_EQ(GossipConfig::lan().validate(), std::nullopt);
  EXPECT_EQ(GossipConfig::fast().validate(), std::nullopt);
  EXPECT_EQ(GossipConfig::memberlist().validate(), std::nullopt);
}

// lan differs from memberlist's LAN profile only in the probe timers and
// suspicion_mult (docs/gossip.md: chosen to detect within 3 s at 100 nodes).
TEST(Config, LanIsMemberlistsLanWithFasterProbes) {
  GossipConfig c = GossipConfig::lan();
  EXPECT_EQ(c.probe_interval_us, 300'000);
  EXPECT_EQ(c.probe_timeout_us, 150'000);
  EXPECT_EQ(c.suspicion_mult, 2);
  c = GossipConfig::memberlist();
  EXPECT_EQ(c.probe_interval_us, 1'000'000);
  EXPECT_EQ(c.probe_timeout_us, 500'000);
  EXPECT_EQ(c.indirect_checks, 3);
  EXPECT_EQ(c.suspicion_mult, 4);
  EXPECT_EQ(c.suspicion_max_timeout_mult, 6);
  EXPECT_EQ(c.gossip_interval_us, 200'000);
  EXPECT_EQ(c.gossip_fanout, 3);
  EXPECT_EQ(c.retransmit_mult, 4);
  EXPECT_EQ(c.sync_interval_us, 30'000'000);
}

TEST(Config, FastIsTenTimesFaster) {
  const GossipConfig c = GossipConfig::fast();
  EXPECT_EQ(c.probe_interval_us, 100'000);
  EXPECT_EQ(c.probe_timeout_us, 50'000);
  EXPECT_EQ(c.gossip_interval_us, 20'000);
  EXPECT_EQ(c.sync_interval_us, 2'000'000);
  EXPECT_EQ(c.join_retry_min_us, 50'000);
  EXPECT_EQ(c.join_retry_max_us, 1'000'000);
  EXPECT_EQ(c.gossip_to_dead_us, 3'000'000);
  EXPECT_EQ(c.reclaim_after_us, 60'000'000);
}

TEST(Config, ErrorsNameTheFieldAndTheRange) {
  GossipConfig c;
  c.probe_timeout_us = c.probe_interval_us;
  EXPECT_EQ(c.validate(), "probe_timeout_us must be 100..299999 us (below probe_interval_us)");
  c = GossipConfig{};
  c.gossip_fanout = -1;
  EXPECT_EQ(c.validate(), "gossip_fanout must be 0..64");
  c = GossipConfig{};
  c.join_retry_max_us = c.join_retry_min_us - 1;
  EXPECT_EQ(c.validate(),
            "join_retry_max_us must be 500000..3600000000 us (at least join_retry_min_us)");
  c = GossipConfig{};
  c.reclaim_after_us = c.gossip_to_dead_us - 1;
  ASSERT_TRUE(c.validate().has_value());
  EXPECT_EQ(c.validate()->rfind("reclaim_after_us must be", 0), 0u);
  c = GossipConfig{};
  c.awareness_max = 0;
  EXPECT_EQ(c.validate(), "awareness_max must be 1..64");
}

}  // namespace
}  // namespace braid::gossip
