#include "tests/bench/workload/stats_table.h"

#include <algorithm>
#include <cstdio>

namespace braid::bench::workload {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string median_range(const std::vector<double>& v, const std::string& unit) {
  if (v.empty()) return "-";
  char buffer[128];
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  if (v.size() == 1) {
    std::snprintf(buffer, sizeof(buffer), "%.2f%s", v.front(), unit.c_str());
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.2f [%.2f-%.2f]%s", median(v), *lo, *hi, unit.c_str());
  }
  return buffer;
}

void BatchTable::add(const std::string& tool, const BatchFigures& f) {
  if (rows_.count(tool) == 0) order_.push_back(tool);
  rows_[tool].push_back(f);
}

void BatchTable::print() const {
  auto column = [](const std::vector<BatchFigures>& fs, double BatchFigures::*field) {
    std::vector<double> v;
    for (const auto& f : fs) v.push_back(f.*field);
    return v;
  };
  double base = 0;
  if (auto it = rows_.find(baseline_); it != rows_.end()) {
    base = median(column(it->second, &BatchFigures::makespan_s));
  }
  std::printf("  %s, median [min-max] over rounds:\n", title_.c_str());
  std::printf("  %-28s %-26s %-8s %-24s %-22s %s\n", "tool", "makespan s", "÷ base",
              "peak Σ RSS MiB", "peak Σ anon MiB", "preemptions");
  for (const auto& tool : order_) {
    const auto& fs = rows_.at(tool);
    const auto makespan = column(fs, &BatchFigures::makespan_s);
    std::vector<double> preemptions;
    for (const auto& f : fs) {
      if (f.preemptions >= 0) preemptions.push_back(static_cast<double>(f.preemptions));
    }
    char ratio[32] = "-";
    if (base > 0) std::snprintf(ratio, sizeof(ratio), "%.3f", median(makespan) / base);
    std::printf("  %-28s %-26s %-8s %-24s %-22s %s\n", tool.c_str(),
                median_range(makespan, "").c_str(), ratio,
                median_range(column(fs, &BatchFigures::peak_rss_mib), "").c_str(),
                median_range(column(fs, &BatchFigures::peak_anon_mib), "").c_str(),
                median_range(preemptions, "").c_str());
  }
}

}  // namespace braid::bench::workload
