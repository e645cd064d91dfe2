#include "sched/sim_node.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace braid::sched {
namespace {

constexpr int kSigterm = 15;

}  // namespace

SimNode::SimNode(TorusConfig config) : config_(config), torus_(std::move(config)) {}

Result<TaskKey> SimNode::submit(TaskSpec spec, SimBehaviour behaviour) {
  Actions out;
  Result<TaskKey> key = torus_.submit(std::move(spec), now_us_, out);
  return admitted(std::move(key), std::move(behaviour), out);
}

Result<TaskKey> SimNode::submit_as(std::string id, TaskSpec spec, SimBehaviour behaviour) {
  Actions out;
  Result<TaskKey> key = torus_.submit_as(std::move(id), std::move(spec), now_us_, out);
  return admitted(std::move(key), std::move(behaviour), out);
}

// The key is known once the torus accepted; its actions are applied after.
Result<TaskKey> SimNode::admitted(Result<TaskKey> key, SimBehaviour behaviour, const Actions& out) {
  if (!key) return key;
  behaviours_[key.value()] = std::move(behaviour);
  if (admission_.size() <= key.value()) admission_.resize(key.value() + 1, 0);
  admission_[key.value()] = ++admissions_;
  apply(out);
  return key;
}

Status SimNode::forget(TaskKey key) {
  Status s = torus_.forget(key);
  if (s) behaviours_.erase(key);
  return s;
}

std::vector<TaskKey> SimNode::restart(int max_node_requeues) {
  procs_.clear();  // the crash took every process with it
  std::vector<std::pair<std::uint64_t, TaskKey>> order;
  for (TaskKey k = 0; k < torus_.task_count(); ++k) {
    if (torus_.exists(k)) order.emplace_back(admission_[k], k);
  }
  std::sort(order.begin(), order.end());

  TorusConfig config = config_;
  config.policy = torus_.policy();
  config.quantum_us = torus_.quantum_us();
  config.next_sequence = torus_.next_sequence();
  Torus old = std::exchange(torus_, Torus(config));
  torus_.reserve(order.size());
  std::map<TaskKey, SimBehaviour> behaviours = std::exchange(behaviours_, {});
  admission_.assign(order.size(), 0);
  std::vector<TaskKey> new_key(old.task_count(), kNoTask);
  Actions out;
  for (const auto& [admitted, k] : order) {
    Task record = old.task(k);
    if (is_started(record.state)) {  // node/daemon_store.cc end_attempt(), a crash
      record.reason = "node restarted";
      if (record.spec.requeue_on_restart != RequeueOnRestart::kNo &&
          record.node_requeues < max_node_requeues) {
        record.state = TaskState::kQueued;
        record.attempts = std::max(0, record.attempts - 1);
        ++record.node_requeues;
      } else {
        record.state = TaskState::kFailed;
        record.finished_at_us = now_us_;
      }
    }
    Result<TaskKey> key = torus_.restore(std::move(record), now_us_, out);
    if (!key) {
      std::fprintf(stderr, "SimNode: restore refused: %s\n", key.error().message.c_str());
      std::abort();
    }
    new_key[k] = key.value();
    behaviours_[key.value()] = std::move(behaviours[k]);
    admission_[key.value()] = admitted;
  }
  apply(out);
  return new_key;
}

void SimNode::apply(const Actions& actions) {
  for (const Action& a : actions) apply_one(a);
  deliver_exits();
}

[[noreturn]] void SimNode::incoherent(const char* what, const Task& task) const {
  std::fprintf(stderr, "SimNode: incoherent action: %s for task %s (state %s) at %lldus\n", what,
               task.id.c_str(), std::string(to_string(task.state)).c_str(),
               static_cast<long long>(now_us_));
  TaskKey key = *torus_.find(task.id);
  std::fprintf(stderr, "its actions:");
  for (const Logged& l : log_) {
    if (l.action.key == key) {
      std::fprintf(stderr, " %s@%lld", std::string(to_string(l.action.kind)).c_str(),
                   static_cast<long long>(l.at_us));
    }
  }
  std::fprintf(stderr, "\n");
  std::abort();
}

