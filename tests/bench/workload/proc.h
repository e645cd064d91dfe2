// Launching the workload benchmark's commands: `/bin/sh -c SCRIPT` in its own
// process group, stdout to a file or /dev/null, every wait bounded by a
// deadline (past it the whole group is killed and the wait throws).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/bench/bench_util.h"

namespace braid::bench::workload {

using Clock = std::chrono::steady_clock;

// Spawns /bin/sh -c `script` with this process's environment plus `env`
// (NAME=VALUE, overriding), stdin /dev/null, stdout to `out_path` ("" =
// /dev/null), stderr inherited, in a new process group. Throws if it cannot.
pid_t spawn_shell(const std::string& script, const std::vector<std::string>& env = {},
                  const std::string& out_path = "");

// Waits for `pid` until `deadline`; returns its exit code (128 + signal).
// Past the deadline kills its process group and throws, naming `what`.
int wait_exit(pid_t pid, Clock::time_point deadline, const std::string& what);

// spawn_shell + wait_exit; returns the exit code.
int run_shell(const std::string& script, std::chrono::seconds timeout, const std::string& what,
              const std::vector<std::string>& env = {}, const std::string& out_path = "");

// run_shell that must exit 0; returns its stdout (via a file beside `scratch`).
std::string run_shell_ok(const std::string& script, std::chrono::seconds timeout,
                         const std::string& what, const std::string& scratch,
                         const std::vector<std::string>& env = {});

// `s` quoted for /bin/sh (single quotes).
std::string shell_quote(const std::string& s);

// Seconds from `start` at which each of `pids` exited 0 (polled every 1 ms).
// Throws, naming `what`, when one exits otherwise, or past `deadline` (after
// killing the process groups of those still running).
std::vector<double> finish_times(const std::vector<pid_t>& pids, Clock::time_point start,
                                 Clock::time_point deadline, const std::string& what);

// Seconds since `start`.
double seconds_since(Clock::time_point start);

}  // namespace braid::bench::workload
