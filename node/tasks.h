// Tasks: braidd's tasks. Owns the torus, the executor and each task's side
// record (TaskSide), feeds the torus time and process exits, and carries out
// its process actions (start, resume, stop, kill). What follows from a state
// change (storing it, showing it, answering waiters) is not its job: every
// kPersist action, every start, and the end of each batch of actions go to
// the TaskEvents the wiring gave it. Samplers (CPU demand, memory) and the
// tick timer live here too; so do the control operations that act on tasks
// alone (cancel, hold, priority, policy, quantum, scheduler, list, logs).
//
// Torus time is wall-clock anchored: microseconds since the Unix epoch at
// start, then advanced by the clock's monotonic time. Stored times stay
// meaningful across restarts, and a clock step while running does not
// disturb slices.
//
// Load listeners (add_load_listener) run after every batch of actions: the
// torus's queue and slots may have changed. A part that publishes this node's
// load (peers) registers there; a listener must not call back into Tasks.
//
// Metrics (node/metrics.h reads them): the time of each decision (a tick,
// a process exit or a control operation, from begin_input() to the end of
// its actions, on the injected clock), each task's wait from admission to its
// first start, each preempted slice's error, and the time spent under each
// policy. Plain histograms: no lock.
//
// Everything runs on the loop's thread; nothing here locks.
#pragma once

#include <array>
#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "node/clock.h"
#include "node/daemon_config.h"
#include "node/executor.h"
#include "node/histogram.h"
#include "node/lifetime.h"
#include "node/slice_stats.h"
#include "node/task_side.h"
#include "rpc/control_backend.h"
#include "sched/chunked_vector.h"
#include "sched/torus.h"

namespace braid::node {

// What Tasks reports to the rest of the node (implemented by the wiring).
class TaskEvents {
 public:
  virtual ~TaskEvents() = default;
  virtual void on_started(sched::TaskKey key) = 0;        // an attempt was spawned
  virtual void on_state_changed(sched::TaskKey key) = 0;  // a kPersist, in action order
  virtual void on_actions_done() = 0;                     // after each batch of actions
  // The shutdown ended this attempt (not the task, a cancel or a time limit).
  virtual void on_interrupted(sched::TaskKey key) = 0;
  virtual void on_exit_handled() = 0;  // after every process exit
};

class Tasks final {
 public:
  // `next_sequence`: the first task id sequence the torus may hand out.
  Tasks(asio::io_context& io, const Clock& clock, const DaemonConfig& config,
        std::uint64_t next_sequence);
  Tasks(const Tasks&) = delete;
  Tasks& operator=(const Tasks&) = delete;

  void set_events(TaskEvents* events) { events_ = events; }
  void add_load_listener(std::function<void()> listener);

  sched::Micros now_us() const;  // torus time (see above)
  sched::Micros uptime_us() const { return now_us() - start_wall_us_; }
  sched::Torus& torus() { return torus_; }
  const sched::Torus& torus() const { return torus_; }
  Executor& executor() { return executor_; }
  const Executor& executor() const { return executor_; }
  sched::Actions& actions() { return actions_; }  // filled by torus calls, then carry_out()
  TaskSide& side(sched::TaskKey key) { return side_[key]; }
  const TaskSide& side(sched::TaskKey key) const { return side_[key]; }
  sched::TaskState shown_state(sched::TaskKey key) const { return side_[key].shown_state; }

  // Executes actions() (then the events, the load listeners) and re-arms the tick.
  void carry_out();
  // Marks the start of a torus input: the next carry_out() records the
  // decision's time (metrics).
  void begin_input() { input_began_us_ = clock_.monotonic_us(); }
  // A new (or reused) key: its side record reset, listed in admission order.
  void track(sched::TaskKey key, std::uint64_t record_no);
  // Drops a finished task from the torus (a refusal is a bug: aborts).
  void forget(sched::TaskKey key);
  // Live tracked tasks in record order from the first after `after`;
  // visit(record_no, key) returns false to stop.
  template <typename Visit>
  void for_each_admitted(std::uint64_t after, Visit&& visit) const;

  // Graceful stop: no new starts or resumes, timers cancelled, every task's
  // processes ended; exits still come through on_exit_handled().
  void begin_shutdown();
  bool shutting_down() const { return shutting_down_; }
  bool samples_cpu() const;

  sched::Result<std::vector<sched::TaskKey>> keys_of(const std::vector<std::string>& ids) const;
  rpc::TaskView view(sched::TaskKey key) const;
  rpc::StatsView stats() const;

