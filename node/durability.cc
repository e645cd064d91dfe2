// Durability: state changes written in order, recovery at start, the history
// purge. See durability.h.
#include "node/durability.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "node/leftovers.h"
#include "node/proc_stat.h"
#include "sched/duration.h"

namespace braid::node {

using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

namespace {

// Leftover processes get this long to die after SIGKILL before start goes on.
constexpr Micros kLeftoverWaitUs = 2 * sched::kMicrosPerSecond;
constexpr Micros kPurgePeriodMinUs = 100 * sched::kMicrosPerMilli;
constexpr Micros kPurgePeriodMaxUs = 10 * sched::kMicrosPerSecond;
// Preemption flips are written at most this late (see daemon.h).
constexpr auto kFlipFlushDelay = std::chrono::milliseconds(250);

// An attempt ended without the task ending it: back to the queue, or
// failed. Neither way uses a retry (it was not the task's fault). A crash
// requeue counts in node_requeues, bounded by max_node_requeues so a task
// that keeps taking the node down cannot loop; a graceful stop does not count.
enum class Interruption { kCrash, kShutdown };

void end_attempt(sched::Task& task, const DaemonConfig& config, Interruption why, Micros now_us) {
  const bool allowed = task.spec.requeue_on_restart == sched::RequeueOnRestart::kNodeDefault
                           ? config.requeue_on_restart
                           : task.spec.requeue_on_restart == sched::RequeueOnRestart::kYes;
  const bool crash = why == Interruption::kCrash;
  task.reason = crash ? "node restarted" : "node shut down";
  if (allowed && (!crash || task.node_requeues < config.max_node_requeues)) {
    task.state = TaskState::kQueued;
    task.attempts = std::max(0, task.attempts - 1);  // this one does not count
    if (crash) ++task.node_requeues;
  } else {
    task.state = TaskState::kFailed;
    task.finished_at_us = now_us;
  }
}

}  // namespace

sched::Result<std::pair<std::unique_ptr<storage::Store>, storage::NodeMeta>> Durability::open_store(
    const Clock& clock, const DaemonConfig& config) {
  const Micros opening_us = clock.monotonic_us();
  auto store = storage::Store::open(config.data_dir / "db");
  if (!store) return store.error();
  spdlog::info("database {} opened in {}", store.value()->path().string(),
               sched::format_duration(clock.monotonic_us() - opening_us));
  auto meta = store.value()->read_meta();
  if (!meta) return meta.error();
  if (!meta.value().node_name.empty() && meta.value().node_name != config.name) {
    return sched::Error{"the database " + store.value()->path().string() + " belongs to node \"" +
                        meta.value().node_name + "\", not \"" + config.name +
                        "\": start with --name " + meta.value().node_name +
                        ", or give this node its own --data-dir"};
  }
  return std::make_pair(std::move(store).value(), meta.value());
}

Durability::Durability(asio::io_context& io, const Clock& clock, const DaemonConfig& config,
                       std::unique_ptr<storage::Store> store, storage::NodeMeta meta, Tasks& tasks)
    : io_(io),
      clock_(clock),
      config_(config),
      tasks_(tasks),
      store_(std::move(store)),
      meta_(std::move(meta)),
      committer_(std::make_unique<storage::Committer>(
          *store_,
          [this](std::int64_t write_us, bool synced) {  // on the committer's thread
            (synced ? sync_times_ : write_times_).observe_us(write_us);
          })),
      flip_timer_(io),
      purge_timer_(io) {}

void Durability::track(TaskKey key, std::uint64_t record_no) {
  tasks_.track(key, record_no);
  if (const auto& env = tasks_.torus().task(key).spec.base_env) ++env_users_[env->id];
}

sched::Status Durability::recover() {
  const Micros began_us = clock_.monotonic_us();
  sched::Torus& torus = tasks_.torus();
  sched::Actions& actions = tasks_.actions();
  const Micros now = tasks_.now_us();
  const std::string boot_id = current_boot_id();
  const bool same_boot = !boot_id.empty() && boot_id == meta_.boot_id;
  storage::Batch changes;
  std::vector<storage::ProcessMark> leftovers;
  std::vector<std::pair<Micros, TaskKey>> finished;
  std::uint64_t max_record = 0, interrupted = 0;
  torus.reserve(store_->estimated_task_count());
  std::unordered_map<std::uint64_t, std::shared_ptr<const sched::Environment>> envs;
  if (sched::Status s =
          store_->load_envs([&](std::uint64_t id, std::vector<std::string>&& entries) {
            envs[id] = std::make_shared<const sched::Environment>(
                sched::Environment{id, std::move(entries)});
          });
      !s) {
    return s;
  }
  sched::Status restored = sched::ok_status();
  sched::Status loaded = store_->load_tasks([&](storage::TaskRecord&& record) {
    if (!restored) return;
    if (record.env_id != 0) {
      auto env = envs.find(record.env_id);
      if (env == envs.end()) {
        restored = sched::Error{"task record " + std::to_string(record.record_no) + " in " +
                                store_->path().string() + ": its environment " +
                                std::to_string(record.env_id) + " is missing"};
        return;
      }
      record.task.spec.base_env = env->second;
    }
    max_record = std::max(max_record, record.record_no);
    const bool was_started = sched::is_started(record.task.state);
    bool stored_terminal = sched::is_terminal(record.task.state);
    if (was_started) {
      ++interrupted;
      if (same_boot && record.process.pgid != 0) leftovers.push_back(record.process);
      end_attempt(record.task, config_, Interruption::kCrash, now);
      if (record.task.state == TaskState::kQueued) ++requeued_at_start_;
      stored_terminal = sched::is_terminal(record.task.state);  // failed by the restart rule
    }
    const TaskState state_stored = record.task.state;  // or stored before the socket opens
    auto key = torus.restore(std::move(record.task), now, actions);
    if (!key) {
      restored = sched::Error{"task record " + std::to_string(record.record_no) + " in " +
                              store_->path().string() + ": " + key.error().message};
      return;
    }
    track(key.value(), record.record_no);
    tasks_.side(key.value()).cpu_done_us = record.measured_cpu_us;
    // Clients see what is durable: the restored state, unless the restore
    // itself ended the task (a failed dependency) and that end is written
    // only later, through carry_out(). (A started one's record is rewritten
    // in the synced batch below, before the socket opens.)
    const TaskState state_now = torus.task(key.value()).state;
    const bool end_not_stored = sched::is_terminal(state_now) && !stored_terminal && !was_started;
    tasks_.side(key.value()).shown_state = end_not_stored ? state_stored : state_now;
    if (was_started) {
      changes.put_task(record_of(key.value()));
      // Failed by the restart rule: its origin is owed the outcome, as for
      // any end (Migration::start() sends what the outbox holds).
      if (auto report = outcome_owed(torus.task(key.value()))) changes.put_outcome(*report);
    }
    // Tasks the restore itself ended (a failed dependency) come through
    // carry_out() like any other end; only stored ends are listed here.
    const sched::Task& task = torus.task(key.value());
    if (stored_terminal) finished.emplace_back(task.finished_at_us, key.value());
  });
  if (!loaded) return loaded;
  if (!restored) return restored;

  if (max_record >= torus.next_sequence()) {
    (void)torus.reserve_sequences(max_record + 1 - torus.next_sequence());
  }
  std::stable_sort(finished.begin(), finished.end());
  for (const auto& [at_us, key] : finished) finished_.push_back(key);
  meta_.node_name = config_.name;
  meta_.incarnation += 1;
  meta_.boot_id = boot_id;
  meta_.next_sequence = torus.next_sequence();
  changes.put_meta(meta_);
  // Leftovers first: once the write below clears their marks, a crash could
  // no longer find them.
  std::size_t killed = end_leftovers(leftovers, clock_, kLeftoverWaitUs);
  // Then what no record names: attempts spawned just before the crash whose
  // `running` record never reached the log (leftovers.h).
  const MarkedSweep sweep =
      end_marked_processes(config_.executor.node_mark, clock_, kLeftoverWaitUs);
  killed += sweep.signalled;
  spdlog::info("swept {} processes for BRAID_NODE_MARK={} in {}: {} ended{}",
               sweep.processes_scanned, config_.executor.node_mark,
               sched::format_duration(sweep.took_us), sweep.signalled,
               sweep.survivors == 0 ? "" : fmt::format(", {} survived", sweep.survivors));
  if (sched::Status s = store_->write(changes, /*sync=*/true); !s) {
    return sched::Error{"cannot write to the database " + store_->path().string() + ": " +
                        s.error().message};
  }
  const Micros took_us = clock_.monotonic_us() - began_us;
  const sched::TorusStats stats = torus.stats();
  spdlog::info(
      "node {} incarnation {}: restored {} tasks in {} ({} queued, {} pending, {} finished; "
      "{} interrupted by the last stop, {} leftover processes ended)",
      config_.name, meta_.incarnation, torus.task_count(), sched::format_duration(took_us),
      stats.count(TaskState::kQueued), stats.count(TaskState::kPending), finished_.size(),
      interrupted, killed);
  spdlog::info("node {} ready: {} slots, policy {}, quantum {}, executor {}", config_.name,
               config_.torus.slots, sched::to_string(config_.torus.policy),
               sched::format_duration(config_.torus.quantum_us), tasks_.executor().mode_name());
  torus.trigger(tasks_.now_us(), actions);
  tasks_.carry_out();
  purge();
  arm_purge_timer();
  return sched::ok_status();
}

storage::TaskRecord Durability::record_of(TaskKey key) const {
  const TaskSide& side = tasks_.side(key);
  storage::TaskRecord record;
  record.record_no = side.record_no;
  record.task = tasks_.torus().task(key);
  record.task.dependents.clear();  // torus bookkeeping, not stored
  record.process = side.process;
  record.measured_cpu_us = side.cpu_done_us;
  record.env_id = record.task.spec.base_env ? record.task.spec.base_env->id : 0;
  return record;
}

storage::Committer::Done Durability::on_loop(std::function<void(const sched::Status&)> done) {
  // Runs on the committer's thread, maybe while ~Durability runs: it touches
  // only the io_context (which outlives it) and its own captures.
  return [&io = io_, guarded = lifetime_.guard(std::move(done))](const sched::Status& status) {
    asio::post(io, [guarded, status]() mutable { guarded(status); });
  };
}

void Durability::on_state_changed(TaskKey key) {
  const sched::Task& task = tasks_.torus().task(key);
  // Shutting down, only ends are stored: what did not start stays queued,
  // what the shutdown interrupts is stored by persist_interrupted().
  if (!tasks_.shutting_down() || sched::is_terminal(task.state)) {
    if (is_flip(key)) {
      defer_flip(key);
    } else {
      changed_.push_back(key);
    }
  }
  if (sched::is_terminal(task.state)) {
    tasks_.side(key).process = {};
    finished_.push_back(key);  // on_actions_done() purges once the actions are done
    if (task.state != TaskState::kCompleted) {
      spdlog::info("task {} {}: {}", task.id, sched::to_string(task.state), task.reason);
    }
  }
}

void Durability::on_actions_done() {
  std::vector<TaskKey> changed;
  changed.swap(changed_);
  persist(changed);
  if (finished_.size() > config_.retention_max_tasks) purge();
}

void Durability::persist(const std::vector<TaskKey>& keys) {
  if (keys.empty()) return;
  storage::Batch batch;
  std::vector<TaskKey> unique = keys;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  std::vector<std::pair<TaskKey, std::uint64_t>> ended;  // reported once written
  std::vector<storage::OutcomeReport> owed;              // to other origins
  for (TaskKey key : unique) {
    if (!tasks_.torus().exists(key)) continue;
    const TaskState state = tasks_.torus().task(key).state;
    const bool started = sched::is_started(state);
    TaskSide& side = tasks_.side(key);
    if (!started) side.process = {};
    side.stored_started = started;
    batch.put_task(record_of(key));
    if (sched::is_terminal(state)) {
      ended.emplace_back(key, side.record_no);
      if (auto report = outcome_owed(tasks_.torus().task(key))) {
        batch.put_outcome(*report);
        owed.push_back(std::move(*report));
      }
    }
  }
  if (ended.empty()) {
    auto report = on_loop([](const sched::Status& s) {
      spdlog::error("cannot store task state changes: {}", s.error().message);
    });
    committer_->commit(std::move(batch), /*durable=*/false,
                       [report = std::move(report)](const sched::Status& s) {
                         if (!s) report(s);  // only failures travel back to the loop
                       });
    return;
  }
  committer_->commit(
      std::move(batch), /*durable=*/false,
      on_loop([this, ended = std::move(ended), owed = std::move(owed)](const sched::Status& s) {
        if (!s) spdlog::error("cannot store task ends: {}", s.error().message);
        if (hooks_.on_ends_stored) hooks_.on_ends_stored(ended, s);
        if (!s || !outcome_listener_) return;
        for (const storage::OutcomeReport& report : owed) outcome_listener_(report);
      }));
}

std::optional<storage::OutcomeReport> Durability::outcome_owed(const sched::Task& task) const {
  if (!sched::is_terminal(task.state)) return std::nullopt;
  const std::string_view origin = sched::origin_of(task.id);
  if (origin == config_.name) return std::nullopt;
  storage::OutcomeReport report;
  report.task_id = task.id;
  report.origin = std::string(origin);
  report.state = static_cast<std::uint8_t>(task.state);
  report.exit = task.exit;
  report.reason = task.reason;
  report.finished_at_us = task.finished_at_us;
  report.started_at_us = task.started_at_us;
  report.attempts = task.attempts;
  report.cpu_time_us = task.cpu_time_us;
  return report;
}

bool Durability::is_flip(TaskKey key) const {
  return sched::is_started(tasks_.torus().task(key).state) && tasks_.side(key).stored_started;
}

void Durability::store_now_if_flip(TaskKey key) {
  if (is_flip(key)) persist({key});
}

void Durability::defer_flip(TaskKey key) {
  deferred_flips_.push_back(key);
  if (flip_timer_armed_) return;
  flip_timer_armed_ = true;
  flip_timer_.expires_after(kFlipFlushDelay);
  flip_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec) return;  // cancelled
    flip_timer_armed_ = false;
    flush_flips();
  }));
}

