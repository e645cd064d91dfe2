// Durability with real crashes: braidd is SIGKILLed (with queued tasks, with
// running and stopped ones, at random moments during a stream of
// submissions) and started again on the same data dir. Afterwards every
// acknowledged submission is there exactly once, nothing of the previous
// incarnation still runs, and the torus's stats agree with the stored
// records. Also: a corrupt database stops braidd and is kept as it was.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "storage/store.h"
#include "tests/integration/executor_modes.h"
#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

std::map<std::string, int> count_by_state(const nlohmann::json& tasks) {
  std::map<std::string, int> counts;
  for (const auto& t : tasks) ++counts[t["state"].get<std::string>()];
  return counts;
}

// The torus's counts (stats) agree with the task list the node serves.
void expect_stats_agree(const Daemon& d) {
  const nlohmann::json stats = d.json({"stats", "--json"});
  const nlohmann::json tasks = d.json({"ps", "--all", "--json"});
  std::map<std::string, int> from_stats;
  for (const auto& [state, n] : stats["tasks"].items()) {
    if (n.get<int>() != 0) from_stats[state] = n.get<int>();
  }
  EXPECT_EQ(from_stats, count_by_state(tasks));
}

// What the database holds, read with the storage library while braidd is down.
std::map<std::string, std::string> stored_states(const Daemon& d) {
  auto store = storage::Store::open(d.data_dir() + "/db");
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message);
  std::map<std::string, std::string> states;
  if (!store.ok()) return states;
  sched::Status s = store.value()->load_tasks([&](storage::TaskRecord&& r) {
    states[r.task.id] = std::string(sched::to_string(r.task.state));
  });
  EXPECT_TRUE(s.ok());
  return states;
}

std::vector<std::string> ids_of(const nlohmann::json& tasks) {
  std::vector<std::string> ids;
  for (const auto& t : tasks) ids.push_back(t["id"].get<std::string>());
  return ids;
}

// Live (not zombie) processes whose command line contains `marker`, by pid.
std::map<pid_t, pid_t> marked_processes(const std::string& marker) {
  std::map<pid_t, pid_t> found;  // pid -> process group
  DIR* proc = opendir("/proc");
  while (const dirent* e = readdir(proc)) {
    const pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline");
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().find(marker) == std::string::npos) continue;
    const char state = process_state(pid);
    if (state == 'Z' || state == '?') continue;
    found[pid] = 0;
  }
  closedir(proc);
  for (auto& [pid, group] : found) group = getpgid(pid);
  return found;
}

TEST(Durability, TenThousandQueuedTasksSurviveKill9) {
  Daemon d({"--slots", "1", "--policy", "Priority"});
  // Holds the only slot; requeued after the crash, it holds it again.
  const std::string blocker =
      d.submit({"--priority", "10", "--retries", "1", "--", "sleep", "600"});
  ASSERT_TRUE(eventually([&] { return d.show(blocker)["state"] == "running"; }));
  const pid_t blocker_pgid = d.show(blocker)["pid"].get<pid_t>();
  const nlohmann::json acked =
      d.json({"submit", "--json", "--array", "10000", "--priority", "0", "--", "true", "{}"});
  ASSERT_EQ(acked["ids"].size(), 10000u);
  const nlohmann::json before = d.json({"ps", "--all", "--json"});
  ASSERT_EQ(before.size(), 10001u);

  d.kill9();
  // The records on disk are what was acknowledged.
  const auto stored = stored_states(d);
  EXPECT_EQ(stored.size(), 10001u);
  for (const auto& id : acked["ids"]) EXPECT_EQ(stored.at(id.get<std::string>()), "queued");
  EXPECT_EQ(stored.at(blocker), "running");

  d.restart();
  // The crashed attempt's process is gone; the blocker runs again in a new one.
  EXPECT_TRUE(group_members(blocker_pgid).empty());
  ASSERT_TRUE(eventually([&] { return d.show(blocker)["state"] == "running"; }));
  const nlohmann::json b = d.show(blocker);
  EXPECT_EQ(b["attempts"], 1);  // the crashed attempt does not count against --retries
  EXPECT_EQ(b["node_requeues"], 1);
  EXPECT_EQ(b["reason"], "node restarted");
  EXPECT_NE(b["pid"].get<pid_t>(), blocker_pgid);

  const nlohmann::json after = d.json({"ps", "--all", "--json"});
  std::vector<std::string> ids = ids_of(after);
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size()) << "a task is listed twice";
  EXPECT_EQ(ids.size(), 10001u);
  for (const auto& id : acked["ids"]) EXPECT_EQ(unique.count(id.get<std::string>()), 1u);
  EXPECT_EQ(count_by_state(after)["queued"], 10000);
  expect_stats_agree(d);
  // Ids never repeat.
  EXPECT_EQ(d.submit({"--", "true"}), "it:10002");
}

