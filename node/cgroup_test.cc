// Pure parsing helpers of cgroup.h, proc_stat.h and spawn.h, plus the
// cgroup operations on a real (throw-away) cgroup where this host allows.
#include "node/cgroup.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "node/proc_stat.h"
#include "node/spawn.h"

namespace braid::node {
namespace {

constexpr std::string_view kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

constexpr std::string_view kPureV2Mountinfo =
    "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n"
    "27 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

TEST(CgroupParse, FindsTheHybridUnifiedMount) {
  std::optional<Cgroup2Mount> mount = parse_cgroup2_mount(kHybridMountinfo);
  ASSERT_TRUE(mount);
  EXPECT_EQ(mount->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(mount->root, "/");
}

TEST(CgroupParse, FindsThePureV2MountPastOptionalFields) {
  std::optional<Cgroup2Mount> mount = parse_cgroup2_mount(kPureV2Mountinfo);
  ASSERT_TRUE(mount);
  EXPECT_EQ(mount->mount_point, "/sys/fs/cgroup");
}

TEST(CgroupParse, UnescapesMountPointsAndReportsAbsence) {
  std::optional<Cgroup2Mount> mount =
      parse_cgroup2_mount("50 1 0:40 /sub /mnt/my\\040cgroups rw - cgroup2 none rw\n");
  ASSERT_TRUE(mount);
  EXPECT_EQ(mount->mount_point, "/mnt/my cgroups");
  EXPECT_EQ(mount->root, "/sub");
  EXPECT_FALSE(parse_cgroup2_mount("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"));
  EXPECT_FALSE(parse_cgroup2_mount(""));
}

TEST(CgroupParse, OwnCgroupIsTheZeroLine) {
  EXPECT_EQ(parse_own_cgroup("9:name=systemd:/\n4:memory:/x/y\n0::/\n"), "/");
  EXPECT_EQ(parse_own_cgroup("0::/system.slice/braidd.service\n"), "/system.slice/braidd.service");
  EXPECT_FALSE(parse_own_cgroup("4:memory:/x\n"));
}

TEST(CgroupParse, PressureSomeTotal) {
  EXPECT_EQ(pressure_some_total_us("some avg10=36.93 avg60=44.90 avg300=50.35 total=6777805039\n"
                                   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
            6777805039);
  EXPECT_EQ(pressure_some_total_us("some avg10=0.00 avg60=0.00 avg300=0.00 total=0"), 0);
  EXPECT_FALSE(pressure_some_total_us("full avg10=0.00 total=5\n"));
  EXPECT_FALSE(pressure_some_total_us("some avg10=0.00\nfull total=5\n"));
  EXPECT_FALSE(pressure_some_total_us("some total=x\n"));
  EXPECT_FALSE(pressure_some_total_us(""));
}

TEST(CgroupParse, DirectoryJoinsMountAndOwnPath) {
  const Cgroup2Mount root_mount{"/sys/fs/cgroup", "/"};
  EXPECT_EQ(cgroup_directory(root_mount, "/"), "/sys/fs/cgroup");
  EXPECT_EQ(cgroup_directory(root_mount, "/system.slice/b.service"),
            "/sys/fs/cgroup/system.slice/b.service");
  const Cgroup2Mount sub_mount{"/mnt/cg", "/sub"};
  EXPECT_EQ(cgroup_directory(sub_mount, "/sub/inner"), "/mnt/cg/inner");
}

TEST(CgroupParse, NamesAreSanitized) {
  EXPECT_EQ(cgroup_name_for("alpha:42"), "alpha_42");
  EXPECT_EQ(cgroup_name_for("a/b c"), "a_b_c");
  EXPECT_EQ(cgroup_name_for("node-1.x_y:7"), "node-1.x_y_7");
  EXPECT_EQ(cgroup_name_for(""), "_");
  EXPECT_EQ(cgroup_name_for("."), "_");
  EXPECT_EQ(cgroup_name_for(".."), "__");
}

// claim_memory_for_children on a plain directory standing for a cgroup, with
// the kernel's answers to writes injected.
struct FakeCgroupWrites {
  static inline std::vector<std::string> calls;
  static inline bool member_inside = true;  // braidd is still in the cgroup itself
  static int write(const std::filesystem::path& path, std::string_view text) {
    calls.push_back(path.filename().string() + " " + std::string(text));
    if (path.filename() == "cgroup.procs") {
      member_inside = false;
      return 0;
    }
    return member_inside ? EBUSY : 0;  // the "no internal processes" rule
  }
};

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(CgroupDelegation, MovesItselfIntoALeafWhenTheKernelRefusesMemoryForChildren) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cg-deleg-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  write_text(dir / "cgroup.controllers", "cpu io memory pids\n");
  write_text(dir / "cgroup.subtree_control", "\n");
  FakeCgroupWrites::calls.clear();
  FakeCgroupWrites::member_inside = true;

  EXPECT_TRUE(claim_memory_for_children(dir, 4242, "braid.daemon", FakeCgroupWrites::write));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "braid.daemon"));
  EXPECT_EQ(FakeCgroupWrites::calls,
            (std::vector<std::string>{"cgroup.subtree_control +memory", "cgroup.procs 4242",
                                      "cgroup.subtree_control +memory"}));
  std::filesystem::remove_all(dir);
}

TEST(CgroupDelegation, ChangesNothingWithoutMemoryOrWhenItIsEnabledAlready) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cg-deleg2-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  FakeCgroupWrites::calls.clear();
  write_text(dir / "cgroup.controllers", "cpu pids\n");  // a hybrid host's unified mount
  EXPECT_FALSE(claim_memory_for_children(dir, 4242, "braid.daemon", FakeCgroupWrites::write));
  write_text(dir / "cgroup.controllers", "cpu memory\n");
  write_text(dir / "cgroup.subtree_control", "memory\n");
  EXPECT_TRUE(claim_memory_for_children(dir, 4242, "braid.daemon", FakeCgroupWrites::write));
  EXPECT_TRUE(FakeCgroupWrites::calls.empty());
  EXPECT_FALSE(std::filesystem::exists(dir / "braid.daemon"));
  std::filesystem::remove_all(dir);
}

