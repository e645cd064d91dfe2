// The executor on real processes, in both modes (the cgroup variant is
// skipped where no writable cgroup v2 hierarchy exists). No mocks, no sleeps
// as synchronisation: every wait runs the io_context, or polls /proc, until
// a condition holds or a deadline passes.
#include "node/executor.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "node/proc_stat.h"
#include "node/spawn.h"
#include "node/spawn_clone.h"
#include "node/test_temp_dir.h"

namespace braid::node {
namespace {

using namespace std::chrono_literals;
using Mode = ExecutorConfig::Mode;
using sched::ExitStatus;
using sched::TaskKey;
using sched::TaskSpec;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = 10s;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string wchan_of(pid_t pid) { return read_text("/proc/" + std::to_string(pid) + "/wchan"); }

// Members of the group that have not exited. Zombies count as gone: they
// are dead, and this container's init never reaps the orphans a killed
// group leaves.
std::vector<pid_t> live_members(pid_t pgid) {
  std::vector<pid_t> live;
  for (pid_t pid : list_process_group(pgid)) {
    std::optional<ProcStat> stat = read_proc_stat(pid);
    if (stat && stat->state != 'Z' && stat->state != 'X') live.push_back(pid);
  }
  return live;
}

bool process_alive(pid_t pid) {
  std::optional<ProcStat> stat = read_proc_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

// Held = will not run: SIGSTOPped ('T'); trapped by the cgroup v2 freezer,
// which shows 'S' with the task waiting in do_freezer_trap (reported as
// get_signal where that is inlined); or a parent blocked in vfork() whose
// children are all held (dash vforks; a vfork child stopped before its exec
// keeps the parent in 'D' until it runs again, and the kernel counts such a
// parent as frozen).
bool is_held(pid_t pid) {
  std::optional<ProcStat> stat = read_proc_stat(pid);
  if (!stat) return false;
  if (stat->state == 'T') return true;
  const std::string wchan = wchan_of(pid);
  if (stat->state == 'S') return wchan == "do_freezer_trap" || wchan == "get_signal";
  if (stat->state == 'D' && (wchan == "kernel_clone" || wchan == "wait_for_vfork_done")) {
    const std::vector<pid_t> children = list_children(pid);
    return !children.empty() && std::all_of(children.begin(), children.end(), is_held);
  }
  return false;
}

using testing::TempDir;

struct Exit {
  TaskKey key;
  ExitStatus status;
  std::optional<sched::Micros> cpu_us;  // cpu_time_us(key) inside the callback
};

class ExecutorTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(logs_.path().empty());
    config_.log_dir = logs_.path() / "logs";
    config_.mode = GetParam();
    config_.cgroup_name = "braid-test-" + std::to_string(::getpid());
    config_.kill_grace = 5s;
    make_executor();
  }

  void TearDown() override { executor_.reset(); }

  void make_executor() {
    executor_.reset();
    try {
      executor_ = std::make_unique<Executor>(
          io_, clock_, config_, [this](TaskKey key, const ExitStatus& s) {
            exits_.push_back({key, s, executor_->cpu_time_us(key)});
            if (on_exit_hook_) on_exit_hook_(key);
          });
    } catch (const std::runtime_error& e) {
      GTEST_SKIP() << e.what();
    }
    ASSERT_EQ(executor_->mode_name(), GetParam() == Mode::kCgroup ? "cgroup" : "signals");
  }

  bool cgroup_mode() const { return GetParam() == Mode::kCgroup; }

