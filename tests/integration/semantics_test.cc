// Scheduling semantics against a real braidd: hold/release, dependency kinds
// with real failing tasks, array throttles, and requeue after a crash.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

std::string state_of(const Daemon& d, const std::string& id) {
  return d.show(id)["state"].get<std::string>();
}

std::string state_of(const Daemon& d, const nlohmann::json& id) {
  return state_of(d, id.get<std::string>());
}

bool ended(const Daemon& d, const std::string& id) {
  const std::string s = state_of(d, id);
  return s == "completed" || s == "failed" || s == "cancelled";
}

TEST(Semantics, HeldTaskNeverStartsUntilReleased) {
  // Priority: the blocker keeps the one slot while the other waits queued.
  Daemon d({"--slots", "1", "--policy", "Priority"});
  const std::string blocker = d.submit({"--priority", "10", "--", "sleep", "0.3"});
  const std::string queued = d.submit({"--", "true"});
  ASSERT_TRUE(eventually([&] { return state_of(d, blocker) == "running"; }));
  d.cli_ok({"hold", queued});
  EXPECT_EQ(state_of(d, queued), "held");
  EXPECT_EQ(d.show(queued)["reason"], "held");
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["held"], 1);
  EXPECT_EQ(d.json({"ps", "--state", "held", "--json"}).size(), 1u);
  ASSERT_TRUE(eventually([&] { return state_of(d, blocker) == "completed"; }));
  // The slot is free and the decision that freed it has been made: still held.
  EXPECT_EQ(state_of(d, queued), "held");
  EXPECT_EQ(d.show(queued)["attempts"], 0);
  // Held across a crash, too.
  d.kill9();
  d.restart();
  EXPECT_EQ(state_of(d, queued), "held");
  d.cli_ok({"release", queued});
  ASSERT_EQ(d.cli({"wait", queued, "--timeout", "20s"}).exit_code, 0);
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["held"], 0);
}

TEST(Semantics, HoldRefusesStartedOrFinishedTasksWithOneLine) {
  Daemon d({"--slots", "1"});
  const std::string running = d.submit({"--", "sleep", "600"});
  ASSERT_TRUE(eventually([&] { return state_of(d, running) == "running"; }));
  const RunResult r = d.cli({"hold", running});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err,
            "braid: task " + running + " is running: only pending or queued tasks can be held\n");
  const RunResult rel = d.cli({"release", running});
  EXPECT_EQ(rel.exit_code, 2);
  EXPECT_EQ(rel.err,
            "braid: task " + running + " is running, not held: only held tasks can be released\n");
  EXPECT_EQ(d.cli({"hold", "it:999"}).exit_code, 2);
  d.cli_ok({"cancel", running});
}

TEST(Semantics, SubmitHeldPendingStaysHeldAndCancelWorks) {
  Daemon d({"--slots", "2"});
  const std::string first = d.submit({"--", "sleep", "0.2"});
  const std::string held = d.submit({"--hold", "--after", first, "--", "true"});
  const std::string other = d.submit({"--hold", "--", "true"});
  EXPECT_EQ(state_of(d, held), "held");
  ASSERT_EQ(d.cli({"wait", first, "--timeout", "20s"}).exit_code, 0) << d.show(first);
  EXPECT_EQ(state_of(d, held), "held");  // its dependency completed; held still
  d.cli_ok({"release", held});
  ASSERT_EQ(d.cli({"wait", held, "--timeout", "20s"}).exit_code, 0);
  d.cli_ok({"cancel", other});
  EXPECT_EQ(state_of(d, other), "cancelled");
  // JSONL takes the same fields.
  const std::string file = d.data_dir() + "/tasks.jsonl";
  std::ofstream(file) << R"({"argv": ["true"], "hold": true})"
                      << "\n";
  const nlohmann::json ids = d.json({"submit", "--json", "--file", file});
  EXPECT_EQ(state_of(d, ids["ids"][0].get<std::string>()), "held");
}

