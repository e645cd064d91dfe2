// Real process groups: a stopped task is stopped with all its children, and
// cancel ends a running and a stopped task with all of theirs. Run with each
// executor mode this host supports.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/executor_modes.h"
#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using Executors = ExecutorModes;

const std::string kFamily = "braid-burn 60000 & braid-burn 60000 & braid-burn 60000; wait";

std::vector<std::string> family(const std::string& dir) {
  return {"--", "sh", "-c", "PATH=" + dir + ":$PATH; " + kFamily};
}

std::string bin_dir() { return std::string(BRAID_BIN_DIR); }

TEST_P(Executors, StoppedTaskIsStoppedWithAllItsChildren) {
  // Two started on one slot: RoundRobin slices them (started_max defaults to slots).
  Daemon d({"--slots", "1", "--quantum", "20ms", "--policy", "RoundRobin", "--started-max", "2",
            "--executor", GetParam()});
  EXPECT_EQ(d.json({"stats", "--json"})["executor"], GetParam());
  const std::string a = d.submit(family(bin_dir()));
  const std::string b = d.submit(family(bin_dir()));
  nlohmann::json t;
  // Wait until both families are complete, then hold the picture still:
  // paused, one task keeps the slot and the other stays stopped.
  ASSERT_TRUE(eventually([&] {
    for (const auto& id : {a, b}) {
      t = d.show(id);
      if (t["pid"].is_null() || group_members(t["pid"].get<pid_t>()).size() < 4) return false;
    }
    return true;
  }));
  d.cli_ok({"scheduler", "pause"});
  t = d.show(a)["state"] == "stopped" ? d.show(a) : d.show(b);
  ASSERT_EQ(t["state"], "stopped");
  const pid_t pgid = t["pid"];
  std::vector<pid_t> members = group_members(pgid);
  ASSERT_GE(members.size(), 4u);  // sh and three burners
  if (std::string(GetParam()) == "signals") {
    // SIGSTOP to the group: every process shows T.
    EXPECT_TRUE(eventually([&] {
      for (pid_t p : group_members(pgid)) {
        if (process_state(p) != 'T') return false;
      }
      return true;
    }));
  } else {
    // cgroup.freeze: the kernel parks every process in the freezer (state S in
    // /proc, not T); what counts is that none of them gets CPU any more.
    std::vector<long long> before;
    for (pid_t p : members) before.push_back(process_cpu_ticks(p));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a span to measure over
    for (std::size_t i = 0; i < members.size(); ++i) {
      EXPECT_EQ(process_cpu_ticks(members[i]), before[i]) << "pid " << members[i] << " ran";
    }
  }
  d.cli_ok({"cancel", a, b});
  EXPECT_EQ(d.cli({"wait", a, b, "--timeout", "20s"}).exit_code, 1);
}

TEST_P(Executors, CancelEndsRunningAndStoppedTasksWithTheirChildren) {
  Daemon d({"--slots", "1", "--quantum", "20ms", "--kill-grace", "1s", "--policy", "RoundRobin",
            "--started-max", "2", "--executor", GetParam()});
  const std::string a = d.submit(family(bin_dir()));
  const std::string b = d.submit(family(bin_dir()));
  std::vector<pid_t> groups;
  ASSERT_TRUE(eventually([&] {
    nlohmann::json ta = d.show(a), tb = d.show(b);
    if (ta["pid"].is_null() || tb["pid"].is_null()) return false;
    groups = {ta["pid"].get<pid_t>(), tb["pid"].get<pid_t>()};
    return group_members(groups[0]).size() >= 4 && group_members(groups[1]).size() >= 4;
  }));
  d.cli_ok({"cancel", a, b});
  EXPECT_EQ(d.cli({"wait", a, b, "--timeout", "20s"}).exit_code, 1);
  EXPECT_EQ(d.show(a)["state"], "cancelled");
  EXPECT_EQ(d.show(b)["state"], "cancelled");
  // Every member was SIGKILLed when the leader ended; a killed process still
  // takes its turn on a CPU to die (a busy machine delayed one in CI), so
  // the test waits for that, not for a second kill.
  for (pid_t g : groups) {
    EXPECT_TRUE(eventually([&] { return group_members(g).empty(); }, std::chrono::seconds(5)))
        << "group " << g;
  }
  EXPECT_EQ(d.json({"stats", "--json"})["active_processes"], 0);
}

TEST_P(Executors, TermIgnoringTaskIsKilledAfterTheGrace) {
  Daemon d({"--kill-grace", "300ms", "--executor", GetParam()});
  const std::string id = d.submit({"--", "sh", "-c", "trap '' TERM; sleep 60 & wait; sleep 60"});
  ASSERT_TRUE(eventually([&] { return !d.show(id)["pid"].is_null(); }));
  d.cli_ok({"cancel", id});
  EXPECT_EQ(d.cli({"wait", id, "--timeout", "10s"}).exit_code,
            128 + 9);  // its own end: SIGKILL after the grace
  EXPECT_EQ(d.show(id)["state"], "cancelled");
}

INSTANTIATE_TEST_SUITE_P(Modes, Executors, ::testing::Values("signals", "cgroup"));

}  // namespace
}  // namespace braid::testing
