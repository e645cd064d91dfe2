// end_leftovers on real processes: a recorded attempt's group is killed, a
// process that merely has a recorded pid (another start time) is not.
// end_marked_processes on real processes: a marked process and its group are
// killed, unmarked processes and those of another mark are not.
#include "node/leftovers.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

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

// `argv` leading its own process group, with `extra_env` added to ours.
pid_t spawn_group_leader(std::vector<std::string> args, const std::vector<std::string>& extra_env) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_entries(extra_env);
  for (char** e = environ; *e != nullptr; ++e) env_entries.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& entry : env_entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], nullptr, &attr, argv.data(), envp.data()), 0);
  posix_spawnattr_destroy(&attr);
  return pid;
}

bool runs(pid_t pid) {
  const std::optional<ProcStat> stat = read_proc_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

// Polls (bounded) until `count` processes are in `pgid`'s group.
std::vector<pid_t> wait_for_group(pid_t pgid, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::vector<pid_t> members;
  do {
    members = list_process_group(pgid);
    if (members.size() >= count) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (std::chrono::steady_clock::now() < deadline);
  return members;
}

std::string test_mark() { return "braid-test-" + std::to_string(::getpid()); }

storage::ProcessMark mark_of(pid_t pid) {
  storage::ProcessMark mark;
  mark.pgid = pid;
  mark.start_ticks = read_proc_stat(pid).value().start_ticks;
  return mark;
}

TEST(Leftovers, TheRecordedGroupIsKilled) {
  const pid_t pid = spawn_sleeper();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(end_leftovers({mark_of(pid)}, SystemClock{}, sched::kMicrosPerSecond), 1u);
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
  EXPECT_EQ(end_leftovers({other}, SystemClock{}, sched::kMicrosPerSecond), 0u);
  storage::ProcessMark unknown = mark_of(pid);
  unknown.start_ticks = 0;  // start time never recorded: nothing can be proven
  EXPECT_EQ(end_leftovers({unknown}, SystemClock{}, sched::kMicrosPerSecond), 0u);
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "the process was killed";
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST(MarkedProcesses, EnvironHasMatchesWholeEntriesOnly) {
  using namespace std::string_view_literals;
  const std::string_view block = "A=1\0BRAID_NODE_MARK=braid-n-1\0B=2\0"sv;
  EXPECT_TRUE(environ_has(block, "BRAID_NODE_MARK=braid-n-1"));
  EXPECT_TRUE(environ_has(block, "A=1"));
  EXPECT_TRUE(environ_has("A=1\0B=2"sv, "B=2"));  // no final terminator
  EXPECT_FALSE(environ_has(block, "BRAID_NODE_MARK=braid-n"));
  EXPECT_FALSE(environ_has(block, "NODE_MARK=braid-n-1"));
  EXPECT_FALSE(environ_has("X=BRAID_NODE_MARK=braid-n-1\0"sv, "BRAID_NODE_MARK=braid-n-1"));
  EXPECT_FALSE(environ_has(block, ""));
  EXPECT_FALSE(environ_has("", "A=1"));
}

TEST(MarkedProcesses, AMarkedProcessAndItsGroupAreKilledOthersAreNot) {
  const std::string mark = test_mark();
  // Leader and a member that cleared its environment (no mark of its own).
  const pid_t marked = spawn_group_leader(
      {"/bin/sh", "-c", "env -i /bin/sleep 60 & exec /bin/sleep 60"}, {"BRAID_NODE_MARK=" + mark});
  const pid_t other_mark =
      spawn_group_leader({"/bin/sleep", "60"}, {"BRAID_NODE_MARK=" + mark + "-other"});
  const pid_t unmarked = spawn_group_leader({"/bin/sleep", "60"}, {});
  ASSERT_GT(marked, 0);
  ASSERT_GT(other_mark, 0);
  ASSERT_GT(unmarked, 0);
  const std::vector<pid_t> group = wait_for_group(marked, 2);
  ASSERT_EQ(group.size(), 2u);
  const pid_t member = group[0] == marked ? group[1] : group[0];

  // Until the member has exec'ed `sleep` (through `env -i`) it still has the
  // shell's environment, mark included.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::vector<pid_t> found;
  do {
    found = find_marked_processes(mark);
    if (found == std::vector<pid_t>{marked}) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(found, std::vector<pid_t>{marked});
  EXPECT_TRUE(find_marked_processes("").empty());

  const MarkedSweep sweep = end_marked_processes(mark, SystemClock{}, 2 * sched::kMicrosPerSecond);
  EXPECT_EQ(sweep.signalled, 2u);  // the leader and the unmarked member of its group
  EXPECT_EQ(sweep.survivors, 0u);
  EXPECT_GT(sweep.processes_scanned, 3u);
  int status = 0;
  ASSERT_EQ(waitpid(marked, &status, 0), marked);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_FALSE(runs(member));  // reparented and reaped, or a zombie
  EXPECT_EQ(waitpid(other_mark, nullptr, WNOHANG), 0) << "another node's process was killed";
  EXPECT_EQ(waitpid(unmarked, nullptr, WNOHANG), 0) << "an unmarked process was killed";
  EXPECT_TRUE(find_marked_processes(mark).empty());
  EXPECT_EQ(end_marked_processes(mark, SystemClock{}, sched::kMicrosPerSecond).signalled, 0u);
  for (pid_t pid : {other_mark, unmarked}) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

TEST(MarkedProcesses, AGroupLedByAnUnmarkedProcessIsNotKilled) {
  const std::string mark = test_mark() + "-joined";
  // The leader has no mark; a member gets one (as if a task had joined a
  // foreign group): only the member is killed.
  const pid_t leader = spawn_group_leader(
      {"/bin/sh", "-c", "BRAID_NODE_MARK=" + mark + " /bin/sleep 60 & exec /bin/sleep 60"}, {});
  ASSERT_GT(leader, 0);
  const std::vector<pid_t> group = wait_for_group(leader, 2);
  ASSERT_EQ(group.size(), 2u);
  const pid_t member = group[0] == leader ? group[1] : group[0];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (find_marked_processes(mark).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // until the member exec'ed
  }
  EXPECT_EQ(find_marked_processes(mark), std::vector<pid_t>{member});
  const MarkedSweep sweep = end_marked_processes(mark, SystemClock{}, 2 * sched::kMicrosPerSecond);
  EXPECT_EQ(sweep.signalled, 1u);
  EXPECT_FALSE(runs(member));
  EXPECT_EQ(waitpid(leader, nullptr, WNOHANG), 0) << "the unmarked leader was killed";
  kill(-leader, SIGKILL);
  waitpid(leader, nullptr, 0);
}

TEST(Leftovers, BootIdIsReadable) { EXPECT_EQ(current_boot_id().size(), 36u); }

}  // namespace
}  // namespace braid::node
