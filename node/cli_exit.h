// The exit codes of the `braid` CLI, and the code a finished task passes on
// (`braid run`, `braid wait` on one task, `braid submit --wait`). Pure.
#pragma once

#include <vector>

#include "rpc/control_backend.h"

namespace braid::node {

constexpr int kExitFailed = 1;         // a task did not complete (several tasks), or never ran
constexpr int kExitUsage = 2;          // bad usage, or input the daemon refused
constexpr int kExitUnreachable = 3;    // no daemon answers on the socket
constexpr int kExitSpawnFailed = 127;  // the program could not be started (as a shell says)
constexpr int kExitTimedOut = 124;     // `--timeout` ran out (as timeout(1) says)

// A finished task's own code: 0 when it completed; its exit code; 128+N when
// signal N ended it; kExitSpawnFailed when it never started its program;
// kExitFailed when no attempt ever ran (cancelled while waiting, a failed
// dependency) or when it is not finished.
int task_exit_code(const rpc::TaskView& task);

// `braid wait`'s code for finished tasks: one task passes on its own code;
// several give 0 only if all completed, else kExitFailed.
int wait_exit_code(const std::vector<rpc::TaskView>& tasks);

}  // namespace braid::node
