// The memory sampler: what started tasks use and what the machine has left,
// for the torus's memory-aware starting (sched/torus.h, "Memory").

#include "node/memory_probe.h"
#include "node/tasks.h"

namespace braid::node {
namespace {

// Often enough to see a batch's tasks grow before the next one starts; cheap
// enough (one statm or memory.current per started task) to go unnoticed.
constexpr std::chrono::milliseconds kMemorySamplePeriod{500};

}  // namespace

void Tasks::arm_memory_sampler() {
  if (memory_timer_armed_ || shutting_down_) return;
  memory_timer_armed_ = true;
  memory_timer_.expires_after(kMemorySamplePeriod);
  memory_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec) return;
    memory_timer_armed_ = false;
    sample_memory();
  }));
}

void Tasks::sample_memory() {
  for (const auto& [key, bytes] : executor_.memory_bytes()) torus_.set_task_memory(key, bytes);
  if (std::optional<std::uint64_t> available = read_mem_available()) {
    torus_.set_memory_available(*available, now_us(), actions_);
    carry_out();
  }
  // Idle, nothing to measure: the next start arms the sampler again.
  if (executor_.live_count() > 0) arm_memory_sampler();
}

}  // namespace braid::node
