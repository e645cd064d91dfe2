// Order statistics of delays (tests/sim/summary.h).
#include "tests/sim/summary.h"

#include <algorithm>
#include <cstdio>

namespace braid::sim {

namespace {
gossip::Micros rank(const std::vector<gossip::Micros>& sorted, double p) {
  const auto index = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(index, sorted.size() - 1)];
}
}  // namespace

Summary summarize(std::vector<gossip::Micros> values, std::size_t missing) {
  Summary summary;
  summary.count = values.size();
  summary.missing = missing;
  if (values.empty()) return summary;
  std::sort(values.begin(), values.end());
  summary.median_us = rank(values, 0.5);
  summary.p99_us = rank(values, 0.99);
  summary.max_us = values.back();
  return summary;
}

std::string to_string(const Summary& summary) {
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), "median %.3f s  p99 %.3f s  max %.3f s",
                static_cast<double>(summary.median_us) / 1e6,
                static_cast<double>(summary.p99_us) / 1e6,
                static_cast<double>(summary.max_us) / 1e6);
  std::string text = buffer;
  if (summary.missing > 0) text += "  MISSING " + std::to_string(summary.missing);
  return text;
}

}  // namespace braid::sim