void Durability::flush_flips() {
  std::vector<TaskKey> keys;
  keys.swap(deferred_flips_);
  if (tasks_.shutting_down()) return;  // interrupted attempts are stored by persist_interrupted()
  // A key may have ended (stored already) or been reused since: its current
  // record is what gets written, which is never older than what is stored.
  persist(keys);
}

void Durability::note_started(TaskKey key) {
  storage::ProcessMark& mark = tasks_.side(key).process;
  mark = {};
  const std::optional<pid_t> pid = tasks_.executor().pid(key);
  if (!pid) return;  // did not spawn; its exit is on the way
  mark.pgid = *pid;
  if (const std::optional<ProcStat> stat = read_proc_stat(*pid))
    mark.start_ticks = stat->start_ticks;
  if (auto cgroup = tasks_.executor().cgroup_path(key)) mark.cgroup = cgroup->string();
}

void Durability::persist_interrupted(TaskKey key) {
  storage::TaskRecord record = record_of(key);
  end_attempt(record.task, config_, Interruption::kShutdown, tasks_.now_us());
  record.process = {};
  storage::Batch batch;
  batch.put_task(record);
  // Failed by the shutdown rule: the outcome is sent after the restart.
  if (auto report = outcome_owed(record.task)) batch.put_outcome(*report);
  committer_->commit(std::move(batch), /*durable=*/false, {});
}

