// Starting one task process: posix_spawnp into a fresh process group, with
// clean signal state, stdin from /dev/null and stdout/stderr onto descriptors
// the caller opened (its output files, see output_files.h).
// Knows nothing about tasks' lifecycles; the executor builds the request.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sched/result.h"

namespace braid::node {

struct SpawnRequest {
  std::vector<std::string> argv;  // never empty; argv[0] is looked up in the *daemon's* PATH
  std::vector<std::string> envp;  // the complete environment, "KEY=VALUE"
  std::string cwd;                // empty: the daemon's working directory
  int stdout_fd = -1;             // borrowed, stays open; -1 = /dev/null
  int stderr_fd = -1;             // borrowed (may equal stdout_fd: merged); -1 = /dev/null
  int cgroup_fd = -1;             // borrowed cgroup v2 directory (O_PATH): start the child in it
};

struct Spawned {
  pid_t pid = -1;
  bool in_cgroup = false;  // started inside request.cgroup_fd (else the caller moves it)
};

// Starts the process described by `request`:
//  - in a new process group whose id is the child's pid (POSIX_SPAWN_SETPGROUP 0),
//  - with an empty signal mask and every catchable signal back at its default
//    disposition (the daemon ignores SIGPIPE, and ignored signals survive exec),
//  - stdin /dev/null, stdout/stderr dup'ed from stdout_fd/stderr_fd, the
//    working directory `cwd`.
// The child inherits no descriptor this function opens (all are O_CLOEXEC
// until dup'ed onto 0/1/2); other descriptors of the daemon must be
// close-on-exec themselves.
// With a cgroup_fd, the child starts inside that cgroup (spawn_clone.h);
// where the kernel or the platform cannot do that, it is spawned as without
// one and in_cgroup is false.
// Returns the child's pid once it has exec'ed (the spawn waits for that),
// or an Error whose message is the reason, ready for
// ExitStatus::spawn_failed: strerror text for a failed exec/chdir (e.g. "No
// such file or directory").
sched::Result<Spawned> spawn_process(const SpawnRequest& request);

// The variable that marks every task process with its node and data dir
// (see leftovers.h: end_marked_processes).
inline constexpr std::string_view kNodeMarkVariable = "BRAID_NODE_MARK";

// The environment of a task: the entries of `base` (a NULL-terminated array
// like `environ`), with each "KEY=VALUE" of `overrides` replacing the entry of
// the same KEY or appended, and finally BRAID_TASK_ID=<task_id> and, when
// `node_mark` is not empty, BRAID_NODE_MARK=<node_mark> (neither can be
// overridden). Order of first appearance is kept.
std::vector<std::string> task_environment(const char* const* base,
                                          const std::vector<std::string>& overrides,
                                          std::string_view task_id,
                                          std::string_view node_mark = {});

}  // namespace braid::node
