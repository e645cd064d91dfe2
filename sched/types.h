// Basic vocabulary of the torus: time, task keys and the named limits every
// other sched/ header relies on. Pure values, no behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace braid::sched {

// Logical time and durations in microseconds. The torus never reads a clock:
// every call that needs "now" takes it as an argument.
using Micros = std::int64_t;

constexpr Micros kMicrosPerMilli = 1'000;
constexpr Micros kMicrosPerSecond = 1'000'000;

// Dense handle of a task inside one Torus. Stable for the task's lifetime in
// that Torus; the cluster-wide name of a task is its TaskId string.
using TaskKey = std::uint32_t;
constexpr TaskKey kNoTask = std::numeric_limits<TaskKey>::max();

// Priorities: higher runs first. Clamped, never wrapped.
constexpr int kPriorityMin = 0;
constexpr int kPriorityMax = 10;
constexpr int kPriorityDefault = 5;
constexpr int kPriorityLevels = kPriorityMax - kPriorityMin + 1;

// Quantum: how long a task keeps a slot before others may take it.
constexpr Micros kQuantumMinUs = 1 * kMicrosPerMilli;
constexpr Micros kQuantumMaxUs = 1 * kMicrosPerSecond;
constexpr Micros kQuantumDefaultUs = 10 * kMicrosPerMilli;

// Fair window: CPU time, in quanta, a waiting task must be owed before it
// preempts a running one (torus.h). Chosen from measurements: docs/benchmarks.md.
constexpr std::uint32_t kFairWindowDefaultQuanta = 100;
constexpr std::uint32_t kFairWindowMaxQuanta = 100'000;

// Accounts a node holds tasks of (Torus::check refuses a new one beyond
// it): a decision looks at every account with queued tasks.
constexpr std::size_t kAccountsMax = 1000;

// Retries: at most this many re-runs after the first attempt.
constexpr int kRetriesMax = 100;
constexpr Micros kRetryBackoffDefaultUs = 1 * kMicrosPerSecond;
constexpr Micros kRetryBackoffMaxUs = 3600 * kMicrosPerSecond;

// Longest time limit a task may ask for (keeps every deadline far from overflow).
constexpr Micros kTimeLimitMaxUs = 366LL * 24 * 3600 * kMicrosPerSecond;

// Tasks a Torus can hold at once (TaskKey space, with room for kNoTask).
constexpr std::uint32_t kTasksMax = 1u << 30;

static_assert(kPriorityDefault >= kPriorityMin && kPriorityDefault <= kPriorityMax);
static_assert(kQuantumDefaultUs >= kQuantumMinUs && kQuantumDefaultUs <= kQuantumMaxUs);
static_assert(kRetryBackoffDefaultUs <= kRetryBackoffMaxUs);

}  // namespace braid::sched
