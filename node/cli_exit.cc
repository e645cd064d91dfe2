#include "node/cli_exit.h"

#include <algorithm>

namespace braid::node {

int task_exit_code(const rpc::TaskView& task) {
  if (task.state == sched::TaskState::kCompleted) return 0;
  if (!sched::is_terminal(task.state) || !task.exit) return kExitFailed;
  switch (task.exit->kind) {
    case sched::ExitStatus::Kind::kExited:
      return task.exit->code == 0 ? kExitFailed : task.exit->code;  // 0: failed for another reason
    case sched::ExitStatus::Kind::kSignaled:
      return 128 + task.exit->code;
    case sched::ExitStatus::Kind::kSpawnFailed:
      return kExitSpawnFailed;
  }
  return kExitFailed;
}

int wait_exit_code(const std::vector<rpc::TaskView>& tasks) {
  if (tasks.size() == 1) return task_exit_code(tasks.front());
  const bool all_completed = std::all_of(tasks.begin(), tasks.end(), [](const rpc::TaskView& t) {
    return t.state == sched::TaskState::kCompleted;
  });
  return all_completed ? 0 : kExitFailed;
}

}  // namespace braid::node
