// Helpers shared by sched/ unit tests only.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sched/sim_node.h"

namespace braid::sched::testing {

inline TaskSpec spec(int priority = kPriorityDefault) {
  TaskSpec s;
  s.argv = {"/bin/true"};
  s.priority = priority;
  return s;
}

inline TorusConfig config(Policy policy, int slots = 1, Micros quantum_us = kQuantumDefaultUs) {
  TorusConfig c;
  c.policy = policy;
  c.slots = slots;
  c.quantum_us = quantum_us;
  return c;
}

inline SimBehaviour work(Micros work_us, std::vector<int> exit_codes = {0}) {
  return SimBehaviour{work_us, std::move(exit_codes), false};
}

// Keys in the order they were put on a slot (kStart and kResume).
inline std::vector<TaskKey> switch_ins(const SimNode& node) {
  std::vector<TaskKey> keys;
  for (const auto& logged : node.log()) {
    if (logged.action.kind == Action::Kind::kStart || logged.action.kind == Action::Kind::kResume) {
      keys.push_back(logged.action.key);
    }
  }
  return keys;
}

// Terminal tasks in the order they ended (a task's last kPersist is its end).
inline std::vector<TaskKey> finish_order(const SimNode& node) {
  std::map<TaskKey, std::size_t> last_persist;
  const auto& log = node.log();
  for (std::size_t i = 0; i < log.size(); ++i) {
    if (log[i].action.kind == Action::Kind::kPersist) last_persist[log[i].action.key] = i;
  }
  std::vector<std::pair<std::size_t, TaskKey>> ended;
  for (const auto& [key, index] : last_persist) {
    if (is_terminal(node.torus().task(key).state)) ended.emplace_back(index, key);
  }
  std::sort(ended.begin(), ended.end());
  std::vector<TaskKey> keys;
  for (const auto& e : ended) keys.push_back(e.second);
  return keys;
}

// The first time (us) an action of `kind` was applied to `key`; -1 if never.
inline Micros first_at(const SimNode& node, Action::Kind kind, TaskKey key, Micros after_us = -1) {
  for (const auto& logged : node.log()) {
    if (logged.action.kind == kind && logged.action.key == key && logged.at_us > after_us) {
      return logged.at_us;
    }
  }
  return -1;
}

// How many of `keys` were started after `after_us`.
inline int starts_after(const SimNode& node, const std::set<TaskKey>& keys, Micros after_us) {
  int n = 0;
  for (const auto& logged : node.log()) {
    if (logged.at_us > after_us && logged.action.kind == Action::Kind::kStart &&
        keys.contains(logged.action.key)) {
      ++n;
    }
  }
  return n;
}

inline TaskSpec account_spec(std::string account) {
  TaskSpec s = spec();
  s.account = std::move(account);
  return s;
}

// Feeds the torus a measured CPU demand of `key` (I/O-aware slots), now.
inline void report_cpu(SimNode& node, TaskKey key, Micros cpu_us) {
  Actions out;
  node.torus().set_task_cpu_demand(key, cpu_us, node.now_us(), out);
  node.apply(out);
}

inline TaskKey must(Result<TaskKey> r) {
  if (!r.ok()) throw std::runtime_error(r.error().message);
  return r.value();
}

}  // namespace braid::sched::testing
