#include "node/daemon.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sched/duration.h"

namespace braid::node {

using sched::Action;
using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

namespace {
// After the last process ended at shutdown, time for KJ to send pending answers.
constexpr auto kShutdownFlush = std::chrono::milliseconds(50);

sched::TorusConfig torus_config(sched::TorusConfig config, const storage::NodeMeta& meta) {
  config.next_sequence = std::max<std::uint64_t>(meta.next_sequence, 1);
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

Daemon::Daemon(asio::io_context& io, const Clock& clock, DaemonConfig config,
               std::unique_ptr<storage::Store> store, storage::NodeMeta meta)
    : io_(io),
      clock_(clock),
      config_(std::move(config)),
      start_monotonic_us_(clock.monotonic_us()),
      start_wall_us_(clock.wall_us()),
      store_(std::move(store)),
      meta_(std::move(meta)),
      committer_(std::make_unique<storage::Committer>(*store_)),
      torus_(torus_config(config_.torus, meta_)),
      executor_(
          io, clock, config_.executor,
          [this](TaskKey key, const sched::ExitStatus& status) { on_process_exit(key, status); }),
      tick_timer_(io),
      memory_timer_(io),
      cpu_timer_(io),
      flip_timer_(io),
      purge_timer_(io) {}

Daemon::~Daemon() = default;

Micros Daemon::now_us() const {
  return start_wall_us_ + (clock_.monotonic_us() - start_monotonic_us_);
}

Micros Daemon::wall_us(Micros torus_us) const { return torus_us < 0 ? 0 : torus_us; }

void Daemon::carry_out() {
  const Micros now = now_us();
  std::vector<TaskKey> changed;
  for (const Action& action : actions_) {
    const sched::Task& task = torus_.task(action.key);
    switch (action.kind) {
      case Action::Kind::kStart:
        if (shutting_down_) break;  // the task is ended with everything else
        executor_.start(action.key, task.id, task.spec, attempt_header(task));
        note_started(action.key);
        arm_memory_sampler();
        arm_cpu_sampler();
        slice_began_us_[action.key] = now;
        spdlog::debug("task {} started (attempt {})", task.id, task.attempts);
        break;
      case Action::Kind::kResume:
        if (shutting_down_) break;
        executor_.resume(action.key);
        arm_cpu_sampler();
        slice_began_us_[action.key] = now;
        break;
      case Action::Kind::kStop:
        executor_.stop(action.key);
        if (slice_began_us_[action.key] >= 0) {
          slices_.record(now - slice_began_us_[action.key], torus_.quantum_us());
        }
        slice_began_us_[action.key] = -1;
        break;
      case Action::Kind::kKill:
        executor_.kill(action.key);
        break;
      case Action::Kind::kPersist:
        note_state(action.key);
        // Shutting down, only ends are stored: what did not start stays
        // queued, what the shutdown interrupts is stored by persist_interrupted().
        if (!shutting_down_ || sched::is_terminal(task.state)) {
          if (is_flip(action.key)) {
            defer_flip(action.key);
          } else {
            changed.push_back(action.key);
          }
        }
        if (sched::is_terminal(task.state)) {
          note_finished(action.key);
          if (task.state != TaskState::kCompleted) {
            spdlog::info("task {} {}: {}", task.id, sched::to_string(task.state), task.reason);
          }
        }
        break;
    }
  }
  actions_.clear();
  persist(changed);
  if (finished_.size() > config_.retention_max_tasks) purge();
  arm_timer();
}

void Daemon::arm_timer() {
  const Micros due = torus_.next_tick_us();
  if (due == sched::kNever || due >= timer_due_us_) return;  // an earlier wake-up is harmless
  timer_due_us_ = due;
  tick_timer_.expires_at(std::chrono::steady_clock::time_point(
      std::chrono::microseconds(start_monotonic_us_ + (due - start_wall_us_))));
  tick_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec) return;
    timer_due_us_ = sched::kNever;
    torus_.tick(now_us(), actions_);
    carry_out();
    sample_cpu_at_tick();
  }));
}