  // Runs the io_context until `done` or the deadline.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = kDeadline) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      io_.run_one_for(5ms);
    }
    return true;
  }

  const Exit* exit_of(TaskKey key) const {
    for (const Exit& e : exits_) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }

  std::optional<ExitStatus> wait_exit(TaskKey key) {
    if (!run_until([&] { return exit_of(key) != nullptr; })) return std::nullopt;
    return exit_of(key)->status;
  }

  std::string id(TaskKey key) const {
    return "t" + std::to_string(::getpid()) + ":" + std::to_string(key);
  }

  TaskKey start(TaskKey key, std::vector<std::string> argv) {
    TaskSpec spec;
    spec.argv = std::move(argv);
    executor_->start(key, id(key), spec);
    return key;
  }

  TaskKey start_sh(TaskKey key, const std::string& script) {
    return start(key, {"/bin/sh", "-c", script});
  }

  std::filesystem::path out_log(TaskKey key) const { return config_.log_dir / (id(key) + ".out"); }
  std::filesystem::path err_log(TaskKey key) const { return config_.log_dir / (id(key) + ".err"); }

  // Waits until the task's group has `count` live processes; returns them.
  std::vector<pid_t> wait_members(TaskKey key, std::size_t count) {
    const pid_t pgid = executor_->pid(key).value_or(-1);
    std::vector<pid_t> members;
    run_until([&] {
      members = live_members(pgid);
      return members.size() == count;
    });
    return members;
  }

  bool all_held(const std::vector<pid_t>& pids) {
    return std::all_of(pids.begin(), pids.end(), is_held);
  }
  static std::string describe(const std::vector<pid_t>& pids) {
    std::string text;
    for (pid_t pid : pids) {
      std::optional<ProcStat> stat = read_proc_stat(pid);
      text += std::to_string(pid) + ":" + (stat ? stat->state : '-') + ":" + wchan_of(pid) + " ";
    }
    return text;
  }
  bool none_held(const std::vector<pid_t>& pids) {
    return std::none_of(pids.begin(), pids.end(), is_held);
  }

  asio::io_context io_;
  SystemClock clock_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  TempDir logs_{"braid-exec"};
  ExecutorConfig config_;
  std::vector<Exit> exits_;
  std::function<void(TaskKey)> on_exit_hook_;
  std::unique_ptr<Executor> executor_;  // last: destroyed first
};

constexpr const char* kTwoBusyChildren = "yes >/dev/null & yes >/dev/null; wait";

TEST_P(ExecutorTest, TrueExitsZero) {
  start(1, {"/bin/true"});
  EXPECT_TRUE(executor_->pid(1).has_value());
  EXPECT_EQ(executor_->live_count(), 1u);
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->kind, ExitStatus::Kind::kExited);
  EXPECT_EQ(status->code, 0);
  EXPECT_TRUE(status->success());
  EXPECT_EQ(executor_->live_count(), 0u);
  EXPECT_FALSE(executor_->pid(1));
  EXPECT_FALSE(executor_->cpu_time_us(1));
  EXPECT_TRUE(exits_[0].cpu_us.has_value()) << "final CPU time is readable inside on_exit";
}

TEST_P(ExecutorTest, ExitCodeIsReported) {
  start_sh(1, "exit 3");
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->describe(), "exit 3");
}

TEST_P(ExecutorTest, KillingSignalIsReported) {
  start_sh(1, "kill -9 $$");
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->kind, ExitStatus::Kind::kSignaled);
  EXPECT_EQ(status->code, 9);
}

TEST_P(ExecutorTest, MissingBinaryIsReportedAsynchronouslyAndTheExecutorCarriesOn) {
  start(1, {"/nonexistent/braid-no-such-binary"});
  start(2, {"braid-no-such-binary-in-path"});
  EXPECT_TRUE(exits_.empty()) << "never reported from inside start()";
  EXPECT_EQ(executor_->live_count(), 0u);
  EXPECT_FALSE(executor_->pid(1));
  executor_->stop(1);  // no-ops until (and after) the failure is delivered
  executor_->resume(1);
  executor_->kill(1);
  for (TaskKey key : {1u, 2u}) {
    std::optional<ExitStatus> status = wait_exit(key);
    ASSERT_TRUE(status);
    EXPECT_EQ(status->kind, ExitStatus::Kind::kSpawnFailed);
    EXPECT_EQ(status->error, "No such file or directory");
    EXPECT_EQ(status->describe(), "spawn failed: No such file or directory");
  }
  start(3, {"/bin/true"});
  std::optional<ExitStatus> status = wait_exit(3);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success());
  EXPECT_EQ(exits_.size(), 3u);
}

