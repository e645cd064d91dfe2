// spawn_process with a cgroup_fd (clone3 CLONE_INTO_CGROUP, spawn_clone.h)
// against the same request without one (posix_spawnp): the two must not
// differ in what the caller can observe. Real processes, a real cgroup v2
// directory (skipped where none is writable).
#include "node/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "node/cgroup.h"
#include "node/spawn_clone.h"
#include "node/test_temp_dir.h"

namespace braid::node {
namespace {

using testing::TempDir;

void write_file(const std::filesystem::path& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

class SpawnIntoCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sched::Result<CgroupParent> parent =
        CgroupParent::open("braid-spawn-test-" + std::to_string(::getpid()));
    if (!parent) GTEST_SKIP() << parent.error().message;
    parent_.emplace(parent.value());
  }
  void TearDown() override {
    for (const TaskCgroup& cgroup : cgroups_) {
      (void)cgroup.kill_all(SystemClock{});
      for (int i = 0; i < 1000 && !cgroup.remove(); ++i) ::usleep(1000);
    }
    if (parent_) {
      for (int i = 0; i < 1000 && !parent_->remove_if_empty(); ++i) ::usleep(1000);
    }
  }

  // A fresh task cgroup's directory, opened as the executor opens it.
  int cgroup_fd() {
    sched::Result<TaskCgroup> created = parent_->create("s" + std::to_string(cgroups_.size()));
    EXPECT_TRUE(created) << created.error().message;
    if (!created) return -1;
    cgroups_.push_back(created.value());
    const int fd = ::open(created.value().dir().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    fds_.push_back(fd);
    return fd;
  }

  // The outcome of one spawn: the error text, or "" for a child that was
  // started (reaped here, its exit code appended as "exit <n>").
  static std::string outcome(const SpawnRequest& request) {
    sched::Result<Spawned> spawned = spawn_process(request);
    if (!spawned) return spawned.error().message;
    if (request.cgroup_fd >= 0 && kClonesIntoCgroup) {
      EXPECT_TRUE(spawned.value().in_cgroup);
    }
    int status = 0;
    while (::waitpid(spawned.value().pid, &status, 0) < 0 && errno == EINTR) {
    }
    return "exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }

  // Both ways: {without a cgroup, into a cgroup}.
  std::pair<std::string, std::string> both(SpawnRequest request) {
    request.cgroup_fd = -1;
    std::string plain = outcome(request);
    request.cgroup_fd = cgroup_fd();
    std::string into = outcome(request);
    return {plain, into};
  }

  std::optional<CgroupParent> parent_;
  std::vector<TaskCgroup> cgroups_;
  std::vector<int> fds_;

 public:
  ~SpawnIntoCgroupTest() override {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
};

}  // namespace

// execvp's PATH search, both ways: EACCES entries skipped (and reported
// when nothing else is found), ENOEXEC not retried, "" as the current
// directory, relative entries and programs after the chdir.
TEST_F(SpawnIntoCgroupTest, PathSearchMatchesPosixSpawnp) {
  TempDir tmp{"braid-spawn"};
  const auto a = tmp.path() / "a";
  const auto b = tmp.path() / "b";
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  write_file(a / "noexec", "#!/bin/sh\nexit 5\n", 0644);
  write_file(b / "noexec", "#!/bin/sh\nexit 7\n", 0755);
  write_file(a / "noshebang", "exit 3\n", 0755);
  std::filesystem::create_directories(a / "isdir");
  write_file(b / "isdir", "#!/bin/sh\nexit 9\n", 0755);
  write_file(a / "onlyhere", "x", 0644);
  write_file(tmp.path() / "incwd", "#!/bin/sh\nexit 11\n", 0755);
  const std::string old_path = ::getenv("PATH") ? ::getenv("PATH") : "";
  struct Case {
    std::string path;
    std::vector<std::string> argv;
    std::string cwd;
  };
  std::vector<Case> cases = {
      {old_path, {"no-such-program-xyz"}, ""},
      {a.string() + ":" + b.string(), {"noexec"}, ""},
      {a.string() + ":" + b.string(), {"noshebang"}, ""},
      {a.string() + ":" + b.string(), {"isdir"}, ""},
      {a.string(), {"onlyhere"}, ""},
      {"", {"incwd"}, tmp.path().string()},
      {":/bin", {"incwd"}, tmp.path().string()},
      {"a", {"noexec"}, tmp.path().string()},
      {old_path, {"./incwd"}, tmp.path().string()},
      {old_path, {"true"}, "/no/such/dir"},
      {old_path, {std::string(300, 'x')}, ""},
      {old_path, {"/bin/true"}, tmp.path().string() + "/incwd"},
  };
  for (const Case& c : cases) {
    ::setenv("PATH", c.path.c_str(), 1);
    SpawnRequest request;
    request.argv = c.argv;
    request.cwd = c.cwd;
    const auto [plain, into] = both(request);
    ::setenv("PATH", old_path.c_str(), 1);
    EXPECT_EQ(plain, into) << "PATH=" << c.path << " argv0=" << c.argv[0] << " cwd=" << c.cwd;
  }
}

// argv[0] "" : posix_spawnp (execvpe) fails with ENOENT at once; the clone
// path tries "<dir>/" for each PATH entry, execve of a directory gives
// EACCES, and that is what it reports. (The scheduler rejects an empty
// argv[0] today, sched/task.cc; spawn_process's own contract differs.)
TEST_F(SpawnIntoCgroupTest, EmptyProgramNameFailsLikePosixSpawnp) {
  SpawnRequest request;
  request.argv = {""};
  const auto [plain, into] = both(request);
  EXPECT_EQ(plain, std::strerror(ENOENT));
  EXPECT_EQ(into, plain);
}

void* nothing(void*) { return nullptr; }

// clone_into_cgroup's 64 KiB child stack is a `static thread_local` array:
// it lands in the executable's static TLS block, which glibc places at the
// top of *every* thread's stack (and zeroes at each pthread_create). Any
// thread asked for with a small stack (64 KiB here, common for helper
// threads of libraries) can no longer be created: EINVAL.
TEST(SpawnClone, AThreadWithA64KiBStackCanStillBeCreated) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 64 * 1024), 0);
  pthread_t thread;
  const int rc = pthread_create(&thread, &attr, nothing, nullptr);
  pthread_attr_destroy(&attr);
  EXPECT_EQ(rc, 0) << std::strerror(rc);
  if (rc == 0) pthread_join(thread, nullptr);
}

}  // namespace braid::node
