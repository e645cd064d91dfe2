// end_leftovers on real processes: a recorded attempt's group is killed, a
// process that merely has a recorded pid (another start time) is not.
#include "node/leftovers.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include "node/proc_stat.h"

extern char** environ;

namespace braid::node {
namespace {

// `sleep 60` leading its own process group.
pid_t spawn_sleeper() {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const char* argv[] = {"/bin/sleep", "60", nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, &attr, const_cast<char**>(argv), environ), 0);
  posix_spawnattr_destroy(&attr);
  return pid;
}

storage::ProcessMark mark_of(pid_t pid) {
  storage::ProcessMark mark;
  mark.pgid = pid;
  mark.start_ticks = read_proc_stat(pid).value().start_ticks;
  return mark;
}

TEST(Leftovers, TheRecordedGroupIsKilled) {
  const pid_t pid = spawn_sleeper();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(end_leftovers({mark_of(pid)}, sched::kMicrosPerSecond), 1u);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(Leftovers, AProcessThatReusedThePidIsLeftAlone) {
  const pid_t pid = spawn_sleeper();
  ASSERT_GT(pid, 0);
  storage::ProcessMark other = mark_of(pid);
  other.start_ticks -= 1;  // the recorded leader started earlier: this is someone else
  EXPECT_EQ(end_leftovers({other}, sched::kMicrosPerSecond), 0u);
  storage::ProcessMark unknown = mark_of(pid);
  unknown.start_ticks = 0;  // start time never recorded: nothing can be proven
  EXPECT_EQ(end_leftovers({unknown}, sched::kMicrosPerSecond), 0u);
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "the process was killed";
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST(Leftovers, BootIdIsReadable) { EXPECT_EQ(current_boot_id().size(), 36u); }

}  // namespace
}  // namespace braid::node
