// Reading /proc/<pid>/stat: a process's run state, process group and CPU
// times. Used by the executor in signals mode (CPU time of a task) and by
// tests (which processes of a group exist, are they stopped).
//
// Every reader returns std::nullopt when the process does not exist (any
// more) or the text does not parse; none of them throws.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sched/types.h"

namespace braid::node {

// The fields of /proc/<pid>/stat braid uses. Times are in clock ticks
// (sysconf(_SC_CLK_TCK) per second).
struct ProcStat {
  char state = '?';  // R running, S sleeping, D disk, T stopped, t traced, Z zombie, ...
  pid_t ppid = 0;
  pid_t pgrp = 0;
  std::uint64_t utime_ticks = 0;   // user time of the process itself
  std::uint64_t stime_ticks = 0;   // system time of the process itself
  std::uint64_t cutime_ticks = 0;  // user time of its waited-for children
  std::uint64_t cstime_ticks = 0;  // system time of its waited-for children
  std::uint64_t start_ticks = 0;   // when it started, after boot (tells pid reuse apart)

  // The process's own time plus that of every descendant it has reaped.
  std::uint64_t tree_ticks() const {
    return utime_ticks + stime_ticks + cutime_ticks + cstime_ticks;
  }
};

// Parses the text of a /proc/<pid>/stat file. The command name (field 2) is
// in parentheses and may itself contain ") ", so parsing starts after the
// last ')'.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// Reads a small /proc file whole; std::nullopt if it cannot be opened.
std::optional<std::string> read_small_file(const char* path);

// Reads and parses /proc/<pid>/stat.
std::optional<ProcStat> read_proc_stat(pid_t pid);

// Clock ticks to microseconds (sysconf(_SC_CLK_TCK), read once).
sched::Micros clock_ticks_to_us(std::uint64_t ticks);

// The child processes of `pid` (of all its threads), from
// /proc/<pid>/task/<tid>/children (needs CONFIG_PROC_CHILDREN; empty without
// it or when the process is gone).
std::vector<pid_t> list_children(pid_t pid);

// Every process whose process group is `pgid`, zombies included (scans
// /proc; cost grows with the number of processes on the host). Meant for
// tests and diagnostics, not for hot paths.
std::vector<pid_t> list_process_group(pid_t pgid);

}  // namespace braid::node