void Daemon::on_process_exit(TaskKey key, const sched::ExitStatus& status) {
  cpu_done_us_[key] += executor_.cpu_time_us(key).value_or(0);
  slice_began_us_[key] = -1;
  // Ended by the shutdown (not by itself, a cancel or a time limit): the
  // next start runs it again.
  if (shutting_down_ && !status.success() &&
      torus_.task(key).kill_cause == sched::KillCause::kNone) {
    persist_interrupted(key);
    check_shutdown_done();
    return;
  }
  sched::Status s = torus_.on_exit(key, status, now_us(), actions_);
  if (!s) spdlog::error("exit of an unknown attempt ignored: {}", s.error().message);
  carry_out();
  check_shutdown_done();
}

void Daemon::shutdown(std::function<void()> on_done) {
  shutting_down_ = true;
  on_shutdown_done_ = std::move(on_done);
  tick_timer_.cancel();
  memory_timer_.cancel();
  memory_timer_armed_ = false;
  cpu_timer_.cancel();
  cpu_timer_armed_ = false;
  purge_timer_.cancel();
  flip_timer_.cancel();
  flip_timer_armed_ = false;
  spdlog::info("shutting down: ending {} task process groups", executor_.live_count());
  executor_.terminate_all();
  check_shutdown_done();
}

void Daemon::check_shutdown_done() {
  // Submissions under way finish first (stored and admitted, or refused), so
  // a client is never told "unreachable" about tasks that exist.
  if (!shutting_down_ || executor_.live_count() != 0 || !submissions_.empty() ||
      !on_shutdown_done_) {
    return;
  }
  auto done = std::move(on_shutdown_done_);
  on_shutdown_done_ = nullptr;
  // Pending waiters learn that the node is going away; the short delay lets
  // KJ write those answers before the loop stops.
  std::vector<std::uint64_t> serials;
  for (const auto& [serial, w] : waiters_) serials.push_back(serial);
  for (std::uint64_t serial : serials) {
    finish_waiter(serial, /*timed_out=*/false, "node " + config_.name + " is shutting down");
  }
  auto flush = std::make_shared<asio::steady_timer>(io_, kShutdownFlush);
  flush->async_wait([flush, done = std::move(done)](const std::error_code&) { done(); });
}

sched::Result<std::vector<TaskKey>> Daemon::keys_of(const std::vector<std::string>& ids) const {
  std::vector<TaskKey> keys;
  keys.reserve(ids.size());
  for (const std::string& id : ids) {
    std::optional<TaskKey> key = torus_.find(id);
    if (!key) return sched::Error{"unknown task \"" + id + "\" on node " + config_.name};
    keys.push_back(*key);
  }
  return keys;
}

rpc::TaskView Daemon::view(TaskKey key) const {
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
  v.cpu_time_us = cpu_done_us_[key];
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
  return v;
}

sched::Result<std::vector<rpc::TaskView>> Daemon::show(const std::vector<std::string>& ids) {
  auto keys = keys_of(ids);
  if (!keys) return keys.error();
  std::vector<rpc::TaskView> out;
  for (TaskKey key : keys.value()) out.push_back(view(key));
  return out;
}

sched::Status Daemon::cancel(const std::vector<std::string>& ids) {
  auto keys = keys_of(ids);
  if (!keys) return keys.error();
  sched::Status result = sched::ok_status();
  for (TaskKey key : keys.value()) {
    sched::Status s = torus_.cancel(key, now_us(), actions_);
    if (!s && result) result = s;
  }
  carry_out();
  return result;
}

sched::Status Daemon::hold(const std::vector<std::string>& ids, bool release) {
  if (shutting_down_) return sched::Error{"node " + config_.name + " is shutting down"};
  auto keys = keys_of(ids);
  if (!keys) return keys.error();
  for (TaskKey key : keys.value()) {  // all or nothing
    if (sched::Status s = torus_.check_hold(key, release); !s) return s;
  }
  for (TaskKey key : keys.value()) {
    sched::Status s =
        release ? torus_.release(key, now_us(), actions_) : torus_.hold(key, now_us(), actions_);
    if (!s) spdlog::error("{}: {}", release ? "release" : "hold", s.error().message);  // checked
  }
  carry_out();
  return sched::ok_status();
}

