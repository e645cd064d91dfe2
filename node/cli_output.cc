#include "node/cli_output.h"

#include <fmt/format.h>

#include <ctime>
#include <utility>

#include "sched/duration.h"

namespace braid::node {
namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ' ';
    out += p;
  }
  return out;
}

std::string seconds(sched::Micros us) {
  return fmt::format("{:.2f}s", static_cast<double>(us) / 1e6);
}

std::string exit_text(const rpc::TaskView& t) {
  if (!t.exit) return "-";
  return t.exit->describe();
}

std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

nlohmann::json time_or_null(sched::Micros us) {
  return us == 0 ? nlohmann::json(nullptr) : nlohmann::json(iso_time(us));
}

}  // namespace

std::string iso_time(sched::Micros epoch_us) {
  if (epoch_us == 0) return "";
  const std::time_t secs = static_cast<std::time_t>(epoch_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06d}Z", buffer, epoch_us % 1'000'000);
}

nlohmann::json task_json(const rpc::TaskView& t) {
  nlohmann::json j;
  j["id"] = t.id;
  j["name"] = t.name;
  j["state"] = std::string(sched::to_string(t.state));
  j["node"] = t.node;
  j["priority"] = t.priority;
  j["argv"] = t.argv;
  using Kind = sched::ExitStatus::Kind;
  j["exit_code"] = t.exit && t.exit->kind == Kind::kExited ? nlohmann::json(t.exit->code)
                                                           : nlohmann::json(nullptr);
  j["signal"] = t.exit && t.exit->kind == Kind::kSignaled ? nlohmann::json(t.exit->code)
                                                          : nlohmann::json(nullptr);
  j["reason"] = t.reason;
  j["cpu_time_micros"] = t.cpu_time_us;
  j["run_time_micros"] = t.run_time_us;
  j["vruntime"] = t.vruntime_ns;
  j["preemptions"] = t.preemptions;
  j["attempts"] = t.attempts;
  j["retries"] = t.retries;
  j["cpus"] = t.cpus;
  j["pid"] = t.pid == 0 ? nlohmann::json(nullptr) : nlohmann::json(t.pid);
  j["submitted_at"] = time_or_null(t.submitted_at_us);
  j["started_at"] = time_or_null(t.started_at_us);
  j["finished_at"] = time_or_null(t.finished_at_us);
  j["array_index"] = t.array_index < 0 ? nlohmann::json(nullptr) : nlohmann::json(t.array_index);
  j["node_requeues"] = t.node_requeues;
  j["account"] = t.account;
  j["hops"] = t.hops;
  j["moved_to"] = t.moved_to.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.moved_to);
  j["adopted_from"] =
      t.adopted_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.adopted_from);
  nlohmann::json refusals = nlohmann::json::array();
  for (const sched::Refusal& r : t.refusals) {
    refusals.push_back({{"node", r.node}, {"reason", r.reason}});
  }
  j["refusals"] = std::move(refusals);
  nlohmann::json needs = nlohmann::json::object();  // --node-label KEY=VALUE (issue 11 §2)
  for (const sched::Label& l : t.constraints) needs[l.key] = l.value;
  j["node_labels"] = std::move(needs);
  return j;
}

nlohmann::json tasks_json(const std::vector<rpc::TaskView>& tasks) {
  nlohmann::json j = nlohmann::json::array();
  for (const rpc::TaskView& t : tasks) j.push_back(task_json(t));
  return j;
}

nlohmann::json stats_json(const rpc::StatsView& v) {
  using sched::TaskState;
  const sched::TorusStats& s = v.torus;
  nlohmann::json j;
  j["node"] = v.node;
  j["total_scheduled"] = s.total_scheduled;
  j["context_switches"] = s.context_switches;
  j["preemptions"] = s.preemptions;
  j["active_processes"] = s.active_processes;
  j["policy"] = std::string(sched::to_string(s.policy));
  j["quantum_micros"] = s.quantum_micros;
  j["paused"] = s.paused;
  j["slots"] = s.slots;
  j["slots_busy"] = s.slots_busy;
  j["executor"] = v.executor;
  nlohmann::json tasks;
  for (TaskState st :
       {TaskState::kPending, TaskState::kQueued, TaskState::kRunning, TaskState::kStopped,
        TaskState::kCompleted, TaskState::kFailed, TaskState::kCancelled, TaskState::kHeld}) {
    tasks[std::string(sched::to_string(st))] = s.count(st);
  }
  j["tasks"] = tasks;
  j["uptime_micros"] = v.uptime_us;
  j["slice_count"] = v.slice_count;
  j["slice_error_p50_micros"] = v.slice_error_p50_us;
  j["slice_error_p99_micros"] = v.slice_error_p99_us;
  j["memory_total_bytes"] = v.memory_total_bytes;
  j["memory_limits"] = v.memory_limits;
  j["memory_started_bytes"] = v.torus.memory_started_bytes;
  j["memory_available_bytes"] = v.torus.memory_available_bytes;
  j["blocked"] = v.torus.blocked;
  j["io_aware"] = v.io_aware;
  nlohmann::json labels = nlohmann::json::object();  // braidd --label (issue 11 §2)
  for (const sched::Label& l : v.labels) labels[l.key] = l.value;
  j["labels"] = std::move(labels);
  return j;
}

