#include "node/tasks.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

namespace braid::node {

using sched::Action;
using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

namespace {

sched::TorusConfig torus_config(sched::TorusConfig config, std::uint64_t next_sequence) {
  config.next_sequence = std::max<std::uint64_t>(next_sequence, 1);
  return config;
}

// The line that opens an attempt's output when it is not the task's first
// start: "--- braid: attempt 2 (retry after exit 3) ---". The first attempt
// gets none, so a task that runs once has exactly its own output.
std::string attempt_header(const sched::Task& task) {
  std::string why;
  if (!task.reason.empty()) {
    why = "requeued: " + task.reason;  // "node restarted", "node shut down"
  } else if (task.attempts > 1) {
    why = task.exit ? "retry after " + task.exit->describe() : "retry";
  }
  if (why.empty()) return {};
  return "--- braid: attempt " + std::to_string(task.attempts) + " (" + why + ") ---\n";
}

}  // namespace

Tasks::Tasks(asio::io_context& io, const Clock& clock, const DaemonConfig& config,
             std::uint64_t next_sequence)
    : io_(io),
      clock_(clock),
      config_(config),
      start_monotonic_us_(clock.monotonic_us()),
      start_wall_us_(clock.wall_us()),
      torus_(torus_config(config.torus, next_sequence)),
      executor_(
          io, clock, config.executor,
          [this](TaskKey key, const sched::ExitStatus& status) { on_process_exit(key, status); }),
      tick_timer_(io),
      memory_timer_(io),
      cpu_timer_(io),
      policy_since_us_(clock.monotonic_us()) {}

void Tasks::add_load_listener(std::function<void()> listener) {
  load_listeners_.push_back(std::move(listener));
}

Micros Tasks::now_us() const {
  return start_wall_us_ + (clock_.monotonic_us() - start_monotonic_us_);
}

void Tasks::carry_out() {
  const Micros now = now_us();
  for (const Action& action : actions_) {
    const sched::Task& task = torus_.task(action.key);
    TaskSide& side = side_[action.key];
    switch (action.kind) {
      case Action::Kind::kStart:
        if (shutting_down_) break;  // the task is ended with everything else
        executor_.start(action.key, task.id, task.spec, attempt_header(task));
        events_->on_started(action.key);
        arm_memory_sampler();
        arm_cpu_sampler();
        side.slice_began_us = now;
        if (side.waiting_since_us >= 0) {
          queue_waits_.observe_us(now - side.waiting_since_us);
          side.waiting_since_us = -1;
        }
        spdlog::debug("task {} started (attempt {})", task.id, task.attempts);
        break;
      case Action::Kind::kResume:
        if (shutting_down_) break;
        executor_.resume(action.key);
        arm_cpu_sampler();
        side.slice_began_us = now;
        break;
      case Action::Kind::kStop:
        executor_.stop(action.key);
        if (side.slice_began_us >= 0) {
          slice_errors_.observe_us(slices_.record(now - side.slice_began_us, torus_.quantum_us()));
        }
        side.slice_began_us = -1;
        break;
      case Action::Kind::kKill:
        executor_.kill(action.key);
        break;
      case Action::Kind::kPersist:
        events_->on_state_changed(action.key);
        break;
    }
  }
  actions_.clear();
  if (input_began_us_ >= 0) {
    decision_times_.observe_us(clock_.monotonic_us() - input_began_us_);
    input_began_us_ = -1;
  }
  events_->on_actions_done();
  for (const auto& listener : load_listeners_) listener();
  arm_timer();
}

void Tasks::arm_timer() {
  const Micros due = torus_.next_tick_us();
  if (due == sched::kNever || due >= timer_due_us_) return;  // an earlier wake-up is harmless
  timer_due_us_ = due;
  tick_timer_.expires_at(std::chrono::steady_clock::time_point(
      std::chrono::microseconds(start_monotonic_us_ + (due - start_wall_us_))));
  tick_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec) return;
    timer_due_us_ = sched::kNever;
    begin_input();
    torus_.tick(now_us(), actions_);
    carry_out();
    sample_cpu_at_tick();
  }));
}

