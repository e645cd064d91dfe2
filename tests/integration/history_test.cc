// Durability beyond crashes: finished tasks kept for `retention` and purged
// after; a graceful restart requeues what it interrupted; a write the disk
// refuses refuses the submission and changes nothing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

std::vector<std::string> all_ids(const Daemon& d) {
  std::vector<std::string> ids;
  for (const auto& t : d.json({"ps", "--all", "--json"})) ids.push_back(t["id"]);
  return ids;
}

// Submits 1000 queued tasks at a time (up to 200 times) until braidd refuses
// one; collects the acknowledged ids and returns the refusal.
RunResult submit_until_refused(const Daemon& d, std::set<std::string>& acked) {
  for (int i = 0; i < 200; ++i) {
    RunResult r = d.cli({"submit", "--json", "--array", "1000", "--priority", "0", "--", "true"});
    if (r.exit_code != 0) return r;
    const nlohmann::json answer = nlohmann::json::parse(r.out);
    for (const auto& id : answer["ids"]) acked.insert(id.get<std::string>());
  }
  return RunResult{};
}

TEST(History, FinishedTasksAreKeptForTheRetentionThenPurged) {
  // One slot, round robin: tasks finish in submission order.
  Daemon d({"--retention", "3s", "--retention-max-tasks", "5", "--slots", "1", "--policy",
            "RoundRobin"});
  d.cli_ok({"submit", "--array", "8", "--", "true"});
  // At most 5 finished tasks: the oldest 3 go first.
  const std::vector<std::string> newest = {"it:4", "it:5", "it:6", "it:7", "it:8"};
  ASSERT_TRUE(eventually([&] { return all_ids(d) == newest; }))
      << d.json({"ps", "--all", "--json"});
  EXPECT_EQ(d.show("it:8")["state"], "completed");
  EXPECT_EQ(d.cli({"show", "it:1"}).exit_code, 2);

  // History survives a crash, purged tasks stay purged.
  d.kill9();
  d.restart();
  EXPECT_EQ(all_ids(d), newest);
  EXPECT_EQ(d.show("it:6")["exit_code"], 0);
  // After the retention, nothing is left, and ids still never repeat.
  ASSERT_TRUE(eventually([&] { return all_ids(d).empty(); }, std::chrono::seconds(15)));
  d.kill9();
  d.restart();
  EXPECT_TRUE(all_ids(d).empty());
  EXPECT_EQ(d.submit({"--", "true"}), "it:9");
}

