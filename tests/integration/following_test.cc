// Following a task (issue 11 §4, docs/migration.md "Following a task"):
// real braidd processes on loopback with --migrate (and --io-aware off, so
// that a sleeping task keeps its slot and the next one must move).
// `braid logs` (and
// --follow) at a task's origin print the output of the node that ran it;
// `braid ps --cluster` lists every node's tasks, and a SIGSTOPped peer is
// reported unreachable instead of hanging the CLI.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> node_args(const std::string& name, const std::string& seed,
                                   std::vector<std::string> more) {
  std::vector<std::string> args = {"--name",           name,  "--listen", "127.0.0.1:0",
                                   "--gossip-profile", "fast"};
  if (!seed.empty()) args.insert(args.end(), {"--join", seed});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::string self_address(const Daemon& d) {
  for (const auto& m : d.json({"peers", "--json"})) {
    if (m.at("self").get<bool>()) return m.at("address").get<std::string>();
  }
  return "";
}

struct Trio {
  explicit Trio(std::vector<std::string> more) {
    nodes.push_back(std::make_unique<Daemon>(node_args("n0", "", more)));
    const std::string seed = self_address(*nodes[0]);
    for (int i = 1; i < 3; ++i) {
      nodes.push_back(std::make_unique<Daemon>(node_args("n" + std::to_string(i), seed, more)));
    }
  }
  bool converged() const {
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
        10s, 50ms);
  }
  Daemon& by_name(const std::string& name) { return *nodes.at(std::stoi(name.substr(1))); }
  std::vector<std::unique_ptr<Daemon>> nodes;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Submits `count` tasks of `script` (an --array; {} = the index) to n0, one
// slot per node, and returns the id of one that moved, with where it went.
std::pair<std::string, std::string> a_moved_task(Trio& t, int count, const std::string& script,
                                                 bool running_there = false) {
  const std::string ids = t.nodes[0]->cli_ok(
      {"submit", "--array", "1-" + std::to_string(count), "--", "sh", "-c", script});
  std::pair<std::string, std::string> found;
  eventually(
      [&] {
        for (const auto& task : t.nodes[0]->json({"ps", "--all", "--json"})) {
          if (task.at("moved_to").is_string()) {  // moved, or ended where it went
            if (running_there) {
              const auto there = t.by_name(task.at("moved_to").get<std::string>())
                                     .cli({"show", task.at("id").get<std::string>(), "--json"});
              if (there.exit_code != 0 || nlohmann::json::parse(there.out).at("state") != "running")
                continue;
            }
            found = {task.at("id").get<std::string>(), task.at("moved_to").get<std::string>()};
            return true;
          }
        }
        return false;
      },
      20s, 50ms);
  return found;
}

// `braid logs` at the origin of a task that ran elsewhere prints its output,
// and so does `braid logs` at a third node (it asks the origin's pointer).
TEST(Following, LogsAtTheOriginPrintTheOutputOfTheNodeThatRanIt) {
  Trio t({"--slots", "2", "--migrate", "--io-aware", "off"});
  ASSERT_TRUE(t.converged());
  auto [id, moved_to] = a_moved_task(t, 12, "echo out {} on $BRAID_NODE_MARK; sleep 0.5");
  ASSERT_FALSE(id.empty()) << t.nodes[0]->cli({"ps", "--all"}).out;
  std::string executor = moved_to;
  // Until the task ended where it runs (following its moves: a receiver may
  // have handed it on).
  ASSERT_TRUE(eventually(
      [&] {
        const RunResult r = t.by_name(executor).cli({"show", id, "--json"});
        if (r.exit_code != 0) return false;
        const auto task = nlohmann::json::parse(r.out);
        if (task.at("moved_to").is_string()) {
          executor = task.at("moved_to").get<std::string>();
          return false;
        }
        return task.at("state") == "completed";
      },
      30s, 50ms))
      << t.by_name(executor).cli({"show", id}).out;
  Daemon& runner = t.by_name(executor);
  // Its outcome comes home: the origin's record ends, its pointer names the executor.
  ASSERT_TRUE(
      eventually([&] { return t.nodes[0]->show(id).at("state") == "completed"; }, 10s, 20ms))
      << t.nodes[0]->cli({"show", id}).out;
  const std::string index = std::to_string(t.nodes[0]->show(id).at("array_index").get<int>());
  const RunResult at_origin = t.nodes[0]->cli({"logs", id});
  ASSERT_EQ(at_origin.exit_code, 0) << at_origin.err;
  EXPECT_EQ(at_origin.out.rfind("out " + index + " on ", 0), 0u) << at_origin.out;
  EXPECT_NE(at_origin.out.find("-" + executor + "-"), std::string::npos)
      << "ran on " << executor << ": " << at_origin.out;
  EXPECT_EQ(at_origin.out, runner.cli_ok({"logs", id}));
  const std::string third = executor == "n1" ? "n2" : "n1";
  const RunResult elsewhere = t.by_name(third).cli({"logs", id});
  ASSERT_EQ(elsewhere.exit_code, 0) << elsewhere.err;
  EXPECT_EQ(elsewhere.out, at_origin.out);
  // An unknown task of a live origin is refused with the origin's word.
  const RunResult unknown = t.nodes[1]->cli({"logs", "n0:999999"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("n0"), std::string::npos) << unknown.err;
}

// `braid logs --follow` at the origin streams a running remote task's output
// as it comes, and ends when the task ended where it runs.
TEST(Following, LogsFollowAtTheOriginStreamsARemoteTaskUntilItEnds) {
  Trio t({"--slots", "2", "--migrate", "--io-aware", "off"});
  ASSERT_TRUE(t.converged());
  TempDir tmp;
  const std::string gate = tmp.path() + "/go";
  // Each task prints, then waits for the gate file, then prints again.
  // Eight tasks on a two-slot node with two idle peers: some move, and the
  // one picked runs where it went (below).
  auto [id, executor] = a_moved_task(
      t, 8, "echo first {}; while [ ! -e " + gate + " ]; do sleep 0.05; done; echo second {}",
      /*running_there=*/true);
  ASSERT_FALSE(id.empty()) << t.nodes[0]->cli({"ps", "--all"}).out;
  const std::string out_path = tmp.path() + "/follow.out";
  const pid_t follower =
      spawn_logged({"/bin/sh", "-c",
                    "exec " + bin("braid") + " --socket " + t.nodes[0]->socket() + " logs " + id +
                        " --follow > " + out_path},
                   tmp.path() + "/follow.err");
  const std::string index = std::to_string(t.nodes[0]->show(id).at("array_index").get<int>());
  // The first line arrives while the task still runs (it waits for the gate).
  ASSERT_TRUE(eventually([&] { return read_file(out_path) == "first " + index + "\n"; }, 30s, 20ms))
      << read_file(out_path) << read_file(tmp.path() + "/follow.err");
  int status = 0;
  EXPECT_EQ(::waitpid(follower, &status, WNOHANG), 0) << "the follower ended before the task";
  std::ofstream(gate).put('\n');
  ASSERT_TRUE(
      eventually([&] { return ::waitpid(follower, &status, WNOHANG) == follower; }, 30s, 20ms));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status << " " << read_file(tmp.path() + "/follow.err");
  EXPECT_EQ(read_file(out_path), "first " + index + "\nsecond " + index + "\n");
}

// `braid run` on a busy node: its task may move to an idle peer; its output
// is streamed from wherever it runs, and run exits with the task's own code.
TEST(Following, RunOnABusyNodeStreamsFromThePeerThatRunsIt) {
  Trio t({"--slots", "2", "--migrate", "--io-aware", "off"});
  ASSERT_TRUE(t.converged());
  const std::string blocker = t.nodes[0]->submit({"--pin", "--", "sleep", "30"});
  ASSERT_TRUE(
      eventually([&] { return t.nodes[0]->show(blocker).at("state") == "running"; }, 10s, 20ms));
  const RunResult r = t.nodes[0]->cli(
      {"run", "--", "sh", "-c", "echo hi from $BRAID_NODE_MARK; echo oops >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out.rfind("hi from ", 0), 0u) << r.out;
  // Where it ran is the balancer's choice (since main 5b6d841 it often starts
  // on n0 itself: see the report); printed, not asserted.
  std::printf("braid run's task ran on %s", r.out.c_str());
  EXPECT_NE(r.out.find("oops"), std::string::npos) << r.out;  // merged stderr
}

// `braid ps --cluster` lists the tasks of every node, each once, with the
// node that holds it; a SIGSTOPped peer is reported on stderr within its
// deadline, and the rest is still listed (exit 0).
TEST(Following, PsClusterListsEveryNodesTasksAndReportsAStalledPeer) {
  Trio t({"--slots", "2", "--migrate", "--io-aware", "off"});
  ASSERT_TRUE(t.converged());
  std::map<std::string, std::string> where;  // id -> node
  for (int i = 0; i < 3; ++i) {
    const std::string id = t.nodes[i]->submit({"--pin", "--name", "pinned", "--", "sleep", "60"});
    where[id] = "n" + std::to_string(i);
  }
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& [id, node] : where) {
          if (t.by_name(node).show(id).at("state") != "running") return false;
        }
        return true;
      },
      10s, 20ms));
  const auto healthy_began = std::chrono::steady_clock::now();
  const RunResult r = t.nodes[0]->cli({"ps", "--cluster", "--json", "--name", "pinned"});
  const auto healthy_took = std::chrono::steady_clock::now() - healthy_began;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::printf("ps --cluster over 3 nodes: %lld us (the CLI's whole run)\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::microseconds>(healthy_took).count()));
  EXPECT_EQ(r.err, "");
  std::map<std::string, std::string> listed;
  for (const auto& task : nlohmann::json::parse(r.out)) {
    EXPECT_FALSE(listed.contains(task.at("id"))) << "listed twice: " << task.at("id");
    listed[task.at("id").get<std::string>()] = task.at("node").get<std::string>();
  }
  EXPECT_EQ(listed, where) << r.out;
  const std::string table = t.nodes[1]->cli_ok({"ps", "--cluster", "--name", "pinned"});
  EXPECT_EQ(table.rfind("ID ", 0), 0u) << table;
  EXPECT_NE(table.find(" NODE "), std::string::npos) << table;
  for (const auto& [id, node] : where) EXPECT_NE(table.find(id), std::string::npos) << table;

  // A stalled peer: asked, no answer within the deadline, reported.
  ASSERT_EQ(::kill(t.nodes[2]->pid(), SIGSTOP), 0);
  const auto began = std::chrono::steady_clock::now();
  const RunResult stalled = t.nodes[0]->cli({"ps", "--cluster", "--json", "--name", "pinned"});
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_EQ(::kill(t.nodes[2]->pid(), SIGCONT), 0);
  EXPECT_EQ(stalled.exit_code, 0) << stalled.err;
  EXPECT_LT(took, 10s);  // the CLI's own answer timeout is 30 s: a hang would reach it
  EXPECT_NE(stalled.err.find("n2"), std::string::npos) << stalled.err;
  std::set<std::string> nodes;
  for (const auto& task : nlohmann::json::parse(stalled.out)) {
    nodes.insert(task.at("node").get<std::string>());
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"n0", "n1"})) << stalled.out;
  std::printf(
      "ps --cluster with a SIGSTOPped peer answered in %lld ms: %s",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
      stalled.err.c_str());
}

// Tasks that moved are listed once, from the node that holds them.
TEST(Following, PsClusterListsAMovedTaskOnceWhereItIs) {
  Trio t({"--slots", "2", "--migrate", "--io-aware", "off"});
  ASSERT_TRUE(t.converged());
  auto [id, executor] = a_moved_task(t, 12, "sleep 5");
  ASSERT_FALSE(id.empty());
  const RunResult r = t.nodes[0]->cli({"ps", "--cluster", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int rows = 0;
  std::string node;
  for (const auto& task : nlohmann::json::parse(r.out)) {
    if (task.at("id") != id) continue;
    ++rows;
    node = task.at("node").get<std::string>();
  }
  EXPECT_EQ(rows, 1) << r.out;
  EXPECT_NE(node, "n0") << r.out;
}

}  // namespace
}  // namespace braid::testing
