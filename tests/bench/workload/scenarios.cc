#include "tests/bench/workload/scenarios.h"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "tests/bench/workload/memory_probe.h"
#include "tests/bench/workload/proc.h"
#include "tests/bench/workload/sessions.h"
#include "tests/integration/harness.h"

namespace braid::bench::workload {

namespace {

std::vector<std::string> burn(int ms) { return {testing::bin("braid-burn"), std::to_string(ms)}; }

// The workload's own schedule (submit B `delay` after A), not synchronisation.
void sleep_until(Clock::time_point t) { std::this_thread::sleep_until(t); }

}  // namespace

double solo_burn_s(int ms, int runs) {
  std::vector<double> each;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    if (run_shell(join_quoted(burn(ms)), std::chrono::seconds(120), "solo braid-burn") != 0) {
      throw std::runtime_error("solo braid-burn failed");
    }
    each.push_back(seconds_since(start));
  }
  std::sort(each.begin(), each.end());
  return each[each.size() / 2];
}

double run_urgent(const Tool& tool, const UrgentParams& p, std::chrono::seconds timeout,
                  const std::string& scratch) {
  MemoryProbe probe("urgent");  // here for its cgroup: cleanup of every task
  const auto deadline = Clock::now() + timeout;
  if (tool.kind == ToolKind::kBraid) {
    BraidSession braid(probe, p.slots, tool.braidd_args);
    braid.submit_array(p.batch_tasks, "batch-{}", 5, burn(p.batch_ms));
    sleep_until(Clock::now() + p.delay);
    const auto start = Clock::now();
    const std::string id = braid.submit_one("urgent", 10, burn(p.urgent_ms));
    braid.wait({id}, deadline);
    return seconds_since(start);
  }
  if (tool.kind != ToolKind::kTsp) throw std::logic_error("urgent: braid or tsp only");
  TspSession tsp(probe, p.slots, scratch + "/tsp");
  for (int i = 0; i < p.batch_tasks; ++i) tsp.submit(burn(p.batch_ms));
  sleep_until(Clock::now() + p.delay);
  const auto start = Clock::now();
  const std::string id = tsp.submit(burn(p.urgent_ms));
  tsp.wait({id}, deadline);
  return seconds_since(start);
}

UsersFigures run_users(const Tool& tool, const UsersParams& p, std::chrono::seconds timeout,
                       const std::string& scratch) {
  MemoryProbe probe("users");
  const auto deadline = Clock::now() + timeout;
  std::vector<pid_t> waiters;  // B's, then A's
  Clock::time_point start;
  std::vector<double> done;
  if (tool.kind == ToolKind::kBraid) {
    BraidSession braid(probe, p.slots, tool.braidd_args);
    start = Clock::now();
    // Each user submits under an account of their own (braidd's socket is
    // private to one uid: accounts are how two users share one node).
    const auto a = braid.submit_array(p.a_tasks, "user-a-{}", 5, burn(p.task_ms), "a");
    sleep_until(start + p.delay);
    const auto b = braid.submit_array(p.b_tasks, "user-b-{}", 5, burn(p.task_ms), "b");
    waiters = {braid.spawn_wait(b, deadline), braid.spawn_wait(a, deadline)};
    done = finish_times(waiters, start, deadline + std::chrono::seconds(30), "two users, braid");
  } else if (tool.kind == ToolKind::kTsp) {
    TspSession tsp(probe, p.slots, scratch + "/tsp");
    start = Clock::now();
    std::vector<std::string> a, b;
    for (int i = 0; i < p.a_tasks; ++i) a.push_back(tsp.submit(burn(p.task_ms)));
    sleep_until(start + p.delay);
    for (int i = 0; i < p.b_tasks; ++i) b.push_back(tsp.submit(burn(p.task_ms)));
    waiters = {tsp.spawn_wait(b), tsp.spawn_wait(a)};
    done = finish_times(waiters, start, deadline, "two users, tsp");
  } else {
    throw std::logic_error("two users: braid or tsp only");
  }
  return {done[0], done[1]};
}

}  // namespace braid::bench::workload
