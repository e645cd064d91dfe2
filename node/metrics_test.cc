// Metrics: every series of the contract (docs/metrics.md) at zero from the
// start, counters and histograms that move with their events, and labels
// that never name a task.
#include "node/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "node/daemon.h"
#include "node/data_dir.h"
#include "node/tasks_test_util.h"
#include "node/test_temp_dir.h"

namespace braid::node {
namespace {

// "name{labels}" -> value, for every sample line of the exposition.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::vector<std::string> labelled(const std::string& name, const std::string& label,
                                  const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) out.push_back(name + "{" + label + "=\"" + v + "\"}");
  return out;
}

// Every series the contract lists, with every label value.
std::vector<std::string> contract_series() {
  std::vector<std::string> all = labelled("braid_tasks", "state",
                                          {"pending", "queued", "running", "stopped", "migrating",
                                           "moved", "completed", "failed", "cancelled", "held"});
  for (const auto& s :
       labelled("braid_tasks_completed_total", "outcome", {"succeeded", "failed", "cancelled"})) {
    all.push_back(s);
  }
  for (const char* name : {"braid_tasks_submitted_total",
                           "braid_tasks_cancelled_total",
                           "braid_tasks_retried_total",
                           "braid_context_switches_total",
                           "braid_preemptions_total",
                           "braid_tasks_scheduled_total",
                           "braid_slots",
                           "braid_slots_busy",
                           "braid_quantum_seconds",
                           "braid_migrations_in_total",
                           "braid_migrations_out_total",
                           "braid_handoffs_unresolved",
                           "braid_handoffs_held",
                           "braid_tasks_run_twice_total",
                           "braid_gossip_messages_sent_total",
                           "braid_gossip_messages_received_total",
                           "braid_gossip_bytes_sent_total",
                           "braid_gossip_bytes_received_total",
                           "braid_draining",
                           "braid_process_cpu_seconds_total",
                           "braid_process_resident_memory_bytes",
                           "braid_uptime_seconds"}) {
    all.push_back(name);
  }
  for (const char* name : {"braid_policy_seconds_total", "braid_policy"}) {
    for (const auto& s : labelled(name, "policy", {"RoundRobin", "Priority", "Fair"})) {
      all.push_back(s);
    }
  }
  for (const char* side : {"by_peers", "by_us"}) {
    for (const char* reason : {"busy", "labels", "draining", "disabled", "fenced", "other"}) {
      all.push_back(std::string("braid_migration_refusals_total{reason=\"") + reason +
                    "\",side=\"" + side + "\"}");
    }
  }
  for (const auto& s :
       labelled("braid_gossip_members", "state", {"alive", "suspect", "dead", "left"})) {
    all.push_back(s);
  }
  for (const auto& s : labelled("braid_executor_mode", "mode", {"cgroup", "signals"})) {
    all.push_back(s);
  }
  for (const char* h : {"braid_schedule_decision_seconds", "braid_queue_wait_seconds",
                        "braid_time_slice_error_seconds", "braid_gossip_probe_rtt_seconds",
                        "braid_store_write_seconds", "braid_store_sync_seconds"}) {
    all.push_back(std::string(h) + "_count");
    all.push_back(std::string(h) + "_sum");
    all.push_back(std::string(h) + "_bucket{le=\"+Inf\"}");
  }
  return all;
}

TEST(Metrics, EverySeriesOfTheContractExistsAtZero) {
  MetricsSnapshot zero;
  zero.torus.tasks_by_state = {};
  const std::string text = render_metrics(zero);
  const auto values = samples(text);
  for (const std::string& series : contract_series()) {
    SCOPED_TRACE(series);
    ASSERT_EQ(values.count(series), 1u) << text;
    if (series.starts_with("braid_quantum_seconds") || series.starts_with("braid_policy{")) {
      continue;  // the default quantum and policy are not zero
    }
    EXPECT_EQ(values.at(series), 0.0);
  }
  EXPECT_EQ(values.at("braid_policy{policy=\"Fair\"}"), 1.0);  // the torus's default
  EXPECT_EQ(values.at("braid_quantum_seconds"), 0.01);
}