using RestartExecutors = ExecutorModes;

TEST_P(RestartExecutors, RunningAndStoppedTasksAreEndedThenRequeuedOrFailed) {
  Daemon d({"--slots", "1", "--policy", "RoundRobin", "--quantum", "20ms", "--started-max", "4",
            "--executor", GetParam()});
  // Each task is a family: a shell and two children in its process group.
  const std::vector<std::string> family = {"sh", "-c", "sleep 600 & sleep 600 & wait"};
  auto submit = [&](std::vector<std::string> flags) {
    flags.push_back("--");
    flags.insert(flags.end(), family.begin(), family.end());
    return d.submit(flags);
  };
  const std::string again1 = submit({"--retries", "2"});
  const std::string again2 = submit({"--retries", "1"});
  const std::string spent = submit({});  // no retries: requeued all the same (not its fault)
  const std::string refuses = submit({"--retries", "3", "--no-requeue"});
  const std::vector<std::string> all = {again1, again2, spent, refuses};
  // Every task has started; one runs, the others are stopped.
  std::map<std::string, pid_t> groups;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& id : all) {
          const nlohmann::json t = d.show(id);
          if (t["pid"].is_null() || group_members(t["pid"].get<pid_t>()).size() < 3) return false;
          groups[id] = t["pid"].get<pid_t>();
        }
        return true;
      },
      std::chrono::seconds(20)));
  ASSERT_TRUE(eventually([&] {
    std::map<std::string, int> states = count_by_state(d.json({"ps", "--json"}));
    return states["running"] == 1 && states["stopped"] == 3;
  }));
  std::map<std::string, int> attempts;
  for (const auto& id : all) attempts[id] = d.show(id)["attempts"].get<int>();

  // Paused (not stored: the restart resumes), the running task stays the
  // running one until the kill: a stopped one would be ended by the kernel.
  d.cli_ok({"scheduler", "pause"});
  const std::string running = d.json({"ps", "--state", "running", "--json"})[0]["id"];
  d.kill9();
  // The crash leaves the processes behind (in signals mode the kernel itself
  // ends a stopped group orphaned by its parent's death: SIGHUP, SIGCONT).
  EXPECT_FALSE(group_members(groups[running]).empty());
  d.restart();
  // braidd ended every process of the previous incarnation before it went on.
  for (const auto& [id, pgid] : groups) {
    EXPECT_TRUE(group_members(pgid).empty()) << id << " left process group " << pgid;
  }
  for (const std::string& id : {again1, again2, spent}) {
    const nlohmann::json t = d.show(id);
    EXPECT_NE(t["state"], "failed") << id;
    EXPECT_EQ(t["reason"], "node restarted") << id;
    EXPECT_EQ(t["node_requeues"], 1) << id;
  }
  // Started again; the interrupted attempt used no retry.
  ASSERT_TRUE(eventually([&] {
    for (const std::string& id : {again1, again2, spent}) {
      const nlohmann::json t = d.show(id);
      if (t["state"] == "queued" || t["attempts"].get<int>() != attempts[id]) return false;
    }
    return true;
  }));
  const nlohmann::json t = d.show(refuses);
  EXPECT_EQ(t["state"], "failed");
  EXPECT_EQ(t["reason"], "node restarted");
  EXPECT_EQ(t["attempts"], attempts[refuses]);
  expect_stats_agree(d);
}

INSTANTIATE_TEST_SUITE_P(Modes, RestartExecutors, ::testing::Values("signals", "cgroup"));