void Tasks::on_process_exit(TaskKey key, const sched::ExitStatus& status) {
  side_[key].cpu_done_us += executor_.cpu_time_us(key).value_or(0);
  side_[key].slice_began_us = -1;
  // Ended by the shutdown (not by itself, a cancel or a time limit): the
  // next start runs it again.
  if (shutting_down_ && !status.success() &&
      torus_.task(key).kill_cause == sched::KillCause::kNone) {
    events_->on_interrupted(key);
    events_->on_exit_handled();
    return;
  }
  begin_input();
  sched::Status s = torus_.on_exit(key, status, now_us(), actions_);
  if (!s) spdlog::error("exit of an unknown attempt ignored: {}", s.error().message);
  carry_out();
  events_->on_exit_handled();
}

void Tasks::track(TaskKey key, std::uint64_t record_no) {
  if (side_.size() <= key) side_.grow_to(key + 1);
  side_[key] = TaskSide{};
  side_[key].record_no = record_no;
  side_[key].waiting_since_us = now_us();
  admission_.emplace_back(record_no, key);  // record numbers only grow
}

void Tasks::forget(TaskKey key) {
  if (sched::Status s = torus_.forget(key); !s) {
    spdlog::critical("purge: {}", s.error().message);
    std::abort();
  }
  // Compact the listing index once most of it is stale.
  if (++admission_stale_ > 1024 && admission_stale_ > admission_.size() / 2) {
    std::erase_if(admission_, [this](const std::pair<std::uint64_t, TaskKey>& e) {
      return !torus_.exists(e.second) || side_[e.second].record_no != e.first;
    });
    admission_stale_ = 0;
  }
}

void Tasks::begin_shutdown() {
  shutting_down_ = true;
  tick_timer_.cancel();
  memory_timer_.cancel();
  memory_timer_armed_ = false;
  cpu_timer_.cancel();
  cpu_timer_armed_ = false;
}

sched::Result<std::vector<TaskKey>> Tasks::keys_of(const std::vector<std::string>& ids) const {
  std::vector<TaskKey> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) {
    std::optional<TaskKey> key = torus_.find(id);
    if (!key) return sched::Error{"unknown task \"" + id + "\" on node " + config_.name};
    keys.push_back(*key);
  }
  return keys;
}

namespace {
Micros wall_us(Micros torus_us) { return torus_us < 0 ? 0 : torus_us; }  // for people; -1 -> 0
}  // namespace

rpc::TaskView Tasks::view(TaskKey key) const {
  const sched::Task& t = torus_.task(key);
  rpc::TaskView v;
  v.id = t.id;
  v.name = t.spec.name;
  v.state = shown_state(key);
  v.node = config_.name;
  v.priority = t.spec.priority;
  v.argv = t.spec.argv;
  v.exit = t.exit;
  v.reason = t.reason;
  v.cpu_time_us = side_[key].cpu_done_us;
  if (sched::is_started(t.state)) {
    v.cpu_time_us += executor_.cpu_time_us(key).value_or(0);
    v.pid = executor_.pid(key).value_or(0);
  }
  v.run_time_us = t.cpu_time_us;
  v.vruntime_ns = t.vruntime_ns;
  v.preemptions = t.preemptions;
  v.attempts = t.attempts;
  v.submitted_at_us = wall_us(t.submitted_at_us);
  v.started_at_us = wall_us(t.started_at_us);
  v.finished_at_us = wall_us(t.finished_at_us);
  v.cpus = t.spec.cpus;
  v.retries = t.spec.retries;
  v.array_index = t.spec.array_index;
  v.node_requeues = t.node_requeues;
  v.account = t.spec.account;
  v.hops = t.hops;
  v.moved_to = t.moved_to;
  v.adopted_from = t.adopted_from;
  v.refusals = t.refusals;
  v.constraints = t.spec.constraints;
  return v;
}

std::array<Micros, 3> Tasks::policy_time_us() const {
  std::array<Micros, 3> us = policy_us_;
  us[static_cast<std::size_t>(torus_.policy())] += clock_.monotonic_us() - policy_since_us_;
  return us;
}

rpc::StatsView Tasks::stats() const {
  rpc::StatsView v;
  v.torus = torus_.stats();
  v.node = config_.name;
  v.executor = std::string(executor_.mode_name());
  v.io_aware = samples_cpu();
  v.uptime_us = uptime_us();
  v.slice_count = slices_.count();
  v.slice_error_p50_us = slices_.percentile_us(50);
  v.slice_error_p99_us = slices_.percentile_us(99);
  v.memory_total_bytes = config_.memory_total;
  v.memory_limits = executor_.memory_enforced() ? "enforced" : "admitted";
  v.labels = torus_.labels();
  return v;
}

}  // namespace braid::node
