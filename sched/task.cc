#include "sched/task.h"

#include <algorithm>
#include <array>
#include <utility>

namespace braid::sched {
namespace {

constexpr std::array<std::pair<TaskState, std::string_view>, kTaskStates> kStateNames{{
    {TaskState::kPending, "pending"},
    {TaskState::kQueued, "queued"},
    {TaskState::kRunning, "running"},
    {TaskState::kStopped, "stopped"},
    {TaskState::kMigrating, "migrating"},
    {TaskState::kMoved, "moved"},
    {TaskState::kCompleted, "completed"},
    {TaskState::kFailed, "failed"},
    {TaskState::kCancelled, "cancelled"},
    {TaskState::kHeld, "held"},
}};

std::string range_error(std::string_view field, long long lo, long long hi, long long got) {
  return std::string(field) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) +
         ", got " + std::to_string(got);
}

}  // namespace

std::string_view to_string(TaskState state) {
  for (const auto& [s, name] : kStateNames) {
    if (s == state) return name;
  }
  return "unknown";
}

Result<TaskState> parse_task_state(std::string_view name) {
  std::string known;
  for (const auto& [s, n] : kStateNames) {
    if (n == name) return s;
    known += known.empty() ? "" : ", ";
    known += n;
  }
  return Error{"unknown state \"" + std::string(name) + "\": use " + known};
}

bool is_terminal(TaskState state) {
  return state == TaskState::kCompleted || state == TaskState::kFailed ||
         state == TaskState::kCancelled;
}

std::string_view to_string(DepKind kind) {
  switch (kind) {
    case DepKind::kOk:
      return "after";
    case DepKind::kAny:
      return "after-any";
    case DepKind::kFail:
      return "after-fail";
  }
  return "unknown";
}

bool satisfies(DepKind kind, TaskState end) {
  switch (kind) {
    case DepKind::kOk:
      return end == TaskState::kCompleted;
    case DepKind::kAny:
      return is_terminal(end);
    case DepKind::kFail:
      return end == TaskState::kFailed || end == TaskState::kCancelled;
  }
  return false;
}

void TaskSpec::add_dependency(std::string id, DepKind kind) {
  if (kind != DepKind::kOk || !after_kinds.empty()) {
    after_kinds.resize(after.size(), DepKind::kOk);
    after_kinds.push_back(kind);
  }
  after.push_back(std::move(id));
}

void Task::add_refusal(std::string node, std::string reason) {
  if (reason.size() > kRefusalReasonBytesMax) {
    std::size_t size = kRefusalReasonBytesMax;
    // Never end inside a UTF-8 sequence: back off over continuation bytes.
    while (size > 0 && (static_cast<unsigned char>(reason[size]) & 0xc0) == 0x80) --size;
    reason.resize(size);
  }
  if (refusals.size() >= kRefusalsKept) {
    refusals.erase(refusals.begin(), refusals.end() - (kRefusalsKept - 1));
  }
  refusals.push_back({std::move(node), std::move(reason)});
}

bool is_env_entry(std::string_view entry) {
  const std::size_t eq = entry.find('=');
  return eq != std::string_view::npos && eq != 0;
}

bool is_started(TaskState state) {
  return state == TaskState::kRunning || state == TaskState::kStopped;
}

bool is_account_name(std::string_view name) {
  constexpr std::size_t kAccountNameMax = 63;
  return name.size() <= kAccountNameMax && std::all_of(name.begin(), name.end(), is_name_char);
}

Status validate_spec(const TaskSpec& spec) {
  if (!is_account_name(spec.account)) {
    return Error{"account \"" + spec.account +
                 "\" must be at most 63 of A-Z a-z 0-9 . _ - (empty: the default account)"};
  }
  if (spec.argv.empty() || spec.argv.front().empty()) {
    return Error{"argv must name a program to run, got nothing"};
  }
  if (spec.priority < kPriorityMin || spec.priority > kPriorityMax) {
    return Error{range_error("priority", kPriorityMin, kPriorityMax, spec.priority)};
  }
  if (spec.cpus < 1) return Error{"cpus must be at least 1, got " + std::to_string(spec.cpus)};
  if (spec.retries < 0 || spec.retries > kRetriesMax) {
    return Error{range_error("retries", 0, kRetriesMax, spec.retries)};
  }
  if (spec.retry_backoff_us < 0 || spec.retry_backoff_us > kRetryBackoffMaxUs) {
    return Error{range_error("retry_backoff_us", 0, kRetryBackoffMaxUs, spec.retry_backoff_us)};
  }
  if (spec.time_limit_us < 0 || spec.time_limit_us > kTimeLimitMaxUs) {
    return Error{"time_limit must be 0 (none) .. 366 days, got " +
                 std::to_string(spec.time_limit_us) + "us"};
  }
  if (!spec.after_kinds.empty() && spec.after_kinds.size() != spec.after.size()) {
    return Error{"after_kinds must name a kind for each of the " +
                 std::to_string(spec.after.size()) + " dependencies, got " +
                 std::to_string(spec.after_kinds.size())};
  }
  for (DepKind kind : spec.after_kinds) {
    if (kind != DepKind::kOk && kind != DepKind::kAny && kind != DepKind::kFail) {
      return Error{"unknown dependency kind " + std::to_string(static_cast<int>(kind)) +
                   " (allowed: after, after-any, after-fail)"};
    }
  }
  if (spec.array_index < -1) {
    return Error{"array_index must be -1 (none) or at least 0, got " +
                 std::to_string(spec.array_index)};
  }
  if (spec.array_throttle > 0 && spec.array_group == 0) {
    return Error{"an array throttle needs an array group"};
  }
  for (const std::string& entry : spec.env) {
    if (!is_env_entry(entry)) {
      return Error{"env entry \"" + entry + "\" must look like KEY=VALUE"};
    }
  }
  return ok_status();
}

Status validate_task_id(std::string_view id) {
  const std::size_t colon = id.rfind(':');
  bool ok = colon != std::string_view::npos && colon >= 1 && colon <= 63 &&
            id.size() - colon - 1 >= 1 && id.size() - colon - 1 <= 20;
  for (std::size_t i = 0; ok && i < id.size(); ++i) {
    const char c = id[i];
    if (i < colon) {
      ok = is_name_char(c);
    } else if (i > colon) {
      ok = c >= '0' && c <= '9';
    }
  }
  if (!ok) {
    std::string shown(id.substr(0, 80));
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return Error{"task id \"" + shown + (id.size() > 80 ? "..." : "") +
                 "\" must look like NODE:NUMBER (NODE: 1..63 of A-Z a-z 0-9 . _ -, NUMBER: 1..20 "
                 "digits)"};
  }
  return ok_status();
}

std::string_view origin_of(std::string_view task_id) {
  return task_id.substr(0, task_id.rfind(':'));
}

std::string ExitStatus::describe() const {
  switch (kind) {
    case Kind::kExited:
      return "exit " + std::to_string(code);
    case Kind::kSignaled:
      return "signal " + std::to_string(code);
    case Kind::kSpawnFailed:
      return "spawn failed: " + error;
  }
  return "unknown exit";
}

}  // namespace braid::sched
