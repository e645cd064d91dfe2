// Metrics: braidd's Prometheus metrics (docs/metrics.md is the contract:
// names, labels, buckets). Owned by braidd_main, on the loop's thread.
//
// Nothing is counted here: each part keeps its own plain counters and
// histograms where its events happen (the torus's TorusStats, Submissions,
// Tasks' timings, Durability's committer timings, Migration's refusals,
// gossip through Peers), and text() reads them when a scrape arrives. So a
// sample never takes a lock, and the series exist from the start at zero.
// The exposition is rendered with prometheus-cpp's core (MetricFamily,
// TextSerializer); no prometheus-cpp metric object is used for samples.
//
// render_metrics() is the pure half (a snapshot in, the text out), so tests
// can check every series without a daemon.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "node/histogram.h"
#include "node/lifetime.h"
#include "node/refusal_reason.h"
#include "rpc/control_backend.h"
#include "sched/stats.h"

namespace braid::node {

class Clock;
class Tasks;
class Submissions;
class Durability;
class Peers;
class Migration;

struct MetricsSnapshot {
  sched::TorusStats torus;
  std::uint64_t submitted = 0;      // accepted by submit here
  std::uint64_t node_requeues = 0;  // attempts requeued at this start (a crash or a stop before)
  std::array<sched::Micros, 3> policy_us{};  // by sched::Policy
  HistogramSnapshot decision, queue_wait, slice_error;
  rpc::MigrationCounters migration;
  RefusalCounts refusals;
  std::array<std::uint64_t, 4> members{};  // by gossip::MemberState
  HistogramSnapshot probe_rtt;
  rpc::GossipCounters gossip;
  HistogramSnapshot store_write, store_sync;
  std::string executor_mode;  // "cgroup" or "signals"
  bool draining = false;
  sched::Micros process_cpu_us = 0;
  std::uint64_t process_rss_bytes = 0;
  sched::Micros uptime_us = 0;
};

// The Prometheus text exposition (version 0.0.4) of a snapshot. An empty
// histogram snapshot (no counts) renders as zeros in the contract's buckets.
std::string render_metrics(const MetricsSnapshot& snapshot);

// braidd's own CPU (user + system) and resident memory, from /proc/self.
sched::Micros process_cpu_us();
std::uint64_t process_rss_bytes();

class Metrics final {
 public:
  Metrics(const Tasks& tasks, const Submissions& submissions, const Durability& durability);
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The cluster parts, when the node has peers (none: their series stay 0).
  // Registers a probe round-trip listener with `peers`.
  void set_peers(Peers* peers, const Clock* clock);
  void set_migration(const Migration* migration) { migration_ = migration; }
  void set_draining(const bool* draining) { draining_ = draining; }

  MetricsSnapshot snapshot() const;
  std::string text() const { return render_metrics(snapshot()); }

 private:
  const Tasks& tasks_;
  const Submissions& submissions_;
  const Durability& durability_;
  Peers* peers_ = nullptr;
  const Clock* clock_ = nullptr;
  const Migration* migration_ = nullptr;
  const bool* draining_ = nullptr;
  Histogram probe_rtt_{short_bounds()};
  Lifetime lifetime_;  // last: the probe listener does nothing once this is gone
};

}  // namespace braid::node