TEST(Metrics, HistogramsHaveTheContractsBucketsCumulative) {
  MetricsSnapshot s;
  Histogram decision(decision_bounds());
  decision.observe_us(1);
  decision.observe_us(30);
  decision.observe_us(20'000);
  s.decision = decision.snapshot();
  const auto v = samples(render_metrics(s));
  EXPECT_EQ(v.at("braid_schedule_decision_seconds_bucket{le=\"1e-06\"}"), 1);
  EXPECT_EQ(v.at("braid_schedule_decision_seconds_bucket{le=\"2.5e-05\"}"), 1);
  EXPECT_EQ(v.at("braid_schedule_decision_seconds_bucket{le=\"5e-05\"}"), 2);
  EXPECT_EQ(v.at("braid_schedule_decision_seconds_bucket{le=\"0.01\"}"), 2);
  EXPECT_EQ(v.at("braid_schedule_decision_seconds_bucket{le=\"+Inf\"}"), 3);
  EXPECT_EQ(v.at("braid_schedule_decision_seconds_count"), 3);
  EXPECT_DOUBLE_EQ(v.at("braid_schedule_decision_seconds_sum"), 0.020031);
  EXPECT_EQ(v.count("braid_queue_wait_seconds_bucket{le=\"3600\"}"), 1u);
  EXPECT_EQ(v.count("braid_store_sync_seconds_bucket{le=\"1e-05\"}"), 1u);
  EXPECT_EQ(v.count("braid_store_sync_seconds_bucket{le=\"1\"}"), 1u);
}

TEST(Metrics, SnapshotFiguresReachTheirSeries) {
  MetricsSnapshot s;
  s.torus.policy = sched::Policy::kPriority;
  s.torus.slots = 4;
  s.torus.ended_failed = 2;
  s.torus.retries = 3;
  s.node_requeues = 1;
  s.policy_us[static_cast<std::size_t>(sched::Policy::kFair)] = 1'500'000;
  s.refusals.add(RefusalSide::kByPeers, "busy");
  s.migration.outcomes_unexpected = 1;
  s.migration.forced_releases = 1;
  s.members[0] = 3;
  s.executor_mode = "signals";
  s.draining = true;
  s.process_rss_bytes = 4096;
  const auto v = samples(render_metrics(s));
  EXPECT_EQ(v.at("braid_policy{policy=\"Priority\"}"), 1);
  EXPECT_EQ(v.at("braid_policy{policy=\"Fair\"}"), 0);
  EXPECT_EQ(v.at("braid_policy_seconds_total{policy=\"Fair\"}"), 1.5);
  EXPECT_EQ(v.at("braid_slots"), 4);
  EXPECT_EQ(v.at("braid_tasks_completed_total{outcome=\"failed\"}"), 2);
  EXPECT_EQ(v.at("braid_tasks_retried_total"), 4);
  EXPECT_EQ(v.at("braid_migration_refusals_total{reason=\"busy\",side=\"by_peers\"}"), 1);
  EXPECT_EQ(v.at("braid_tasks_run_twice_total"), 2);
  EXPECT_EQ(v.at("braid_gossip_members{state=\"alive\"}"), 3);
  EXPECT_EQ(v.at("braid_executor_mode{mode=\"signals\"}"), 1);
  EXPECT_EQ(v.at("braid_executor_mode{mode=\"cgroup\"}"), 0);
  EXPECT_EQ(v.at("braid_draining"), 1);
  EXPECT_EQ(v.at("braid_process_resident_memory_bytes"), 4096);
}

TEST(Metrics, EveryNameIsBraidPrefixedAndTypedAndNoLabelNamesATask) {
  const std::string text = render_metrics(MetricsSnapshot{});
  std::istringstream in(text);
  std::string line;
  const std::set<std::string> allowed_labels = {"state",  "outcome", "policy", "side",
                                                "reason", "mode",    "le"};
  const std::regex label_re(R"(([a-z_]+)=")");
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      EXPECT_TRUE(line.starts_with("# HELP braid_") || line.starts_with("# TYPE braid_")) << line;
      continue;
    }
    EXPECT_TRUE(line.starts_with("braid_")) << line;
    for (auto it = std::sregex_iterator(line.begin(), line.end(), label_re);
         it != std::sregex_iterator(); ++it) {
      EXPECT_EQ(allowed_labels.count((*it)[1]), 1u) << line;
    }
  }
}

