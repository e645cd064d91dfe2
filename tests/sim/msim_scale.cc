#include "tests/sim/msim_scale.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "tests/sim/msim_check.h"

namespace braid::msim {

ScaleReport scale_run(const ScaleOptions& options) {
  WorldOptions w;
  w.nodes = options.nodes;
  w.seed = options.seed;
  w.node.slots = options.slots;
  w.node.refuse_at_backlog = options.refuse_at_backlog;
  w.faults.drop_probability = options.loss;
  World world(w);
  world.start_all();

  const std::size_t origins = std::max<std::size_t>(1, options.nodes / 100);
  const std::size_t tasks = options.nodes * options.slots * options.tasks_per_slot;
  Micros total_work_us = 0;
  for (std::size_t k = 0; k < tasks; ++k) {
    const Micros work =
        500 * kMicrosPerMilli + static_cast<Micros>(world.rng()() % (1000 * kMicrosPerMilli));
    total_work_us += work;
    world.submit(static_cast<NodeIndex>(k % origins), work);
  }
  ScaleReport report;
  report.tasks = tasks;
  report.ideal_s =
      static_cast<double>(total_work_us) / static_cast<double>(options.nodes * options.slots) / 1e6;
  const Micros deadline = static_cast<Micros>(report.ideal_s * 20 * 1e6) + 60 * kMicrosPerSecond;
  const bool done = world.run_until([&] { return world.ledger().completed() >= tasks; }, deadline,
                                    100 * kMicrosPerMilli);
  report.makespan_s = static_cast<double>(world.ledger().last_completion_us()) / 1e6;
  report.ratio = report.makespan_s / report.ideal_s;
  // Let the outcomes go home, then check the run as the crash runs do.
  world.run_until([&] { return settled(world); }, world.now() + 60 * kMicrosPerSecond,
                  100 * kMicrosPerMilli);
  report.failure = done ? check_world(world) : "not finished by the deadline";
  std::uint64_t moved = 0;
  for (NodeIndex i = 0; i < world.size(); ++i) moved += world.node(i).counters().moved_out;
  report.migrations_per_task = static_cast<double>(moved) / static_cast<double>(tasks);
  report.idle_gap = sim::summarize(world.idle_gaps());
  report.messages = world.counters().messages_sent;
  std::map<std::string, int> ran;
  std::map<int, int> hops;
  for (const auto& [id, t] : world.ledger().tasks()) ++ran[t.executor];
  for (NodeIndex i = 0; i < world.size(); ++i) {
    for (const auto& [id, task] : world.node(i).store().tasks) {
      if (sched::is_terminal(task.state) && task.moved_to.empty()) ++hops[task.hops];
    }
  }
  for (const auto& [node, n] : ran)
    report.most_run_by_one_node = std::max(report.most_run_by_one_node, n);
  for (const auto& [h, n] : hops) report.hops += " " + std::to_string(h) + ":" + std::to_string(n);
  return report;
}

std::string describe(const ScaleOptions& o, const ScaleReport& r) {
  char line[512];
  std::snprintf(line, sizeof line,
                "nodes %zu slots %d tasks %zu loss %.2f seed %llu: makespan %.2f s, ideal %.2f s, "
                "ratio %.3f; migrations/task %.3f (hops:%s); most run by one node %d; idle gap %s "
                "(n=%zu); %llu messages%s%s",
                o.nodes, o.slots, r.tasks, o.loss, static_cast<unsigned long long>(o.seed),
                r.makespan_s, r.ideal_s, r.ratio, r.migrations_per_task, r.hops.c_str(),
                r.most_run_by_one_node, sim::to_string(r.idle_gap).c_str(), r.idle_gap.count,
                static_cast<unsigned long long>(r.messages),
                r.failure.empty() ? "" : "; FAILED: ", r.failure.c_str());
  return line;
}

}  // namespace braid::msim
