// Migration under faults (issue 11 §7 "Crashes" and "Partition"): 3 real
// braidd --migrate nodes with 2 slots each on loopback, 60 tasks of
// `sleep 0.5` submitted to one of them, and
//  - Crashes: kill -9 of the donor or a receiver at seeded random moments
//    while the tasks spread and run (every other round on average, of a node
//    seen with a handoff in flight), each killed node restarted on its data
//    dir under its name, with 15% of peer messages lost throughout;
//  - Partition: two nodes stop sending to each other (both directions, in the
//    peer transport: `braid debug peer-faults --block`) while handoffs are in
//    flight, then heal.
// Each task records every attempt in a ledger outside braid: a `start` line
// and, once its sleep is over, an `end` line, both with the shell's pid (the
// attempt), the wall time (ns) and the node's process mark.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kNodes = 3;
constexpr int kTasks = 60;

std::vector<std::string> node_args(const std::string& name, const std::string& seed,
                                   const std::vector<std::string>& more) {
  std::vector<std::string> args = {"--name",           name,   "--listen", "127.0.0.1:0",
                                   "--gossip-profile", "fast", "--slots",  "2",
                                   "--migrate"};
  if (!seed.empty()) args.insert(args.end(), {"--join", seed});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

nlohmann::json peers_of(const Daemon& d) { return d.json({"peers", "--json"}); }

std::string address_of(const Daemon& d) {
  for (const auto& m : peers_of(d)) {
    if (m.at("self").get<bool>()) return m.at("address").get<std::string>();
  }
  return "";
}

struct Cluster {
  explicit Cluster(const std::vector<std::string>& more = {}) {
    nodes.push_back(std::make_unique<Daemon>(node_args("n0", "", more)));
    const std::string seed = address_of(*nodes[0]);
    for (int i = 1; i < kNodes; ++i) {
      nodes.push_back(std::make_unique<Daemon>(node_args("n" + std::to_string(i), seed, more)));
    }
  }
  // Every node sees every node alive.
  bool converged(std::chrono::milliseconds within = 10s) const {
    return eventually(
        [&] {
          for (const auto& d : nodes) {
            const RunResult r = d->cli({"peers", "--json"});
            if (r.exit_code != 0) return false;
            const auto members = nlohmann::json::parse(r.out);
            if (members.size() != nodes.size()) return false;
            for (const auto& m : members) {
              if (m.at("state") != "alive") return false;
            }
          }
          return true;
        },
        within, 50ms);
  }
  std::vector<std::unique_ptr<Daemon>> nodes;
};

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One attempt of a task, from the ledger.
struct Attempt {
  std::string pid;
  int node = -1;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = -1;  // -1: no end line (killed)
};

struct Ledger {
  explicit Ledger(std::string path) : path(std::move(path)) {}

  // The command of every task: a start line, the work, an end line.
  std::vector<std::string> command() const {
    auto line = [&](const std::string& what) {
      return "echo \"$BRAID_TASK_ID " + what + " $$ $(date +%s%N) $BRAID_NODE_MARK\" >> " + path;
    };
    return {"sh", "-c", line("start") + "; sleep 0.5; " + line("end")};
  }

  // task id -> its attempts, in the order of their start lines.
  std::map<std::string, std::vector<Attempt>> read() const {
    std::map<std::string, std::vector<Attempt>> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string id, what, pid, mark;
      std::int64_t ns = 0;
      if (!(fields >> id >> what >> pid >> ns >> mark)) continue;  // a line being written
      int node = -1;
      for (int i = 0; i < kNodes; ++i) {
        if (mark.find("-n" + std::to_string(i) + "-") != std::string::npos) node = i;
      }
      auto& attempts = out[id];
      if (what == "start") {
        attempts.push_back({pid, node, ns, -1});
      } else {
        for (Attempt& a : attempts) {
          if (a.pid == pid && a.node == node) a.end_ns = ns;
        }
      }
    }
    return out;
  }

  // Tasks with at least one end line.
  std::size_t ended() const {
    std::size_t n = 0;
    for (const auto& [id, attempts] : read()) {
      n += std::any_of(attempts.begin(), attempts.end(),
                       [](const Attempt& a) { return a.end_ns >= 0; });
    }
    return n;
  }

  // `braid submit` of the 60 tasks.
  std::vector<std::string> submit() const {
    std::vector<std::string> args = {"submit", "--array", "1-" + std::to_string(kTasks), "--"};
    for (std::string& a : command()) args.push_back(std::move(a));
    return args;
  }

  std::string path;
};