TEST(Semantics, DependencyKindsWithRealFailures) {
  Daemon d({"--slots", "2"});
  const std::string bad = d.submit({"--", "sh", "-c", "sleep 0.1; exit 3"});
  const std::string good = d.submit({"--", "sh", "-c", "sleep 0.1"});
  const std::string any_bad = d.submit({"--after-any", bad, "--", "true"});
  const std::string fail_bad = d.submit({"--after-fail", bad, "--", "true"});
  const std::string ok_bad = d.submit({"--after", bad, "--", "true"});
  const std::string fail_good = d.submit({"--after-fail", good, "--", "true"});
  const std::string any_good = d.submit({"--after-any", good, "--", "true"});
  for (const std::string& id : {any_bad, fail_bad, ok_bad, fail_good, any_good}) {
    ASSERT_TRUE(eventually([&] { return ended(d, id); }, std::chrono::seconds(20))) << id;
  }
  EXPECT_EQ(state_of(d, bad), "failed");
  EXPECT_EQ(state_of(d, any_bad), "completed");
  EXPECT_EQ(state_of(d, fail_bad), "completed");
  EXPECT_EQ(state_of(d, ok_bad), "cancelled");
  EXPECT_EQ(d.show(ok_bad)["reason"], "dependency " + bad + " failed");
  EXPECT_EQ(state_of(d, fail_good), "cancelled");
  EXPECT_EQ(d.show(fail_good)["reason"], "dependency " + good + " completed");
  EXPECT_EQ(d.show(fail_good)["attempts"], 0);
  EXPECT_EQ(state_of(d, any_good), "completed");
  // A cancelled dependency satisfies after-fail and after-any.
  const std::string victim = d.submit({"--", "sleep", "600"});
  const std::string on_cancel = d.submit({"--after-fail", victim, "--", "true"});
  ASSERT_TRUE(eventually([&] { return state_of(d, victim) == "running"; }));
  d.cli_ok({"cancel", victim});
  ASSERT_EQ(d.cli({"wait", on_cancel, "--timeout", "20s"}).exit_code, 0);
}

TEST(Semantics, DependencyKindsSurviveARestart) {
  Daemon d({"--slots", "1", "--policy", "Priority"});
  const std::string blocker = d.submit({"--priority", "10", "--", "sleep", "600"});
  const std::string dep = d.submit({"--", "sh", "-c", "exit 1"});  // queued behind the blocker
  const std::string on_fail = d.submit({"--after-fail", dep, "--", "true"});
  const std::string on_ok = d.submit({"--after", dep, "--", "true"});
  ASSERT_TRUE(eventually([&] { return state_of(d, blocker) == "running"; }));
  d.kill9();
  d.restart();
  EXPECT_EQ(state_of(d, on_fail), "pending");
  d.cli_ok({"cancel", blocker});
  ASSERT_EQ(d.cli({"wait", on_fail, "--timeout", "20s"}).exit_code, 0);
  EXPECT_EQ(state_of(d, on_ok), "cancelled");
}

TEST(Semantics, ArrayThrottleNeverStartsMoreThanItAllows) {
  Daemon d({"--slots", "4", "--quantum", "10ms"});
  const nlohmann::json ids = d.json(
      {"submit", "--json", "--array", "1-20%2", "--name", "a{}", "--", "sh", "-c", "sleep 0.1"});
  ASSERT_EQ(ids["ids"].size(), 20u);
  const std::string plain = d.submit({"--", "true"});  // behind the array, not blocked by it
  std::size_t most = 0;
  ASSERT_TRUE(eventually(
      [&] {
        std::size_t started = 0, live = 0;
        for (const auto& t : d.json({"ps", "--json"})) {
          if (t["name"].get<std::string>().starts_with("a")) {
            ++live;
            // Started = has processes. (An attempt that ended shows its last
            // stored state until its end is written, but no pid.)
            if (!t["pid"].is_null()) ++started;
          }
        }
        most = std::max(most, started);
        EXPECT_LE(started, 2u);
        return live == 0;
      },
      std::chrono::seconds(60), std::chrono::milliseconds(2)));
  EXPECT_EQ(most, 2u);
  EXPECT_EQ(state_of(d, plain), "completed");
  const nlohmann::json first = d.show(ids["ids"][0].get<std::string>());
  EXPECT_EQ(first["array_index"], 1);
  EXPECT_EQ(first["name"], "a1");
  EXPECT_EQ(d.show(ids["ids"][19].get<std::string>())["array_index"], 20);
}