std::string task_table(const std::vector<rpc::TaskView>& tasks) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "STATE", "PRI", "CPU", "ATTEMPTS", "EXIT", "NAME", "COMMAND"}};
  for (const rpc::TaskView& t : tasks) {
    rows.push_back({t.id, std::string(sched::to_string(t.state)), std::to_string(t.priority),
                    seconds(t.cpu_time_us), std::to_string(t.attempts), exit_text(t),
                    t.name.empty() ? "-" : t.name, join(t.argv)});
  }
  return aligned(rows);
}

std::string cluster_task_table(const std::vector<rpc::TaskView>& tasks) {
  std::vector<std::vector<std::string>> rows{
      {"ID", "NODE", "STATE", "PRI", "CPU", "ATTEMPTS", "EXIT", "NAME", "COMMAND"}};
  for (const rpc::TaskView& t : tasks) {
    rows.push_back({t.id, t.node, std::string(sched::to_string(t.state)),
                    std::to_string(t.priority), seconds(t.cpu_time_us), std::to_string(t.attempts),
                    exit_text(t), t.name.empty() ? "-" : t.name, join(t.argv)});
  }
  return aligned(rows);
}

std::string task_details(const rpc::TaskView& t) {
  auto or_dash = [](std::string s) { return s.empty() ? std::string("-") : s; };
  std::vector<std::vector<std::string>> rows{
      {"id:", t.id},
      {"name:", or_dash(t.name)},
      {"state:", std::string(sched::to_string(t.state))},
      {"node:", t.node},
      {"priority:", std::to_string(t.priority)},
      {"account:", or_dash(t.account)},
      {"argv:", join(t.argv)},
      {"exit:", exit_text(t)},
      {"reason:", or_dash(t.reason)},
      {"cpu_time:", seconds(t.cpu_time_us)},
      {"run_time:", seconds(t.run_time_us)},
      {"vruntime:", std::to_string(t.vruntime_ns / 1000) + "us"},
      {"preemptions:", std::to_string(t.preemptions)},
      {"attempts:",
       std::to_string(t.attempts) + " (retries " + std::to_string(t.retries) + ")" +
           (t.node_requeues > 0 ? ", requeued " + std::to_string(t.node_requeues) + "x by crashes"
                                : "")},
      {"pid:", t.pid == 0 ? "-" : std::to_string(t.pid)},
      {"submitted_at:", or_dash(iso_time(t.submitted_at_us))},
      {"started_at:", or_dash(iso_time(t.started_at_us))},
      {"finished_at:", or_dash(iso_time(t.finished_at_us))},
  };
  // Migration, only when it moved or was refused (docs/migration.md).
  if (t.hops > 0 || !t.moved_to.empty() || !t.adopted_from.empty()) {
    std::string moves = std::to_string(t.hops) + (t.hops == 1 ? " hop" : " hops");
    if (!t.adopted_from.empty()) moves += ", adopted from " + t.adopted_from;
    if (!t.moved_to.empty()) moves += ", moved to " + t.moved_to;
    rows.push_back({"migration:", moves});
  }
  for (const sched::Refusal& r : t.refusals) {
    rows.push_back({"refused by:", r.node + ": " + r.reason});
  }
  if (!t.constraints.empty()) rows.push_back({"node_labels:", sched::format_labels(t.constraints)});
  return aligned(rows);
}

std::string stats_table(const rpc::StatsView& v) {
  using sched::TaskState;
  const sched::TorusStats& s = v.torus;
  std::vector<std::vector<std::string>> rows{
      {"node:", v.node},
      {"policy:", std::string(sched::to_string(s.policy)) + (s.paused ? " (paused)" : "")},
      {"quantum:", sched::format_duration(s.quantum_micros)},
      {"slots:", std::to_string(s.slots_busy) + "/" + std::to_string(s.slots) + " busy"},
      {"executor:", v.executor},
      {"total_scheduled:", std::to_string(s.total_scheduled)},
      {"context_switches:", std::to_string(s.context_switches)},
      {"preemptions:", std::to_string(s.preemptions)},
      {"active_processes:", std::to_string(s.active_processes)},
      {"blocked:", fmt::format("{} running tasks lend their slots (io-aware {})", s.blocked,
                               v.io_aware ? "on" : "off")},
      {"tasks:", fmt::format("{} pending, {} queued, {} running, {} stopped, {} completed, {} "
                             "failed, {} cancelled, {} held",
                             s.count(TaskState::kPending), s.count(TaskState::kQueued),
                             s.count(TaskState::kRunning), s.count(TaskState::kStopped),
                             s.count(TaskState::kCompleted), s.count(TaskState::kFailed),
                             s.count(TaskState::kCancelled), s.count(TaskState::kHeld))},
      {"slice error:", fmt::format("p50 {}us, p99 {}us over {} slices", v.slice_error_p50_us,
                                   v.slice_error_p99_us, v.slice_count)},
      {"uptime:", seconds(v.uptime_us)},
      {"memory:", fmt::format("{} MiB total, {} MiB in started tasks, {} MiB available, limits {}",
                              v.memory_total_bytes >> 20, v.torus.memory_started_bytes >> 20,
                              v.torus.memory_available_bytes >> 20, v.memory_limits)},
  };
  if (!v.labels.empty()) rows.push_back({"labels:", sched::format_labels(v.labels)});
  return aligned(rows);
}

