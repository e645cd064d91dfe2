#include "tests/sim/msim_scale.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <queue>

#include "tests/sim/msim_check.h"

namespace braid::msim {

ScaleReport scale_run(const ScaleOptions& options) {
  WorldOptions w;
  w.nodes = options.nodes;
  w.seed = options.seed;
  w.node.slots = options.slots;
  w.node.refuse_at_backlog = options.refuse_at_backlog;
  w.node.balance = options.balance;
  w.node.balance_interval_us = options.balance_interval_us;
  w.node.round_on_exit = options.round_on_exit;
  w.view_sample = options.view_sample;
  w.faults.drop_probability = options.loss;
  World world(w);
  world.start_all();
  world.run_until(options.warmup_us);
  const Micros submit_us = world.now();
  world.restart_idle_gaps();

  const std::size_t origins = std::max<std::size_t>(1, options.nodes / 100);
  const std::size_t tasks = options.nodes * options.slots * options.tasks_per_slot;
  Micros total_work_us = 0;
  // The omniscient scheduler: each task, in submission order, on the slot
  // that frees first, at no cost.
  std::priority_queue<Micros, std::vector<Micros>, std::greater<>> slot_free_us;
  for (std::size_t s = 0; s < options.nodes * options.slots; ++s) slot_free_us.push(0);
  Micros greedy_us = 0;
  for (std::size_t k = 0; k < tasks; ++k) {
    const Micros work =
        500 * kMicrosPerMilli + static_cast<Micros>(world.rng()() % (1000 * kMicrosPerMilli));
    total_work_us += work;
    world.submit(static_cast<NodeIndex>(k % origins), work);
    const Micros end_us = slot_free_us.top() + work;
    slot_free_us.pop();
    slot_free_us.push(end_us);
    greedy_us = std::max(greedy_us, end_us);
  }
  ScaleReport report;
  report.tasks = tasks;
  report.greedy_s = static_cast<double>(greedy_us) / 1e6;
  report.ideal_s =
      static_cast<double>(total_work_us) / static_cast<double>(options.nodes * options.slots) / 1e6;
  const Micros deadline =
      submit_us + static_cast<Micros>(report.ideal_s * 20 * 1e6) + 60 * kMicrosPerSecond;
  const double slots = static_cast<double>(options.nodes * options.slots);
  bool ramped = false;
  double ramp_idle = 0, starved_idle = 0, imbalance_idle = 0, tail_idle = 0;
  double handoff_task_s = 0;
  const auto sample = [&] {
    std::int64_t busy = 0, waiting = 0, in_handoff = 0;
    for (NodeIndex i = 0; i < world.size(); ++i) {
      const Node& n = world.node(i);
      if (!n.up()) continue;
      const sched::TorusStats s = n.torus().stats();
      busy += s.slots_busy;
      const auto handoff =
          static_cast<std::int64_t>(s.count(sched::TaskState::kMigrating) + n.store().held.size());
      in_handoff += handoff;
      waiting += static_cast<std::int64_t>(s.count(sched::TaskState::kQueued)) + handoff;
    }
    const double idle = slots - static_cast<double>(busy);
    if (!ramped && busy >= 0.95 * slots) {
      ramped = true;
      report.ramp_s = static_cast<double>(world.now() - submit_us) / 1e6;
    }
    if (!ramped) {
      ramp_idle += idle;
    } else if (waiting == 0) {
      tail_idle += idle;
    } else {
      const double starved = std::min(idle, static_cast<double>(waiting));
      if (std::getenv("MSIM_TRACE") && idle > static_cast<double>(waiting)) {
        std::fprintf(stderr, "t %.1f idle %.0f waiting %lld in_handoff %lld\n",
                     static_cast<double>(world.now() - submit_us) / 1e6, idle,
                     static_cast<long long>(waiting), static_cast<long long>(in_handoff));
      }
      handoff_task_s += static_cast<double>(in_handoff) * 0.1;
      starved_idle += starved;
      imbalance_idle += idle - starved;
    }
  };
  const bool done = world.run_until(
      [&] {
        if (world.ledger().completed() >= tasks) return true;
        sample();
        return false;
      },
      deadline, 100 * kMicrosPerMilli);
  // Samples are 100 ms apart; in seconds of the whole cluster.
  report.lost_ramp_s = ramp_idle * 0.1 / slots;
  report.lost_starved_s = starved_idle * 0.1 / slots;
  report.lost_imbalance_s = imbalance_idle * 0.1 / slots;
  report.lost_tail_s = tail_idle * 0.1 / slots;
  report.handoff_task_s = handoff_task_s;
  report.makespan_s = static_cast<double>(world.ledger().last_completion_us() - submit_us) / 1e6;
  report.ratio = report.makespan_s / report.ideal_s;
  report.greedy_ratio = report.makespan_s / report.greedy_s;
  // Let the outcomes go home, then check the run as the crash runs do.
  world.run_until([&] { return settled(world); }, world.now() + 60 * kMicrosPerSecond,
                  100 * kMicrosPerMilli);
  report.failure = done ? check_world(world) : "not finished by the deadline";
  std::uint64_t moved = 0;
  for (NodeIndex i = 0; i < world.size(); ++i) {
    moved += world.node(i).counters().moved_out;
    report.refused_busy += world.node(i).counters().refused_busy;
    report.pulls += world.node(i).counters().pulls;
  }
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
  char line[1024];
  std::snprintf(
      line, sizeof line,
      "nodes %zu slots %d tasks %zu loss %.2f seed %llu: makespan %.2f s, ideal %.2f s, "
      "ratio %.3f; omniscient %.2f s, ratio %.3f; migrations/task %.3f (hops:%s); most run by one "
      "node %d; idle gap %s "
      "(n=%zu); %llu messages; lost s: ramp %.2f (until %.2f s) starved %.2f imbalance %.2f "
      "tail %.2f; %.0f task-s in handoffs after the ramp; %llu refused busy, %llu pulls%s%s",
      o.nodes, o.slots, r.tasks, o.loss, static_cast<unsigned long long>(o.seed), r.makespan_s,
      r.ideal_s, r.ratio, r.greedy_s, r.greedy_ratio, r.migrations_per_task, r.hops.c_str(),
      r.most_run_by_one_node, sim::to_string(r.idle_gap).c_str(), r.idle_gap.count,
      static_cast<unsigned long long>(r.messages), r.lost_ramp_s, r.ramp_s, r.lost_starved_s,
      r.lost_imbalance_s, r.lost_tail_s, r.handoff_task_s,
      static_cast<unsigned long long>(r.refused_busy), static_cast<unsigned long long>(r.pulls),
      r.failure.empty() ? "" : "; FAILED: ", r.failure.c_str());
  return line;
}

}  // namespace braid::msim