  // Control operations on tasks (tasks_control.cc); each carries out what follows.
  sched::Status cancel(const std::vector<std::string>& ids);
  sched::Status hold(const std::vector<std::string>& ids, bool release);
  sched::Result<rpc::LogChunk> read_log(const std::string& id, bool stderr_stream,
                                        std::uint64_t offset, std::uint32_t max_bytes) const;
  sched::Status set_policy(sched::Policy policy);
  sched::Status set_quantum(sched::Micros quantum_us);
  sched::Result<sched::TaskKey> priority(const std::string& id, rpc::PriorityOp op, int value);
  sched::Status scheduler(rpc::SchedulerOp op);
  // scheduler(kNext), answering the pid of the task it started or resumed
  // (nullopt: none).
  std::optional<int> schedule_next();
  sched::Result<rpc::ListPage> list(const rpc::ListQuery& query) const;
  sched::Result<std::uint64_t> cancel_where(std::optional<sched::TaskState> state,
                                            const std::string& name_glob);

  // Metrics (see above).
  HistogramSnapshot decision_times() const { return decision_times_.snapshot(); }
  HistogramSnapshot queue_waits() const { return queue_waits_.snapshot(); }
  HistogramSnapshot slice_errors() const { return slice_errors_.snapshot(); }
  std::array<sched::Micros, 3> policy_time_us() const;  // by sched::Policy, until now

 private:
  void on_process_exit(sched::TaskKey key, const sched::ExitStatus& status);
  void arm_timer();
  // tasks_memory.cc: every kMemorySamplePeriod while attempts are started,
  // the started tasks' memory and the machine's MemAvailable go to the torus.
  void arm_memory_sampler();
  void sample_memory();
  // tasks_cpu.cc: every kCpuSamplePeriod while tasks run (I/O-aware slots,
  // cgroup executor), the running tasks' measured CPU goes to the torus.
  void arm_cpu_sampler();
  void sample_cpu();
  // From the tick: samples now if the sampler's timer is armed and at least
  // kCpuSampleEarlyUs have passed since the last sample, so that while
  // slices end every quantum the sampler costs no wake-up of its own.
  void sample_cpu_at_tick();

  asio::io_context& io_;
  const Clock& clock_;
  const DaemonConfig& config_;
  const sched::Micros start_monotonic_us_;
  const sched::Micros start_wall_us_;
  TaskEvents* events_ = nullptr;
  std::vector<std::function<void()>> load_listeners_;
  sched::Torus torus_;
  Executor executor_;
  sched::Actions actions_;
  // By key, sized by track() for every key the torus hands out. Chunked,
  // like the torus's task table: growing never copies what is there (a
  // vector doubling held the loop).
  sched::ChunkedVector<TaskSide> side_;
  // (record_no, key) in admission order, for paged listing; an entry whose
  // key now holds another record (or none) is stale, and skipped.
  std::deque<std::pair<std::uint64_t, sched::TaskKey>> admission_;
  std::size_t admission_stale_ = 0;
  asio::steady_timer tick_timer_;
  sched::Micros timer_due_us_ = sched::kNever;
  asio::steady_timer memory_timer_;
  bool memory_timer_armed_ = false;
  asio::steady_timer cpu_timer_;
  bool cpu_timer_armed_ = false;
  sched::Micros cpu_sampled_at_us_ = 0;  // clock_.monotonic_us() of the last sample
  SliceStats slices_;
  sched::Micros input_began_us_ = -1;  // clock_.monotonic_us() at begin_input(); -1: none
  Histogram decision_times_{decision_bounds()};
  Histogram queue_waits_{queue_wait_bounds()};
  Histogram slice_errors_{short_bounds()};
  std::array<sched::Micros, 3> policy_us_{};  // ended stretches under each policy
  sched::Micros policy_since_us_;             // monotonic start of the current one
  bool shutting_down_ = false;
  Lifetime lifetime_;  // last: destroyed first
};

template <typename Visit>
void Tasks::for_each_admitted(std::uint64_t after, Visit&& visit) const {
  auto it = std::upper_bound(admission_.begin(), admission_.end(),
                             std::make_pair(after, std::numeric_limits<sched::TaskKey>::max()));
  for (; it != admission_.end(); ++it) {
    const auto [record_no, key] = *it;
    if (!torus_.exists(key) || side_[key].record_no != record_no) continue;  // stale
    if (!visit(record_no, key)) return;
  }
}

}  // namespace braid::node