TEST_P(ExecutorTest, BadWorkingDirectoryIsASpawnFailure) {
  TaskSpec spec;
  spec.argv = {"/bin/true"};
  spec.cwd = "/nonexistent/braid-dir";
  executor_->start(1, id(1), spec);
  EXPECT_TRUE(exits_.empty());
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->kind, ExitStatus::Kind::kSpawnFailed);
  EXPECT_EQ(status->error, "No such file or directory");
}

TEST_P(ExecutorTest, UnwritableLogIsASpawnFailure) {
  std::ofstream(logs_.path() / "file") << "not a directory";
  config_.log_dir = logs_.path() / "file" / "logs";
  make_executor();
  start(1, {"/bin/true"});
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->kind, ExitStatus::Kind::kSpawnFailed);
  EXPECT_NE(status->error.find("cannot open log directory"), std::string::npos) << status->error;
  EXPECT_NE(status->error.find("Not a directory"), std::string::npos) << status->error;
}

TEST_P(ExecutorTest, OutputIsMergedAndAppendedAfterTheHeader) {
  std::ofstream(out_log(1)) << "an earlier attempt\n";
  TaskSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo to-out; echo to-err >&2; echo again; cat"};  // cat: /dev/null
  executor_->start(1, id(1), spec, "--- braid: attempt 2 (retry after exit 3) ---\n");
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success());
  EXPECT_EQ(read_text(out_log(1)),
            "an earlier attempt\n--- braid: attempt 2 (retry after exit 3) ---\n"
            "to-out\nto-err\nagain\n");
  EXPECT_FALSE(std::filesystem::exists(err_log(1)));
}

TEST_P(ExecutorTest, SeparateStderrAndACustomOutputPattern) {
  TaskSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo to-out; echo to-err >&2"};
  spec.separate_stderr = true;
  spec.name = "job";
  spec.output = (logs_.path() / "%x-%j.txt").string();
  executor_->start(1, id(1), spec);
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success());
  EXPECT_EQ(read_text(logs_.path() / ("job-" + id(1) + ".txt")), "to-out\n");
  EXPECT_EQ(read_text(err_log(1)), "to-err\n");
  EXPECT_FALSE(std::filesystem::exists(out_log(1)));
  struct stat st;
  ASSERT_EQ(::stat(err_log(1).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "whatever the umask";
}

TEST_P(ExecutorTest, SymlinkAtTheLogPathIsNotFollowed) {
  std::ofstream(logs_.path() / "victim") << "precious\n";
  std::filesystem::create_symlink(logs_.path() / "victim", out_log(1));
  start_sh(1, "echo overwritten");
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->kind, ExitStatus::Kind::kSpawnFailed);
  EXPECT_NE(status->error.find("Too many levels of symbolic links"), std::string::npos)
      << status->error;
  EXPECT_EQ(read_text(logs_.path() / "victim"), "precious\n");
}

TEST_P(ExecutorTest, InvalidTaskIdIsASpawnFailureBeforeAnyPathIsBuilt) {
  TaskSpec spec;
  spec.argv = {"/bin/true"};
  executor_->start(1, "../../etc:1", spec);
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->kind, ExitStatus::Kind::kSpawnFailed);
  EXPECT_NE(status->error.find("must look like NODE:NUMBER"), std::string::npos) << status->error;
}

