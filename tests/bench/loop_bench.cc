// The loop under large requests (issue 8 §4), on a real braidd, each figure
// beside a baseline from the same run and the same daemon settings:
//   submit   while one client submits a 100k-task array (one submit RPC,
//            the submitter's ~3 KB environment attached once), another
//            client (a thread with its own ControlClient) calls `stats` in a
//            tight loop; the max and p99 of the stats calls that overlapped
//            the submission, vs the same loop with no submission in flight
//            (before: a near-empty node; after: the tasks queued). The
//            node's one slot is held by a priority-10 blocker so the
//            submitted tasks stay queued: the figure is admission alone.
//            The last round submits through the CLI (`braid submit --array`).
//   wait     100k `true` tasks as one array on a fresh braidd, run to the
//            end, without and then with one `wait` on all 100k ids placed
//            right after the submit answered (each run its own braidd, same
//            flags; odd pairs run the waiter first); the rate of task ends (overall, and between
//            10% and 90% ended) and braidd's CPU per task end, which must match within noise if a
//            task end costs O(1) in waiters; then the answer time of a `wait` on all 100k ids once
//            all have ended.
//
//   build/bin/braid_loop_bench [--only all|submit|wait] [--tasks 100000]
//       [--rounds 2] [--cli-rounds 1] [--baseline-seconds 2] [--wait-pairs 1]
//       [--slots 2] [--env-entries 40] [--env-bytes 3072]
//       [--executor auto|cgroup|signals]
//
// Exit 1 with "ERROR" on stderr when a call fails; every braidd it started
// is stopped on the way out (the harness's Daemon).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "node/control_client.h"
#include "node/spec_file.h"
#include "tests/bench/bench_env.h"
#include "tests/bench/bench_util.h"
#include "tests/integration/harness.h"

namespace {

using braid::bench::fmt;
using braid::bench::must;
using braid::bench::percentile;

using braid::testing::bin;
using braid::testing::Daemon;
using Clock = std::chrono::steady_clock;
using braid::sched::TaskState;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long long micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

void progress(const std::string& line) {
  std::fprintf(stderr, "[loop] %s\n", line.c_str());
  std::fflush(stderr);
}

long long process_cpu_us(pid_t pid) {
  return braid::testing::process_cpu_ticks(pid) * 1'000'000 / sysconf(_SC_CLK_TCK);
}

struct Row {
  std::string figure;
  std::string value;
  std::string goal;
  std::string baseline;
};
std::vector<Row> g_rows;

void row(std::string figure, std::string value, std::string baseline = "", std::string goal = "") {
  progress(figure + ": " + value + (baseline.empty() ? "" : "   [" + baseline + "]"));
  g_rows.push_back({std::move(figure), std::move(value), std::move(goal), std::move(baseline)});
}

void print_table() {
  std::size_t w0 = 6, w1 = 5, w2 = 4;
  for (const Row& r : g_rows) {
    w0 = std::max(w0, r.figure.size());
    w1 = std::max(w1, r.value.size());
    w2 = std::max(w2, r.goal.size());
  }
  std::printf("\n%-*s  %-*s  %-*s  %s\n", static_cast<int>(w0), "figure", static_cast<int>(w1),
              "value", static_cast<int>(w2), "goal", "baseline (same run)");
  for (const Row& r : g_rows) {
    std::printf("%-*s  %-*s  %-*s  %s\n", static_cast<int>(w0), r.figure.c_str(),
                static_cast<int>(w1), r.value.c_str(), static_cast<int>(w2), r.goal.c_str(),
                r.baseline.c_str());
  }
}

struct Config {
  std::string only = "all";
  int tasks = 100'000;
  int rounds = 2;      // ControlClient submissions of `tasks` each
  int cli_rounds = 1;  // then `braid submit --array` submissions
  double baseline_seconds = 2.0;
  int wait_pairs = 1;
  int slots = 2;
  int env_entries = 40;
  int env_bytes = 3072;
  std::string executor = "auto";
};

constexpr long long kStatsGoalUs = 50'000;

// `count` copies of `argv`, indices 0..count-1, sharing one environment: what
// `braid submit --array count -- argv` sends.
std::vector<braid::sched::TaskSpec> array_specs(const Config& config, std::vector<std::string> argv,
                                                int priority) {
  braid::sched::TaskSpec pattern;
  pattern.argv = std::move(argv);
  pattern.priority = priority;
  auto expanded = braid::node::expand_array(pattern, config.tasks);
  if (!expanded) throw std::runtime_error(expanded.error().message);
  std::vector<braid::sched::TaskSpec> specs = std::move(expanded).value();
  braid::bench::attach(specs,
                       braid::bench::typical_environment(config.env_entries, config.env_bytes));
  return specs;
}

// --- 1. stats latency while a 100k-task submission is admitted --------------

// A thread with its own ControlClient calling `stats` back to back; each call
// is kept with its start and end, to be cut into windows afterwards.
class StatsSampler {
 public:
  struct Call {
    Clock::time_point start, end;
  };

