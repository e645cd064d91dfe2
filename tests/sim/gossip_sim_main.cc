// braid_gossip_sim: runs the gossip simulator's scenarios (tests/sim/
// scenario.h) and prints, per run: the time until the fact is known by each
// node (median, p99, max, and max/median), false positives, bytes sent per
// node per second, the largest message and the simulator's speed. --sweep
// runs issue 10's matrix (10, 100, 1000 [,10000] nodes x 0%, 5%, 20% loss);
// --config-sweep plots failure detection against idle traffic over
// probe_interval x suspicion_mult. Every row is replayable with the printed
// seed and its own parameters.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tests/sim/scenario.h"

namespace {

using braid::gossip::GossipConfig;
using braid::gossip::kMicrosPerMilli;
using braid::gossip::kMicrosPerSecond;
using braid::sim::ScenarioOptions;
using braid::sim::ScenarioReport;

struct Overrides {
  int probe_interval_ms = 0;
  int probe_timeout_ms = 0;
  int suspicion_mult = 0;
  int suspicion_max_timeout_mult = 0;
  int gossip_interval_ms = 0;
  int gossip_fanout = 0;
};

GossipConfig profile_config(const std::string& profile, const Overrides& o) {
  GossipConfig config = profile == "fast"         ? GossipConfig::fast()
                        : profile == "memberlist" ? GossipConfig::memberlist()
                                                  : GossipConfig::lan();
  if (o.probe_interval_ms > 0) config.probe_interval_us = o.probe_interval_ms * kMicrosPerMilli;
  if (o.probe_timeout_ms > 0) config.probe_timeout_us = o.probe_timeout_ms * kMicrosPerMilli;
  if (o.suspicion_mult > 0) config.suspicion_mult = o.suspicion_mult;
  if (o.suspicion_max_timeout_mult > 0) {
    config.suspicion_max_timeout_mult = o.suspicion_max_timeout_mult;
  }
  if (o.gossip_interval_ms > 0) config.gossip_interval_us = o.gossip_interval_ms * kMicrosPerMilli;
  if (o.gossip_fanout > 0) config.gossip_fanout = o.gossip_fanout;
  return config;
}

double seconds(braid::gossip::Micros us) { return static_cast<double>(us) / 1e6; }

void print_header() {
  std::printf("%-8s %-4s %6s %5s | %8s %8s %8s %7s %6s %7s | %9s %8s %8s | %9s %7s | %8s %8s  %s\n",
              "scenario", "prof", "nodes", "loss", "median_s", "p99_s", "max_s", "max/med", "tail",
              "missing", "fp_dead", "fp_stall", "suspect", "B/node/s", "max_msg", "sim_x",
              "setup_s", "note");
}

void print_row(const ScenarioOptions& o, const std::string& profile, const ScenarioReport& r) {
  const double median = seconds(r.learn.median_us);
  const double ratio = median > 0 ? seconds(r.learn.max_us) / median : 0;
  std::string note = r.note;
  if (r.counters.rejected > 0)
    note += " REJECTED " + std::to_string(r.counters.rejected) + ": " + r.counters.first_rejection;
  if (!r.false_positives.first.empty()) note += " first fp: " + r.false_positives.first;
  std::printf(
      "%-8s %-4s %6zu %4.0f%% | %8.3f %8.3f %8.3f %7.2f %6.2f %7zu | %4llu/%-4llu %8llu %8llu | "
      "%9.0f "
      "%7zu | %8.1f %8.2f  %s\n",
      r.scenario.c_str(), profile.c_str(), o.nodes, o.faults.drop_probability * 100, median,
      seconds(r.learn.p99_us), seconds(r.learn.max_us), ratio, r.worst_tail, r.learn.missing,
      static_cast<unsigned long long>(r.false_positives.dead_events),
      static_cast<unsigned long long>(r.false_positives.dead_subjects),
      static_cast<unsigned long long>(r.false_positives.stalled_dead_events),
      static_cast<unsigned long long>(r.false_positives.suspect_events), r.bytes_per_node_s,
      r.largest_message_bytes, r.wall_s > 0 ? r.sim_s / r.wall_s : 0,
      r.converge_us >= 0 ? seconds(r.converge_us) : -1.0, note.c_str());
  std::fflush(stdout);
}

ScenarioReport run_and_print(ScenarioOptions o, const std::string& profile) {
  ScenarioReport report = braid::sim::run_scenario(o);
  print_row(o, profile, report);
  return report;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid_gossip_sim: gossip::Node on a simulated network, on virtual time"};
  ScenarioOptions o;
  std::string profile = "lan";
  double loss = 0;
  double duplicate = 0;
  double duration_s = 60;
  std::uint64_t seed = 0;
  bool sweep = false;
  bool config_sweep = false;
  std::vector<std::size_t> sweep_nodes{10, 100, 1000, 10000};
  std::vector<std::string> profiles;
  Overrides overrides;
  app.add_option("--nodes", o.nodes, "cluster size")->check(CLI::Range(2, 100000));
  app.add_option("--loss", loss, "drop probability of each message (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--duplicate", duplicate, "duplicate probability of each message (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", seed, "the run's seed (0: pick one and print it)");
  app.add_option("--scenario", o.scenario, "join | massjoin | fail | load | idle")
      ->check(CLI::IsMember({"join", "massjoin", "fail", "load", "idle"}));
  app.add_option("--profile", profile, "gossip config profile: lan | memberlist | fast")
      ->check(CLI::IsMember({"lan", "memberlist", "fast"}));
  app.add_option("--duration-s", duration_s, "idle: the window measured (simulated seconds)")
      ->check(CLI::PositiveNumber);
  app.add_option("--trials", o.trials, "fail, load: facts measured one after another")
      ->check(CLI::Range(1, 1000));
  app.add_option("--wall-budget-s", o.wall_budget_s,
                 "give up a run after this wall time (0: never)");
  app.add_flag("--sweep", sweep, "issue 10's matrix: nodes x 0%, 5%, 20% loss x scenarios");
  app.add_option("--sweep-nodes", sweep_nodes, "cluster sizes of --sweep");
  app.add_option("--sweep-profiles", profiles, "profiles of --sweep (default: --profile)");
  app.add_flag("--config-sweep", config_sweep,
               "failure detection vs idle bytes over probe_interval x suspicion_mult");
  app.add_option("--probe-interval-ms", overrides.probe_interval_ms)->check(CLI::PositiveNumber);
  app.add_option("--probe-timeout-ms", overrides.probe_timeout_ms)->check(CLI::PositiveNumber);
  app.add_option("--suspicion-mult", overrides.suspicion_mult)->check(CLI::PositiveNumber);
  app.add_option("--suspicion-max-timeout-mult", overrides.suspicion_max_timeout_mult)
      ->check(CLI::PositiveNumber);
  app.add_option("--gossip-interval-ms", overrides.gossip_interval_ms)->check(CLI::PositiveNumber);
  app.add_option("--gossip-fanout", overrides.gossip_fanout)->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  if (seed == 0) seed = std::random_device{}() | 1;
  o.seed = seed;
  o.duration_us = static_cast<braid::gossip::Micros>(duration_s * 1e6);
  o.faults.drop_probability = loss;
  o.faults.duplicate_probability = duplicate;
  if (profiles.empty()) profiles.push_back(profile);
  for (const std::string& p : profiles) {
    if (auto error = profile_config(p, overrides).validate()) {
      std::fprintf(stderr, "braid_gossip_sim: bad config: %s\n", error->c_str());
      return 2;
    }
  }
  std::printf("seed %llu (replay a row: --seed %llu --scenario S --nodes N --loss P --profile X)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::printf(
      "delays: per observer from the fact (joins: per observer and joiner); fp_dead: live nodes "
      "declared dead (events/distinct); fp_stall: deaths of a stalled node; suspect: live nodes "
      "suspected (events); sim_x: simulated s "
      "per wall s; setup_s: from the last start until converged\n");
  print_header();

  if (config_sweep) {
    // Failure detection (fail, 5 trials) and idle traffic per config, at --nodes and --loss.
    for (int probe_ms : {200, 300, 500, 1000}) {
      for (int mult : {1, 2, 3, 4}) {
        Overrides c = overrides;
        c.probe_interval_ms = probe_ms;
        c.suspicion_mult = mult;
        ScenarioOptions run = o;
        run.config = profile_config(profiles.front(), c);
        if (run.config.probe_timeout_us >= run.config.probe_interval_us) {
          run.config.probe_timeout_us = run.config.probe_interval_us / 2;
        }
        std::printf("-- probe_interval %d ms, suspicion_mult %d\n", probe_ms, mult);
        run.scenario = "fail";
        run.trials = std::max(run.trials, 5);
        run_and_print(run, profiles.front());
        run.scenario = "idle";
        run_and_print(run, profiles.front());
      }
    }
    return 0;
  }
  if (!sweep) {
    o.config = profile_config(profile, overrides);
    run_and_print(o, profile);
    return 0;
  }
  // Per size and loss: a join run, then one converged cluster for idle,
  // load and fail (and at 1000 nodes a mass join).
  for (const std::string& p : profiles) {
    for (std::size_t nodes : sweep_nodes) {
      bool too_slow = false;
      for (double l : {0.0, 0.05, 0.2}) {
        ScenarioOptions run = o;
        run.nodes = nodes;
        run.faults.drop_probability = l;
        run.config = profile_config(p, overrides);
        if (run.wall_budget_s <= 0) run.wall_budget_s = 600;
        std::vector<ScenarioReport> reports;
        run.scenario = "join";
        reports.push_back(run_and_print(run, p));
        if (!reports.back().gave_up) {
          for (const ScenarioReport& r : braid::sim::run_phases(run, {"idle", "load", "fail"})) {
            print_row(run, p, r);
            reports.push_back(r);
          }
        }
        if (nodes == 1000 && !reports.back().gave_up) {
          run.scenario = "massjoin";
          reports.push_back(run_and_print(run, p));
        }
        if (reports.back().gave_up) {
          std::printf(
              "   %zu nodes: too slow (%.1f simulated s in %.1f wall s); skipping the rest\n",
              nodes, reports.back().sim_s, reports.back().wall_s);
          too_slow = true;
          break;
        }
      }
      if (too_slow) continue;
    }
  }
  return 0;
}
