// The CPU sampler: the measured CPU demand of running tasks, for the torus's
// I/O-aware slots (sched/torus.h, "I/O-aware slots").

#include "node/tasks.h"

namespace braid::node {
namespace {

// Each kCpuSampleMinUs of running time is judged: a sleeping task lends its
// slot 50-100 ms after it starts, and takes it back as soon after it turns
// busy. One cpu.stat read per running task per period.
constexpr std::chrono::milliseconds kCpuSamplePeriod{50};
// A tick this long after the last sample takes the next one early.
constexpr sched::Micros kCpuSampleEarlyUs = 40 * sched::kMicrosPerMilli;

}  // namespace

bool Tasks::samples_cpu() const {
  // Only a cgroup counts a whole process tree's CPU while it runs (in signals
  // mode a shell's busy child is invisible until it exits, and the shell
  // would look blocked), and only PSI tells a task that waits for a CPU on a
  // busy machine from one that sleeps (see Executor::cpu_demand_us). A task
  // whose demand cannot be read is never judged.
  return torus_.io_aware() && executor_.measures_cpu_demand();
}

void Tasks::arm_cpu_sampler() {
  if (cpu_timer_armed_ || shutting_down_ || !samples_cpu()) return;
  cpu_timer_armed_ = true;
  cpu_timer_.expires_after(kCpuSamplePeriod);
  cpu_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec) return;
    cpu_timer_armed_ = false;
    sample_cpu();
  }));
}

void Tasks::sample_cpu_at_tick() {
  if (!cpu_timer_armed_ || clock_.monotonic_us() - cpu_sampled_at_us_ < kCpuSampleEarlyUs) return;
  cpu_timer_.cancel();  // its handler sees operation_aborted and does nothing
  cpu_timer_armed_ = false;
  sample_cpu();
}

void Tasks::sample_cpu() {
  cpu_sampled_at_us_ = clock_.monotonic_us();
  // Copied: set_task_cpu_demand may change the running set.
  const std::vector<sched::TaskKey> running = torus_.running();
  for (sched::TaskKey key : running) {
    if (std::optional<sched::Micros> demand_us = executor_.cpu_demand_us(key)) {
      torus_.set_task_cpu_demand(key, *demand_us, now_us(), actions_);
    }
  }
  carry_out();
  // Nothing running, nothing to measure: the next start or resume arms it.
  if (!torus_.running().empty()) arm_cpu_sampler();
}

}  // namespace braid::node
