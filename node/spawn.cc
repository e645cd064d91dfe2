#include "node/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <utility>

namespace braid::node {
namespace {

// A descriptor of the caller's at 3 or above, so that the dup2 actions onto
// 0/1/2 cannot clobber it (the daemon may run with a standard fd closed).
// Owns the duplicate it made, if any.
class HighFd {
 public:
  explicit HighFd(int fd) : fd_(fd) {
    if (fd_ >= 0 && fd_ <= 2) {
      fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      owned_ = fd_ >= 0;
    }
  }
  HighFd(const HighFd&) = delete;
  HighFd& operator=(const HighFd&) = delete;
  ~HighFd() {
    if (owned_) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
  bool owned_ = false;
};

// posix_spawn's two attribute objects, destroyed on every path.
struct SpawnAttributes {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnAttributes() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  ~SpawnAttributes() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
};

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

std::string_view env_key(std::string_view entry) {
  return entry.substr(0, std::min(entry.find('='), entry.size()));
}

}  // namespace

sched::Result<pid_t> spawn_process(const SpawnRequest& request) {
  if (request.argv.empty()) return sched::Error{std::strerror(EINVAL)};

  const HighFd out(request.stdout_fd);
  const HighFd err(request.stderr_fd);
  if ((request.stdout_fd >= 0 && out.get() < 0) || (request.stderr_fd >= 0 && err.get() < 0)) {
    return sched::Error{std::string("dup: ") + std::strerror(errno)};
  }

  SpawnAttributes spawn;
  // The outputs were opened by the caller, in the daemon, so the chdir cannot move them.
  int rc = posix_spawn_file_actions_addopen(&spawn.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  auto output = [&](int fd, int target) {
    if (rc != 0) return;
    rc = fd >= 0
             ? posix_spawn_file_actions_adddup2(&spawn.actions, fd, target)
             : posix_spawn_file_actions_addopen(&spawn.actions, target, "/dev/null", O_WRONLY, 0);
  };
  output(out.get(), STDOUT_FILENO);
  output(err.get(), STDERR_FILENO);
  if (rc == 0 && !request.cwd.empty()) {
    rc = posix_spawn_file_actions_addchdir_np(&spawn.actions, request.cwd.c_str());
  }

  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t default_signals;
  sigfillset(&default_signals);
  sigdelset(&default_signals, SIGKILL);
  sigdelset(&default_signals, SIGSTOP);
  if (rc == 0) {
    rc = posix_spawnattr_setflags(
        &spawn.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  if (rc == 0) rc = posix_spawnattr_setpgroup(&spawn.attr, 0);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&spawn.attr, &empty_mask);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&spawn.attr, &default_signals);
  if (rc != 0) return sched::Error{std::strerror(rc)};

  std::vector<char*> argv = c_strings(request.argv);
  std::vector<char*> envp = c_strings(request.envp);
  pid_t pid = 0;
  rc = ::posix_spawnp(&pid, argv[0], &spawn.actions, &spawn.attr, argv.data(), envp.data());
  if (rc != 0) return sched::Error{std::strerror(rc)};
  return pid;
}

std::vector<std::string> task_environment(const char* const* base,
                                          const std::vector<std::string>& overrides,
                                          std::string_view task_id, std::string_view node_mark) {
  std::vector<std::string> entries;
  std::unordered_map<std::string, std::size_t> index_by_key;
  auto put = [&](std::string entry) {
    std::string key(env_key(entry));
    auto [it, inserted] = index_by_key.try_emplace(std::move(key), entries.size());
    if (inserted) {
      entries.push_back(std::move(entry));
    } else {
      entries[it->second] = std::move(entry);
    }
  };
  for (const char* const* e = base; e != nullptr && *e != nullptr; ++e) put(*e);
  for (const std::string& entry : overrides) put(entry);
  put("BRAID_TASK_ID=" + std::string(task_id));
  if (!node_mark.empty()) put(std::string(kNodeMarkVariable) + "=" + std::string(node_mark));
  return entries;
}

}  // namespace braid::node
