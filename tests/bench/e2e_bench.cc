// End-to-end benchmark of one real node: starts braidd in a temp dir and
// measures, each beside this machine's own baseline from the same run:
//   1. throughput: N x /bin/true submitted in one batch, until all completed,
//      vs xargs -P<slots> and a raw posix_spawn + wait loop with `slots` in
//      flight; with the CPU per task of braidd, of the tasks, and of xargs;
//   2. latency from submit to the task's first instruction on an idle node
//      (p50, p99), vs raw posix_spawn to first instruction;
//   3. braidd's own CPU while time-slicing 32 busy tasks on 2 slots at a
//      10 ms quantum, vs the CPU those tasks got and a bare slicer thread;
//   4. slice accuracy: |slice - quantum| as the task processes experienced
//      it (an observer thread sees each stop only once the kernel confirms
//      it: state T, or "frozen 1"; no folding to whole quanta), p50 and p99,
//      vs the lateness of a plain 10 ms sleep on the same loaded machine;
//      braidd's own figure (its stop/resume times, folded) beside it.
//
//   build/bin/braid_e2e_bench [--tasks 2000] [--latency-samples 200] [--slice-seconds 30]
//                             [--executor auto|cgroup|signals]
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "node/control_client.h"
#include "tests/bench/slice_observer.h"
#include "tests/integration/harness.h"

extern char** environ;

namespace {

std::string g_executor = "auto";  // --executor: which executor mode braidd runs

using braid::testing::bin;
using braid::testing::Daemon;
using Clock = std::chrono::steady_clock;

long long realtime_us() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long long percentile(std::vector<long long> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5)];
}

// utime + stime of a process, in microseconds.
long long process_cpu_us(pid_t pid) {
  return braid::testing::process_cpu_ticks(pid) * 1'000'000 / sysconf(_SC_CLK_TCK);
}

pid_t spawn(const std::vector<std::string>& argv, int stdout_fd = -1) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
  pid_t pid = -1;
  posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// utime, stime, cutime, cstime of a process (fields 14-17 of /proc/PID/stat),
// summed, in microseconds: its own CPU and that of the children it reaped.
std::pair<long long, long long> own_and_children_cpu_us(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // from field 3
  std::string field;
  long long values[4] = {};
  for (int i = 3; i <= 17 && fields >> field; ++i) {
    if (i >= 14) values[i - 14] = std::atoll(field.c_str());
  }
  const long long tick_us = 1'000'000 / sysconf(_SC_CLK_TCK);
  return {(values[0] + values[1]) * tick_us, (values[2] + values[3]) * tick_us};
}

// xargs -P<in_flight> -n1 /bin/true over `tasks` lines: its rate, and the CPU
// of xargs and every process it ran (they are reaped: RUSAGE_CHILDREN).
std::pair<double, long long> xargs_rate(int tasks, int in_flight) {
  rusage before{}, after{};
  getrusage(RUSAGE_CHILDREN, &before);
  const auto start = Clock::now();
  const pid_t pid = spawn({"/bin/sh", "-c",
                           "seq " + std::to_string(tasks) + " | xargs -P" +
                               std::to_string(in_flight) + " -n1 /bin/true"});
  waitpid(pid, nullptr, 0);
  const double rate = tasks / seconds_since(start);
  getrusage(RUSAGE_CHILDREN, &after);
  auto us = [](const timeval& t) { return t.tv_sec * 1'000'000LL + t.tv_usec; };
  const long long cpu_us =
      us(after.ru_utime) - us(before.ru_utime) + us(after.ru_stime) - us(before.ru_stime);
  return {rate, cpu_us};
}

double raw_spawn_rate(int tasks, int in_flight) {
  const auto start = Clock::now();
  int started = 0, running = 0;
  while (started < tasks || running > 0) {
    while (running < in_flight && started < tasks) {
      spawn({"/bin/true"});
      ++started;
      ++running;
    }
    wait(nullptr);
    --running;
  }
  return tasks / seconds_since(start);
}

template <typename T>
T must(braid::node::Reply<T> reply) {
  if (auto* v = std::get_if<T>(&reply)) return std::move(*v);
  const auto* refused = std::get_if<braid::node::Refused>(&reply);
  const auto* unreachable = std::get_if<braid::node::Unreachable>(&reply);
  // Thrown, not exit(): the Daemon's destructor must stop braidd and its tasks.
  throw std::runtime_error(std::string("control call failed: ") +
                           (refused != nullptr ? refused->message : unreachable->message));
}