void Durability::store_submission(storage::Batch batch,
                                  std::function<void(const sched::Status&)> done) {
  meta_.next_sequence = std::max(meta_.next_sequence, tasks_.torus().next_sequence());
  batch.put_meta(meta_);
  committer_->commit(std::move(batch), /*durable=*/true, on_loop(std::move(done)));
}

bool Durability::in_use(TaskKey key) const {
  return (hooks_.in_use && hooks_.in_use(key)) || !sched::is_terminal(tasks_.shown_state(key));
}

void Durability::purge() {
  const Micros horizon = tasks_.now_us() - config_.retention_us;
  const sched::Torus& torus = tasks_.torus();
  storage::Batch batch;
  while (!finished_.empty()) {
    const TaskKey key = finished_.front();
    if (!torus.exists(key) || !sched::is_terminal(torus.task(key).state)) {
      spdlog::error("purge: task key {} is not a finished task; skipped", key);  // a bug
      finished_.pop_front();
      continue;
    }
    const sched::Task& task = torus.task(key);
    const bool too_many = finished_.size() > config_.retention_max_tasks;
    if ((!too_many && task.finished_at_us > horizon) || in_use(key)) break;
    forget_finished(key, batch);
    finished_.pop_front();
  }
  if (batch.empty()) return;
  spdlog::debug("purged {} finished tasks", batch.count());
  committer_->commit(std::move(batch), /*durable=*/false, {});
}

