// Torus memory: what started tasks are counted for, and whether a fresh task
// may start (torus.h, "Memory").
#include <algorithm>

#include "sched/torus.h"

namespace braid::sched {

std::uint64_t Torus::counted_memory(TaskKey key) const {
  const Task& t = at(key);
  auto it = measured_memory_.find(key);
  return std::max(t.spec.memory_bytes, it == measured_memory_.end() ? 0 : it->second);
}

void Torus::set_task_memory(TaskKey key, std::uint64_t bytes) {
  if (!exists(key) || !at(key).started_this_attempt) return;
  const std::uint64_t before = counted_memory(key);
  measured_memory_[key] = bytes;
  started_memory_bytes_ = started_memory_bytes_ - before + counted_memory(key);
}

void Torus::set_memory_available(std::uint64_t bytes, Micros now_us, Actions& out) {
  memory_available_bytes_ = bytes;
  // Decides every time: measurements may have shrunk too, and under Priority
  // no quantum tick would look at a task memory held back.
  advance(now_us, out);
  decide(last_now_us_, out, /*ignore_pause=*/false);
}

std::uint64_t Torus::expected_memory(const Task& task) const {
  if (task.spec.memory_bytes != 0) return task.spec.memory_bytes;
  std::uint64_t largest = 0;
  for (const auto& [key, bytes] : measured_memory_) largest = std::max(largest, bytes);
  return largest;
}

bool Torus::memory_admits(const Task& task) const {
  // Nothing started: always one, so the node makes progress whatever else
  // the machine runs.
  if (started_count_ == 0) return true;
  if (config_.memory_bytes != 0 &&
      started_memory_bytes_ + task.spec.memory_bytes > config_.memory_bytes) {
    return false;
  }
  return memory_available_bytes_ == 0 || expected_memory(task) <= memory_available_bytes_;
}

void Torus::forget_memory(TaskKey key) {
  started_memory_bytes_ -= counted_memory(key);
  measured_memory_.erase(key);
}

}  // namespace braid::sched