TEST_P(ExecutorTest, EnvironmentAndWorkingDirectoryAreApplied) {
  ::setenv("BRAID_TEST_INHERITED", "inherited", 1);
  ::setenv("BRAID_TEST_OVERRIDDEN", "daemon", 1);
  TaskSpec spec;
  spec.argv = {
      "/bin/sh", "-c",
      "echo \"$BRAID_TASK_ID|$BRAID_TEST_INHERITED|$BRAID_TEST_OVERRIDDEN|$BRAID_TEST_NEW\";"
      " pwd"};
  spec.env = {"BRAID_TEST_OVERRIDDEN=task", "BRAID_TEST_NEW=new"};
  spec.cwd = std::filesystem::canonical(logs_.path()).string();
  executor_->start(1, id(1), spec);
  std::optional<ExitStatus> status = wait_exit(1);
  ::unsetenv("BRAID_TEST_INHERITED");
  ::unsetenv("BRAID_TEST_OVERRIDDEN");
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success());
  EXPECT_EQ(read_text(out_log(1)), id(1) + "|inherited|task|new\n" + spec.cwd + "\n");
}

// The leader is spawned inside its cgroup (clone3 CLONE_INTO_CGROUP): its
// very first read of /proc/self/cgroup names the task's cgroup. Moved after
// its exec instead, it would often read the daemon's.
TEST_P(ExecutorTest, TheLeaderRunsInItsCgroupFromItsFirstInstruction) {
  if (!cgroup_mode()) GTEST_SKIP() << "cgroup mode only";
  if (!kClonesIntoCgroup) GTEST_SKIP() << "this build spawns, then moves (sanitizers)";
  for (TaskKey key = 1; key <= 20; ++key) {
    start(key, {"/bin/cat", "/proc/self/cgroup"});
    ASSERT_TRUE(wait_exit(key));
    const std::string text = read_text(out_log(key));
    EXPECT_NE(text.find("0::"), std::string::npos) << text;
    EXPECT_NE(text.find("/" + config_.cgroup_name + "/t"), std::string::npos)
        << "attempt " << key << " started outside its cgroup:\n"
        << text;
  }
}

TEST_P(ExecutorTest, ChildStartsWithDefaultSignalsAndAnEmptyMask) {
  // Like a KJ daemon: SIGPIPE ignored process-wide, and a signal blocked.
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous = {};
  ::sigaction(SIGPIPE, &ignore, &previous);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigset_t previous_mask;
  ::pthread_sigmask(SIG_BLOCK, &block, &previous_mask);
  start(1, {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"});
  ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  ::sigaction(SIGPIPE, &previous, nullptr);
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success());
  const std::string text = read_text(out_log(1));
  unsigned long long blocked = ~0ull;
  unsigned long long ignored = ~0ull;
  ASSERT_EQ(std::sscanf(text.c_str(), "SigBlk:\t%llx\nSigIgn:\t%llx", &blocked, &ignored), 2)
      << text;
  EXPECT_EQ(blocked, 0u) << text;
  // glibc's posix_spawn itself leaves its two internal signals (32 SIGCANCEL,
  // 33 SIGSETXID) ignored in the child; no API can reset them. Every other
  // signal, SIGPIPE included, must be at its default.
  constexpr unsigned long long kGlibcInternal = (1ull << 31) | (1ull << 32);
  EXPECT_EQ(ignored & ~kGlibcInternal, 0u) << text;
}

TEST_P(ExecutorTest, StopHoldsEveryProcessOfTheGroupAndResumeReleasesThem) {
  start_sh(1, kTwoBusyChildren);
  const std::vector<pid_t> members = wait_members(1, 3);
  ASSERT_EQ(members.size(), 3u);
  for (int round = 0; round < 3; ++round) {
    executor_->stop(1);
    EXPECT_TRUE(run_until([&] { return all_held(members); }))
        << "round " << round << ": " << describe(members);
    if (cgroup_mode()) {
      const std::filesystem::path cgroup = executor_->cgroup_path(1).value();
      EXPECT_NE(read_text(cgroup / "cgroup.events").find("frozen 1"), std::string::npos);
      std::vector<pid_t> in_cgroup = TaskCgroup(cgroup, false).pids();
      std::sort(in_cgroup.begin(), in_cgroup.end());
      std::vector<pid_t> sorted = members;
      std::sort(sorted.begin(), sorted.end());
      EXPECT_EQ(in_cgroup, sorted) << "every process of the group is in the task's cgroup";
    }
    executor_->resume(1);
    EXPECT_TRUE(run_until([&] { return none_held(members); })) << "round " << round;
  }
  // Resume right after stop, then stop again at once: ends up stopped.
  executor_->stop(1);
  executor_->resume(1);
  executor_->stop(1);
  EXPECT_TRUE(run_until([&] { return all_held(members); }));
  EXPECT_TRUE(exits_.empty());
  executor_->kill(1);
  ASSERT_TRUE(wait_exit(1));
}

TEST_P(ExecutorTest, KillEndsTheWholeGroupOfARunningTask) {
  start_sh(1, kTwoBusyChildren);
  const pid_t pgid = executor_->pid(1).value();
  ASSERT_EQ(wait_members(1, 3).size(), 3u);
  executor_->kill(1);
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->describe(), "signal 15");
  EXPECT_TRUE(run_until([&] { return live_members(pgid).empty(); }));
}