sched::Result<rpc::LogChunk> Daemon::read_log(const std::string& id, bool stderr_stream,
                                              std::uint64_t offset, std::uint32_t max_bytes) {
  if (sched::Status valid = sched::validate_task_id(id); !valid) return valid.error();
  auto keys = keys_of({id});
  if (!keys) return keys.error();
  const sched::Task& task = torus_.task(keys.value()[0]);
  const LogDir* logs = executor_.log_dir();
  if (logs == nullptr) return sched::Error{"node " + config_.name + " has no log directory"};
  const OutputPaths paths = output_paths(id, task.spec, executor_.daemon_cwd());
  if (stderr_stream && !paths.err) {
    return sched::Error{"task " + id +
                        " was submitted without --separate-stderr: its stderr is merged into "
                        "its output (braid logs " +
                        id + ")"};
  }
  const OutputFile& file = stderr_stream ? *paths.err : paths.out;
  const std::filesystem::path path = logs->display(file);
  rpc::LogChunk chunk;
  chunk.finished = sched::is_terminal(shown_state(keys.value()[0]));
  const int fd = logs->open_read(file);
  if (fd < 0) {
    if (errno == ENOENT) return chunk;  // not started yet: no output so far
    return sched::Error{"cannot read " + path.string() + ": " + std::strerror(errno)};
  }
  chunk.data.resize(max_bytes);
  const ssize_t n = ::pread(fd, chunk.data.data(), max_bytes, static_cast<off_t>(offset));
  const int saved = errno;
  ::close(fd);
  if (n < 0) return sched::Error{"cannot read " + path.string() + ": " + std::strerror(saved)};
  chunk.data.resize(static_cast<std::size_t>(n));
  if (n > 0) chunk.finished = false;  // more may follow the chunk
  return chunk;
}

rpc::StatsView Daemon::stats() {
  rpc::StatsView v;
  v.torus = torus_.stats();
  v.node = config_.name;
  v.executor = std::string(executor_.mode_name());
  v.io_aware = samples_cpu();
  v.uptime_us = now_us() - start_wall_us_;
  v.slice_count = slices_.count();
  v.slice_error_p50_us = slices_.percentile_us(50);
  v.slice_error_p99_us = slices_.percentile_us(99);
  v.memory_total_bytes = config_.memory_total;
  v.memory_limits = executor_.memory_enforced() ? "enforced" : "admitted";
  return v;
}

sched::Status Daemon::set_policy(sched::Policy policy) {
  torus_.set_policy(policy, now_us(), actions_);
  carry_out();
  spdlog::info("policy set to {}", sched::to_string(policy));
  return sched::ok_status();
}

sched::Status Daemon::set_quantum(Micros quantum_us) {
  sched::Status s = torus_.set_quantum(quantum_us, now_us(), actions_);
  carry_out();
  if (s) spdlog::info("quantum set to {}", sched::format_duration(quantum_us));
  return s;
}

sched::Result<int> Daemon::priority(const std::string& id, rpc::PriorityOp op, int value) {
  auto keys = keys_of({id});
  if (!keys) return keys.error();
  const TaskKey key = keys.value()[0];
  sched::Status s = sched::ok_status();
  switch (op) {
    case rpc::PriorityOp::kSet:
      s = torus_.set_priority(key, value, now_us(), actions_);
      break;
    case rpc::PriorityOp::kBoost:
      s = torus_.boost(key, now_us(), actions_);
      break;
    case rpc::PriorityOp::kLower:
      s = torus_.lower(key, now_us(), actions_);
      break;
  }
  carry_out();
  if (!s) return s.error();
  // A started task's change would wait with the preemption flips: store it now.
  if (is_flip(key)) persist({key});
  return torus_.task(key).spec.priority;
}

sched::Status Daemon::scheduler(rpc::SchedulerOp op) {
  switch (op) {
    case rpc::SchedulerOp::kPause:
      torus_.pause(now_us(), actions_);
      break;
    case rpc::SchedulerOp::kResume:
      torus_.resume(now_us(), actions_);
      break;
    case rpc::SchedulerOp::kTrigger:
      torus_.trigger(now_us(), actions_);
      break;
    case rpc::SchedulerOp::kNext:
      torus_.schedule_next(now_us(), actions_);
      break;
  }
  carry_out();
  return sched::ok_status();
}

}  // namespace braid::node
