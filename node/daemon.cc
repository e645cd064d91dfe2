#include "node/daemon.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "node/drain.h"
#include "node/following.h"

namespace braid::node {

using sched::TaskKey;

namespace {
// After the last process ended at shutdown, time for KJ to send pending answers.
constexpr auto kShutdownFlush = std::chrono::milliseconds(50);
}  // namespace

Daemon::Daemon(asio::io_context& io, const DaemonConfig& config, Tasks& tasks, Waiters& waiters,
               Durability& durability, Submissions& submissions)
    : io_(io),
      config_(config),
      tasks_(tasks),
      waiters_(waiters),
      durability_(durability),
      submissions_(submissions) {
  tasks_.set_events(this);
  durability_.set_hooks({
      .in_use = [this](TaskKey key) { return submissions_.pinned(key) || waiters_.waited_on(key); },
      .on_ends_stored =
          [this](const std::vector<std::pair<TaskKey, std::uint64_t>>& ended,
                 const sched::Status& status) { waiters_.on_ends_stored(ended, status); },
  });
  submissions_.set_on_idle([this] { check_shutdown_done(); });
}

Daemon::~Daemon() {
  tasks_.set_events(nullptr);
  durability_.set_hooks({});
  submissions_.set_on_idle({});
}

void Daemon::on_started(TaskKey key) { durability_.note_started(key); }

void Daemon::on_state_changed(TaskKey key) {
  waiters_.note_state(key);
  durability_.on_state_changed(key);
}

void Daemon::on_actions_done() { durability_.on_actions_done(); }

void Daemon::on_interrupted(TaskKey key) { durability_.persist_interrupted(key); }

void Daemon::on_exit_handled() { check_shutdown_done(); }

void Daemon::shutdown(std::function<void()> on_done) {
  on_shutdown_done_ = std::move(on_done);
  tasks_.begin_shutdown();
  durability_.stop_timers();
  spdlog::info("shutting down: ending {} task process groups", tasks_.executor().live_count());
  tasks_.executor().terminate_all();
  check_shutdown_done();
}

void Daemon::check_shutdown_done() {
  // Submissions under way finish first (stored and admitted, or refused), so
  // a client is never told "unreachable" about tasks that exist.
  if (!tasks_.shutting_down() || tasks_.executor().live_count() != 0 || !submissions_.empty() ||
      !on_shutdown_done_) {
    return;
  }
  auto done = std::move(on_shutdown_done_);
  on_shutdown_done_ = nullptr;
  // Pending waiters learn that the node is going away; the short delay lets
  // KJ write those answers before the loop stops.
  waiters_.finish_all("node " + config_.name + " is shutting down");
  auto flush = std::make_shared<asio::steady_timer>(io_, kShutdownFlush);
  flush->async_wait([flush, done = std::move(done)](const std::error_code&) { done(); });
}

kj::Promise<kj::Own<rpc::SubmitOutcome>> Daemon::submit(std::vector<sched::TaskSpec> specs) {
  return submissions_.submit(std::move(specs));
}

sched::Result<rpc::ListPage> Daemon::list(const rpc::ListQuery& query) {
  return tasks_.list(query);
}

sched::Result<std::vector<rpc::TaskView>> Daemon::show(const std::vector<std::string>& ids) {
  auto keys = tasks_.keys_of(ids);
  if (!keys) return keys.error();
  std::vector<rpc::TaskView> out;
  for (TaskKey key : keys.value()) out.push_back(tasks_.view(key));
  return out;
}

kj::Promise<kj::Own<rpc::WaitOutcome>> Daemon::wait(std::vector<std::string> ids,
                                                    sched::Micros timeout_us) {
  return waiters_.wait(std::move(ids), timeout_us);
}

sched::Status Daemon::cancel(const std::vector<std::string>& ids) { return tasks_.cancel(ids); }

sched::Status Daemon::hold(const std::vector<std::string>& ids, bool release) {
  return tasks_.hold(ids, release);
}

sched::Result<rpc::LogChunk> Daemon::read_log(const std::string& id, bool stderr_stream,
                                              std::uint64_t offset, std::uint32_t max_bytes) {
  return tasks_.read_log(id, stderr_stream, offset, max_bytes);
}

kj::Promise<kj::Own<rpc::LogReply>> Daemon::read_log_anywhere(const std::string& id,
                                                              bool stderr_stream,
                                                              std::uint64_t offset,
                                                              std::uint32_t max_bytes) {
  if (following_ == nullptr) {
    return rpc::ControlBackend::read_log_anywhere(id, stderr_stream, offset, max_bytes);
  }
  return following_->read_log(id, stderr_stream, offset, max_bytes);
}

kj::Promise<kj::Own<rpc::ListReply>> Daemon::list_cluster(const rpc::ListQuery& query) {
  if (following_ == nullptr) return rpc::ControlBackend::list_cluster(query);
  return following_->list_cluster(query);
}

rpc::StatsView Daemon::stats() { return tasks_.stats(); }

sched::Result<rpc::DrainView> Daemon::drain(bool cancel, bool query) {
  if (tasks_.shutting_down()) return sched::Error{"node " + config_.name + " is shutting down"};
  const bool draining = query ? submissions_.draining() : !cancel;
  submissions_.set_draining(draining);
  if (on_drain_) return on_drain_(draining);
  return drain_view(tasks_.torus(), draining, nullptr);
}

sched::Status Daemon::set_policy(sched::Policy policy) { return tasks_.set_policy(policy); }

sched::Status Daemon::set_quantum(sched::Micros quantum_us) {
  return tasks_.set_quantum(quantum_us);
}

sched::Result<int> Daemon::priority(const std::string& id, rpc::PriorityOp op, int value) {
  auto key = tasks_.priority(id, op, value);
  if (!key) return key.error();
  // A started task's change would wait with the preemption flips: store it now.
  durability_.store_now_if_flip(key.value());
  return tasks_.torus().task(key.value()).spec.priority;
}

sched::Status Daemon::scheduler(rpc::SchedulerOp op) { return tasks_.scheduler(op); }
sched::Result<std::optional<int>> Daemon::schedule_next() { return tasks_.schedule_next(); }

sched::Result<std::uint64_t> Daemon::cancel_where(std::optional<sched::TaskState> state,
                                                  const std::string& name_glob) {
  return tasks_.cancel_where(state, name_glob);
}

sched::Result<std::uint64_t> Daemon::clear() { return durability_.clear(); }

}  // namespace braid::node
