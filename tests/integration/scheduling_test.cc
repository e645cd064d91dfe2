// Time-slicing real CPU-bound processes under each policy, and control of the
// live scheduler through the CLI.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "node/control_client.h"
#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> burn(int cpu_ms) {
  return {"--", bin("braid-burn"), std::to_string(cpu_ms)};
}

// A timestamp of `braid show --json` (the daemon's clock) in microseconds.
long long iso_us(const std::string& iso) {
  std::tm tm{};
  strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  return static_cast<long long>(timegm(&tm)) * 1'000'000 + std::stoll(iso.substr(20, 6));
}

class EveryPolicy : public ::testing::TestWithParam<const char*> {};

TEST_P(EveryPolicy, SixCpuBoundTasksOnTwoSlotsAllComplete) {
  // All six started, so every policy slices (started_max defaults to slots).
  Daemon d({"--slots", "2", "--policy", GetParam(), "--quantum", "10ms", "--started-max", "6"});
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    std::vector<std::string> args{"--priority", std::to_string(3 + i)};
    auto b = burn(1000);
    args.insert(args.end(), b.begin(), b.end());
    ids.push_back(d.submit(args));
  }
  std::vector<std::string> wait{"wait", "--timeout", "60s"};
  wait.insert(wait.end(), ids.begin(), ids.end());
  RunResult r = d.cli(wait);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json stats = d.json({"stats", "--json"});
  EXPECT_EQ(stats["policy"], GetParam());
  EXPECT_GT(stats["preemptions"].get<int>(), 0);
  EXPECT_EQ(stats["tasks"]["completed"], 6);
  EXPECT_EQ(stats["active_processes"], 0);
  for (const auto& id : ids) {
    nlohmann::json t = d.show(id);
    // Each burned its own second of CPU, whatever the slicing.
    EXPECT_GE(t["cpu_time_micros"].get<long long>(), 950'000) << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Policies, EveryPolicy,
                         ::testing::Values("RoundRobin", "Priority", "Fair"));

TEST(Scheduling, FairSharesCpuEquallyAtTheMidpoint) {
  // Every quantum (fair window 0) and all six started: the real slicing of
  // Fair's bookkeeping; the window is the torus's unit tests' business.
  Daemon d({"--slots", "2", "--policy", "Fair", "--quantum", "10ms", "--fair-window", "0",
            "--started-max", "6"});
  // All six in one submission over the control socket, so they arrive
  // together: Fair does not credit a task for time before it existed.
  node::ControlClient client(d.socket());
  std::vector<sched::TaskSpec> specs(6);
  for (auto& spec : specs) spec.argv = {bin("braid-burn"), "1000"};
  auto reply = client.submit(specs);
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(reply));
  const auto ids = std::get<std::vector<std::string>>(reply);
  // Half-way: 6 s of work on 2 slots takes ~3 s; look at ~1.5 s. One CLI
  // call per look, every 250 ms: each `braid ps` takes CPU from the tasks on
  // this 2-core machine, and polling every 50 ms pushed the spread past 10%
  // about one run in eight.
  std::vector<long long> cpu;
  ASSERT_TRUE(eventually(
      [&] {
        cpu.clear();
        long long total = 0;
        for (const auto& t : d.json({"ps", "--json"})) {
          cpu.push_back(t["cpu_time_micros"].get<long long>());
          total += cpu.back();
        }
        return cpu.size() == ids.size() && total >= 3'000'000;
      },
      milliseconds(20'000), milliseconds(250)));
  // Within 15%: a fair slicer keeps them within a few quanta (~5% here), a
  // broken one lets some starve (spread near 100%); on this 2-core VM the
  // noise of the machine itself once reached 12% in CI (2026-12-01).
  auto [lo, hi] = std::minmax_element(cpu.begin(), cpu.end());
  EXPECT_LT(static_cast<double>(*hi - *lo) / static_cast<double>(*hi), 0.15)
      << "min " << *lo << "us max " << *hi << "us";
}

TEST(Scheduling, PriorityArrivalStartsWithinTwoQuanta) {
  Daemon d({"--slots", "2", "--policy", "Priority", "--quantum", "10ms"});
  for (int i = 0; i < 4; ++i) d.submit(burn(5000));
  ASSERT_TRUE(eventually([&] { return d.json({"stats", "--json"})["slots_busy"] == 2; }));
  const std::string urgent = d.submit({"--priority", "9", "--", bin("braid-burn"), "200"});
  nlohmann::json t;
  ASSERT_TRUE(eventually([&] {
    t = d.show(urgent);
    return !t["started_at"].is_null();
  }));
  const long long waited_us = iso_us(t["started_at"]) - iso_us(t["submitted_at"]);
  EXPECT_LE(waited_us, 20'000) << "waited " << waited_us << "us";
  EXPECT_EQ(d.cli({"wait", urgent, "--timeout", "20s"}).exit_code, 0);
}

// Under Fair (the default) a later submission of another account starts
// before the rest of a batch queued earlier, and the account is durable.
TEST(Scheduling, AccountsShareTheNodeUnderFair) {
  Daemon d({"--slots", "1"});  // defaults: Fair, one started task per slot
  std::vector<std::string> a;
  for (int i = 0; i < 3; ++i) a.push_back(d.submit({"--account", "a", "--", "sleep", "0.5"}));
  const std::string b = d.submit({"--account", "b", "--", "sleep", "0.5"});
  EXPECT_EQ(d.cli({"wait", a[2], b, "--timeout", "30s"}).exit_code, 0);
  const long long b_start = iso_us(d.show(b)["started_at"]);
  EXPECT_LT(iso_us(d.show(a[0])["started_at"]), b_start);
  EXPECT_LT(b_start, iso_us(d.show(a[1])["started_at"]));
  d.kill9();
  d.restart();
  EXPECT_EQ(d.show(b)["account"], "b");
  EXPECT_EQ(d.show(a[0])["account"], "a");
  const RunResult bad = d.cli({"submit", "--account", "a/b", "--", "true"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("account \"a/b\" must be"), std::string::npos) << bad.err;
}

TEST(Scheduling, PolicyQuantumAndPriorityChangeOnTheLiveDaemon) {
  Daemon d({"--slots", "1", "--policy", "RoundRobin", "--quantum", "10ms"});
  const std::string a = d.submit(burn(60'000));
  const std::string b = d.submit(burn(60'000));
  d.cli_ok({"policy", "set", "Priority"});
  EXPECT_EQ(d.cli_ok({"policy", "get"}), "Priority\n");
  d.cli_ok({"quantum", "set", "20ms"});
  EXPECT_EQ(d.json({"stats", "--json"})["quantum_micros"], 20'000);
  EXPECT_EQ(d.cli_ok({"priority", "set", b, "9"}), b + " priority 9\n");
  // Under Priority the priority-9 task keeps the only slot; a stays stopped.
  ASSERT_TRUE(eventually(
      [&] { return d.show(b)["state"] == "running" && d.show(a)["state"] == "stopped"; }));
  const long long a_cpu = d.show(a)["cpu_time_micros"];
  const long long b_cpu = d.show(b)["cpu_time_micros"];
  ASSERT_TRUE(eventually([&] { return d.show(b)["cpu_time_micros"] > b_cpu + 200'000; }));
  EXPECT_LT(d.show(a)["cpu_time_micros"].get<long long>(), a_cpu + 20'000);
  EXPECT_EQ(d.cli_ok({"priority", "lower", b}), b + " priority 8\n");
  d.cli_ok({"policy", "set", "RoundRobin"});
  ASSERT_TRUE(eventually([&] { return d.show(a)["cpu_time_micros"] > a_cpu + 100'000; }));
  d.cli_ok({"scheduler", "pause"});
  EXPECT_EQ(d.json({"stats", "--json"})["paused"], true);
  d.cli_ok({"scheduler", "resume"});
  d.cli_ok({"schedule-next"});
  d.cli_ok({"cancel", a, b});
  EXPECT_EQ(d.cli({"wait", a, b, "--timeout", "20s"}).exit_code, 1);
  EXPECT_EQ(d.show(a)["state"], "cancelled");
}

}  // namespace
}  // namespace braid::testing

namespace braid::testing {
namespace {

TEST(Scheduling, PausedDaemonIdlesInsteadOfSpinning) {
  // Slicing at every quantum once resumed: two started, fair window 0.
  Daemon d({"--slots", "1", "--quantum", "10ms", "--started-max", "2", "--fair-window", "0"});
  d.submit(burn(60'000));
  d.submit(burn(60'000));
  d.cli_ok({"scheduler", "pause"});
  const long long before = process_cpu_ticks(d.pid());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // a span to measure over
  const long long used_ticks = process_cpu_ticks(d.pid()) - before;
  // A loop re-arming a past deadline would burn the whole second (~100 ticks).
  EXPECT_LE(used_ticks, 10) << "braidd used " << used_ticks << " ticks while paused";
  d.cli_ok({"scheduler", "resume"});
  EXPECT_GT(d.json({"stats", "--json"})["preemptions"].get<int>(), 0);
}

}  // namespace
}  // namespace braid::testing