void throughput(int tasks, int slots) {
  const double raw = raw_spawn_rate(tasks, slots);
  const auto [xargs, xargs_cpu_us] = xargs_rate(tasks, slots);
  Daemon d({"--slots", std::to_string(slots), "--log-level", "warn", "--executor", g_executor,
            "--io-aware", "on"});
  braid::node::ControlClient client(d.socket());
  std::vector<braid::sched::TaskSpec> specs(static_cast<std::size_t>(tasks));
  for (auto& s : specs) s.argv = {"/bin/true"};
  const auto [own_before, children_before] = own_and_children_cpu_us(d.pid());
  const auto start = Clock::now();
  const auto ids = must(client.submit(specs));
  const auto outcome = must(client.wait(ids, 0));
  const double elapsed = seconds_since(start);
  const auto [own_after, children_after] = own_and_children_cpu_us(d.pid());
  std::size_t completed = 0;
  for (const auto& t : outcome.tasks) completed += t.state == braid::sched::TaskState::kCompleted;
  const double rate = tasks / elapsed;
  std::printf(
      "throughput   %d x /bin/true, %d slots: %.0f tasks/s (%.2f s, %zu completed); CPU per "
      "task: braidd %lld us + the task %lld us\n",
      tasks, slots, rate, elapsed, completed, (own_after - own_before) / tasks,
      (children_after - children_before) / tasks);
  std::printf(
      "  baseline   xargs -P%d -n1 /bin/true, same run: %.0f /s -> braid at %.2fx; CPU per "
      "task: %lld us (xargs and the task)\n",
      slots, xargs, rate / xargs, xargs_cpu_us / tasks);
  std::printf("  baseline   raw posix_spawn + wait, %d in flight: %.0f /s -> braid at %.0f%%\n",
              slots, raw, 100.0 * rate / raw);
}

void latency(int samples) {
  std::vector<long long> raw;
  for (int i = 0; i < samples; ++i) {
    int fds[2];
    if (pipe(fds) != 0) return;
    const long long t0 = realtime_us();
    const pid_t pid = spawn({bin("braid-burn"), "--stamp", "0"}, fds[1]);
    close(fds[1]);
    char buffer[64] = {};
    const ssize_t n = read(fds[0], buffer, sizeof(buffer) - 1);
    close(fds[0]);
    waitpid(pid, nullptr, 0);
    if (n > 0) raw.push_back(std::atoll(buffer) - t0);
  }
  Daemon d({"--slots", "2", "--log-level", "warn", "--executor", g_executor, "--io-aware", "on"});
  braid::node::ControlClient client(d.socket());
  std::vector<long long> braid_us;
  for (int i = 0; i < samples; ++i) {
    braid::sched::TaskSpec spec;
    spec.argv = {bin("braid-burn"), "--stamp", "0"};
    const long long t0 = realtime_us();
    const auto ids = must(client.submit({spec}));
    must(client.wait(ids, 0));
    const auto log = must(client.read_log(ids[0], false, 0, 64));
    braid_us.push_back(std::atoll(log.data.c_str()) - t0);
  }
  std::printf(
      "latency      submit -> first instruction, idle node, %d samples: p50 %.2f ms, "
      "p99 %.2f ms\n",
      samples, percentile(braid_us, 50) / 1000.0, percentile(braid_us, 99) / 1000.0);
  std::printf("  baseline   raw posix_spawn -> first instruction: p50 %.2f ms, p99 %.2f ms\n",
              percentile(raw, 50) / 1000.0, percentile(raw, 99) / 1000.0);
}

