#include "node/spawn_clone.h"

#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace braid::node {
namespace {

// errno values after which execvp tries the next PATH entry.
[[maybe_unused]] bool try_next_path(int error) {
  return error == ENOENT || error == ENOTDIR || error == EACCES || error == ENODEV ||
         error == ESTALE || error == ETIMEDOUT;
}

[[gnu::noinline, maybe_unused]] int child_main(void* argument) {
  ChildPlan& plan = *static_cast<ChildPlan*>(argument);
  // Handlers are the caller's code on the caller's memory: none may run here.
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  for (int signal = 1; signal < NSIG; ++signal) {
    if (signal != SIGKILL && signal != SIGSTOP) ::sigaction(signal, &default_action, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  int error = 0;
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0 || ::setpgid(0, 0) != 0 ||
      ::dup2(plan.stdin_fd, STDIN_FILENO) < 0 || ::dup2(plan.stdout_fd, STDOUT_FILENO) < 0 ||
      ::dup2(plan.stderr_fd, STDERR_FILENO) < 0 ||
      (plan.cwd != nullptr && ::chdir(plan.cwd) != 0)) {
    error = errno;
  } else {
    bool denied = false;
    error = ENOENT;
    for (const char* const* path = plan.paths; *path != nullptr; ++path) {
      ::execve(*path, plan.argv, plan.envp);
      error = errno;
      denied = denied || error == EACCES;
      if (!try_next_path(error)) break;
    }
    if (try_next_path(error) && denied) error = EACCES;
  }
  plan.error = error;  // the caller reads it once this child has exited
  ::syscall(SYS_exit, 127);
  return 127;
}

}  // namespace

// Sanitizers cannot follow a child that runs on the caller's memory and a
// stack of its own: their builds spawn and then move the child.
#if BRAID_CLONES_INTO_CGROUP

long clone_into_cgroup(ChildPlan& plan, int cgroup_fd) {
  // In this frame: the calling thread is suspended until the child execs
  // or exits (CLONE_VFORK), so nothing else uses it meanwhile.
  alignas(64) char stack[32 * 1024];
  clone_args args = {};
  args.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.stack = reinterpret_cast<std::uintptr_t>(stack);
  args.stack_size = sizeof(stack);
  args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
  plan.error = 0;

  // No handler may run in the child before it has reset them all.
  sigset_t all, previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &previous);
  // The child starts on `stack` (the kernel points rsp at its top) and calls
  // child_main(&plan), which never returns; only rax, rcx and r11 differ
  // after a syscall, so fn and its argument travel in r12 and r13.
  register long rax asm("rax") = SYS_clone3;
  register clone_args* rdi asm("rdi") = &args;
  register long rsi asm("rsi") = sizeof(args);
  register int (*r12)(void*) asm("r12") = child_main;
  register ChildPlan* r13 asm("r13") = &plan;
  asm volatile(
      "syscall\n\t"
      "test %%rax, %%rax\n\t"
      "jnz 1f\n\t"
      "xor %%ebp, %%ebp\n\t"
      "mov %%r13, %%rdi\n\t"
      "call *%%r12\n\t"
      "ud2\n\t"
      "1:\n\t"
      : "+r"(rax)
      : "r"(rdi), "r"(rsi), "r"(r12), "r"(r13)
      : "rcx", "r11", "memory");
  // Copied out at once: a register variable holds its register only in the asm.
  const long result = rax;
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return result;
}

#else

long clone_into_cgroup(ChildPlan&, int) { return -ENOSYS; }

#endif

}  // namespace braid::node