TEST(Metrics, ProcessFiguresAreThisProcesss) {
  EXPECT_GT(process_rss_bytes(), 1'000'000u);
  volatile std::uint64_t spin = 0;
  for (int i = 0; i < 20'000'000; ++i) spin = spin + static_cast<std::uint64_t>(i);
  EXPECT_GT(process_cpu_us(), 0);
}

// The real parts (a store in a temp dir, no peers): Metrics reads what they
// count, and it moves with the events.
TEST(Metrics, ReadsTheDaemonsPartsAndMovesWithTheirEvents) {
  testing::TempDir tmp("braid-metrics");
  ASSERT_FALSE(tmp.path().empty());
  DaemonConfig config;
  config.name = "m1";
  config.data_dir = tmp.path() / "data";
  config.executor.mode = ExecutorConfig::Mode::kSignals;
  ASSERT_TRUE(DataDir::open(config.data_dir));
  asio::io_context io;
  SystemClock clock;
  auto opened = Durability::open_store(clock, config);
  ASSERT_TRUE(opened) << opened.error().message;
  auto [store, meta] = std::move(opened).value();
  Tasks tasks(io, clock, config, meta.next_sequence);
  Waiters waiters(io, tasks);
  Durability durability(io, clock, config, std::move(store), std::move(meta), tasks);
  Submissions submissions(io, clock, config, tasks, durability, waiters);
  Daemon daemon(io, config, tasks, waiters, durability, submissions);
  ASSERT_TRUE(durability.recover());
  bool draining = false;
  Metrics metrics(tasks, submissions, durability);
  metrics.set_draining(&draining);

  auto value = [&](const std::string& series) {
    const auto v = samples(metrics.text());
    return v.count(series) != 0 ? v.at(series) : -1.0;
  };
  EXPECT_EQ(value("braid_executor_mode{mode=\"signals\"}"), 1);
  EXPECT_GT(value("braid_process_resident_memory_bytes"), 0);
  // Without peers the node knows one member, itself, alive (review17).
  EXPECT_EQ(value("braid_gossip_members{state=\"alive\"}"), 1);
  EXPECT_EQ(value("braid_gossip_members{state=\"dead\"}"), 0);
  EXPECT_EQ(value("braid_tasks{state=\"held\"}"), 0);

  const sched::TaskKey key = testing::submit_held(tasks, 1);
  durability.track(key, 1);
  tasks.carry_out();  // stored (unsynced) by the committer
  EXPECT_EQ(value("braid_tasks{state=\"held\"}"), 1);
  ASSERT_TRUE(tasks.cancel({tasks.torus().task(key).id}));
  EXPECT_EQ(value("braid_tasks{state=\"cancelled\"}"), 1);
  EXPECT_EQ(value("braid_tasks_completed_total{outcome=\"cancelled\"}"), 1);
  EXPECT_EQ(value("braid_tasks_cancelled_total"), 1);
  EXPECT_EQ(value("braid_schedule_decision_seconds_count"), 1);
  draining = true;
  EXPECT_EQ(value("braid_draining"), 1);
  // The committer's rounds, measured on its thread: the unsynced task
  // records, and a synced batch (as migration writes them).
  durability.store(storage::Batch{}, [](const sched::Status&) {});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((value("braid_store_sync_seconds_count") < 1 ||
          value("braid_store_write_seconds_count") < 1) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(value("braid_store_sync_seconds_count"), 1);
  EXPECT_GE(value("braid_store_write_seconds_count"), 1);
  // No label names a task.
  EXPECT_EQ(metrics.text().find(tasks.torus().task(key).id), std::string::npos);
  // What a scrape costs the loop (printed, not asserted).
  const auto began = std::chrono::steady_clock::now();
  std::size_t bytes = 0;
  for (int i = 0; i < 200; ++i) bytes += metrics.text().size();
  const auto per_scrape_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - began)
                                 .count() /
                             200;
  std::printf("one scrape: %zu bytes rendered in %lld us\n", bytes / 200,
              static_cast<long long>(per_scrape_us));
}

}  // namespace
}  // namespace braid::node