std::uint64_t Durability::clear() {
  const sched::Torus& torus = tasks_.torus();
  storage::Batch batch;
  std::uint64_t purged = 0;
  for (TaskKey key : finished_) {
    if (torus.exists(key) && sched::is_terminal(torus.task(key).state) && !in_use(key)) {
      forget_finished(key, batch);
      ++purged;
    }
  }
  std::erase_if(finished_, [&torus](TaskKey key) { return !torus.exists(key); });
  if (purged > 0) {
    committer_->commit(std::move(batch), /*durable=*/false, {});
    spdlog::info("cleared {} finished tasks", purged);
  }
  return purged;
}

void Durability::forget_finished(TaskKey key, storage::Batch& batch) {
  const sched::Task& task = tasks_.torus().task(key);
  batch.delete_task(tasks_.side(key).record_no);
  // The last task of a submission takes its stored environment along.
  if (const auto& env = task.spec.base_env) {
    auto users = env_users_.find(env->id);
    if (users != env_users_.end() && --users->second == 0) {
      batch.delete_env(env->id);
      env_users_.erase(users);
    }
  }
  remove_logs(task);
  tasks_.forget(key);
}

void Durability::remove_logs(const sched::Task& task) {
  // Only braid's own files, in the logs dir: an --output file is the user's.
  const LogDir* logs = tasks_.executor().log_dir();
  if (logs == nullptr || !sched::validate_task_id(task.id)) return;
  logs->remove({true, task.id + ".out"});
  logs->remove({true, task.id + ".err"});
}

