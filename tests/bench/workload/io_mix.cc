#include "tests/bench/workload/io_mix.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "tests/bench/workload/memory_probe.h"
#include "tests/bench/workload/proc.h"
#include "tests/bench/workload/sessions.h"
#include "tests/integration/harness.h"

namespace braid::bench::workload {

namespace {

std::vector<std::string> burner_argv(const IoMixParams& p) {
  return {testing::bin("braid-burn"), std::to_string(p.cpu_ms)};
}

IoMixFigures figures_of(const std::vector<double>& cpu_done, double sleepers_done) {
  IoMixFigures f;
  f.cpu_done_s = cpu_done;
  f.sleepers_done_s = sleepers_done;
  f.makespan_s = sleepers_done;
  for (double t : cpu_done) f.makespan_s = std::max(f.makespan_s, t);
  return f;
}

}  // namespace

std::vector<std::string> sleeper_argv(const IoMixParams& p) {
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%.3f", p.sleep_ms / 1000.0);
  return {"sh", "-c",
          "for i in $(seq " + std::to_string(p.sleeps) + "); do sleep " + seconds + "; done"};
}

IoMixFigures run_io_mix(const Tool& tool, const IoMixParams& p, std::chrono::seconds timeout) {
  MemoryProbe probe("io");  // here for its cgroup: every leftover is killed at the end
  const auto deadline = Clock::now() + timeout;
  if (tool.kind == ToolKind::kBraid) {
    BraidSession braid(probe, p.slots, tool.braidd_args);
    const auto start = Clock::now();
    const auto sleepers = braid.submit_array(p.sleepers, "io-sleeper-{}", 5, sleeper_argv(p));
    const auto burners = braid.submit_array(p.cpu_tasks, "io-cpu-{}", 5, burner_argv(p));
    std::vector<pid_t> waiters;
    for (const auto& id : burners) waiters.push_back(braid.spawn_wait({id}, deadline));
    waiters.push_back(braid.spawn_wait(sleepers, deadline));
    auto done = finish_times(waiters, start, deadline + std::chrono::seconds(30), "io mix, braid");
    const double sleepers_done = done.back();
    done.pop_back();
    return figures_of(done, sleepers_done);
  }
  if (tool.kind != ToolKind::kPlain) throw std::logic_error("io mix: braid or plain only");
  const std::string sleeper = "exec " + join_quoted(sleeper_argv(p));
  const std::string burner = "exec " + join_quoted(burner_argv(p));
  std::vector<pid_t> sleepers, burners;
  Clock::time_point start;
  probe.inside([&] {
    start = Clock::now();
    for (int i = 0; i < p.sleepers; ++i) sleepers.push_back(spawn_shell(sleeper));
    for (int i = 0; i < p.cpu_tasks; ++i) burners.push_back(spawn_shell(burner));
  });
  std::vector<pid_t> all = burners;
  all.insert(all.end(), sleepers.begin(), sleepers.end());
  const auto done = finish_times(all, start, deadline, "io mix, plain processes");
  const std::vector<double> cpu_done(done.begin(), done.begin() + p.cpu_tasks);
  return figures_of(cpu_done, *std::max_element(done.begin() + p.cpu_tasks, done.end()));
}

}  // namespace braid::bench::workload
