// Median-and-range summaries of several rounds, and the batch workloads'
// table: per tool its makespan, its ratio to the baseline tool's median,
// its peak memory and braid's preemptions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/bench/workload/batch.h"

namespace braid::bench::workload {

double median(std::vector<double> v);

// "12.34 [11.00-13.50]<unit>" (one value: "12.34<unit>").
std::string median_range(const std::vector<double>& v, const std::string& unit);

class BatchTable {
 public:
  BatchTable(std::string title, std::string baseline) : title_(title), baseline_(baseline) {}
  void add(const std::string& tool, const BatchFigures& f);
  void print() const;  // tools in the order first added

 private:
  std::string title_;
  std::string baseline_;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<BatchFigures>> rows_;
};

}  // namespace braid::bench::workload