TEST(ProcStatParse, HandlesParenthesesInTheCommandName) {
  std::optional<ProcStat> stat = parse_proc_stat(
      "4242 (we) ird) T 1 4240 4240 0 -1 4194560 100 0 0 0 11 22 33 44 20 0 1 0 5 0 0\n");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->state, 'T');
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->pgrp, 4240);
  EXPECT_EQ(stat->utime_ticks, 11u);
  EXPECT_EQ(stat->stime_ticks, 22u);
  EXPECT_EQ(stat->cutime_ticks, 33u);
  EXPECT_EQ(stat->cstime_ticks, 44u);
  EXPECT_EQ(stat->tree_ticks(), 110u);
  EXPECT_EQ(stat->start_ticks, 5u);
  EXPECT_FALSE(parse_proc_stat("4242 (x) S 1 2"));
  EXPECT_FALSE(parse_proc_stat(""));
}

TEST(ProcStatRead, ReadsThisProcess) {
  std::optional<ProcStat> stat = read_proc_stat(::getpid());
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->pgrp, ::getpgrp());
  EXPECT_EQ(stat->ppid, ::getppid());
  EXPECT_FALSE(read_proc_stat(-1));
}

TEST(TaskEnvironment, OverridesAppendsAndNamesTheTask) {
  const char* base[] = {"PATH=/bin", "HOME=/root", "EMPTY=", nullptr};
  EXPECT_EQ(task_environment(base, {"HOME=/tmp", "NEW=1"}, "alpha:3"),
            (std::vector<std::string>{"PATH=/bin", "HOME=/tmp", "EMPTY=", "NEW=1",
                                      "BRAID_TASK_ID=alpha:3"}));
  const char* spoof[] = {"BRAID_TASK_ID=old", nullptr};
  EXPECT_EQ(task_environment(spoof, {"BRAID_TASK_ID=user"}, "b:1"),
            (std::vector<std::string>{"BRAID_TASK_ID=b:1"}));
  const char* inherited[] = {"BRAID_NODE_MARK=outer", "A=1", nullptr};
  EXPECT_EQ(
      task_environment(inherited, {"BRAID_NODE_MARK=user"}, "c:1", "braid-n-0000abcd"),
      (std::vector<std::string>{"BRAID_NODE_MARK=braid-n-0000abcd", "A=1", "BRAID_TASK_ID=c:1"}));
}