// The least a slicer can do, as a floor for braidd's CPU: 32 busy processes,
// a thread that wakes every 10 ms (both slots' quanta end together, as
// braidd's do when the tasks start together), SIGSTOPs the 2 running ones
// and SIGCONTs the next 2. Returns that thread's CPU in % of one core.
double bare_slicer_cpu_percent(int seconds) {
  std::vector<pid_t> pids;
  for (int i = 0; i < 32; ++i) pids.push_back(spawn({bin("braid-burn"), "3600000"}));
  for (std::size_t i = 2; i < pids.size(); ++i) kill(pids[i], SIGSTOP);
  double percent = 0;
  std::thread slicer([&] {
    timespec cpu0{}, cpu1{}, next{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    clock_gettime(CLOCK_MONOTONIC, &next);
    const auto start = Clock::now();
    std::size_t oldest = 0;  // pids[oldest], pids[oldest + 1] run
    while (seconds_since(start) < seconds) {
      next.tv_nsec += 10'000'000;
      if (next.tv_nsec >= 1'000'000'000) {
        next.tv_nsec -= 1'000'000'000;
        ++next.tv_sec;
      }
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
      for (std::size_t i = 0; i < 2; ++i) kill(pids[(oldest + i) % pids.size()], SIGSTOP);
      for (std::size_t i = 2; i < 4; ++i) kill(pids[(oldest + i) % pids.size()], SIGCONT);
      oldest += 2;
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    const double cpu_s = static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) +
                         static_cast<double>(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
    percent = 100.0 * cpu_s / seconds_since(start);
  });
  slicer.join();
  for (pid_t pid : pids) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return percent;
}

void slicing(int seconds) {
  // All 32 started and rotated (started_max defaults to the slots), with the
  // CPU sampler of I/O-aware slots on, as braidd runs by default.
  Daemon d({"--slots", "2", "--quantum", "10ms", "--policy", "RoundRobin", "--log-level", "warn",
            "--executor", g_executor, "--started-max", "32", "--io-aware", "on"});
  braid::node::ControlClient client(d.socket());
  std::vector<braid::sched::TaskSpec> specs(32);
  for (auto& s : specs) s.argv = {bin("braid-burn"), std::to_string(3600 * 1000)};
  const auto ids = must(client.submit(specs));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // warm-up: all 32 started
  const auto before_stats = must(client.stats());
  // The observer watches each task's process (signals) or cgroup.events (cgroup).
  std::vector<braid::bench::SliceObserver::Target> targets;
  for (const auto& t : must(client.show(ids))) {
    targets.push_back({t.pid, before_stats.executor == "cgroup"
                                  ? braid::bench::SliceObserver::cgroup_events_of(t.pid)
                                  : ""});
  }
  braid::bench::SliceObserver observer(targets, std::chrono::microseconds(100));
  const long long daemon_before = process_cpu_us(d.pid());
  const auto start = Clock::now();
  // Baseline on the same loaded machine: how late does a plain 10 ms sleep wake?
  std::vector<long long> lateness;
  while (seconds_since(start) < seconds) {
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    lateness.push_back(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count() - 10'000);
  }
  const double elapsed = seconds_since(start);
  const long long daemon_cpu = process_cpu_us(d.pid()) - daemon_before;
  observer.stop();
  const auto after_stats = must(client.stats());
  must(client.cancel(ids));
  const double switches_per_s = static_cast<double>(after_stats.torus.context_switches -
                                                    before_stats.torus.context_switches) /
                                elapsed;
  std::printf(
      "daemon CPU   32 busy tasks, 2 slots, 10ms quantum, %.0f s: %.3f%% of one core "
      "(%.0f switch-ins/s)\n",
      elapsed, 100.0 * static_cast<double>(daemon_cpu) / (elapsed * 1e6), switches_per_s);
  std::printf("  baseline   the tasks' share: 2 cores = 200%% of one core\n");
  std::printf(
      "  baseline   a bare slicer thread (wakes every 10 ms, SIGSTOP 2, SIGCONT 2), "
      "same tasks: %.3f%% of one core\n",
      bare_slicer_cpu_percent(seconds));
  std::vector<long long> errors_us;
  for (long long slice_us : observer.slices_us())
    errors_us.push_back(std::llabs(slice_us - 10'000));
  std::printf(
      "slices       |slice - 10ms| as the processes experienced it (%s stop confirmed), %zu "
      "slices: p50 %lld us, p99 %lld us (slice p50 %lld us)\n",
      before_stats.executor == "cgroup" ? "frozen 1" : "state T", errors_us.size(),
      percentile(errors_us, 50), percentile(errors_us, 99), percentile(observer.slices_us(), 50));
  std::printf("  resolution observer sweep over %zu tasks: p50 %lld us, p99 %lld us\n",
              targets.size(), percentile(observer.sweep_us(), 50),
              percentile(observer.sweep_us(), 99));
  std::printf(
      "  braidd's   own view (its stop/resume times, folded to whole quanta), %llu slices: "
      "p50 %lld us, p99 %lld us\n",
      static_cast<unsigned long long>(after_stats.slice_count),
      static_cast<long long>(after_stats.slice_error_p50_us),
      static_cast<long long>(after_stats.slice_error_p99_us));
  std::printf(
      "  baseline   a plain 10ms sleep on the same loaded machine wakes late by: p50 %lld "
      "us, p99 %lld us\n",
      percentile(lateness, 50), percentile(lateness, 99));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"braid end-to-end benchmark (starts its own braidd)"};
  int tasks = 2000, samples = 200, slice_seconds = 30, slots = 2;
  app.add_option("--tasks", tasks, "tasks for the throughput run")->capture_default_str();
  app.add_option("--slots", slots, "slots for the throughput run")->capture_default_str();
  app.add_option("--latency-samples", samples, "latency samples")->capture_default_str();
  app.add_option("--slice-seconds", slice_seconds, "length of the time-slicing run")
      ->capture_default_str();
  app.add_option("--executor", g_executor, "braidd's executor: auto, cgroup or signals")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  std::printf("braid e2e benchmark on %ld cores, executor %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              g_executor.c_str());
  try {
    throughput(tasks, slots);
    latency(samples);
    slicing(slice_seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid_e2e_bench: ERROR %s\n", e.what());
    return 1;
  }
  return 0;
}