nlohmann::json migration_of(const Daemon& d) { return d.json({"stats", "--json"}).at("migration"); }

// Every node's migration journal and held adoptions are resolved.
bool all_resolved(const Cluster& c) {
  for (const auto& d : c.nodes) {
    const auto m = migration_of(*d);
    if (m.is_null() || m.at("unresolved") != 0 || m.at("held") != 0) return false;
  }
  return true;
}

std::string counters(const Cluster& c) {
  std::string out;
  for (int i = 0; i < kNodes; ++i) {
    out += "n" + std::to_string(i) + " " + migration_of(*c.nodes[i]).dump() + "\n";
  }
  return out;
}

std::uint64_t seed_from_env() {
  if (const char* s = std::getenv("BRAID_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 10);
  }
  return static_cast<std::uint64_t>(wall_ns());
}

// What the test can honestly assert, given that braid requeues by design an
// attempt interrupted by a crash of braidd (docs: "An attempt interrupted by
// a braidd crash is requeued"):
//  - none lost: every task has an attempt that ended (its end line);
//  - no two attempts of a task ever overlap in time, on one node or two (a
//    killed node's orphaned attempts are ended by the restarted braidd
//    before it talks to peers, so an attempt without an end line lasted at
//    most until its node's restart);
//  - a task runs more than once only because of a crash: at most one of its
//    attempts was not hit by a kill -9 of the node it ran on (hit: the kill
//    came after its start, less 0.5 s for the start line to be written, and
//    before its end plus 1 s, the time the end takes to be reaped and
//    stored; a kill in that window may lose the record of a finished
//    attempt, which then runs again by design).
// A migration duplicate (a task adopted by two nodes, or run by the donor
// too) shows as a second attempt no kill explains, or as two overlapping
// attempts. Not asserted: that each task ended exactly once (an orphaned
// attempt can finish while its braidd is down, and is run again).
TEST(MigrationCrash, KillsOfTheDonorOrAReceiverLoseNoTaskAndRunNoneTwiceWithoutACrash) {
  const std::uint64_t seed = seed_from_env();
  std::printf("seed %llu (rerun with BRAID_TEST_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TempDir tmp;
  Ledger ledger(tmp.path() + "/ledger");
  // 15% of peer messages lost (every node, across restarts): handoffs wait
  // for retries (200 ms doubling), so more of them are in flight when a kill
  // comes.
  Cluster c({"--peer-drop-permille", "150"});
  ASSERT_TRUE(c.converged(15s));
  c.nodes[0]->cli_ok(ledger.submit());

  struct Kill {
    int node;
    std::int64_t killed_ns;
    std::int64_t restarting_ns;  // braidd spawned again: it ends the orphans, then runs tasks
    std::int64_t restarted_ns;   // it answers
  };
  std::vector<Kill> kills;
  constexpr int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    // Random moments: the chaos is paced by sleeps; nothing waits on them.
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 900));
    int victim = static_cast<int>(rng() % kNodes);  // 0: the donor
    if (rng() % 2 == 0) {
      // Every other round on average, a node with a handoff in flight (a
      // donor's migrating entry or a receiver's held adoption), if one shows
      // within 2 s.
      const int first = static_cast<int>(rng() % kNodes);
      eventually(
          [&] {
            for (int j = 0; j < kNodes; ++j) {
              const int n = (first + j) % kNodes;
              const auto m = migration_of(*c.nodes[n]);
              if (m.at("unresolved") != 0 || m.at("held") != 0) {
                victim = n;
                return true;
              }
            }
            return false;
          },
          2s, 1ms);
    }
    const auto down = std::chrono::milliseconds(rng() % 500);
    const auto before = migration_of(*c.nodes[victim]);  // handoffs in flight on the victim
    Kill k{victim, wall_ns(), 0, 0};
    c.nodes[victim]->kill9();
    std::this_thread::sleep_for(down);
    k.restarting_ns = wall_ns();
    c.nodes[victim]->restart();  // same data dir, same name, a new port
    k.restarted_ns = wall_ns();
    kills.push_back(k);
    std::printf(
        "round %d: kill -9 n%d (%s unresolved, %s held just before), down %lld ms, %zu tasks "
        "ended so far\n",
        round, victim, before.at("unresolved").dump().c_str(), before.at("held").dump().c_str(),
        static_cast<long long>(down.count()), ledger.ended());
  }

  ASSERT_TRUE(eventually([&] { return ledger.ended() >= kTasks; }, 90s, 50ms))
      << ledger.ended() << " of " << kTasks << " tasks ended\n"
      << counters(c);
  ASSERT_TRUE(eventually([&] { return all_resolved(c); }, 30s, 100ms)) << counters(c);

  const auto tasks = ledger.read();
  EXPECT_EQ(tasks.size(), static_cast<std::size_t>(kTasks));
  const std::int64_t t0 = kills.front().killed_ns;
  auto ms = [&](std::int64_t ns) { return std::to_string((ns - t0) / 1'000'000) + "ms"; };
  std::string kill_list;
  for (const Kill& k : kills) {
    kill_list += " n" + std::to_string(k.node) + " " + ms(k.killed_ns) + ".." + ms(k.restarted_ns);
  }
  auto describe = [&](const std::vector<Attempt>& attempts) {
    std::string out = "attempts (times from the first kill):";
    for (const Attempt& a : attempts) {
      out += " [n" + std::to_string(a.node) + " pid " + a.pid + " " + ms(a.start_ns) + ".." +
             (a.end_ns >= 0 ? ms(a.end_ns) : "killed") + "]";
    }
    return out + "; kills:" + kill_list;
  };
  // A start line is written a few ms after braidd spawned the attempt (the
  // shell starts, `date` runs): an attempt spawned just before a kill can log
  // its start just after it. Kills up to this long before a start line count.
  constexpr std::int64_t kStartLagNs = 500'000'000;
  int repeated = 0;
  for (const auto& [id, attempts] : tasks) {
    // The end of each attempt, known or bounded by its node's next restart
    // (braidd ends an earlier incarnation's processes before it starts any).
    auto end_of = [&](const Attempt& a) {
      if (a.end_ns >= 0) return a.end_ns;
      std::int64_t bound = std::numeric_limits<std::int64_t>::max();
      for (const Kill& k : kills) {
        if (k.node == a.node && k.killed_ns >= a.start_ns - kStartLagNs) {
          bound = std::min(bound, k.restarting_ns);
        }
      }
      return bound;
    };
    auto hit = [&](const Attempt& a) {
      const std::int64_t until =
          a.end_ns >= 0 ? a.end_ns + 1'000'000'000 : std::numeric_limits<std::int64_t>::max();
      return std::any_of(kills.begin(), kills.end(), [&](const Kill& k) {
        return k.node == a.node && k.killed_ns >= a.start_ns - kStartLagNs && k.killed_ns <= until;
      });
    };
    EXPECT_TRUE(std::any_of(attempts.begin(), attempts.end(),
                            [](const Attempt& a) { return a.end_ns >= 0; }))
        << id << " never ended";
    int not_hit = 0;
    for (std::size_t i = 0; i < attempts.size(); ++i) {
      ASSERT_GE(attempts[i].node, 0) << id << ": an attempt on no known node";
      not_hit += hit(attempts[i]) ? 0 : 1;
      for (std::size_t j = i + 1; j < attempts.size(); ++j) {
        const bool overlap = attempts[i].start_ns < end_of(attempts[j]) &&
                             attempts[j].start_ns < end_of(attempts[i]);
        EXPECT_FALSE(overlap) << id << ": attempts on n" << attempts[i].node << " and n"
                              << attempts[j].node << " overlap\n"
                              << describe(attempts);
      }
    }
    EXPECT_LE(not_hit, 1) << id << " ran " << attempts.size() << " times, " << not_hit
                          << " of them not hit by a kill\n"
                          << describe(attempts);
    repeated += attempts.size() > 1 ? 1 : 0;
  }
  for (const auto& d : c.nodes) EXPECT_EQ(migration_of(*d).at("forced_releases"), 0);
  std::printf("%zu kills; %d tasks ran more than once, each after a kill of its node\n%s",
              kills.size(), repeated, counters(c).c_str());
}

