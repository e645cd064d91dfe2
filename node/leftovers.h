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
//
// end_marked_processes() finds what no record names: an attempt spawned just
// before the daemon died, whose `running` record (with its process mark)
// never reached the log. Every task process carries BRAID_NODE_MARK=<mark>
// in its environment (ExecutorConfig::node_mark: one node, one data dir), so
// at start every process whose /proc/<pid>/environ holds this node's mark
// belongs to an earlier incarnation: it is SIGKILLed with its process group.
// Limits (signals mode; in cgroup mode the stale-cgroup sweep ends the whole
// tree, and this sweep only adds to it):
//  - /proc/<pid>/environ is the environment the process was exec'ed with: a
//    process exec'ed with a cleared or rewritten environment (`env -i`,
//    execve with its own envp) carries no mark. It is still ended when it
//    stays in the process group of a marked process or of a recorded attempt;
//    one that also left the group (setsid) escapes.
//  - Only processes this user may read (ptrace read access) are seen; a
//    task's processes are always the daemon's user's.
//  - A process that left its task's group while the task ran (setsid, a
//    daemonized helper) and outlived the task is ended at the next start:
//    nothing braid spawned outlives a restart.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "node/clock.h"
#include "sched/types.h"
#include "storage/task_record.h"

namespace braid::node {

// This boot's id (/proc/sys/kernel/random/boot_id), or "" if unreadable.
std::string current_boot_id();

// Returns how many processes were signalled.
// `wait_us` is measured on `clock`.
std::size_t end_leftovers(const std::vector<storage::ProcessMark>& marks, const Clock& clock,
                          sched::Micros wait_us);

// Whether an environment block as in /proc/<pid>/environ ("K=V\0K=V\0...",
// the last terminator optional) holds the entry `entry` ("K=V") exactly.
bool environ_has(std::string_view block, std::string_view entry);

// The live (not zombie) processes whose environment holds
// BRAID_NODE_MARK=<node_mark>, braidd itself excluded. Scans /proc.
std::vector<pid_t> find_marked_processes(std::string_view node_mark);

struct MarkedSweep {
  std::size_t processes_scanned = 0;  // /proc entries looked at by the first scan
  std::size_t signalled = 0;          // distinct processes SIGKILLed
  std::size_t survivors = 0;          // still running when wait_us was over
  sched::Micros took_us = 0;          // the whole sweep, waiting included
};

// SIGKILLs every process find_marked_processes() names, and its process group
// unless that group is the daemon's own or its leader lives without the mark
// (a group the task joined, not its own); then scans again (catching
// processes forked meanwhile) until none is left running, or `wait_us` passed
// (each survivor is logged). An empty `node_mark` does nothing.
MarkedSweep end_marked_processes(std::string_view node_mark, const Clock& clock,
                                 sched::Micros wait_us);

}  // namespace braid::node
