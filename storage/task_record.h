// TaskRecord: what the node stores about one task, and its byte encoding.
//
// A record is the torus's durable view of a task (sched::Task's id, spec,
// state, reason, exit, attempts, preemptions, cpu_time_us, vruntime_ns, its
// times, node_requeues and the migration fields hops, moved_to, adopted_from,
// refusals) plus what only the node knows: the record number it is stored
// under and, while an attempt is started, which processes belong to it.
//
// Times in a stored Task are the daemon's torus times, which are wall-clock
// anchored microseconds (see node/daemon.h), so they stay meaningful across
// restarts. Torus bookkeeping fields (queue_seq, deps_remaining, dependents,
// slice_start_us, ...) are not stored; restore rebuilds them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sched/result.h"
#include "sched/task.h"

namespace braid::storage {

// The processes of a started attempt, as recorded when it started. Lets the
// next incarnation end leftovers without hitting a process that merely reused
// the pid: the leader must still have the same start time.
struct ProcessMark {
  std::int32_t pgid = 0;          // process group (= leader pid); 0 = none recorded
  std::uint64_t start_ticks = 0;  // leader's start time, field 22 of /proc/<pid>/stat
  std::string cgroup;             // the attempt's cgroup path; empty in signals mode

  bool operator==(const ProcessMark&) const = default;
};

struct TaskRecord {
  std::uint64_t record_no = 0;        // key in the store; node-local admission order, never reused
  sched::Task task;                   // durable fields only (see above)
  ProcessMark process;                // meaningful while task.state is running or stopped
  sched::Micros measured_cpu_us = 0;  // CPU its processes used in ended attempts (cpu.stat, /proc)
  // The environment its spec starts from (Store::put_env), shared with the
  // rest of its submission; 0 = none (the daemon's own). The node resolves it
  // to task.spec.base_env; the codec stores only this id.
  std::uint64_t env_id = 0;
};

// Bounds of the migration fields (issue 11) in a stored record; the refusal
// bounds are sched::kRefusalsKept and sched::kRefusalReasonBytesMax.
constexpr int kHopsMax = 255;
constexpr std::size_t kNodeNameBytesMax = 255;  // moved_to, adopted_from, a refusal's node

// Encodes a record's value (record_no is the key, not part of the value).
// Versioned: the first byte is the format version.
std::string encode_task(const TaskRecord& record);

// Decodes a value written by encode_task into `out` (out.record_no is left
// as the caller set it). Never trusts the bytes: truncation, a bad version,
// an out-of-range enum or length is an Error naming what was wrong.
sched::Status decode_task(std::string_view bytes, TaskRecord& out);

}  // namespace braid::storage
