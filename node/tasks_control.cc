// Tasks' control operations: cancel, hold, priority, policy, quantum and
// scheduler changes, log reads, paged listing in admission order, and cancel
// by state and name.
#include <fcntl.h>
#include <fnmatch.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "node/tasks.h"
#include "sched/duration.h"

namespace braid::node {

using sched::Action;
using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

namespace {

// Entries one list call looks at at most, matching or not: a page of a
// narrow filter over a huge table ends early and hands back a cursor.
constexpr std::size_t kListScanMax = 200'000;

bool name_matches(const std::string& glob, const std::string& name) {
  return glob.empty() || ::fnmatch(glob.c_str(), name.c_str(), 0) == 0;
}

}  // namespace

sched::Status Tasks::cancel(const std::vector<std::string>& ids) {
  auto keys = keys_of(ids);
  if (!keys) return keys.error();
  sched::Status result = sched::ok_status();
  begin_input();
  for (TaskKey key : keys.value()) {
    sched::Status s = torus_.cancel(key, now_us(), actions_);
    if (!s && result) result = s;
  }
  carry_out();
  return result;
}

sched::Status Tasks::hold(const std::vector<std::string>& ids, bool release) {
  if (shutting_down_) return sched::Error{"node " + config_.name + " is shutting down"};
  auto keys = keys_of(ids);
  if (!keys) return keys.error();
  for (TaskKey key : keys.value()) {  // all or nothing
    if (sched::Status s = torus_.check_hold(key, release); !s) return s;
  }
  begin_input();
  for (TaskKey key : keys.value()) {
    sched::Status s =
        release ? torus_.release(key, now_us(), actions_) : torus_.hold(key, now_us(), actions_);
    if (!s) spdlog::error("{}: {}", release ? "release" : "hold", s.error().message);  // checked
  }
  carry_out();
  return sched::ok_status();
}

sched::Result<rpc::LogChunk> Tasks::read_log(const std::string& id, bool stderr_stream,
                                             std::uint64_t offset, std::uint32_t max_bytes) const {
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

sched::Status Tasks::set_policy(sched::Policy policy) {
  const Micros mono_us = clock_.monotonic_us();
  policy_us_[static_cast<std::size_t>(torus_.policy())] += mono_us - policy_since_us_;
  policy_since_us_ = mono_us;
  begin_input();
  torus_.set_policy(policy, now_us(), actions_);
  carry_out();
  spdlog::info("policy set to {}", sched::to_string(policy));
  return sched::ok_status();
}

sched::Status Tasks::set_quantum(Micros quantum_us) {
  begin_input();
  sched::Status s = torus_.set_quantum(quantum_us, now_us(), actions_);
  carry_out();
  if (s) spdlog::info("quantum set to {}", sched::format_duration(quantum_us));
  return s;
}

sched::Result<TaskKey> Tasks::priority(const std::string& id, rpc::PriorityOp op, int value) {
  auto keys = keys_of({id});
  if (!keys) return keys.error();
  const TaskKey key = keys.value()[0];
  sched::Status s = sched::ok_status();
  begin_input();
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
  return key;
}

sched::Status Tasks::scheduler(rpc::SchedulerOp op) {
  begin_input();
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

std::optional<int> Tasks::schedule_next() {
  begin_input();
  torus_.schedule_next(now_us(), actions_);
  std::optional<TaskKey> chosen;
  for (const Action& action : actions_) {
    if (action.kind == Action::Kind::kStart || action.kind == Action::Kind::kResume) {
      chosen = action.key;
      break;
    }
  }
  carry_out();
  if (!chosen) return std::nullopt;
  const std::optional<pid_t> pid = executor_.pid(*chosen);
  return pid ? std::optional<int>(*pid) : std::nullopt;
}

sched::Result<rpc::ListPage> Tasks::list(const rpc::ListQuery& query) const {
  rpc::ListPage page;
  const std::size_t limit = query.limit == 0 ? rpc::kListPageMax : query.limit;
  std::size_t scanned = 0;
  std::uint64_t last = query.after;
  bool more = false;
  for_each_admitted(query.after, [&](std::uint64_t record_no, TaskKey key) {
    if (page.tasks.size() == limit || scanned == kListScanMax) {
      more = true;
      return false;
    }
    ++scanned;
    last = record_no;
    const TaskState s = shown_state(key);
    if (query.state ? s != *query.state : (!query.all && sched::is_terminal(s))) return true;
    if (!name_matches(query.name_glob, torus_.task(key).spec.name)) return true;
    page.tasks.push_back(view(key));
    return true;
  });
  page.next = more ? last : 0;
  return page;
}

sched::Result<std::uint64_t> Tasks::cancel_where(std::optional<TaskState> state,
                                                 const std::string& name_glob) {
  std::vector<TaskKey> keys;
  for_each_admitted(0, [&](std::uint64_t, TaskKey key) {
    const TaskState s = torus_.task(key).state;
    if (sched::is_terminal(s) || (state && s != *state)) return true;
    if (name_matches(name_glob, torus_.task(key).spec.name)) keys.push_back(key);
    return true;
  });
  std::uint64_t cancelled = 0;
  begin_input();
  for (TaskKey key : keys) {
    // An earlier cancel may have ended it already (a dependency cascade).
    if (sched::is_terminal(torus_.task(key).state)) continue;
    if (torus_.cancel(key, now_us(), actions_)) ++cancelled;
  }
  carry_out();
  if (cancelled > 0) spdlog::info("cancelled {} tasks by state and name", cancelled);
  return cancelled;
}

}  // namespace braid::node
