// Cost of one torus scheduling decision and of one submission.
//
// A decision here is what happens at every quantum expiry on a busy node: the
// running task's slice ends, it is stopped and requeued, the best waiting task
// is picked and put on the slot, with accounting and the actions emitted.
// Measured with 1 slot and 1k / 100k / 1M runnable tasks for each policy.
// A submission under Fair is also measured with queued tasks of 1..999
// accounts waiting (each decision compares every account with queued tasks).
//
// Baselines from the same run: a plain binary heap doing the same queue work,
// and the SIGSTOP+SIGCONT pair that each preemption costs the executor.
//
//   build/bin/braid_torus_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one line)
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <queue>
#include <random>

#include "sched/torus.h"

namespace braid::sched {
namespace {

constexpr Micros kQuantumUs = kQuantumMinUs;

TaskSpec bench_spec(int priority) {
  TaskSpec spec;
  spec.argv = {"/bin/true"};
  spec.priority = priority;
  return spec;
}

Torus loaded_torus(Policy policy, std::size_t runnable, std::size_t accounts = 1) {
  TorusConfig config;
  config.node_name = "bench";
  config.slots = 1;
  config.policy = policy;
  config.quantum_us = kQuantumUs;
  config.started_max = static_cast<std::uint32_t>(runnable + 1);  // measure the queue, not the cap
  config.fair_window_quanta = 0;  // Fair: a switch at every quantum, as before the window
  Torus torus(config);
  std::mt19937 rng(42);
  Actions out;
  for (std::size_t i = 0; i < runnable; ++i) {
    // Priority: a spread of levels; the others: all equal, the common case.
    int priority = policy == Policy::kPriority ? static_cast<int>(rng() % 11) : kPriorityDefault;
    TaskSpec spec = bench_spec(priority);
    if (accounts > 1) spec.account = "a" + std::to_string(i % accounts);
    if (!torus.submit(spec, 0, out).ok()) std::abort();
    out.clear();
  }
  return torus;
}

void BM_Decision(benchmark::State& state) {
  const auto policy = static_cast<Policy>(state.range(0));
  const auto runnable = static_cast<std::size_t>(state.range(1));
  const auto accounts = static_cast<std::size_t>(state.range(2));
  Torus torus = loaded_torus(policy, runnable, accounts);
  Actions out;
  out.reserve(64);
  Micros now_us = 0;
  const std::uint64_t switches_before = torus.stats().context_switches;
  for (auto _ : state) {
    now_us += kQuantumUs;
    // Priority no longer rotates equal priorities at a quantum's end: a forced
    // slice end (braid schedule-next) makes the same decision it used to.
    if (policy == Policy::kPriority) {
      torus.schedule_next(now_us, out);
    } else {
      torus.tick(now_us, out);
    }
    benchmark::DoNotOptimize(out.data());
    out.clear();
  }
  const std::uint64_t decisions = torus.stats().context_switches - switches_before;
  if (decisions != static_cast<std::uint64_t>(state.iterations())) {
    state.SkipWithError("a tick did not make exactly one decision");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(decisions));
  state.SetLabel(std::string(to_string(policy)) + (accounts > 1 ? " accounts" : ""));
}

void BM_Submit(benchmark::State& state) {
  const auto policy = static_cast<Policy>(state.range(0));
  Torus torus = loaded_torus(policy, 1);  // the slot is busy: each submit queues
  Actions out;
  const TaskSpec spec = bench_spec(kPriorityDefault);
  for (auto _ : state) {
    benchmark::DoNotOptimize(torus.submit(spec, 0, out).ok());
    out.clear();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(to_string(policy)));
}

// Fair, 1 slot busy, started_max 1: every submit queues and decides, with
// one queued task of each of `accounts` accounts waiting.
void BM_SubmitAccounts(benchmark::State& state) {
  const auto accounts = static_cast<std::size_t>(state.range(0));
  TorusConfig config;
  config.node_name = "bench";
  config.slots = 1;
  config.policy = Policy::kFair;
  config.quantum_us = kQuantumUs;
  config.started_max = 1;
  Torus torus(config);
  Actions out;
  for (std::size_t i = 0; i <= accounts; ++i) {
    TaskSpec spec = bench_spec(kPriorityDefault);
    spec.account = "a" + std::to_string(i % accounts);
    if (!torus.submit(spec, 0, out).ok()) std::abort();
  }
  out.clear();
  TaskSpec spec = bench_spec(kPriorityDefault);
  spec.account = "a0";
  for (auto _ : state) {
    benchmark::DoNotOptimize(torus.submit(spec, 0, out).ok());
    out.clear();
  }
  state.SetItemsProcessed(state.iterations());
}

void DecisionArgs(benchmark::internal::Benchmark* b) {
  for (int policy : {0, 1, 2}) {
    for (std::int64_t n : {1'000, 100'000, 1'000'000}) b->Args({policy, n, 1});
  }
}

// Baseline 1: a textbook binary heap doing the same pop + push of a
// (rank, seq, key) entry, to show what the leveled run queue saves at scale.
void BM_BaselineBinaryHeap(benchmark::State& state) {
  struct Entry {
    std::uint64_t major, seq;
    std::uint32_t key;
    bool operator>(const Entry& o) const {
      return major != o.major ? major > o.major : seq > o.seq;
    }
  };
  const auto n = static_cast<std::size_t>(state.range(0));
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  std::mt19937_64 rng(42);
  std::uint64_t seq = 0;
  for (std::size_t i = 0; i < n; ++i)
    heap.push({rng() % 1'000'000, ++seq, static_cast<std::uint32_t>(i)});
  for (auto _ : state) {
    Entry top = heap.top();
    heap.pop();
    top.major += 1'000'000;  // ran a quantum: back of the line, like Fair
    top.seq = ++seq;
    heap.push(top);
  }
  state.SetItemsProcessed(state.iterations());
}

// Baseline 2: what the decision drives: SIGSTOP + SIGCONT to a child's
// process group (the executor's cost per preemption, FACTS.md: ~2-7 us).
void BM_BaselineStopContPair(benchmark::State& state) {
  pid_t child = fork();
  if (child == 0) {
    setpgid(0, 0);
    for (;;) pause();
  }
  setpgid(child, child);
  for (auto _ : state) {
    kill(-child, SIGSTOP);
    kill(-child, SIGCONT);
  }
  kill(-child, SIGKILL);
  waitpid(child, nullptr, 0);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Decision)->Apply(DecisionArgs)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_BaselineBinaryHeap)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);
BENCHMARK(BM_BaselineStopContPair)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_Submit)->DenseRange(0, 2)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_SubmitAccounts)->Arg(1)->Arg(100)->Arg(999)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace braid::sched

BENCHMARK_MAIN();