TEST(Durability, RandomKillsDuringASubmissionStreamLoseNothing) {
  const std::string marker = "braid-durability-" + std::to_string(getpid());
  Daemon d({"--slots", "2", "--quantum", "5ms"});
  std::mutex mutex;
  std::vector<std::string> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  ClientThreads clients(&stop);
  for (int c = 0; c < 4; ++c) {
    clients.start([&, c] {
      int n = 0;
      while (!stop) {
        // Alternate single tasks and small arrays: both are one synced write.
        std::vector<std::string> args{"submit", "--json", "--retries", "5"};
        if (++n % 3 == 0) args.insert(args.end(), {"--array", "7"});
        args.insert(args.end(), {"--", "sh", "-c", "sleep 0.05", marker});
        RunResult r = d.cli(args);
        if (r.exit_code != 0) {
          ++refused;  // the node is down: not acknowledged, may or may not exist
          continue;
        }
        nlohmann::json j = nlohmann::json::parse(r.out);
        std::lock_guard lock(mutex);
        if (j.contains("id")) acked.push_back(j["id"].get<std::string>());
        for (const auto& id : j.value("ids", nlohmann::json::array())) {
          acked.push_back(id.get<std::string>());
        }
      }
      (void)c;
    });
  }
  std::mt19937 random(static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pause_ms(20, 400);
  constexpr int kKills = 6;
  for (int round = 0; round < kKills; ++round) {
    // A random moment, not a synchronisation: the crash must be safe at any.
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
    d.kill9();
    d.restart();
    // Nothing of the previous incarnation runs: every marked process belongs
    // to a task this incarnation started.
    const auto processes = marked_processes(marker);
    std::set<pid_t> current;
    for (const auto& t : d.json({"ps", "--json"})) {
      if (!t["pid"].is_null()) current.insert(t["pid"].get<pid_t>());
    }
    for (const auto& [pid, pgid] : processes) {
      if (pgid == getpgrp()) continue;  // a `braid submit` of ours: the marker is in its argv
      const char state = process_state(pid);
      if (state == '?' || state == 'Z') continue;  // ended meanwhile
      EXPECT_EQ(current.count(pgid), 1u)
          << "process " << pid << " (group " << pgid << ") outlived its braidd";
    }
  }
  clients.join();

  // Quiesce so the stats and the list describe the same moment: cancel what
  // is left and wait for every task to end.
  std::vector<std::string> live = ids_of(d.json({"ps", "--json"}));
  if (!live.empty()) {
    std::vector<std::string> cancel{"cancel"};
    cancel.insert(cancel.end(), live.begin(), live.end());
    d.cli(cancel);  // some may end on their own meanwhile: refused for those, fine
    std::vector<std::string> wait{"wait", "--timeout", "60s"};
    wait.insert(wait.end(), live.begin(), live.end());
    EXPECT_NE(d.cli(wait).exit_code, 124);
  }
  const nlohmann::json tasks = d.json({"ps", "--all", "--json"});
  std::vector<std::string> ids = ids_of(tasks);
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size()) << "a task is listed twice";
  std::lock_guard lock(mutex);
  ASSERT_GT(acked.size(), 20u);
  for (const std::string& id : acked) EXPECT_EQ(unique.count(id), 1u) << id << " was lost";
  std::set<std::string> acked_unique(acked.begin(), acked.end());
  EXPECT_EQ(acked_unique.size(), acked.size()) << "an id was given twice";
  expect_stats_agree(d);
  RecordProperty("acknowledged", static_cast<int>(acked.size()));
  RecordProperty("refused_while_down", refused.load());
}

