// The scheduling-overhead table (issue 9 §4): per task kind, the baseline's
// makespans (plain Linux, `slots` at a time) and, per braid row (policy and
// quantum), braid's makespans and preemptions over the rounds. Printed as
// kind, policy, quantum, braid median [range], baseline median [range], the
// ratio of the medians and braid's preemptions, rows in the order first added.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace braid::bench::workload {

class OverheadTable {
 public:
  explicit OverheadTable(std::string baseline) : baseline_(std::move(baseline)) {}
  void add_baseline(const std::string& kind, double makespan_s);
  void add_braid(const std::string& kind, const std::string& policy, const std::string& quantum,
                 double makespan_s, long long preemptions);
  void print() const;

 private:
  struct Row {
    std::string kind, policy, quantum;
    std::vector<double> makespan_s, preemptions;
  };
  std::string baseline_;
  std::map<std::string, std::vector<double>> baseline_s_;  // by kind
  std::vector<Row> rows_;
};

}  // namespace braid::bench::workload