TEST_P(ExecutorTest, KillEndsTheWholeGroupOfAStoppedTask) {
  start_sh(1, kTwoBusyChildren);
  const pid_t pgid = executor_->pid(1).value();
  const std::vector<pid_t> members = wait_members(1, 3);
  ASSERT_EQ(members.size(), 3u);
  executor_->stop(1);
  ASSERT_TRUE(run_until([&] { return all_held(members); })) << describe(members);
  executor_->kill(1);
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->describe(), "signal 15");
  EXPECT_TRUE(run_until([&] { return live_members(pgid).empty(); }));
}

TEST_P(ExecutorTest, TaskIgnoringSigtermIsKilledAfterTheGrace) {
  config_.kill_grace = 200ms;
  make_executor();
  start_sh(1, "trap '' TERM; echo ready; sleep 30");
  const pid_t pgid = executor_->pid(1).value();
  ASSERT_TRUE(run_until([&] { return read_text(out_log(1)) == "ready\n"; }));
  const auto killed_at = Clock::now();
  executor_->kill(1);
  executor_->kill(1);  // a second kill does not restart the grace period
  std::optional<ExitStatus> status = wait_exit(1);
  const auto waited = Clock::now() - killed_at;
  ASSERT_TRUE(status);
  EXPECT_EQ(status->describe(), "signal 9");
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 5s);
  EXPECT_TRUE(run_until([&] { return live_members(pgid).empty(); }));
}

TEST_P(ExecutorTest, LeaderExitEndsTheRestOfTheGroup) {
  start_sh(1, "sleep 30 & echo $!");
  std::optional<ExitStatus> status = wait_exit(1);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->success());
  const pid_t straggler = std::stoi(read_text(out_log(1)));
  EXPECT_TRUE(run_until([&] { return !process_alive(straggler); }));
}

TEST_P(ExecutorTest, CpuTimeOfABusyTaskGrows) {
  start_sh(1, "while :; do :; done");
  sched::Micros first = 0;
  ASSERT_TRUE(run_until([&] {
    first = executor_->cpu_time_us(1).value_or(0);
    return first > 0;
  }));
  ASSERT_TRUE(run_until([&] { return executor_->cpu_time_us(1).value_or(0) > first; }));
  const sched::Micros last = executor_->cpu_time_us(1).value_or(0);
  executor_->kill(1);
  ASSERT_TRUE(wait_exit(1));
  ASSERT_TRUE(exits_[0].cpu_us.has_value());
  EXPECT_GE(*exits_[0].cpu_us, last);
}

