// I/O-aware slots on a real braidd: a sleeping task lends its slot to a
// CPU-bound one (cgroup executor), --io-aware off keeps strict slots, and
// the signals executor (which cannot see a shell's busy child) never lends.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>

#include "tests/integration/executor_modes.h"
#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> burn(int cpu_ms) {
  return {"--", bin("braid-burn"), std::to_string(cpu_ms)};
}

class IoAware : public ExecutorModes {};

// Where the executor measures CPU demand (cgroup mode, PSI): true.
bool lends_slots(const Daemon& d) {
  const nlohmann::json stats = d.json({"stats", "--json"});
  if (stats["executor"] == "signals") {
    EXPECT_EQ(stats["io_aware"], false) << "signals mode cannot see a shell's busy child";
  }
  return stats["io_aware"].get<bool>();
}

TEST_P(IoAware, ASleepingTaskLendsItsSlotOnlyWithCgroups) {
  Daemon d({"--slots", "1", "--executor", GetParam(), "--io-aware", "on"});
  const bool cgroup = lends_slots(d);
  if (std::string(GetParam()) == "cgroup" && !cgroup) GTEST_SKIP() << "no PSI on this kernel";
  const std::string sleeper = d.submit({"--", "sleep", "3"});
  const std::string worker = d.submit(burn(300));
  if (!cgroup) {
    // Strict slots: the worker waits for the sleeper's end.
    EXPECT_EQ(d.cli({"wait", worker, "--timeout", "30s"}).exit_code, 0);
    EXPECT_GE(d.show(worker)["started_at"].get<std::string>(),
              d.show(sleeper)["finished_at"].get<std::string>());
    return;
  }
  // The worker runs and ends while the sleeper still sleeps on the one slot.
  ASSERT_TRUE(eventually(
      [&] {
        return d.json({"stats", "--json"})["blocked"] == 1;
      },
      milliseconds(5000), milliseconds(10)));
  EXPECT_EQ(d.cli({"wait", worker, "--timeout", "30s"}).exit_code, 0);
  EXPECT_EQ(d.show(sleeper)["state"], "running");
  EXPECT_EQ(d.cli({"wait", sleeper, "--timeout", "30s"}).exit_code, 0);
  EXPECT_EQ(d.json({"stats", "--json"})["blocked"], 0);
}

TEST_P(IoAware, OffKeepsStrictSlots) {
  Daemon d({"--slots", "1", "--executor", GetParam(), "--io-aware", "off"});
  EXPECT_EQ(d.json({"stats", "--json"})["io_aware"], false);
  const std::string sleeper = d.submit({"--", "sleep", "1"});
  const std::string worker = d.submit(burn(100));
  EXPECT_EQ(d.cli({"wait", worker, "--timeout", "30s"}).exit_code, 0);
  EXPECT_GE(d.show(worker)["started_at"].get<std::string>(),
            d.show(sleeper)["finished_at"].get<std::string>());
}

// A task that sleeps, then burns: it lends its slot while asleep and takes
// it back when busy, stopping the task that borrowed it.
TEST_P(IoAware, ATaskTurnedBusyTakesItsSlotBack) {
  Daemon d({"--slots", "1", "--executor", GetParam(), "--io-aware", "on"});
  if (!lends_slots(d)) GTEST_SKIP() << "I/O awareness needs cgroups with PSI";
  const std::string waker =
      d.submit({"--", "sh", "-c", "sleep 1; exec " + bin("braid-burn") + " 500"});
  const std::string borrower = d.submit(burn(5000));
  ASSERT_TRUE(eventually([&] { return d.show(borrower)["state"] == "running"; }, milliseconds(5000),
                         milliseconds(10)));
  // Awake and busy, the waker gets the slot back: the borrower is stopped.
  ASSERT_TRUE(eventually([&] { return d.show(borrower)["state"] == "stopped"; },
                         milliseconds(10000), milliseconds(10)));
  EXPECT_EQ(d.cli({"wait", waker, "--timeout", "30s"}).exit_code, 0);
  EXPECT_EQ(d.cli({"wait", borrower, "--timeout", "60s"}).exit_code, 0);
  EXPECT_GE(d.show(borrower)["preemptions"].get<int>(), 1);
}

// A task starved by a busy machine waits for a CPU: it is not mistaken for a
// sleeping one (PSI counts its wait), so it keeps its slot to itself.
TEST_P(IoAware, ATaskStarvedByOtherLoadIsNotJudgedBlocked) {
  Daemon d({"--slots", "1", "--executor", GetParam(), "--io-aware", "on"});
  if (!lends_slots(d)) GTEST_SKIP() << "I/O awareness needs cgroups with PSI";
  std::vector<pid_t> hogs;  // 8 busy processes outside braid on this 2-core machine
  for (int i = 0; i < 8; ++i) {
    hogs.push_back(spawn_logged({bin("braid-burn"), "100000"}, d.data_dir() + "/hogs.err"));
  }
  const std::string first = d.submit(burn(400));
  const std::string second = d.submit(burn(100));
  const int code = d.cli({"wait", first, second, "--timeout", "60s"}).exit_code;
  for (pid_t hog : hogs) {
    ::kill(hog, SIGKILL);
    ::waitpid(hog, nullptr, 0);
  }
  EXPECT_EQ(code, 0);
  EXPECT_GE(d.show(second)["started_at"].get<std::string>(),
            d.show(first)["finished_at"].get<std::string>());
}

INSTANTIATE_TEST_SUITE_P(Modes, IoAware, ::testing::Values("signals", "cgroup"));

}  // namespace
}  // namespace braid::testing