TEST(History, AFinishedTaskKeepsItsMeasuredCpuTimeAcrossARestart) {
  Daemon d;
  const std::string id = d.submit({"--", bin("braid-burn"), "100"});
  ASSERT_EQ(d.cli({"wait", id, "--timeout", "30s"}).exit_code, 0);
  const long long cpu_us = d.show(id)["cpu_time_micros"].get<long long>();
  EXPECT_GE(cpu_us, 50'000);
  d.kill9();
  d.restart();
  EXPECT_EQ(d.show(id)["cpu_time_micros"].get<long long>(), cpu_us);
}

TEST(History, GracefulRestartRequeuesWhatItInterruptedWithoutUsingARetry) {
  Daemon d({"--slots", "1", "--policy", "RoundRobin", "--quantum", "20ms", "--started-max", "2",
            "--kill-grace", "2s"});
  const std::string plain = d.submit({"--", "sleep", "600"});  // retries 0
  const std::string refuses = d.submit({"--no-requeue", "--", "sleep", "600"});
  const std::string waiting = d.submit({"--", "sleep", "600"});  // beyond started-max
  ASSERT_TRUE(eventually(
      [&] { return d.show(plain)["attempts"] == 1 && d.show(refuses)["attempts"] == 1; }));
  EXPECT_EQ(d.show(waiting)["state"], "queued");
  EXPECT_EQ(d.terminate(), 0);
  d.restart();
  const nlohmann::json p = d.show(plain);
  EXPECT_NE(p["state"], "failed");
  EXPECT_EQ(p["reason"], "node shut down");
  // The interrupted attempt is not counted: running again, it is attempt 1.
  ASSERT_TRUE(eventually([&] { return d.show(plain)["state"] != "queued"; }));
  EXPECT_EQ(d.show(plain)["attempts"], 1);
  const nlohmann::json r = d.show(refuses);
  EXPECT_EQ(r["state"], "failed");
  EXPECT_EQ(r["reason"], "node shut down");
  EXPECT_EQ(r["attempts"], 1);
  EXPECT_NE(d.show(waiting)["state"], "failed");
  EXPECT_EQ(d.show(waiting)["reason"], "");
}

TEST(History, ATaskCancelledBeforeAGracefulStopStaysCancelled) {
  Daemon d({"--kill-grace", "10s"});
  // It takes a second to obey SIGTERM, so the stop begins while it is ending.
  const std::string id = d.submit(
      {"--", "sh", "-c", "trap 'sleep 1; exit 1' TERM; echo ready; while :; do sleep 0.1; done"});
  ASSERT_TRUE(eventually([&] { return d.cli_ok({"logs", id}) == "ready\n"; }));
  d.cli_ok({"cancel", id});
  EXPECT_EQ(d.terminate(), 0);
  d.restart();
  EXPECT_EQ(d.show(id)["state"], "cancelled");
  EXPECT_EQ(d.show(id)["reason"], "cancelled");
}

TEST(History, TasksTheRestoreEndsArePurgedLikeAnyOther) {
  Daemon d({"--retention", "1s"});
  const std::string first =
      d.submit({"--no-requeue", "--", "sleep", "600"});  // fails at the restart
  const std::string then = d.submit({"--after", first, "--", "true"});
  ASSERT_TRUE(eventually([&] { return d.show(first)["state"] == "running"; }));
  d.kill9();
  d.restart();
  EXPECT_EQ(d.show(first)["state"], "failed");
  EXPECT_EQ(d.show(then)["state"], "cancelled");
  EXPECT_EQ(d.show(then)["reason"], "dependency " + first + " failed");
  ASSERT_TRUE(eventually([&] { return all_ids(d).empty(); }, std::chrono::seconds(15)));
  EXPECT_TRUE(d.alive());
  EXPECT_EQ(d.submit({"--", "true"}), "it:3");
}

TEST(History, AFailedWriteRefusesTheSubmissionAndChangesNothing) {
  Daemon d({"--slots", "1", "--policy", "Priority", "--log-level", "info"});
  d.submit({"--priority", "10", "--retries", "5", "--", "sleep", "600"});  // holds the slot
  const std::vector<std::string> normal = d.argv();
  ASSERT_EQ(d.terminate(), 0);
  // Files braidd writes may grow to 3 MB: the write-ahead log soon cannot.
  std::vector<std::string> limited = {"/usr/bin/prlimit", "--fsize=3000000"};
  limited.insert(limited.end(), normal.begin(), normal.end());
  d.restart_with(limited);
  std::set<std::string> acked;
  const RunResult refused = submit_until_refused(d, acked);
  ASSERT_EQ(refused.exit_code, 2) << "the disk never refused a write";
  EXPECT_NE(refused.err.find("cannot store the submission, nothing was submitted: "),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("File too large"), std::string::npos) << refused.err;
  EXPECT_TRUE(d.alive());
  // Nothing of the refused submission exists; everything acknowledged does.
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["queued"], acked.size());
  EXPECT_EQ(d.cli({"submit", "--", "true"}).exit_code, 2);  // still refused, still clear

  d.kill9();
  d.restart_with(normal);
  const std::vector<std::string> ids = all_ids(d);
  std::set<std::string> stored(ids.begin(), ids.end());
  for (const std::string& id : acked) EXPECT_EQ(stored.count(id), 1u) << id << " was lost";
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["queued"], acked.size());
}

// A graceful stop lets a submission under way finish: its client hears
// either the ids (and the tasks exist after the restart) or a refusal (and
// none exists), never "unreachable" about tasks that were kept; and braidd
// exits cleanly even when the stop comes while the call's specs are still
// being converted (that call used to reach the destroyed daemon: SIGSEGV).
TEST(History, AGracefulStopAnswersASubmissionUnderWay) {
  Daemon d({"--slots", "1", "--log-level", "info"});
  RunResult submitted;
  ClientThreads client;
  client.start([&] {
    submitted = d.cli({"submit", "--json", "--hold", "--array", "100000", "--", "true"});
  });
  // Not synchronisation: aims the stop into the submission (~0.5 s of work);
  // the checks below hold wherever it lands.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_EQ(d.terminate(), 0);
  client.join();
  d.restart();
  const std::size_t stored = d.json({"ps", "--all", "--json"}).size();
  if (submitted.exit_code == 0) {
    EXPECT_EQ(nlohmann::json::parse(submitted.out)["ids"].size(), 100000u);
    EXPECT_EQ(stored, 100000u);
  } else {
    // Refused (2), or cut off before braidd had the whole call (3): either
    // way nothing of it may exist.
    EXPECT_TRUE(submitted.exit_code == 2 || submitted.exit_code == 3) << submitted.err;
    EXPECT_EQ(stored, 0u) << submitted.err;
  }
}