// One line of the crash ledger the tasks below append to.
struct LedgerCopy {
  std::int64_t start_ns = 0;
  std::int64_t last_ns = 0;  // its last line: the end, or the last sign of life
  bool ended = false;        // false: killed
};

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Live processes (not of this test's own group, i.e. not `braid` clients)
// whose command line names `marker`.
std::set<pid_t> task_processes(const std::string& marker) {
  std::set<pid_t> pids;
  for (const auto& [pid, pgid] : marked_processes(marker)) {
    if (pgid != getpgrp()) pids.insert(pid);
  }
  return pids;
}

// Signals mode has no cgroup that outlives braidd: a task process spawned
// just before a kill -9, whose `running` record never reached the log, is
// found at restart only by its BRAID_NODE_MARK. Every copy of every task
// writes `start`/`end` lines (id, pid, wall ns) to a ledger outside the data
// dir; braidd is killed at random moments (half of them shortly after a
// submission was acknowledged, when its tasks are being spawned) while
// clients submit arrays and `braid wait` for them. Then: no two copies of a
// task ever ran at once, and no copy started after a waiter was told the
// task had finished.
TEST(Durability, SignalsModeRandomKillsNeverRunTwoCopiesOfATask) {
  TempDir ledger_dir;
  const std::string ledger = ledger_dir.path() + "/ledger";
  Daemon d(
      {"--executor", "signals", "--slots", "2", "--quantum", "5ms", "--max-node-requeues", "1000"});
  const std::string line = " $BRAID_TASK_ID $$ $(date +%s%N) >> " + ledger;
  const std::string script = "echo start" + line + "; for i in 1 2 3 4; do sleep 0.1; echo alive" +
                             line + "; done; echo end" + line;
  std::mutex mutex;
  std::condition_variable acked_cv;
  std::uint64_t acked_submissions = 0;
  std::map<std::string, std::int64_t> told_finished_ns;  // by task id
  std::atomic<bool> stop{false};
  ClientThreads clients(&stop);
  for (int c = 0; c < 3; ++c) {
    clients.start([&] {
      while (!stop) {
        RunResult r = d.cli({"submit", "--json", "--array", "12", "--", "sh", "-c", script});
        if (r.exit_code != 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // down: poll again
          continue;
        }
        std::vector<std::string> waiting;
        const nlohmann::json submitted = nlohmann::json::parse(r.out);
        for (const auto& id : submitted["ids"]) {
          waiting.push_back(id.get<std::string>());
        }
        {
          std::lock_guard lock(mutex);
          ++acked_submissions;
        }
        acked_cv.notify_all();
        while (!waiting.empty()) {
          std::vector<std::string> args{"wait", "--timeout", "30s", "--json"};
          args.insert(args.end(), waiting.begin(), waiting.end());
          RunResult w = d.cli(args);
          const std::int64_t told_ns = wall_ns();
          nlohmann::json answer;
          if (w.exit_code == 0 || w.exit_code == 1) {
            answer = nlohmann::json::parse(w.out, nullptr, /*allow_exceptions=*/false);
          }
          if (!answer.is_object() || !answer.contains("tasks")) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // down: poll again
            continue;
          }
          std::lock_guard lock(mutex);
          for (const auto& t : answer["tasks"]) {
            if (t["state"] == "completed") told_finished_ns[t["id"].get<std::string>()] = told_ns;
          }
          waiting.clear();  // every one ended
        }
      }
    });
  }

  std::mt19937 random(static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pause_ms(50, 500);
  std::uniform_int_distribution<int> after_ack_ms(0, 15);
  std::vector<std::int64_t> respawn_ns;  // when each restart began
  int survivors = 0;
  constexpr int kKills = 24;
  for (int round = 0; round < kKills; ++round) {
    // A random moment, not a synchronisation: the crash must be safe at any.
    if (round % 2 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
    } else {
      std::unique_lock lock(mutex);
      const std::uint64_t seen = acked_submissions;
      acked_cv.wait_for(lock, std::chrono::seconds(5), [&] { return acked_submissions > seen; });
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(after_ack_ms(random)));
    }
    d.kill9();
    const std::set<pid_t> before = task_processes(ledger);
    respawn_ns.push_back(wall_ns());
    d.restart();
    // The new incarnation ended every process of the previous one before it
    // started anything (stopped ones already died of their orphaned group's SIGHUP).
    for (pid_t pid : before) {
      const char state = process_state(pid);
      if (state != '?' && state != 'Z') {
        ++survivors;
        ADD_FAILURE() << "task process " << pid << " outlived the crash of its braidd";
      }
    }
  }
  clients.join();
  // Nothing runs any more: every copy has written its end line or was killed.
  EXPECT_TRUE(eventually([&] { return task_processes(ledger).empty(); }, std::chrono::seconds(20)));

  std::map<std::string, std::map<pid_t, LedgerCopy>> copies;  // by task id, by pid
  std::ifstream in(ledger);
  std::string kind, id;
  pid_t pid = 0;
  std::int64_t at_ns = 0;
  int starts = 0, killed = 0;
  while (in >> kind >> id >> pid >> at_ns) {
    LedgerCopy& copy = copies[id][pid];
    if (kind == "start") {
      copy.start_ns = at_ns;
      ++starts;
    }
    copy.last_ns = std::max(copy.last_ns, at_ns);
    if (kind == "end") copy.ended = true;
  }
  int overlaps = 0, started_after_told = 0;
  for (auto& [task, by_pid] : copies) {
    std::vector<LedgerCopy> sorted;
    for (auto& [copy_pid, copy] : by_pid) {
      EXPECT_NE(copy.start_ns, 0) << task << " pid " << copy_pid << " ran without starting";
      // A killed copy lived at least until its last line (the check after
      // each restart above proves it did not outlive the restart).
      if (!copy.ended) ++killed;
      sorted.push_back(copy);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const LedgerCopy& a, const LedgerCopy& b) { return a.start_ns < b.start_ns; });
    for (std::size_t i = 1; i < sorted.size(); ++i) {
      if (sorted[i].start_ns < sorted[i - 1].last_ns) {
        ++overlaps;
        ADD_FAILURE() << task << ": a copy started at " << sorted[i].start_ns
                      << " while the one started at " << sorted[i - 1].start_ns << " still ran at "
                      << sorted[i - 1].last_ns;
      }
    }
    const auto told = told_finished_ns.find(task);
    if (told != told_finished_ns.end() && sorted.back().start_ns > told->second) {
      ++started_after_told;
      ADD_FAILURE() << task << " started again at " << sorted.back().start_ns
                    << ", after a waiter was told at " << told->second << " that it finished";
    }
  }
  // The run did what it is for: many tasks, copies killed by crashes, waiters answered.
  EXPECT_GT(starts, 100);
  EXPECT_GT(told_finished_ns.size(), 50u);
  std::size_t swept = 0;  // unrecorded processes the BRAID_NODE_MARK sweeps ended
  std::istringstream log(d.log());
  for (std::string line; std::getline(log, line);) {
    const std::size_t at = line.find(" ended");
    const std::size_t colon = line.rfind(": ", at);
    if (line.find("for BRAID_NODE_MARK=") == std::string::npos || at == std::string::npos ||
        colon == std::string::npos) {
      continue;
    }
    swept += std::stoul(line.substr(colon + 2, at - colon - 2));
  }
  RecordProperty("task_starts", starts);
  RecordProperty("copies_killed", killed);
  RecordProperty("ended_by_mark_sweep", static_cast<int>(swept));
  RecordProperty("told_finished", static_cast<int>(told_finished_ns.size()));
  RecordProperty("overlaps", overlaps);
  RecordProperty("started_after_told", started_after_told);
  RecordProperty("survivors", survivors);
}

