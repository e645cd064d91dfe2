// How the `braid` CLI prints: aligned tables for people, stable JSON for
// scripts (field names documented in docs/cli.md; never renamed).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rpc/control_backend.h"

namespace braid::node {

// "2026-11-22T04:25:05.123456Z"; empty for 0 (never).
std::string iso_time(sched::Micros epoch_us);

nlohmann::json task_json(const rpc::TaskView& task);
nlohmann::json tasks_json(const std::vector<rpc::TaskView>& tasks);  // an array of task_json
nlohmann::json stats_json(const rpc::StatsView& stats);
nlohmann::json peers_json(const rpc::PeersView& peers);
nlohmann::json gossip_json(const rpc::GossipCounters& gossip);

// One row per task: ID STATE PRI CPU ATTEMPTS NAME COMMAND.
std::string task_table(const std::vector<rpc::TaskView>& tasks);
// ps --cluster: the same with NODE (the node that holds the task) after ID.
std::string cluster_task_table(const std::vector<rpc::TaskView>& tasks);
// "key: value" lines, aligned.
std::string task_details(const rpc::TaskView& task);
std::string stats_table(const rpc::StatsView& stats);
// One row per member: NAME ADDRESS STATE INC QUEUED RUNNING SLOTS FREE AGE.
std::string peers_table(const rpc::PeersView& peers);
// "gossip: ..." (one line, for `braid stats`).
std::string gossip_line(const rpc::GossipCounters& gossip);
// `braid stats`' migration section (docs/migration.md).
nlohmann::json migration_json(const rpc::MigrationCounters& migration);
std::string migration_line(const rpc::MigrationCounters& migration);

}  // namespace braid::node
