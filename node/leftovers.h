// Leftovers: processes a previous incarnation of braidd started and could not
// end because it died (kill -9, OOM kill, power cut of the daemon only).
//
// end_leftovers() SIGKILLs what is left of each recorded attempt, and never a
// process that merely reused a recorded pid:
//  - the records must come from the same boot (boot_id): start times are
//    counted from boot;
//  - if the recorded leader is alive with the recorded start time, its whole
//    process group is killed (a live group's id cannot be reused);
//  - if the leader is gone, members of its group are killed only when no
//    process has the group's id as pid (so the group is still the recorded
//    one) and they started no earlier than the recorded leader.
// It then waits (up to `wait_us`) until none of them is running or stopped
// any more (zombies count as gone: they run nothing).
// Cgroup-mode attempts are ended by the executor at start (end_stale_tasks);
// their process groups are checked here as well.
#pragma once

#include <string>
#include <vector>

#include "sched/types.h"
#include "storage/task_record.h"

namespace braid::node {

// This boot's id (/proc/sys/kernel/random/boot_id), or "" if unreadable.
std::string current_boot_id();

// Returns how many processes were signalled.
std::size_t end_leftovers(const std::vector<storage::ProcessMark>& marks, sched::Micros wait_us);

}  // namespace braid::node
