// The three scheduling policies and the one ordering they share.
//
// Every runnable task gets a rank (major, seq); the lowest rank runs first.
// seq is a global enqueue counter, so equal majors are served first-in
// first-out.
//   RoundRobin: major = 0                 -> plain FIFO, fixed quantum
//   Priority  : major = 10 - priority     -> highest priority first, FIFO within a level
//   Fair      : major = vruntime_ns       -> lowest weighted virtual runtime first
//
// Fair weights follow Linux's nice table (about 1.25x per level): priority 5
// has weight 1024, priority p has the weight of nice (5 - p). Running for
// `us` microseconds adds us * 1000 * 1024 / weight to vruntime_ns.
#pragma once

#include <cstdint>
#include <string_view>

#include "sched/result.h"
#include "sched/types.h"

namespace braid::sched {

enum class Policy : std::uint8_t { kRoundRobin, kPriority, kFair };

// "RoundRobin", "Priority", "Fair".
std::string_view to_string(Policy policy);
// Accepts the names above in any letter case (and "rr"); the error names the
// allowed values: unknown policy "Fiar": use RoundRobin, Priority or Fair.
Result<Policy> parse_policy(std::string_view name);

// Fair weight of a priority (kPriorityMin..kPriorityMax); 1024 at the default.
std::uint32_t fair_weight(int priority);
// Virtual runtime gained by running `us` microseconds at `priority`.
std::uint64_t vruntime_delta_ns(Micros us, int priority);

// CPU time a waiting task at `priority` is owed when its vruntime trails a
// running task's by `lag_ns`: the inverse of vruntime_delta_ns, in ns.
std::uint64_t owed_cpu_ns(std::uint64_t lag_ns, int priority);

// The rank's major part for a task under a policy (see the table above).
std::uint64_t rank_major(Policy policy, int priority, std::uint64_t vruntime_ns);
// The run-queue level a task lives in: one per priority, except RoundRobin
// which keeps a single FIFO. Levels keep each sub-queue nearly sorted by
// arrival so pushes and pops stay O(1) (see run_queue.h).
int rank_level(Policy policy, int priority);

}  // namespace braid::sched
