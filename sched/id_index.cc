#include "sched/id_index.h"

#include <utility>

namespace braid::sched {

bool IdIndex::insert(std::string id, TaskKey key) {
  if (growing()) {
    if (draining_.find(id) != draining_.end()) return false;
  } else if (static_cast<double>(fill_.size() + 1) >
             static_cast<double>(fill_.bucket_count()) * fill_.max_load_factor()) {
    // A step: the full map drains into one with buckets for twice its
    // entries, which stays below its own limit until the draining one is
    // empty (kMovesPerInsert >= 1 moves per insert).
    if (fill_.find(id) != fill_.end()) return false;
    std::swap(fill_, draining_);
    fill_.reserve(2 * (draining_.size() + 1));
  }
  if (!fill_.try_emplace(std::move(id), key).second) return false;  // nothing moved then
  move_some(kMovesPerInsert);
  return true;
}

void IdIndex::move_some(std::size_t count) {
  for (; count > 0 && !draining_.empty(); --count) {
    fill_.insert(draining_.extract(draining_.begin()));
  }
  if (draining_.empty() && draining_.bucket_count() > 1) draining_ = Map{};  // frees its buckets
}

std::optional<TaskKey> IdIndex::find(std::string_view id) const {
  const std::string key(id);
  if (auto it = fill_.find(key); it != fill_.end()) return it->second;
  if (draining_.empty()) return std::nullopt;
  if (auto it = draining_.find(key); it != draining_.end()) return it->second;
  return std::nullopt;
}

bool IdIndex::erase(std::string_view id) {
  const std::string key(id);
  if (fill_.erase(key) > 0) return true;
  return draining_.erase(key) > 0;
}

void IdIndex::reserve(std::size_t ids) {
  move_some(draining_.size());
  fill_.reserve(ids);
}

}  // namespace braid::sched
