// One crash run of the migration simulator (issue 11 §6), from one seed.
// A few nodes (2 slots each); tasks of 50 ms..1 s submitted to one or two of
// them over the first 3 s; for fault_window_us: message loss, duplication
// and reordering at rates drawn per run, random crashes (restarted 50 ms..4 s
// later), crashes right after a handoff message arrives, partitions between
// random halves, and false deaths (a live node declared dead for a while).
// Then the network heals, every node restarts, and the run goes on until
// the cluster settles (msim_check.h) or settle_deadline_us; check_world()
// gives the verdict. The same seed replays the same run exactly.
#pragma once

#include <cstdint>
#include <string>

#include "tests/sim/msim_world.h"

namespace braid::msim {

struct CrashRunOptions {
  std::uint64_t seed = 1;
  std::size_t nodes = 5;
  Micros fault_window_us = 15 * kMicrosPerSecond;
  Micros settle_deadline_us = 600 * kMicrosPerSecond;  // after the faults end
  int target_backlog = 0;  // BalanceConfig::target_backlog; receivers refuse at it
};

struct CrashRunResult {
  std::string failure;  // "" = every check held
  std::size_t tasks = 0;
  std::uint64_t migrations = 0;  // handoffs completed (donor side)
  std::uint64_t crashes = 0;
  std::uint64_t false_deaths = 0;
  std::uint64_t partitions = 0;
  std::uint64_t requeues = 0;  // starts lost to crashes
  Micros settled_us = -1;      // virtual time when settled; -1: never
};

CrashRunResult crash_run(const CrashRunOptions& options);

}  // namespace braid::msim