// A real cgroup below this daemon's own one, when the host lets us.
TEST(CgroupLive, CreatesDistinctCgroupsForTheSameTaskAndRemovesThem) {
  sched::Result<CgroupParent> parent =
      CgroupParent::open("braid-cgtest-" + std::to_string(::getpid()));
  if (!parent) GTEST_SKIP() << "no writable cgroup v2: " << parent.error().message;
  sched::Result<TaskCgroup> first = parent.value().create("alpha:1");
  ASSERT_TRUE(first) << first.error().message;
  sched::Result<TaskCgroup> second = parent.value().create("alpha:1");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(first.value().dir().filename(), "alpha_1");
  EXPECT_EQ(second.value().dir().filename(), "alpha_1.2");
  EXPECT_EQ(first.value().populated(), false);
  EXPECT_EQ(first.value().frozen(), false);
  EXPECT_EQ(first.value().cpu_usage_us(), 0);
  EXPECT_TRUE(first.value().pids().empty());
  ASSERT_TRUE(first.value().set_frozen(true));
  const SystemClock clock;
  EXPECT_TRUE(
      first.value().wait_frozen(clock, clock.monotonic_us() + 100 * sched::kMicrosPerMilli));
  EXPECT_TRUE(first.value().kill_all(clock));  // empty: nothing to do, no error
  EXPECT_TRUE(first.value().remove());
  EXPECT_TRUE(second.value().remove());
  EXPECT_FALSE(second.value().remove());
  parent.value().remove_if_empty();
  EXPECT_FALSE(std::filesystem::exists(parent.value().dir()));
}

// The memory path on a fake cgroup directory (plain files): this host's
// hybrid hierarchy has no memory controller to try it on.
class FakeCgroup : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/braid-fakecg-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::string read(const std::string& name) {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::filesystem::path dir_;
};

TEST_F(FakeCgroup, MemoryControllerIsEnabledOnlyWhereOffered) {
  write("cgroup.controllers", "cpuset cpu io memory pids\n");
  write("cgroup.subtree_control", "");
  EXPECT_TRUE(enable_memory_controller(dir_));
  EXPECT_EQ(read("cgroup.subtree_control"), "+memory");

  write("cgroup.controllers", "cpu memoryx pids\n");  // a name containing "memory" is not it
  write("cgroup.subtree_control", "");
  EXPECT_FALSE(enable_memory_controller(dir_));
  EXPECT_EQ(read("cgroup.subtree_control"), "");

  write("cgroup.controllers", "\n");  // hybrid unified hierarchy: nothing offered
  EXPECT_FALSE(enable_memory_controller(dir_));
  std::filesystem::remove(dir_ / "cgroup.controllers");
  EXPECT_FALSE(enable_memory_controller(dir_));
}

TEST_F(FakeCgroup, MemoryMaxIsWrittenInBytes) {
  const TaskCgroup cgroup(dir_, false);
  EXPECT_FALSE(cgroup.set_memory_max(1 << 20)) << "no memory.max without the controller";
  write("memory.max", "max\n");
  ASSERT_TRUE(cgroup.set_memory_max(512ULL << 20));
  EXPECT_EQ(read("memory.max"), "536870912");
}

TEST(CgroupLive, RefusesNamesThatAreNotPlainDirectoryNames) {
  EXPECT_FALSE(CgroupParent::open("../escape"));
  EXPECT_FALSE(CgroupParent::open(""));
}

}  // namespace
}  // namespace braid::node