TEST(Semantics, ArrayThrottleSurvivesARestart) {
  Daemon d({"--slots", "4", "--policy", "RoundRobin"});
  const nlohmann::json ids = d.json({"submit", "--json", "--array", "0-5%1", "--", "sleep", "600"});
  ASSERT_TRUE(eventually([&] { return state_of(d, ids["ids"][0]) == "running"; }));
  d.kill9();
  d.restart();
  ASSERT_TRUE(eventually([&] { return state_of(d, ids["ids"][0]) == "running"; }));
  std::size_t started = 0;
  for (const auto& t : d.json({"ps", "--json"})) started += t["state"] == "running" ? 1 : 0;
  EXPECT_EQ(started, 1u);
  d.cli_ok({"cancel", ids["ids"][0].get<std::string>()});
  ASSERT_TRUE(eventually([&] { return state_of(d, ids["ids"][1]) == "running"; }));
  EXPECT_EQ(state_of(d, ids["ids"][2]), "queued");
}

TEST(Semantics, BadArraySyntaxIsOneLine) {
  Daemon d;
  const RunResult r = d.cli({"submit", "--array", "1-x", "--", "true"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("1-1000%4"), std::string::npos) << r.err;
}

TEST(Semantics, CrashRequeuesWithoutRetriesUpToMaxNodeRequeues) {
  Daemon d({"--slots", "1", "--max-node-requeues", "2"});
  const std::string id = d.submit({"--", "sleep", "600"});  // --retries 0
  for (int crash = 1; crash <= 2; ++crash) {
    ASSERT_TRUE(eventually([&] { return state_of(d, id) == "running"; })) << crash;
    d.kill9();
    d.restart();
    const nlohmann::json t = d.show(id);
    EXPECT_NE(t["state"], "failed") << crash;
    EXPECT_EQ(t["node_requeues"], crash);
    EXPECT_EQ(t["reason"], "node restarted");
  }
  ASSERT_TRUE(eventually([&] { return state_of(d, id) == "running"; }));
  EXPECT_EQ(d.show(id)["attempts"], 1);  // crashed attempts used no retry
  d.kill9();
  d.restart();
  const nlohmann::json t = d.show(id);
  EXPECT_EQ(t["state"], "failed");
  EXPECT_EQ(t["reason"], "node restarted");
  EXPECT_EQ(t["node_requeues"], 2);
}

TEST(Semantics, NoRequeueStillFailsAfterACrash) {
  Daemon d({"--slots", "1"});
  const std::string id = d.submit({"--no-requeue", "--", "sleep", "600"});
  ASSERT_TRUE(eventually([&] { return state_of(d, id) == "running"; }));
  d.kill9();
  d.restart();
  EXPECT_EQ(state_of(d, id), "failed");
  EXPECT_EQ(d.show(id)["node_requeues"], 0);
}

TEST(Semantics, SecondSigtermCostsNoRetry) {
  Daemon d({"--slots", "1", "--kill-grace", "60s"});
  // The first attempt ignores SIGTERM, so the graceful stop would wait out
  // the grace period; later attempts end at once when cancelled.
  const std::string marker = d.data_dir() + "/first-attempt-ran";
  const std::string id = d.submit({"--", "sh", "-c",
                                   "if [ -e " + marker +
                                       " ]; then exec sleep 600; fi; trap '' TERM; "
                                       "touch " +
                                       marker + "; exec sleep 600"});
  ASSERT_TRUE(eventually([&] { return ::access(marker.c_str(), F_OK) == 0; }));
  ASSERT_EQ(::kill(d.pid(), SIGTERM), 0);
  ASSERT_TRUE(
      eventually([&] { return d.log().find("again to stop at once") != std::string::npos; }));
  EXPECT_NE(d.terminate(), -1);  // the second SIGTERM: stop at once
  d.restart();
  EXPECT_NE(state_of(d, id), "failed");
  ASSERT_TRUE(eventually([&] { return state_of(d, id) == "running"; }));
  const nlohmann::json t = d.show(id);
  EXPECT_EQ(t["attempts"], 1);       // the interrupted attempt used no retry
  EXPECT_EQ(t["node_requeues"], 1);  // the immediate stop looked like a crash
  d.cli_ok({"cancel", id});
}

}  // namespace
}  // namespace braid::testing
