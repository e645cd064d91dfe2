// Node labels (issue 11 §2, as Slurm's --constraint): real braidd processes
// gossiping on loopback with --migrate. A task submitted with --node-label
// runs only on a node that has the label: one submitted to a node without it
// moves to one that has it; one that no node has stays queued where it was
// submitted, says why, and can be cancelled.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> node_args(const std::string& name, const std::string& seed,
                                   std::vector<std::string> more) {
  std::vector<std::string> args = {"--name",           name,   "--listen", "127.0.0.1:0",
                                   "--gossip-profile", "fast", "--slots",  "2"};
  if (!seed.empty()) args.insert(args.end(), {"--join", seed});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::string address_of(const Daemon& d) {
  for (const auto& m : d.json({"peers", "--json"})) {
    if (m.at("self").get<bool>()) return m.at("address").get<std::string>();
  }
  return "";
}

bool sees_alive(const Daemon& d, const std::string& name) {
  const RunResult r = d.cli({"peers", "--json"});
  if (r.exit_code != 0) return false;
  for (const auto& m : nlohmann::json::parse(r.out)) {
    if (m.at("name") == name && m.at("state") == "alive") return true;
  }
  return false;
}

std::string field(const Daemon& d, const std::string& id, const char* name) {
  const RunResult r = d.cli({"show", id, "--json"});
  if (r.exit_code != 0) return "(unknown)";
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json& task = j.is_array() ? j.at(0) : j;
  return task.at(name).is_string() ? task.at(name).get<std::string>() : task.at(name).dump();
}

nlohmann::json shown(const Daemon& d, const std::string& id) {
  const nlohmann::json j = d.show(id);
  return j.is_array() ? j.at(0) : j;
}

// Two nodes with --migrate; only b has gpu=1.
struct TwoNodes {
  TwoNodes() {
    a = std::make_unique<Daemon>(node_args("a", "", {"--migrate", "--label", "zone=x"}));
    b = std::make_unique<Daemon>(
        node_args("b", address_of(*a), {"--migrate", "--label", "gpu=1", "--label", "zone=x"}));
  }
  bool converged() const {
    return eventually([&] { return sees_alive(*a, "b") && sees_alive(*b, "a"); }, 10s, 50ms);
  }
  std::unique_ptr<Daemon> a, b;
};

TEST(Labels, ATaskNeedingALabelRunsOnTheNodeThatHasIt) {
  TwoNodes c;
  ASSERT_TRUE(c.converged());
  // a is idle (2 free slots), yet the task does not run there.
  const std::string id = c.a->submit({"--node-label", "gpu=1", "--node-label", "zone=x", "--", "sh",
                                      "-c", "echo ran on $BRAID_NODE_MARK"});
  ASSERT_TRUE(eventually([&] { return field(*c.b, id, "state") == "completed"; }, 20s, 20ms))
      << "on a: " << c.a->show(id).dump() << "\non b: " << c.b->cli({"show", id, "--json"}).out;
  // Its outcome went home: a shows it completed, and where it ran.
  ASSERT_TRUE(eventually([&] { return field(*c.a, id, "state") == "completed"; }, 10s, 20ms));
  const nlohmann::json on_a = shown(*c.a, id);
  EXPECT_EQ(on_a.at("moved_to"), "b") << on_a.dump();
  EXPECT_EQ(on_a.at("attempts"), 1) << on_a.dump();  // the executor's, reported home
  EXPECT_EQ(on_a.at("node_labels"), (nlohmann::json{{"gpu", "1"}, {"zone", "x"}}));
  const nlohmann::json on_b = shown(*c.b, id);
  EXPECT_EQ(on_b.at("attempts"), 1) << on_b.dump();
  EXPECT_EQ(on_b.at("adopted_from"), "a") << on_b.dump();
  EXPECT_NE(c.a->cli_ok({"show", id}).find("node_labels:"), std::string::npos);
  EXPECT_EQ(c.b->json({"stats", "--json"}).at("labels"),
            (nlohmann::json{{"gpu", "1"}, {"zone", "x"}}));
  const std::string out = c.b->cli_ok({"logs", id});
  EXPECT_NE(out.find("ran on braid-b-"), std::string::npos) << out;
}

TEST(Labels, ATaskNoNodeCanRunStaysQueuedWithItsReasonAndIsCancellable) {
  TwoNodes c;
  ASSERT_TRUE(c.converged());
  const std::string id = c.a->submit({"--node-label", "fpga=1", "--", "true"});
  // b refuses the offer, naming the label; the task waits on a, queued.
  ASSERT_TRUE(eventually(
      [&] {
        const nlohmann::json t = shown(*c.a, id);
        return t.at("state") == "queued" && !t.at("refusals").empty();
      },
      20s, 20ms))
      << c.a->show(id).dump();
  const nlohmann::json t = shown(*c.a, id);
  EXPECT_EQ(t.at("refusals").at(0).at("node"), "b");
  EXPECT_EQ(t.at("refusals").at(0).at("reason"), "needs node label fpga=1; this node has none");
  EXPECT_EQ(t.at("reason"),
            "needs node label fpga=1; this node has none: waits to move to a node that has it");
  EXPECT_EQ(t.at("attempts"), 0);
  EXPECT_NE(c.b->cli({"show", id}).exit_code, 0);  // b never adopted it
  c.a->cli_ok({"cancel", id});
  ASSERT_TRUE(eventually([&] { return field(*c.a, id, "state") == "cancelled"; }, 10s, 20ms))
      << c.a->show(id).dump();
}

TEST(Labels, WithoutMigrateATaskThatLacksALabelHereWaitsAndSaysSo) {
  Daemon d({"--label", "gpu=0", "--no-migrate"});
  const std::string id = d.submit({"--node-label", "gpu=1", "--", "true"});
  const nlohmann::json t = shown(d, id);
  EXPECT_EQ(t.at("state"), "queued");
  EXPECT_EQ(t.at("reason"),
            "needs node label gpu=1; this node has gpu=0: waits (braidd runs without --migrate, "
            "so it never moves)");
  // A task it satisfies runs as usual; --pin with a label missing here is refused.
  const std::string ok = d.submit({"--node-label", "gpu=0", "--", "true"});
  EXPECT_TRUE(eventually([&] { return field(d, ok, "state") == "completed"; }));
  const RunResult pinned = d.cli({"submit", "--pin", "--node-label", "gpu=1", "--", "true"});
  EXPECT_NE(pinned.exit_code, 0);
  EXPECT_NE(pinned.err.find("a pinned task that needs node label gpu=1; this node has gpu=0"),
            std::string::npos)
      << pinned.err;
  const RunResult array =
      d.cli({"submit", "--array", "0-3%2", "--node-label", "gpu=1", "--", "true"});
  EXPECT_EQ(array.exit_code, 2);
  EXPECT_NE(array.err.find("a throttled array's task that needs node label gpu=1"),
            std::string::npos)
      << array.err;
  // Restarted with the label, it runs the waiting task.
  EXPECT_EQ(d.terminate(), 0);
  std::vector<std::string> argv = d.argv();
  std::replace(argv.begin(), argv.end(), std::string("gpu=0"), std::string("gpu=1"));
  d.restart_with(argv);
  EXPECT_TRUE(eventually([&] { return field(d, id, "state") == "completed"; }))
      << d.show(id).dump();
}

TEST(Labels, BadLabelsAreOneLineAndExit2) {
  Daemon d;
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"submit", "--node-label", "gpu", "--", "true"},
        std::vector<std::string>{"submit", "--node-label", "gpu=1", "--node-label", "gpu=2", "--",
                                 "true"},
        std::vector<std::string>{"run", "--node-label", "g pu=1", "--", "true"}}) {
    const RunResult r = d.cli(bad);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--node-label"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const RunResult daemon = run({bin("braidd"), "--name", "x", "--label", "gpu"});
  EXPECT_EQ(daemon.exit_code, 2);
  EXPECT_EQ(daemon.err,
            "braidd: --label: label \"gpu\" must look like KEY=VALUE, each 1..63 of A-Z a-z 0-9 . "
            "_ -\n");
}

}  // namespace
}  // namespace braid::testing
