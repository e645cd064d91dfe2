#include "node/histogram.h"

#include "sched/check.h"

namespace braid::node {

HistogramBounds decade_bounds(int from_exp10, int to_exp10) {
  BRAID_CHECK(from_exp10 >= -6 && from_exp10 <= to_exp10, from_exp10, to_exp10);
  HistogramBounds b;
  sched::Micros decade_x10 = 10;  // 1 µs in tenths
  for (int e = -6; e < from_exp10; ++e) decade_x10 *= 10;
  for (int e = from_exp10; e <= to_exp10; ++e, decade_x10 *= 10) {
    for (const sched::Micros step_x2 : {2, 5, 10}) {  // 1, 2.5, 5 (doubled)
      if (e == to_exp10 && step_x2 > 2) break;
      const sched::Micros x10 = decade_x10 * step_x2 / 2;
      b.upper_us_x10.push_back(x10);
      b.upper_seconds.push_back(static_cast<double>(x10) / 1e7);
    }
  }
  return b;
}

const HistogramBounds& decision_bounds() {
  static const HistogramBounds b = decade_bounds(-6, -2);
  return b;
}

const HistogramBounds& queue_wait_bounds() {
  static const HistogramBounds b = [] {
    HistogramBounds q = decade_bounds(-3, 3);
    q.upper_us_x10.push_back(3600LL * 10'000'000);
    q.upper_seconds.push_back(3600);
    return q;
  }();
  return b;
}

const HistogramBounds& short_bounds() {
  static const HistogramBounds b = decade_bounds(-5, 0);
  return b;
}

}  // namespace braid::node