// sha-like fingerprint of every file in a directory: name, size and bytes.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  DIR* d = opendir(dir.c_str());
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(dir + "/" + e->d_name, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    files[e->d_name] = bytes.str();
  }
  closedir(d);
  return files;
}

TEST(Durability, CorruptDatabaseStopsStartAndIsKeptAsItWas) {
  Daemon d;
  const std::string id = d.submit({"--", "true"});
  ASSERT_EQ(d.cli({"wait", id, "--timeout", "20s"}).exit_code, 0);
  d.kill9();
  const std::string db = d.data_dir() + "/db";
  // Garbage in every MANIFEST: RocksDB cannot tell what the database holds.
  for (const auto& [name, bytes] : snapshot(db)) {
    if (name.rfind("MANIFEST-", 0) != 0) continue;
    std::ofstream out(db + "/" + name, std::ios::binary | std::ios::trunc);
    out << std::string(bytes.size(), '\x5a');
  }
  const auto before = snapshot(db);
  RunResult r = run(d.argv());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot open database " + db), std::string::npos) << r.err;
  EXPECT_EQ(snapshot(db), before) << "braidd changed a database it could not read";
}

TEST(Durability, AnotherNodesDatabaseIsRefused) {
  Daemon d;
  d.kill9();
  std::vector<std::string> argv = d.argv();
  argv[2] = "other";  // --name other
  RunResult r = run(argv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("belongs to node \"it\", not \"other\""), std::string::npos) << r.err;
}

}  // namespace
}  // namespace braid::testing
