#include "node/cli_exit.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

rpc::TaskView ended(sched::TaskState state, std::optional<sched::ExitStatus> exit) {
  rpc::TaskView t;
  t.id = "n:1";
  t.state = state;
  t.exit = std::move(exit);
  return t;
}

TEST(CliExitTest, ATaskPassesOnItsOwnCode) {
  using sched::ExitStatus;
  using sched::TaskState;
  EXPECT_EQ(task_exit_code(ended(TaskState::kCompleted, ExitStatus::exited(0))), 0);
  EXPECT_EQ(task_exit_code(ended(TaskState::kFailed, ExitStatus::exited(3))), 3);
  EXPECT_EQ(task_exit_code(ended(TaskState::kFailed, ExitStatus::signaled(9))), 137);
  EXPECT_EQ(task_exit_code(ended(TaskState::kCancelled, ExitStatus::signaled(15))), 143);
  EXPECT_EQ(task_exit_code(ended(TaskState::kFailed, ExitStatus::spawn_failed("No such file"))),
            kExitSpawnFailed);
  EXPECT_EQ(task_exit_code(ended(TaskState::kCancelled, std::nullopt)), kExitFailed);
  EXPECT_EQ(task_exit_code(ended(TaskState::kRunning, std::nullopt)), kExitFailed);
}

TEST(CliExitTest, SeveralTasksSucceedOnlyIfAllCompleted) {
  using sched::ExitStatus;
  using sched::TaskState;
  const auto ok = ended(TaskState::kCompleted, ExitStatus::exited(0));
  const auto bad = ended(TaskState::kFailed, ExitStatus::exited(3));
  EXPECT_EQ(wait_exit_code({ok, ok}), 0);
  EXPECT_EQ(wait_exit_code({ok, bad}), kExitFailed);
  EXPECT_EQ(wait_exit_code({bad}), 3);
}

}  // namespace
}  // namespace braid::node