TEST_P(ExecutorTest, CpuTimeCountsChildrenTheLeaderWaitedFor) {
  // The busy loop runs in a child of the leader; the leader waits for it.
  start_sh(1, "sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'; exit 0");
  ASSERT_TRUE(wait_exit(1));
  ASSERT_TRUE(exits_[0].cpu_us.has_value());
  EXPECT_GT(*exits_[0].cpu_us, 0);
}

TEST_P(ExecutorTest, TerminateAllEndsEveryTask) {
  for (TaskKey key = 1; key <= 3; ++key) start(key, {"sleep", "30"});
  executor_->stop(2);
  executor_->terminate_all();
  ASSERT_TRUE(run_until([&] { return exits_.size() == 3; }));
  for (const Exit& e : exits_) EXPECT_EQ(e.status.describe(), "signal 15");
  EXPECT_EQ(executor_->live_count(), 0u);
}

TEST_P(ExecutorTest, ManyTasksAreEachReportedOnceWithTheirOwnStatus) {
  constexpr TaskKey kTasks = 40;
  for (TaskKey key = 0; key < kTasks; ++key) start_sh(key, "exit " + std::to_string(key % 7));
  ASSERT_TRUE(run_until([&] { return exits_.size() == kTasks; }, 30s));
  std::vector<int> seen(kTasks, 0);
  for (const Exit& e : exits_) {
    ASSERT_LT(e.key, kTasks);
    ++seen[e.key];
    EXPECT_EQ(e.status.describe(), "exit " + std::to_string(e.key % 7));
  }
  EXPECT_EQ(seen, std::vector<int>(kTasks, 1));
}

TEST_P(ExecutorTest, CallbackMayStartTheSameKeyAgain) {
  int attempts = 0;
  on_exit_hook_ = [&](TaskKey key) {
    if (++attempts < 3) start_sh(key, "exit 1");
  };
  start_sh(7, "exit 1");
  ASSERT_TRUE(run_until([&] { return exits_.size() == 3; }));
  EXPECT_EQ(executor_->live_count(), 0u);
  for (const Exit& e : exits_) EXPECT_EQ(e.status.describe(), "exit 1");
}

TEST_P(ExecutorTest, UnknownKeysAreNoOps) {
  executor_->stop(99);
  executor_->resume(99);
  executor_->kill(99);
  EXPECT_FALSE(executor_->pid(99));
  EXPECT_FALSE(executor_->cpu_time_us(99));
  EXPECT_FALSE(executor_->cgroup_path(99));
}

TEST_P(ExecutorTest, CgroupOfAnAttemptIsRemovedOnceItEnded) {
  if (!cgroup_mode()) GTEST_SKIP() << "cgroup mode only";
  start_sh(1, "yes >/dev/null & yes >/dev/null & exit 0");
  const std::filesystem::path cgroup = executor_->cgroup_path(1).value();
  EXPECT_TRUE(std::filesystem::exists(cgroup / "cgroup.procs"));
  ASSERT_TRUE(wait_exit(1));
  EXPECT_TRUE(run_until(
      [&] { return !std::filesystem::exists(cgroup) && executor_->draining_count() == 0; }));
}

TEST_P(ExecutorTest, StopReturnsOnceTheCgroupIsFrozen) {
  if (!cgroup_mode()) GTEST_SKIP() << "cgroup mode only";
  config_.freeze_confirm_bound = 2s;  // generous: the machine may be loaded
  make_executor();
  start_sh(1, kTwoBusyChildren);
  ASSERT_EQ(wait_members(1, 3).size(), 3u);
  const std::filesystem::path cgroup = executor_->cgroup_path(1).value();
  executor_->stop(1);  // no io_context run between stop() and the check
  EXPECT_NE(read_text(cgroup / "cgroup.events").find("frozen 1"), std::string::npos);
  executor_->kill(1);
  ASSERT_TRUE(wait_exit(1));
}

