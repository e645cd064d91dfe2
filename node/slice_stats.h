// SliceStats: how far real time slices land from quantum boundaries. The
// daemon records one sample per slice that ended by preemption (start/resume
// to stop). A policy may keep a task on its slot for several quanta (Fair,
// when it still has the lowest vruntime), so the error is the distance to the
// nearest whole number (>= 1) of quanta. The last kSamplesMax are kept.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "sched/types.h"

namespace braid::node {

class SliceStats {
 public:
  static constexpr std::size_t kSamplesMax = 8192;

  // Returns the slice's error.
  sched::Micros record(sched::Micros slice_us, sched::Micros quantum_us) {
    const sched::Micros quanta =
        std::max<sched::Micros>(1, (slice_us + quantum_us / 2) / quantum_us);
    const sched::Micros error_us = std::llabs(slice_us - quanta * quantum_us);
    if (errors_us_.size() < kSamplesMax) {
      errors_us_.push_back(error_us);
    } else {
      errors_us_[count_ % kSamplesMax] = error_us;
    }
    ++count_;
    return error_us;
  }

  std::uint64_t count() const { return count_; }

  // p in [0, 100]; 0 when nothing was recorded.
  sched::Micros percentile_us(double p) const {
    if (errors_us_.empty()) return 0;
    std::vector<sched::Micros> sorted = errors_us_;
    auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank),
                     sorted.end());
    return sorted[rank];
  }

 private:
  std::vector<sched::Micros> errors_us_;
  std::uint64_t count_ = 0;
};

}  // namespace braid::node
