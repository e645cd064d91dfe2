// braid_migration_sim: the migration simulator's runs (issue 11 §6).
//   --crash-runs N [--first-seed S]  N crash runs (seeds S..S+N-1); prints
//                                    every failing seed and a summary
//   --seed N                         one crash run, replayed exactly, verbose
//   --scale --nodes 1000 --loss 0.05 a scale run (msim_scale.h)
//   --target-backlog N               BalanceConfig::target_backlog (crash and scale runs)
// Exit code 1 when a crash run fails; 2 on bad arguments.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <optional>

#include "tests/sim/msim_crash_run.h"
#include "tests/sim/msim_scale.h"

namespace {

using braid::msim::CrashRunResult;

void print_run(std::uint64_t seed, const CrashRunResult& r) {
  std::printf(
      "seed %llu: %s; %zu tasks, %llu migrations, %llu crashes, %llu requeues, %llu false deaths, "
      "%llu partitions, settled at %.1f s\n",
      static_cast<unsigned long long>(seed), r.failure.empty() ? "ok" : r.failure.c_str(), r.tasks,
      static_cast<unsigned long long>(r.migrations), static_cast<unsigned long long>(r.crashes),
      static_cast<unsigned long long>(r.requeues), static_cast<unsigned long long>(r.false_deaths),
      static_cast<unsigned long long>(r.partitions), r.settled_us / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid_migration_sim: crash and scale runs of the migration simulator"};
  std::uint64_t crash_runs = 0;
  std::uint64_t first_seed = 1;
  std::optional<std::uint64_t> seed;
  bool scale = false;
  braid::msim::ScaleOptions so;
  app.add_option("--crash-runs", crash_runs, "crash runs to make");
  app.add_option("--first-seed", first_seed, "seed of the first crash run");
  app.add_option("--seed", seed, "one run with this seed (crash run, or the scale run's seed)");
  app.add_flag("--scale", scale, "a scale run instead of crash runs");
  app.add_option("--nodes", so.nodes, "scale: nodes")->check(CLI::Range(2, 100000));
  app.add_option("--loss", so.loss, "scale: message loss probability")->check(CLI::Range(0.0, 0.5));
  app.add_option("--slots", so.slots, "scale: slots per node")->check(CLI::Range(1, 64));
  app.add_option("--tasks-per-slot", so.tasks_per_slot, "scale: tasks per slot of the cluster")
      ->check(CLI::Range(1, 1000));
  std::optional<int> refuse_at_backlog;
  app.add_option(
         "--refuse-at-backlog", refuse_at_backlog,
         "scale: a receiver refuses offers at this backlog (default: the target; -1: never)")
      ->check(CLI::Range(-1, 1000));
  app.add_option("--target-backlog", so.balance.target_backlog,
                 "scale: the backlog each node aims at (BalanceConfig::target_backlog)")
      ->check(CLI::Range(0, braid::sched::kBalanceTargetBacklogMax));
  int pull_interval_ms = static_cast<int>(so.balance.pull_interval_us / 1000);
  int round_ms = static_cast<int>(so.balance_interval_us / 1000);
  app.add_option("--pull-interval-ms", pull_interval_ms, "scale: least time between two pulls")
      ->check(CLI::Range(0, 10000));
  app.add_option("--round-ms", round_ms, "scale: a node's balancing round")
      ->check(CLI::Range(1, 10000));
  app.add_option("--max-offers", so.balance.max_offers, "scale: offers per push")
      ->check(CLI::Range(1, braid::sched::kBalanceOffersMax));
  app.add_option("--choices", so.balance.choices, "scale: power of d choices")
      ->check(CLI::Range(1, braid::sched::kBalanceChoicesMax));
  int warmup_ms = static_cast<int>(so.warmup_us / 1000);
  app.add_option("--warmup-ms", warmup_ms,
                 "scale: the cluster runs this long before the submission")
      ->check(CLI::Range(0, 60000));
  app.add_option("--view-sample", so.view_sample,
                 "scale: each node sees at most this many peers of each backlog group (0: all)")
      ->check(CLI::Range(0, 100000));
  bool fixed_rounds = false;
  app.add_flag("--fixed-rounds", fixed_rounds,
               "scale: a round every interval only (not brought forward when a slot frees)");
  CLI11_PARSE(app, argc, argv);
  so.round_on_exit = !fixed_rounds;
  so.refuse_at_backlog = refuse_at_backlog.value_or(so.balance.target_backlog);
  so.warmup_us = static_cast<braid::sched::Micros>(warmup_ms) * 1000;
  so.balance.pull_interval_us = static_cast<braid::sched::Micros>(pull_interval_ms) * 1000;
  so.balance_interval_us = static_cast<braid::sched::Micros>(round_ms) * 1000;

  if (scale) {
    if (seed) so.seed = *seed;
    const auto t0 = std::chrono::steady_clock::now();
    const braid::msim::ScaleReport r = braid::msim::scale_run(so);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s (wall %.1f s)\n", braid::msim::describe(so, r).c_str(), wall);
    return r.failure.empty() ? 0 : 1;
  }
  if (seed) {
    const CrashRunResult r =
        braid::msim::crash_run({.seed = *seed, .target_backlog = so.balance.target_backlog});
    print_run(*seed, r);
    return r.failure.empty() ? 0 : 1;
  }
  if (crash_runs == 0) {
    std::fprintf(stderr, "give --crash-runs N, --seed N or --scale\n");
    return 2;
  }
  std::uint64_t failures = 0, migrations = 0, crashes = 0, requeues = 0, false_deaths = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t s = first_seed; s < first_seed + crash_runs; ++s) {
    const CrashRunResult r =
        braid::msim::crash_run({.seed = s, .target_backlog = so.balance.target_backlog});
    if (!r.failure.empty()) {
      ++failures;
      print_run(s, r);
    }
    migrations += r.migrations;
    crashes += r.crashes;
    requeues += r.requeues;
    false_deaths += r.false_deaths;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "%llu crash runs (seeds %llu..%llu): %llu failed; %llu migrations, %llu crashes, %llu "
      "requeues, %llu false deaths (wall %.1f s)\n",
      static_cast<unsigned long long>(crash_runs), static_cast<unsigned long long>(first_seed),
      static_cast<unsigned long long>(first_seed + crash_runs - 1),
      static_cast<unsigned long long>(failures), static_cast<unsigned long long>(migrations),
      static_cast<unsigned long long>(crashes), static_cast<unsigned long long>(requeues),
      static_cast<unsigned long long>(false_deaths), wall);
  return failures == 0 ? 0 : 1;
}
