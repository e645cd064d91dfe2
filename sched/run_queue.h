// RunQueue: the ordered set of runnable tasks, lowest rank first (policy.h).
//
// Entries are split into levels (one per priority; RoundRobin uses one).
// Within a level entries almost always arrive in rank order: FIFO seqs under
// RoundRobin and Priority, and under Fair a preempted task has just gained a
// quantum of vruntime at its own weight, so it goes to the back of its level.
// Each level is therefore a sorted deque (push at either end, O(1)) plus a
// small binary heap for the rare entry that arrives out of order. peek() is
// the best head over the levels: O(levels) with no dependence on size, which
// is what keeps a decision as cheap at 1M tasks as at 1k.
//
// The queue knows nothing about tasks: removal is lazy. The torus stamps each
// task with the seq of its live entry and discards stale entries it peeks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "sched/types.h"

namespace braid::sched {

struct QueueEntry {
  std::uint64_t major = 0;  // rank_major()
  std::uint64_t seq = 0;    // global enqueue counter; unique per entry, never 0
  TaskKey key = kNoTask;
  std::uint8_t level = 0;  // rank_level(), < kPriorityLevels
};

// True when a runs before b: lower major, then lower seq.
inline bool ranks_before(const QueueEntry& a, const QueueEntry& b) {
  return a.major != b.major ? a.major < b.major : a.seq < b.seq;
}

class RunQueue final {
 public:
  // O(1) when the entry is not between its level's front and back; else O(log n).
  void push(const QueueEntry& entry);
  // The lowest-ranked entry, or nullptr when empty. Valid until the next push/pop.
  const QueueEntry* peek() const;
  // Removes the entry peek() returns. Requires !empty().
  void pop();
  // The same within one level (< kPriorityLevels): its lowest-ranked entry,
  // or nullptr; pop_level requires peek_level(level) != nullptr.
  const QueueEntry* peek_level(int level) const;
  void pop_level(int level);

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear();

 private:
  struct Level {
    std::deque<QueueEntry> sorted;   // ascending rank
    std::vector<QueueEntry> strays;  // min-heap of out-of-order arrivals
    const QueueEntry* head() const;  // best of sorted.front() and strays.front()
  };
  int best_level() const;

  std::array<Level, kPriorityLevels> levels_;
  std::uint32_t nonempty_levels_ = 0;  // bit i set: levels_[i] holds entries
  // Level holding the best entry: kBestUnknown after a pop, -1 when empty.
  static constexpr int kBestUnknown = -2;
  mutable int best_ = -1;
  std::size_t size_ = 0;
  static_assert(kPriorityLevels <= 32);
};

}  // namespace braid::sched