nlohmann::json peers_json(const rpc::PeersView& peers) {
  nlohmann::json members = nlohmann::json::array();
  for (const rpc::PeerView& m : peers.members) {
    members.push_back({{"name", m.name},
                       {"address", m.address},
                       {"state", m.state},
                       {"incarnation", m.incarnation},
                       {"queued", m.queued},
                       {"running", m.running},
                       {"blocked", m.blocked},
                       {"slots", m.slots},
                       {"free_slots", m.free_slots},
                       {"top_queued_priority", m.top_queued_priority},
                       {"accepting", m.accepting},
                       {"age_ms", m.age_us < 0 ? nlohmann::json(nullptr)
                                               : nlohmann::json(m.age_us / sched::kMicrosPerMilli)},
                       {"self", m.is_self}});
  }
  return members;
}

std::string peers_table(const rpc::PeersView& peers) {
  std::vector<std::vector<std::string>> rows{
      {"NAME", "ADDRESS", "STATE", "INC", "QUEUED", "RUNNING", "SLOTS", "FREE", "AGE"}};
  for (const rpc::PeerView& m : peers.members) {
    rows.push_back({m.name + (m.is_self ? " (self)" : ""), m.address, m.state,
                    std::to_string(m.incarnation), std::to_string(m.queued),
                    std::to_string(m.running), std::to_string(m.slots),
                    std::to_string(m.free_slots),
                    m.age_us < 0 ? "-" : fmt::format("{}ms", m.age_us / sched::kMicrosPerMilli)});
  }
  return aligned(rows);
}

nlohmann::json gossip_json(const rpc::GossipCounters& g) {
  return {{"messages_sent", g.messages_sent},
          {"messages_received", g.messages_received},
          {"bytes_sent", g.bytes_sent},
          {"bytes_received", g.bytes_received},
          {"dropped", g.dropped},
          {"probes", g.probes},
          {"suspicions_raised", g.suspicions_raised},
          {"deaths_declared", g.deaths_declared},
          {"refutations", g.refutations},
          {"refused_auth", g.refused_auth},
          {"invalid", g.invalid},
          {"health_score", g.health_score},
          {"timer_fires", g.timer_fires},
          {"timer_late_10ms", g.timer_late_10ms},
          {"timer_late_max_us", g.timer_late_max_us}};
}

nlohmann::json migration_json(const rpc::MigrationCounters& m) {
  return {{"enabled", m.enabled},
          {"offers_made", m.offers_made},
          {"moved_away", m.moved_away},
          {"refused_by_peers", m.refused_by_peers},
          {"reclaimed", m.reclaimed},
          {"adopted", m.adopted},
          {"released", m.released},
          {"discarded", m.discarded},
          {"refused_by_us", m.refused_by_us},
          {"unresolved", m.unresolved},
          {"held", m.held},
          {"outcomes_owed", m.outcomes_owed},
          {"outcomes_applied", m.outcomes_applied},
          {"outcomes_unexpected", m.outcomes_unexpected},
          {"forced_releases", m.forced_releases}};
}

std::string migration_line(const rpc::MigrationCounters& m) {
  return fmt::format(
      "migration:         {} offered, {} moved away, {} refused by peers, {} reclaimed; {} "
      "adopted, {} released, {} discarded, {} refused here; now {} unresolved, {} held; "
      "outcomes: {} owed, {} applied, {} unexpected; {} forced releases\n",
      m.offers_made, m.moved_away, m.refused_by_peers, m.reclaimed, m.adopted, m.released,
      m.discarded, m.refused_by_us, m.unresolved, m.held, m.outcomes_owed, m.outcomes_applied,
      m.outcomes_unexpected, m.forced_releases);
}

std::string gossip_line(const rpc::GossipCounters& g) {
  return fmt::format(
      "gossip:            {} messages / {} bytes sent, {} / {} received, {} dropped, {} "
      "suspicions raised, {} deaths declared, {} refutations, health {}, timer late max "
      "{:.1f} ms\n",
      g.messages_sent, g.bytes_sent, g.messages_received, g.bytes_received, g.dropped,
      g.suspicions_raised, g.deaths_declared, g.refutations, g.health_score,
      static_cast<double>(g.timer_late_max_us) / 1000.0);
}

}  // namespace braid::node
