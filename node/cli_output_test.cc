#include "node/cli_output.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

rpc::TaskView sample() {
  rpc::TaskView t;
  t.id = "alpha:7";
  t.name = "build";
  t.state = sched::TaskState::kFailed;
  t.node = "alpha";
  t.priority = 6;
  t.argv = {"make", "-j2"};
  t.exit = sched::ExitStatus::exited(3);
  t.reason = "exit 3";
  t.cpu_time_us = 1'500'000;
  t.submitted_at_us = 1'700'000'000'123'456;
  return t;
}

TEST(CliOutput, TaskJsonHasTheDocumentedFields) {
  nlohmann::json j = task_json(sample());
  for (const char* field : {"id", "name", "state", "node", "priority", "argv", "exit_code",
                            "signal", "reason", "cpu_time_micros", "vruntime", "preemptions",
                            "attempts", "submitted_at", "started_at", "finished_at"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_TRUE(j["signal"].is_null());
  EXPECT_TRUE(j["started_at"].is_null());
  EXPECT_EQ(j["submitted_at"], "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(j["argv"], nlohmann::json::array({"make", "-j2"}));
}

TEST(CliOutput, ShowSaysWhereATaskMovedAndWhoRefusedIt) {
  rpc::TaskView t = sample();
  EXPECT_EQ(task_details(t).find("migration:"), std::string::npos);  // never moved: no line
  EXPECT_EQ(task_json(t)["moved_to"], nullptr);
  EXPECT_EQ(task_json(t)["refusals"], nlohmann::json::array());
  t.hops = 1;
  t.moved_to = "beta";
  t.refusals = {{"gamma", "no such program: make"}};
  const std::string details = task_details(t);
  EXPECT_NE(details.find("1 hop, moved to beta"), std::string::npos) << details;
  EXPECT_NE(details.find("refused by:    gamma: no such program: make"), std::string::npos)
      << details;
  const nlohmann::json j = task_json(t);
  EXPECT_EQ(j["hops"], 1);
  EXPECT_EQ(j["moved_to"], "beta");
  EXPECT_EQ(j["refusals"][0]["node"], "gamma");
}

TEST(CliOutput, ShowPrintsTheNodeLabelsATaskNeeds) {
  rpc::TaskView t = sample();
  EXPECT_EQ(task_details(t).find("node_labels:"), std::string::npos);
  EXPECT_EQ(task_json(t)["node_labels"], nlohmann::json::object());
  t.constraints = {{"gpu", "1"}, {"zone", "a"}};
  const std::string details = task_details(t);
  EXPECT_NE(details.find("node_labels:   gpu=1,zone=a"), std::string::npos) << details;
  EXPECT_EQ(task_json(t)["node_labels"], (nlohmann::json{{"gpu", "1"}, {"zone", "a"}}));
}

TEST(CliOutput, TableIsAligned) {
  rpc::TaskView other = sample();
  other.id = "alpha:10000";
  std::string table = task_table({sample(), other});
  std::vector<std::size_t> state_columns;
  std::size_t pos = 0;
  while (pos < table.size()) {
    std::size_t end = table.find('\n', pos);
    std::string line = table.substr(pos, end - pos);
    std::size_t col =
        line.find("STATE") != std::string::npos ? line.find("STATE") : line.find("failed");
    state_columns.push_back(col);
    pos = end + 1;
  }
  ASSERT_EQ(state_columns.size(), 3u);
  EXPECT_EQ(state_columns[0], state_columns[1]);
  EXPECT_EQ(state_columns[1], state_columns[2]);
}

TEST(CliOutput, StatsJsonKeepsOperatorFieldNames) {
  rpc::StatsView v;
  v.torus.total_scheduled = 4;
  v.executor = "signals";
  nlohmann::json j = stats_json(v);
  for (const char* field : {"total_scheduled", "context_switches", "preemptions",
                            "active_processes", "policy", "quantum_micros", "executor"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  EXPECT_EQ(j["total_scheduled"], 4);
}

TEST(CliOutput, ClusterTableHasANodeColumnAfterTheId) {
  rpc::TaskView a = sample();
  rpc::TaskView b = sample();
  b.id = "alpha:8";
  b.node = "beta-2";
  const std::string table = cluster_task_table({a, b});
  EXPECT_EQ(table.rfind("ID       NODE    STATE", 0), 0u) << table;
  EXPECT_NE(table.find("alpha:8  beta-2  failed"), std::string::npos) << table;
}

TEST(CliOutput, MigrationCountersShowWhatIsUnresolved) {
  rpc::MigrationCounters m;
  m.enabled = true;
  m.offers_made = 3;
  m.unresolved = 1;
  m.held = 2;
  m.outcomes_owed = 4;
  const nlohmann::json j = migration_json(m);
  EXPECT_EQ(j["offers_made"], 3);
  EXPECT_EQ(j["unresolved"], 1);
  EXPECT_EQ(j["held"], 2);
  EXPECT_EQ(j["outcomes_owed"], 4);
  EXPECT_NE(migration_line(m).find("now 1 unresolved, 2 held"), std::string::npos);
  EXPECT_NE(migration_line(m).find("4 owed"), std::string::npos);
}

TEST(CliOutput, StatsShowTheNodesLabels) {
  rpc::StatsView v;
  EXPECT_EQ(stats_json(v)["labels"], nlohmann::json::object());
  EXPECT_EQ(stats_table(v).find("labels:"), std::string::npos);
  v.labels = {{"gpu", "1"}, {"zone", "a"}};
  EXPECT_EQ(stats_json(v)["labels"], (nlohmann::json{{"gpu", "1"}, {"zone", "a"}}));
  EXPECT_NE(stats_table(v).find("gpu=1,zone=a"), std::string::npos) << stats_table(v);
}

}  // namespace
}  // namespace braid::node