void Durability::arm_purge_timer() {
  const Micros period_us =
      std::clamp(config_.retention_us / 4, kPurgePeriodMinUs, kPurgePeriodMaxUs);
  purge_timer_.expires_after(std::chrono::microseconds(period_us));
  purge_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec || tasks_.shutting_down()) return;
    purge();
    arm_purge_timer();
  }));
}

void Durability::stop_timers() {
  purge_timer_.cancel();
  flip_timer_.cancel();
  flip_timer_armed_ = false;
}

sched::Result<std::vector<storage::MemberRecord>> Durability::stored_members() const {
  std::vector<storage::MemberRecord> members;
  if (sched::Status s =
          store_->load_members([&](storage::MemberRecord&& m) { members.push_back(std::move(m)); });
      !s) {
    return s.error();
  }
  return members;
}

void Durability::store_members(storage::Batch batch) {
  committer_->commit(std::move(batch), /*durable=*/false, {});
}

void Durability::store(storage::Batch batch, std::function<void(const sched::Status&)> done) {
  if (!done) {
    committer_->commit(std::move(batch), /*durable=*/false, {});
    return;
  }
  meta_.next_sequence = std::max(meta_.next_sequence, tasks_.torus().next_sequence());
  batch.put_meta(meta_);
  committer_->commit(std::move(batch), /*durable=*/true, on_loop(std::move(done)));
}

sched::Result<Durability::MigrationState> Durability::load_migration() const {
  MigrationState state;
  if (auto s = store_->load_handoffs(
          [&](storage::HandoffRecord&& r) { state.journal.push_back(std::move(r)); });
      !s) {
    return s.error();
  }
  if (auto s = store_->load_fences(
          [&](storage::FenceRecord&& f) { state.fences.push_back(std::move(f)); });
      !s) {
    return s.error();
  }
  if (auto s = store_->load_outbox(
          [&](storage::OutcomeReport&& r) { state.outbox.push_back(std::move(r)); });
      !s) {
    return s.error();
  }
  auto floor = store_->read_handoff_epoch_floor();
  if (!floor) return floor.error();
  state.epoch_floor = floor.value();
  return state;
}

}  // namespace braid::node
