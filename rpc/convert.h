// Conversions between Cap'n Proto messages (rpc/control.capnp) and plain
// braid structs. Everything that comes off the wire is checked here against
// named limits before it reaches a node; the errors name the field.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rpc/control.capnp.h"
#include "rpc/control_backend.h"
#include "sched/result.h"
#include "sched/task.h"

namespace braid::rpc {

constexpr std::size_t kSpecsPerSubmitMax = 100'000;
constexpr std::size_t kIdsPerCallMax = 100'000;
constexpr std::size_t kArgvEntriesMax = 4096;
constexpr std::size_t kEnvEntriesMax = 4096;
constexpr std::size_t kAfterEntriesMax = 1024;
constexpr std::size_t kStringBytesMax = 128 * 1024;  // Linux's MAX_ARG_STRLEN
constexpr std::uint32_t kLogChunkBytesMax = 1 << 20;

// Wire -> braid. Checks shapes and limits (not the scheduling rules:
// sched::validate_spec and the torus do those).
sched::Result<sched::TaskSpec> from_wire(schema::TaskSpec::Reader spec);
// Each id must pass sched::validate_task_id (ids reach log paths).
sched::Result<std::vector<std::string>> ids_from_wire(capnp::List<capnp::Text>::Reader ids);
// A name glob (list, cancelWhere): at most kStringBytesMax bytes, no NUL.
sched::Result<std::string> name_glob_from_wire(capnp::Text::Reader glob);
// A submission's environment: at most kEnvEntriesMax "KEY=VALUE" entries.
sched::Result<std::shared_ptr<const sched::Environment>> env_from_wire(
    capnp::List<capnp::Text>::Reader env);
TaskView from_wire(schema::TaskInfo::Reader info);
PeerView from_wire(schema::PeerInfo::Reader info);
void to_wire(const PeerView& view, schema::PeerInfo::Builder out);
GossipCounters from_wire(schema::GossipCounters::Reader in);
void to_wire(const GossipCounters& counters, schema::GossipCounters::Builder out);
MigrationCounters from_wire(schema::MigrationCounters::Reader in);
void to_wire(const MigrationCounters& counters, schema::MigrationCounters::Builder out);
StatsView from_wire(schema::Stats::Reader stats);

// Operation enums, both ways. An enum value this build does not know (a newer
// client) comes back as nullopt, to be refused.
std::optional<PriorityOp> from_wire(schema::PriorityOp op);
std::optional<SchedulerOp> from_wire(schema::SchedulerOp op);
schema::PriorityOp to_wire(PriorityOp op);
schema::SchedulerOp to_wire(SchedulerOp op);

// braid -> wire.
void to_wire(const sched::TaskSpec& spec, schema::TaskSpec::Builder out);
void to_wire(const TaskView& task, schema::TaskInfo::Builder out);
void to_wire(const StatsView& stats, schema::Stats::Builder out);

}  // namespace braid::rpc
