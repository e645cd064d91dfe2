#include "gossip/config.h"

namespace braid::gossip {
namespace {

constexpr Micros kMinute = 60 * kMicrosPerSecond;
constexpr Micros kHour = 60 * kMinute;
constexpr Micros kDay = 24 * kHour;

std::string range_error(const char* field, long long lo, long long hi, const char* unit) {
  return std::string(field) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + unit;
}

}  // namespace

GossipConfig GossipConfig::lan() { return GossipConfig{}; }

GossipConfig GossipConfig::memberlist() {
  GossipConfig c;
  c.probe_interval_us = 1 * kMicrosPerSecond;
  c.probe_timeout_us = 500 * kMicrosPerMilli;
  c.suspicion_mult = 4;
  return c;
}

GossipConfig GossipConfig::fast() {
  GossipConfig c;
  c.probe_interval_us = 100 * kMicrosPerMilli;
  c.probe_timeout_us = 50 * kMicrosPerMilli;
  c.suspicion_mult = 4;  // tests share a busy machine: room to refute
  c.gossip_interval_us = 20 * kMicrosPerMilli;
  c.sync_interval_us = 2 * kMicrosPerSecond;
  c.join_retry_min_us = 50 * kMicrosPerMilli;
  c.join_retry_max_us = 1 * kMicrosPerSecond;
  c.gossip_to_dead_us = 3 * kMicrosPerSecond;
  c.reclaim_after_us = 60 * kMicrosPerSecond;
  c.stall_threshold_us = 50 * kMicrosPerMilli;
  c.reconnect_interval_us = 1 * kMicrosPerSecond;
  return c;
}

std::optional<std::string> GossipConfig::validate() const {
  struct Range {
    const char* field;
    long long value, lo, hi;
    const char* unit;
  };
  const Range ranges[] = {
      {"probe_interval_us", probe_interval_us, 1'000, 10 * kMinute, " us"},
      {"probe_timeout_us", probe_timeout_us, 100, probe_interval_us - 1,
       " us (below probe_interval_us)"},
      {"indirect_checks", indirect_checks, 0, 16, ""},
      {"suspicion_mult", suspicion_mult, 1, 100, ""},
      {"suspicion_max_timeout_mult", suspicion_max_timeout_mult, 1, 100, ""},
      {"suspicion_confirmations", suspicion_confirmations, 0, 32, ""},
      {"awareness_max", awareness_max, 1, 64, ""},
      {"gossip_interval_us", gossip_interval_us, 1'000, kMinute, " us"},
      {"gossip_fanout", gossip_fanout, 0, 64, ""},
      {"retransmit_mult", retransmit_mult, 1, 64, ""},
      {"membership_retransmit_mult", membership_retransmit_mult, 1, 64, ""},
      {"gossip_to_dead_us", gossip_to_dead_us, 0, kDay, " us"},
      {"sync_interval_us", sync_interval_us, 1'000, kDay, " us"},
      {"join_retry_min_us", join_retry_min_us, 1'000, kHour, " us"},
      {"join_retry_max_us", join_retry_max_us, join_retry_min_us, kHour,
       " us (at least join_retry_min_us)"},
      {"reclaim_after_us", reclaim_after_us, gossip_to_dead_us, 7 * kDay,
       " us (at least gossip_to_dead_us)"},
      {"stall_threshold_us", stall_threshold_us, 1'000, kHour, " us"},
      {"join_reply_max_pages", join_reply_max_pages, 1, 64, ""},
      {"reconnect_interval_us", reconnect_interval_us, 1'000, kDay, " us"},
  };
  for (const Range& r : ranges) {
    if (r.value < r.lo || r.value > r.hi) return range_error(r.field, r.lo, r.hi, r.unit);
  }
  return std::nullopt;
}

}  // namespace braid::gossip
