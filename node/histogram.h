// Histogram: fixed buckets of microsecond samples, for metrics. Pure and
// plain: observe() is a bucket search and three increments, no lock, no
// allocation, so the loop can call it on its hot paths. Bounds are upper
// bounds (inclusive, as Prometheus' `le`), in microseconds, ascending; a
// sample above the last bound counts only in the implicit +Inf bucket.
//
// SharedHistogram is the same for one writer thread and readers on another
// (the RocksDB committer's timings, read by the loop): relaxed atomics, no
// lock. A snapshot taken while the writer runs may be one sample behind in
// some buckets; its count is always the sum of its buckets.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sched/types.h"

namespace braid::node {

// A bucket set. Bounds are kept in tenths of a microsecond, since 2.5 µs is
// one of them; a sample of n µs is compared as 10 n.
struct HistogramBounds {
  std::vector<double> upper_seconds;        // what is rendered (`le`)
  std::vector<sched::Micros> upper_us_x10;  // the same, in tenths of a microsecond
};

// 1, 2.5, 5 per decade from 10^from_exp10 s up to 10^to_exp10 s inclusive;
// from_exp10 >= -6 (whole tenths of a microsecond).
HistogramBounds decade_bounds(int from_exp10, int to_exp10);

// The contract's bucket sets (docs/metrics.md).
const HistogramBounds& decision_bounds();    // 1e-6 .. 1e-2 s
const HistogramBounds& queue_wait_bounds();  // 1e-3 .. 1e3 s, then 3600 s
const HistogramBounds& short_bounds();       // 1e-5 .. 1 s: slice error, probe RTT, store

struct HistogramSnapshot {
  const HistogramBounds* bounds = nullptr;
  std::vector<std::uint64_t> counts;  // per bucket, not cumulative; last = above every bound
  std::uint64_t count = 0;
  std::uint64_t sum_us = 0;
};

class Histogram {
 public:
  explicit Histogram(const HistogramBounds& bounds)
      : bounds_(&bounds), counts_(bounds.upper_us_x10.size() + 1, 0) {}

  void observe_us(sched::Micros us) {
    us = std::max<sched::Micros>(us, 0);
    ++counts_[bucket_of(*bounds_, us)];
    ++count_;
    sum_us_ += static_cast<std::uint64_t>(us);
  }
  HistogramSnapshot snapshot() const { return {bounds_, counts_, count_, sum_us_}; }
  std::uint64_t count() const { return count_; }

  static std::size_t bucket_of(const HistogramBounds& bounds, sched::Micros us) {
    const auto& b = bounds.upper_us_x10;
    return static_cast<std::size_t>(std::lower_bound(b.begin(), b.end(), us * 10) - b.begin());
  }

 private:
  const HistogramBounds* bounds_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_us_ = 0;
};

class SharedHistogram {
 public:
  explicit SharedHistogram(const HistogramBounds& bounds)
      : bounds_(&bounds), counts_(bounds.upper_us_x10.size() + 1) {}

  void observe_us(sched::Micros us) {  // the writer's thread
    us = std::max<sched::Micros>(us, 0);
    counts_[Histogram::bucket_of(*bounds_, us)].fetch_add(1, std::memory_order_relaxed);
    sum_us_.fetch_add(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
  }
  HistogramSnapshot snapshot() const {  // any thread
    HistogramSnapshot s{bounds_, {}, 0, sum_us_.load(std::memory_order_relaxed)};
    s.counts.reserve(counts_.size());
    for (const auto& c : counts_) {
      s.counts.push_back(c.load(std::memory_order_relaxed));
      s.count += s.counts.back();
    }
    return s;
  }

 private:
  const HistogramBounds* bounds_;
  std::vector<std::atomic<std::uint64_t>> counts_;
  std::atomic<std::uint64_t> sum_us_{0};
};

}  // namespace braid::node