TEST_P(ExecutorTest, StaleTaskCgroupsOfAPreviousRunAreEnded) {
  if (!cgroup_mode()) GTEST_SKIP() << "cgroup mode only";
  // What a daemon killed with SIGKILL leaves: a task cgroup with a live process.
  sched::Result<CgroupParent> parent = CgroupParent::open(config_.cgroup_name);
  ASSERT_TRUE(parent) << parent.error().message;
  sched::Result<TaskCgroup> stale = parent.value().create("old:1");
  ASSERT_TRUE(stale) << stale.error().message;
  SpawnRequest request;
  request.argv = {"sleep", "30"};
  sched::Result<Spawned> spawned = spawn_process(request);
  ASSERT_TRUE(spawned) << spawned.error().message;
  const sched::Result<pid_t> orphan = spawned.value().pid;
  ASSERT_TRUE(stale.value().add_process(orphan.value()));

  make_executor();

  int wait_status = 0;
  ASSERT_EQ(::waitpid(orphan.value(), &wait_status, 0), orphan.value());
  EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);
  EXPECT_FALSE(std::filesystem::exists(stale.value().dir()));
}

TEST(ExecutorConfigTest, DefaultsAreTheDesignOnes) {
  const ExecutorConfig config;
  EXPECT_EQ(config.kill_grace, 10s);
  EXPECT_EQ(config.mode, Mode::kAuto);
  EXPECT_EQ(config.cgroup_name, "braid");
  // No spin by default: spinning on the loop thread while the kernel freezes
  // took CPU from the tasks being resumed and skewed Fair shares by ~30%
  // (measured with 6 burners on 2 slots); the freeze completes on its own.
  EXPECT_EQ(config.freeze_confirm_bound, 0us);
  EXPECT_TRUE(config.end_stale_tasks);
}

TEST_P(ExecutorTest, DestructorLeavesNoProcessBehind) {
  start_sh(1, kTwoBusyChildren);
  start_sh(2, kTwoBusyChildren);
  start_sh(3, "trap '' TERM; echo ready; sleep 30");
  std::vector<pid_t> groups;
  for (TaskKey key = 1; key <= 3; ++key) groups.push_back(executor_->pid(key).value());
  const std::vector<pid_t> members = wait_members(2, 3);
  ASSERT_EQ(members.size(), 3u);
  executor_->stop(2);
  ASSERT_TRUE(run_until([&] { return all_held(members); }));
  ASSERT_TRUE(run_until([&] { return read_text(out_log(3)) == "ready\n"; }));
  executor_->kill(3);  // grace still running
  std::vector<std::filesystem::path> cgroups;
  for (TaskKey key = 1; key <= 3; ++key) {
    if (auto path = executor_->cgroup_path(key)) cgroups.push_back(*path);
  }
  const std::filesystem::path parent =
      cgroups.empty() ? std::filesystem::path() : cgroups.front().parent_path();

  executor_.reset();

  for (pid_t pgid : groups) {
    EXPECT_TRUE(run_until([&] { return live_members(pgid).empty(); })) << "group " << pgid;
  }
  for (const auto& cgroup : cgroups) EXPECT_FALSE(std::filesystem::exists(cgroup)) << cgroup;
  if (!parent.empty()) {
    EXPECT_FALSE(std::filesystem::exists(parent)) << parent;
  }
  io_.poll();
  EXPECT_TRUE(exits_.empty()) << "no callback after destruction";
}

TEST_P(ExecutorTest, PendingSpawnFailureIsDroppedWithTheExecutor) {
  start(1, {"/nonexistent/braid-no-such-binary"});
  executor_.reset();
  io_.poll();
  EXPECT_TRUE(exits_.empty());
}

INSTANTIATE_TEST_SUITE_P(Modes, ExecutorTest, ::testing::Values(Mode::kCgroup, Mode::kSignals),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return info.param == Mode::kCgroup ? "Cgroup" : "Signals";
                         });

}  // namespace
}  // namespace braid::node