// A task end is reported (wait, show, ps) only once it is written: when the
// write fails, a waiter learns that instead of a completion it could not
// rely on after a crash, and show keeps the last stored state.
TEST(History, AnEndThatCannotBeStoredIsNeverReportedAsFinished) {
  Daemon d({"--slots", "1", "--policy", "Priority", "--log-level", "info"});
  const std::vector<std::string> normal = d.argv();
  ASSERT_EQ(d.terminate(), 0);
  std::vector<std::string> limited = {"/usr/bin/prlimit", "--fsize=3000000"};
  limited.insert(limited.end(), normal.begin(), normal.end());
  d.restart_with(limited);
  const std::string go = d.data_dir() + "/go";
  const std::string id = d.submit(
      {"--priority", "10", "--", "sh", "-c", "while [ ! -f " + go + " ]; do sleep 0.02; done"});
  ASSERT_TRUE(eventually([&] { return d.show(id)["state"] == "running"; }));
  std::set<std::string> acked;
  ASSERT_EQ(submit_until_refused(d, acked).exit_code, 2) << "the disk never refused a write";
  ASSERT_EQ(std::system(("touch " + go).c_str()),
            0);  // the task ends now; its end cannot be stored
  const RunResult waited = d.cli({"wait", id, "--timeout", "30s"});
  EXPECT_EQ(waited.exit_code, 2) << waited.out << waited.err;
  EXPECT_NE(waited.err.find("could not be stored"), std::string::npos) << waited.err;
  EXPECT_EQ(d.show(id)["state"], "running");
  EXPECT_EQ(d.cli({"wait", id}).exit_code, 2);  // a later waiter learns it too
  EXPECT_TRUE(d.alive());
  // After a crash the attempt counts as interrupted (it was never reported
  // finished): it runs again, and this time its end is stored.
  d.kill9();
  d.restart_with(normal);
  EXPECT_EQ(d.cli({"wait", id, "--timeout", "30s"}).exit_code, 0);
  EXPECT_EQ(d.show(id)["node_requeues"], 1);
}

// A full disk (ENOSPC, not a file size limit): RocksDB's own log must not
// take braidd down either. Needs a small tmpfs, so root; skipped otherwise.
TEST(History, AFullDiskRefusesSubmissionsAndLosesNothingAcknowledged) {
  Daemon d({"--slots", "1", "--policy", "Priority", "--log-level", "info"});
  ASSERT_EQ(d.terminate(), 0);
  const std::string db = d.data_dir() + "/db";
  const std::string saved = d.data_dir() + "/db-before";
  ASSERT_EQ(std::system(("mv " + db + " " + saved + " && mkdir " + db).c_str()), 0);
  if (std::system(("mount -t tmpfs -o size=6m tmpfs " + db + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  }
  struct Unmount {  // whatever happens below, the tmpfs goes (before the temp dir)
    std::string path;
    ~Unmount() { (void)std::system(("umount -l " + path + " 2>/dev/null").c_str()); }
  } unmount{db};
  d.restart();  // a new, empty database on the small disk
  d.submit({"--priority", "10", "--retries", "5", "--", "sleep", "600"});  // holds the slot
  std::set<std::string> acked;
  const RunResult refused = submit_until_refused(d, acked);
  EXPECT_EQ(refused.exit_code, 2) << "the disk never filled";
  EXPECT_NE(refused.err.find("nothing was submitted"), std::string::npos) << refused.err;
  EXPECT_TRUE(d.alive());
  EXPECT_EQ(d.cli({"submit", "--", "true"}).exit_code, 2);
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["queued"], acked.size());
  d.kill9();
  // Onto a disk with room: copy the database off the tmpfs and start on it.
  const std::string copy = d.data_dir() + "/db-copy";
  EXPECT_EQ(std::system(("cp -a " + db + " " + copy).c_str()), 0);
  EXPECT_EQ(
      std::system(("umount " + db + " && rm -rf " + db + " && mv " + copy + " " + db).c_str()), 0);
  d.restart();
  const std::vector<std::string> ids = all_ids(d);
  std::set<std::string> stored(ids.begin(), ids.end());
  for (const std::string& id : acked) EXPECT_EQ(stored.count(id), 1u) << id << " was lost";
  EXPECT_EQ(d.json({"stats", "--json"})["tasks"]["queued"], acked.size());
}

}  // namespace
}  // namespace braid::testing
