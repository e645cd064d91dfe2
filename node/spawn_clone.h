// Starting a child directly inside a cgroup: clone3(CLONE_VM | CLONE_VFORK |
// CLONE_INTO_CGROUP) on a stack of its own, then, in the child, what
// posix_spawnp does: every signal back at its default disposition, an empty
// signal mask, a new process group, stdin/stdout/stderr dup'ed, the working
// directory changed, and execve of each candidate path in turn.
//
// Why not posix_spawn and a move: glibc 2.36 cannot spawn into a cgroup, and
// moving the child after its exec costs braidd's loop a cgroup migration
// (~130 us on average under load, up to tens of ms waiting for RCU) and lets
// the task fork before it is moved.
//
// The child shares the caller's memory until it execs (the calling thread
// is suspended meanwhile, other threads are not): it calls only
// async-signal-safe functions and never allocates. x86-64 only, and not in
// sanitizer builds; elsewhere clone_into_cgroup() returns -ENOSYS and the
// caller spawns another way.
#pragma once

#include <sys/types.h>

// Sanitizers cannot follow a child that runs on the caller's memory and a
// stack of its own: their builds spawn and then move the child.
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define BRAID_CLONES_INTO_CGROUP 1
#else
#define BRAID_CLONES_INTO_CGROUP 0
#endif

namespace braid::node {

// Whether this build can spawn into a cgroup at all (the kernel may still
// refuse: then clone_into_cgroup() returns -EINVAL or -ENOSYS).
inline constexpr bool kClonesIntoCgroup = BRAID_CLONES_INTO_CGROUP;

struct ChildPlan {
  const char* const* paths = nullptr;  // execve candidates, in order, nullptr-terminated
  char* const* argv = nullptr;         // nullptr-terminated
  char* const* envp = nullptr;         // nullptr-terminated
  int stdin_fd = -1;                   // each >= 3, close-on-exec: dup'ed onto 0, 1, 2
  int stdout_fd = -1;
  int stderr_fd = -1;
  const char* cwd = nullptr;  // nullptr: the caller's
  int error = 0;              // out: set by a child that could not exec (errno), then it exits 127
};

// The child's pid once it has exec'ed or given up (plan.error then says
// why, and the caller reaps it), or -errno when no child was made (e.g.
// -ENOSYS, -EINVAL on kernels without CLONE_INTO_CGROUP, -EACCES).
// `cgroup_fd`: the cgroup v2 directory, opened O_PATH | O_DIRECTORY.
long clone_into_cgroup(ChildPlan& plan, int cgroup_fd);

}  // namespace braid::node