// No crash here, so each task must start exactly once and end exactly once.
// The partition is made to catch handoffs in flight: n1 stops sending to n0
// first, so its answers to n0's offers are lost (n1 holds adoptions that n0
// still journals as migrating); once n1 has adopted a task, n0 stops sending
// to n1 too. Healed after 3 s, every handoff must resolve.
TEST(MigrationPartition, TwoNodesThatCannotTalkMidHandoffLoseNoTaskAndRunNoneTwice) {
  TempDir tmp;
  Ledger ledger(tmp.path() + "/ledger");
  Cluster c;
  ASSERT_TRUE(c.converged());
  const std::string a0 = address_of(*c.nodes[0]);
  const std::string a1 = address_of(*c.nodes[1]);
  c.nodes[1]->cli_ok({"debug", "peer-faults", "--block", a0});
  c.nodes[0]->cli_ok(ledger.submit());
  ASSERT_TRUE(eventually([&] { return migration_of(*c.nodes[1]).at("adopted") > 0; }, 10s, 5ms))
      << counters(c);
  c.nodes[0]->cli_ok({"debug", "peer-faults", "--block", a1});
  const auto blocked_at = std::chrono::steady_clock::now();
  // The partition holds for 3 s (paced, not a synchronisation); tasks keep
  // running and n2 keeps taking work meanwhile.
  std::this_thread::sleep_for(3s);
  const auto n0_during = migration_of(*c.nodes[0]);
  const auto n1_during = migration_of(*c.nodes[1]);
  const auto during = counters(c);
  c.nodes[0]->cli_ok({"debug", "peer-faults", "--clear"});
  c.nodes[1]->cli_ok({"debug", "peer-faults", "--clear"});
  std::printf("partition n0 | n1 for %.1f s; counters then:\n%s",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - blocked_at).count(),
              during.c_str());
  // The handoffs to n1 were in flight across the partition.
  EXPECT_GT(n0_during.at("unresolved"), 0) << during;
  EXPECT_GT(n1_during.at("held"), 0) << during;

  ASSERT_TRUE(eventually([&] { return ledger.ended() >= kTasks; }, 60s, 50ms))
      << ledger.ended() << " of " << kTasks << " tasks ended\n"
      << counters(c);
  ASSERT_TRUE(eventually([&] { return all_resolved(c); }, 30s, 100ms)) << counters(c);
  const auto tasks = ledger.read();
  EXPECT_EQ(tasks.size(), static_cast<std::size_t>(kTasks));
  std::map<int, int> per_node;
  for (const auto& [id, attempts] : tasks) {
    ASSERT_EQ(attempts.size(), 1u) << id << " started " << attempts.size() << " times";
    EXPECT_GE(attempts[0].end_ns, 0) << id << " never ended";
    ++per_node[attempts[0].node];
  }
  for (const auto& d : c.nodes) EXPECT_EQ(migration_of(*d).at("forced_releases"), 0);
  std::printf("ran on n0 %d, n1 %d, n2 %d\n%s", per_node[0], per_node[1], per_node[2],
              counters(c).c_str());
}

TEST(MigrationDebug, PeerFaultsNeedAFlagAndPeers) {
  Daemon alone({"--listen", "off"});
  EXPECT_EQ(alone.cli({"debug"}).exit_code, 2);
  EXPECT_EQ(alone.cli({"debug", "peer-faults"}).exit_code, 2);
  EXPECT_EQ(alone.cli({"debug", "peer-faults", "--clear", "--block", "127.0.0.1:1"}).exit_code, 2);
  EXPECT_EQ(alone.cli({"debug", "peer-faults", "--drop-permille", "1001"}).exit_code, 2);
  const RunResult r = alone.cli({"debug", "peer-faults", "--clear"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no peers"), std::string::npos) << r.err;
  EXPECT_TRUE(alone.json({"stats", "--json"}).at("migration").is_null());
}

}  // namespace
}  // namespace braid::testing
