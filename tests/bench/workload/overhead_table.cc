#include "tests/bench/workload/overhead_table.h"

#include <algorithm>
#include <cstdio>

#include "tests/bench/workload/stats_table.h"

namespace braid::bench::workload {

void OverheadTable::add_baseline(const std::string& kind, double makespan_s) {
  baseline_s_[kind].push_back(makespan_s);
}

void OverheadTable::add_braid(const std::string& kind, const std::string& policy,
                              const std::string& quantum, double makespan_s,
                              long long preemptions) {
  Row* row = nullptr;
  for (auto& r : rows_) {
    if (r.kind == kind && r.policy == policy && r.quantum == quantum) row = &r;
  }
  if (row == nullptr) {
    rows_.push_back({kind, policy, quantum, {}, {}});
    row = &rows_.back();
  }
  row->makespan_s.push_back(makespan_s);
  if (preemptions >= 0) row->preemptions.push_back(static_cast<double>(preemptions));
}

namespace {

// "1234 [1200-1300]" (counts: no decimals).
std::string count_range(const std::vector<double>& v) {
  if (v.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  char buffer[96];
  if (v.size() == 1) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", v.front());
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.0f [%.0f-%.0f]", median(v), *lo, *hi);
  }
  return buffer;
}

}  // namespace

void OverheadTable::print() const {
  std::printf("  scheduling overhead, makespan s, median [min-max] over rounds:\n");
  std::printf("  %-6s %-11s %-8s %-24s %-24s %-8s %s\n", "kind", "policy", "quantum", "braid",
              baseline_.c_str(), "ratio", "preemptions");
  for (const auto& r : rows_) {
    const auto base = baseline_s_.find(r.kind);
    const std::vector<double> none;
    const auto& base_s = base == baseline_s_.end() ? none : base->second;
    char ratio[32] = "-";
    if (!base_s.empty() && median(base_s) > 0) {
      std::snprintf(ratio, sizeof(ratio), "%.3f", median(r.makespan_s) / median(base_s));
    }
    std::printf("  %-6s %-11s %-8s %-24s %-24s %-8s %s\n", r.kind.c_str(), r.policy.c_str(),
                r.quantum.c_str(), median_range(r.makespan_s, "").c_str(),
                median_range(base_s, "").c_str(), ratio, count_range(r.preemptions).c_str());
  }
}

}  // namespace braid::bench::workload
