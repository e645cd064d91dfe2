// msim::Ledger: the simulator's own record of what really happened to each
// task, outside every node (it survives crashes): the starts of its
// processes, the ones a crash killed (requeues), its completions, where it
// completed, and whether two of its processes were ever alive at once.
// The crash runs' checks (msim_check.h) compare the nodes' stores with it.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "tests/sim/event_queue.h"

namespace braid::msim {

using sim::Micros;

struct TaskLedger {
  int starts = 0;                  // processes started, on any node
  int crash_lost = 0;              // of those, killed by their node's crash
  int completions = 0;             // processes that ran to the end and the torus completed
  int concurrent = 0;              // starts while another process of the task was alive
  std::set<std::string> alive_on;  // nodes where a process of it is alive now
  std::string executor;            // the node of the (last) completion
  Micros submitted_us = -1;
  Micros completed_us = -1;
  Micros work_us = 0;
};

class Ledger {
 public:
  void submitted(const std::string& id, Micros work_us, Micros now_us) {
    TaskLedger& t = tasks_[id];
    t.submitted_us = now_us;
    t.work_us = work_us;
  }
  void started(const std::string& id, const std::string& node) {
    TaskLedger& t = tasks_[id];
    ++t.starts;
    if (!t.alive_on.empty()) ++t.concurrent;
    t.alive_on.insert(node);
  }
  void crash_lost(const std::string& id, const std::string& node) {
    TaskLedger& t = tasks_[id];
    ++t.crash_lost;
    t.alive_on.erase(node);
  }
  void exited(const std::string& id, const std::string& node) { tasks_[id].alive_on.erase(node); }
  void completed(const std::string& id, const std::string& node, Micros now_us) {
    TaskLedger& t = tasks_[id];
    ++t.completions;
    t.executor = node;
    t.completed_us = now_us;
    last_completion_us_ = now_us;
    ++completed_;
  }
  // Something a node saw that must never happen (an outcome for a task in
  // the wrong state, a restore refused, ...): the first one is kept.
  void violation(const std::string& what) {
    ++violations_;
    if (first_violation_.empty()) first_violation_ = what;
  }

  const std::map<std::string, TaskLedger>& tasks() const { return tasks_; }
  std::uint64_t completed() const { return completed_; }
  Micros last_completion_us() const { return last_completion_us_; }
  std::uint64_t violations() const { return violations_; }
  const std::string& first_violation() const { return first_violation_; }

 private:
  std::map<std::string, TaskLedger> tasks_;
  std::uint64_t completed_ = 0;
  Micros last_completion_us_ = 0;
  std::uint64_t violations_ = 0;
  std::string first_violation_;
};

}  // namespace braid::msim