  explicit StatsSampler(std::string socket)
      : thread_([this, socket = std::move(socket)] {
          try {
            braid::node::ControlClient client(socket);
            must(client.stats(), "stats (sampler)");
            ready_ = true;
            while (!stop_) {
              const auto t0 = Clock::now();
              must(client.stats(), "stats (sampler)");
              const auto t1 = Clock::now();
              const std::lock_guard lock(mutex_);
              calls_.push_back({t0, t1});
            }
          } catch (const std::exception& e) {
            const std::lock_guard lock(mutex_);
            error_ = e.what();
            ready_ = true;
          }
        }) {
    while (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~StatsSampler() {
    stop_ = true;
    thread_.join();
  }

  // Latencies (us) of the calls that overlapped [from, to].
  std::vector<long long> window(Clock::time_point from, Clock::time_point to) {
    std::vector<long long> out;
    for (const Call& c : calls(from, to)) out.push_back(micros(c.end - c.start));
    return out;
  }
  std::vector<Call> calls(Clock::time_point from, Clock::time_point to) {
    const std::lock_guard lock(mutex_);
    if (!error_.empty()) throw std::runtime_error(error_);
    std::vector<Call> out;
    for (const Call& c : calls_) {
      if (c.end >= from && c.start <= to) out.push_back(c);
    }
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<Call> calls_;
  std::string error_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string latency_summary(const std::vector<long long>& us) {
  return fmt("max %.2f ms, p99 %.2f ms, p50 %.2f ms (%zu calls)",
             static_cast<double>(percentile(us, 100)) / 1000.0,
             static_cast<double>(percentile(us, 99)) / 1000.0,
             static_cast<double>(percentile(us, 50)) / 1000.0, us.size());
}

// Where the calls over the goal fell: "+START..+END ms" from the submit's start.
std::string slow_calls(const std::vector<StatsSampler::Call>& calls, Clock::time_point t0) {
  std::string out;
  int n = 0;
  for (const auto& c : calls) {
    if (micros(c.end - c.start) <= kStatsGoalUs) continue;
    if (++n > 4) continue;
    out += fmt("%s+%lld..+%lld ms", out.empty() ? "" : ", ", micros(c.start - t0) / 1000,
               micros(c.end - t0) / 1000);
  }
  if (n > 4) out += fmt(" (%d in all)", n);
  return n == 0 ? "" : "; calls over 50 ms at " + out;
}

void submission_responsiveness(const Config& config) {
  Daemon d({"--slots", "1", "--policy", "Priority", "--log-level", "warn", "--executor",
            config.executor});
  braid::node::ControlClient client(d.socket());
  {  // the blocker: priority 10 holds the one slot, every later task stays queued
    braid::sched::TaskSpec blocker;
    blocker.priority = 10;
    blocker.argv = {"sleep", "100000"};
    must(client.submit({blocker}), "submit the blocker");
    const auto start = Clock::now();
    while (must(client.stats(), "stats").torus.count(TaskState::kRunning) != 1) {
      if (seconds_since(start) > 30) throw std::runtime_error("the blocker did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  const auto specs = array_specs(config, {"true"}, 0);
  StatsSampler sampler(d.socket());
  const auto pause = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(config.baseline_seconds));

  std::vector<long long> during_all;
  long long queued = 0;
  for (int round = 0; round < config.rounds + config.cli_rounds; ++round) {
    const bool cli = round >= config.rounds;
    const auto before_start = Clock::now();
    std::this_thread::sleep_for(pause);
    const auto before = sampler.window(before_start, Clock::now());

    const auto t0 = Clock::now();
    if (cli) {
      const auto r = braid::testing::run({bin("braid"), "--socket", d.socket(), "submit", "--array",
                                          std::to_string(config.tasks), "--", "true"});
      if (r.exit_code != 0) throw std::runtime_error("braid submit --array: " + r.err);
    } else {
      const auto ids = must(client.submit(specs), "submit the array");
      if (ids.size() != specs.size()) throw std::runtime_error("submit returned too few ids");
    }
    const auto t1 = Clock::now();
    queued += config.tasks;
    const auto during = sampler.window(t0, t1);
    during_all.insert(during_all.end(), during.begin(), during.end());
    const bool met = percentile(during, 100) <= kStatsGoalUs;
    row(fmt("stats latency during a %d-task submit (%s, %lld queued before)", config.tasks,
            cli ? "braid submit --array" : "ControlClient", queued - config.tasks),
        latency_summary(during),
        fmt("no submission in flight: %s; the submit took %.3f s%s",
            latency_summary(before).c_str(), std::chrono::duration<double>(t1 - t0).count(),
            slow_calls(sampler.calls(t0, t1), t0).c_str()),
        fmt("max <= 50 ms: %s", met ? "met" : "MISSED"));
  }
  const auto after_start = Clock::now();
  std::this_thread::sleep_for(pause);
  const auto after = sampler.window(after_start, Clock::now());
  row(fmt("stats latency, no submission in flight, %lld queued", queued), latency_summary(after));
  const auto stats = must(client.stats(), "stats");
  if (static_cast<long long>(stats.torus.count(TaskState::kQueued)) != queued) {
    throw std::runtime_error(
        fmt("%llu queued, expected %lld",
            static_cast<unsigned long long>(stats.torus.count(TaskState::kQueued)), queued));
  }
}

// --- 2. task ends with and without a waiter on all of them ------------------

struct EndsRun {
  double overall_per_s = 0;  // submit answered -> all ended
  double steady_per_s = 0;   // 10% -> 90% ended
  double daemon_cpu_us_per_end = 0;
  double submit_s = 0;
  double waiter_answer_lag_ms = -1;  // waiter's answer after all ended was observed
  double wait_again_ms = 0;          // a fresh wait on all ids, once all ended
};

std::uint64_t ended(const braid::rpc::StatsView& s) {
  return s.torus.count(TaskState::kCompleted) + s.torus.count(TaskState::kFailed) +
         s.torus.count(TaskState::kCancelled);
}

EndsRun task_ends(const Config& config, bool with_waiter) {
  Daemon d({"--slots", std::to_string(config.slots), "--log-level", "warn", "--executor",
            config.executor, "--retention-max-tasks", std::to_string(2 * config.tasks)});
  braid::node::ControlClient client(d.socket());
  must(client.stats(), "stats");
  const auto specs = array_specs(config, {"true"}, 0);
  const long long cpu0 = process_cpu_us(d.pid());
  const auto t0 = Clock::now();
  const auto ids = must(client.submit(specs), "submit the array");
  const auto answered = Clock::now();

  std::atomic<bool> waiter_done{false};
  Clock::time_point waiter_answered;
  std::string waiter_error;
  std::thread waiter;
  if (with_waiter) {
    waiter = std::thread([&] {
      try {
        braid::node::ControlClient w(d.socket());
        const auto outcome = must(w.wait(ids, 0), "wait on all ids");
        waiter_answered = Clock::now();
        if (!outcome.error.empty()) throw std::runtime_error("wait: " + outcome.error);
        if (outcome.tasks.size() != ids.size()) throw std::runtime_error("wait: too few tasks");
      } catch (const std::exception& e) {
        waiter_error = e.what();
      }
      waiter_done = true;
    });
  }

  const auto total = static_cast<std::uint64_t>(config.tasks);
  Clock::time_point at10, at90, at_all;
  bool seen10 = false, seen90 = false;
  for (;;) {
    const std::uint64_t n = ended(must(client.stats(), "stats"));
    const auto now = Clock::now();
    if (!seen10 && n * 10 >= total) seen10 = true, at10 = now;
    if (!seen90 && n * 10 >= total * 9) seen90 = true, at90 = now;
    if (n >= total) {
      at_all = now;
      break;
    }
    if (seconds_since(answered) > 3600) throw std::runtime_error("tasks did not end in 1 h");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const long long cpu1 = process_cpu_us(d.pid());
  if (with_waiter) {
    waiter.join();
    if (!waiter_error.empty()) throw std::runtime_error(waiter_error);
  }
  EndsRun run;
  run.submit_s = std::chrono::duration<double>(answered - t0).count();
  run.overall_per_s =
      static_cast<double>(total) / std::chrono::duration<double>(at_all - answered).count();
  run.steady_per_s =
      0.8 * static_cast<double>(total) / std::chrono::duration<double>(at90 - at10).count();
  run.daemon_cpu_us_per_end = static_cast<double>(cpu1 - cpu0) / static_cast<double>(total);
  if (with_waiter) {
    run.waiter_answer_lag_ms =
        std::chrono::duration<double, std::milli>(waiter_answered - at_all).count();
  }
  const auto w0 = Clock::now();
  const auto outcome = must(client.wait(ids, 0), "wait on all ended ids");
  run.wait_again_ms = std::chrono::duration<double, std::milli>(Clock::now() - w0).count();
  if (outcome.tasks.size() != ids.size() || outcome.timed_out) {
    throw std::runtime_error("the wait on all ended ids did not list them all");
  }
  for (const auto& t : outcome.tasks) {
    if (t.state != TaskState::kCompleted) {
      throw std::runtime_error("task " + t.id + " did not complete");
    }
  }
  return run;
}

void waiter_cost(const Config& config) {
  for (int pair = 0; pair < config.wait_pairs; ++pair) {
    // Alternate the order between pairs: a later run may find a warmer (or
    // more littered) machine.
    const bool waiter_first = pair % 2 == 1;
    EndsRun without, with;
    if (waiter_first) with = task_ends(config, true);
    without = task_ends(config, false);
    if (!waiter_first) with = task_ends(config, true);
    row(fmt("task ends, %d x true, 1 wait on all %d ids (%s)", config.tasks, config.tasks,
            waiter_first ? "run first" : "run second"),
        fmt("%.0f ends/s (10-90%%: %.0f/s), braidd %.0f us CPU/end", with.overall_per_s,
            with.steady_per_s, with.daemon_cpu_us_per_end),
        fmt("no waiter, fresh braidd, same flags: %.0f ends/s (10-90%%: %.0f/s), %.0f us CPU/end; "
            "with/without %.2f",
            without.overall_per_s, without.steady_per_s, without.daemon_cpu_us_per_end,
            with.overall_per_s / without.overall_per_s),
        "match within noise");
    row(fmt("wait on %d ids: answer after the last end", config.tasks),
        fmt("waiter answered %+.0f ms from the stats poll (10 ms) that saw all ended",
            with.waiter_answer_lag_ms),
        fmt("a fresh wait on all %d ended ids answers in %.0f ms (%.0f ms in the run without)",
            config.tasks, with.wait_again_ms, without.wait_again_ms));
    row(fmt("submit of %d x true (one array)", config.tasks),
        fmt("%.3f s / %.3f s (without / with waiter)", without.submit_s, with.submit_s));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid loop benchmark: large submissions and waits (starts its own braidd)"};
  Config config;
  app.add_option("--only", config.only, "all, submit or wait")
      ->check(CLI::IsMember({"all", "submit", "wait"}))
      ->capture_default_str();
  app.add_option("--tasks", config.tasks, "tasks per array (at most 100000)")
      ->check(CLI::Range(1, 100'000))
      ->capture_default_str();
  app.add_option("--rounds", config.rounds, "ControlClient submissions")->capture_default_str();
  app.add_option("--cli-rounds", config.cli_rounds, "braid submit --array submissions")
      ->capture_default_str();
  app.add_option("--baseline-seconds", config.baseline_seconds, "stats loop with nothing in flight")
      ->capture_default_str();
  app.add_option("--wait-pairs", config.wait_pairs, "runs without, then with a waiter")
      ->capture_default_str();
  app.add_option("--slots", config.slots, "slots for the task-ends runs")->capture_default_str();
  app.add_option("--env-entries", config.env_entries, "submitter environment entries (0: none)")
      ->capture_default_str();
  app.add_option("--env-bytes", config.env_bytes, "submitter environment size")
      ->capture_default_str();
  app.add_option("--executor", config.executor, "braidd's executor")
      ->check(CLI::IsMember({"auto", "cgroup", "signals"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  std::printf("braid loop benchmark on %ld cores\n", sysconf(_SC_NPROCESSORS_ONLN));
  try {
    if (config.only != "wait") submission_responsiveness(config);
    if (config.only != "submit") waiter_cost(config);
  } catch (const std::exception& e) {
    print_table();
    std::fprintf(stderr, "braid_loop_bench: ERROR: %s\n", e.what());
    return 1;
  }
  print_table();
  return 0;
}