void SimNode::apply_one(const Action& action) {
  log_.push_back({now_us_, action});
  const Task& task = torus_.task(action.key);
  auto proc = procs_.find(action.key);
  switch (action.kind) {
    case Action::Kind::kStart: {
      if (proc != procs_.end()) incoherent("start of a live process", task);
      const SimBehaviour& b = behaviours_[action.key];
      const std::size_t attempt = static_cast<std::size_t>(task.attempts - 1);
      const int code = b.exit_codes[std::min(attempt, b.exit_codes.size() - 1)];
      // A failed spawn is reported once the current actions are carried out,
      // as the real executor does; until then stop/resume/kill find no process.
      procs_[action.key] = Proc{b.work_us, code, false, false, b.spawn_fails};
      break;
    }
    case Action::Kind::kStop:
      if (proc == procs_.end() || proc->second.stopped) incoherent("stop", task);
      proc->second.stopped = true;
      break;
    case Action::Kind::kResume:
      if (proc == procs_.end() || !proc->second.stopped) incoherent("resume", task);
      proc->second.stopped = false;
      break;
    case Action::Kind::kKill:
      if (proc == procs_.end()) incoherent("kill", task);
      proc->second.killed = true;
      proc->second.stopped = false;  // the executor resumes a stopped group to deliver SIGTERM
      break;
    case Action::Kind::kPersist:
      break;
  }
}

// Spawn failures and killed processes end at once; the rest when their work is done.
void SimNode::deliver_exits() {
  while (true) {
    std::vector<std::pair<TaskKey, ExitStatus>> exits;
    for (const auto& [key, proc] : procs_) {
      if (proc.spawn_failed) {
        exits.emplace_back(key, ExitStatus::spawn_failed("No such file or directory"));
      } else if (proc.killed) {
        exits.emplace_back(key, ExitStatus::signaled(kSigterm));
      } else if (proc.work_left_us <= 0 && !proc.stopped) {
        exits.emplace_back(key, ExitStatus::exited(proc.exit_code));
      }
    }
    if (exits.empty()) return;
    for (auto& [key, status] : exits) {
      procs_.erase(key);
      Actions out;
      Status s = torus_.on_exit(key, status, now_us_, out);
      if (!s) {
        std::fprintf(stderr, "SimNode: on_exit refused: %s\n", s.error().message.c_str());
        std::abort();
      }
      for (const Action& a : out) apply_one(a);
    }
  }
}

void SimNode::run_for(Micros duration_us, Micros step_us) {
  const Micros end_us = now_us_ + duration_us;
  while (now_us_ < end_us) {
    const Micros step = std::min(step_us, end_us - now_us_);
    for (auto& [key, proc] : procs_) {
      if (!proc.stopped) proc.work_left_us -= step;
    }
    now_us_ += step;
    deliver_exits();
    Actions out;
    torus_.tick(now_us_, out);
    apply(out);
  }
}

bool SimNode::run_until_idle(Micros limit_us, Micros step_us) {
  const Micros end_us = now_us_ + limit_us;
  auto idle = [&] {
    TorusStats s = torus_.stats();
    return s.count(TaskState::kPending) + s.count(TaskState::kQueued) +
               s.count(TaskState::kRunning) + s.count(TaskState::kStopped) ==
           0;
  };
  while (!idle() && now_us_ < end_us) run_for(step_us, step_us);
  return idle();
}

std::size_t SimNode::running_count() const {
  return static_cast<std::size_t>(
      std::count_if(procs_.begin(), procs_.end(), [](const auto& p) { return !p.second.stopped; }));
}

bool SimNode::is_stopped(TaskKey key) const {
  auto it = procs_.find(key);
  return it != procs_.end() && it->second.stopped;
}

}  // namespace braid::sched
