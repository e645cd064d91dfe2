#include "sched/run_queue.h"

#include <algorithm>
#include <bit>

#include "sched/check.h"

namespace braid::sched {
namespace {

// std::push_heap builds a max-heap under its comparator; invert to get a min-heap.
bool ranks_after(const QueueEntry& a, const QueueEntry& b) { return ranks_before(b, a); }

}  // namespace

const QueueEntry* RunQueue::Level::head() const {
  const QueueEntry* best = sorted.empty() ? nullptr : &sorted.front();
  if (!strays.empty() && (best == nullptr || ranks_before(strays.front(), *best))) {
    best = &strays.front();
  }
  return best;
}

void RunQueue::push(const QueueEntry& entry) {
  BRAID_CHECK(entry.level < kPriorityLevels && entry.seq != 0, entry.key, entry.level, entry.seq);
  Level& level = levels_[entry.level];
  if (level.sorted.empty() || !ranks_before(entry, level.sorted.back())) {
    level.sorted.push_back(entry);
  } else if (ranks_before(entry, level.sorted.front())) {
    level.sorted.push_front(entry);
  } else {
    level.strays.push_back(entry);
    std::push_heap(level.strays.begin(), level.strays.end(), ranks_after);
  }
  nonempty_levels_ |= 1u << entry.level;
  ++size_;
  // Keep the cached best level valid: only a new overall best changes it.
  if (best_ == -1) {
    best_ = entry.level;
  } else if (best_ >= 0 && ranks_before(entry, *levels_[static_cast<std::size_t>(best_)].head())) {
    best_ = entry.level;
  }
}

int RunQueue::best_level() const {
  if (best_ != kBestUnknown) return best_;
  int best = -1;
  const QueueEntry* best_head = nullptr;
  for (std::uint32_t bits = nonempty_levels_; bits != 0; bits &= bits - 1) {
    const int i = std::countr_zero(bits);
    const QueueEntry* head = levels_[static_cast<std::size_t>(i)].head();
    if (head != nullptr && (best_head == nullptr || ranks_before(*head, *best_head))) {
      best = i;
      best_head = head;
    }
  }
  best_ = best;
  return best;
}

const QueueEntry* RunQueue::peek() const {
  int best = best_level();
  return best < 0 ? nullptr : levels_[static_cast<std::size_t>(best)].head();
}

void RunQueue::pop() {
  const int best = best_level();
  BRAID_CHECK(best >= 0, size_);
  pop_level(best);
}

const QueueEntry* RunQueue::peek_level(int level) const {
  BRAID_CHECK(level >= 0 && level < kPriorityLevels, level);
  return levels_[static_cast<std::size_t>(level)].head();
}

void RunQueue::pop_level(int index) {
  BRAID_CHECK(index >= 0 && index < kPriorityLevels, index, size_);
  Level& level = levels_[static_cast<std::size_t>(index)];
  BRAID_CHECK(level.head() != nullptr, index, size_);
  if (!level.strays.empty() &&
      (level.sorted.empty() || ranks_before(level.strays.front(), level.sorted.front()))) {
    std::pop_heap(level.strays.begin(), level.strays.end(), ranks_after);
    level.strays.pop_back();
  } else {
    level.sorted.pop_front();
  }
  if (level.sorted.empty() && level.strays.empty()) nonempty_levels_ &= ~(1u << index);
  --size_;
  best_ = kBestUnknown;
}

void RunQueue::clear() {
  for (Level& level : levels_) {
    level.sorted.clear();
    level.strays.clear();
  }
  nonempty_levels_ = 0;
  size_ = 0;
  best_ = -1;
}

}  // namespace braid::sched
