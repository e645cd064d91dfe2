#include "node/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>

#include "node/spawn_clone.h"

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

// Where execvp would look for `program`, in order: itself if it names a
// path, else each directory of the daemon's PATH ("" is the current one).
std::vector<std::string> exec_candidates(const std::string& program) {
  if (program.find('/') != std::string::npos) return {program};
  const char* path = std::getenv("PATH");
  const std::string_view dirs = path != nullptr ? path : "/bin:/usr/bin";
  std::vector<std::string> candidates;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t end = std::min(dirs.find(':', begin), dirs.size());
    const std::string_view dir = dirs.substr(begin, end - begin);
    candidates.push_back((dir.empty() ? std::string(".") : std::string(dir)) + "/" + program);
    if (end == dirs.size()) break;
    begin = end + 1;
  }
  return candidates;
}

// /dev/null, close-on-exec, at 3 or above.
class DevNull {
 public:
  explicit DevNull(int flags) {
    fd_ = ::open("/dev/null", flags | O_CLOEXEC);
    if (fd_ >= 0 && fd_ <= 2) {
      const int high = ::fcntl(fd_, F_DUPFD_CLOEXEC, 3);
      ::close(fd_);
      fd_ = high;
    }
  }
  DevNull(const DevNull&) = delete;
  DevNull& operator=(const DevNull&) = delete;
  ~DevNull() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// The spawn into request.cgroup_fd; nullopt when no child could be made
// that way (the caller spawns without it).
std::optional<sched::Result<Spawned>> spawn_into_cgroup(const SpawnRequest& request, int out_fd,
                                                        int err_fd) {
  if (request.argv.front().empty()) {  // as execvp: no file has an empty name
    return sched::Result<Spawned>(sched::Error{std::strerror(ENOENT)});
  }
  const DevNull in(O_RDONLY);
  std::optional<DevNull> null_out;
  if (out_fd < 0 || err_fd < 0) null_out.emplace(O_WRONLY);
  if (in.get() < 0 || (null_out && null_out->get() < 0)) return std::nullopt;
  const std::vector<std::string> candidates = exec_candidates(request.argv.front());
  std::vector<const char*> paths;
  for (const std::string& c : candidates) paths.push_back(c.c_str());
  paths.push_back(nullptr);
  std::vector<char*> argv = c_strings(request.argv);
  std::vector<char*> envp = c_strings(request.envp);
  ChildPlan plan;
  plan.paths = paths.data();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.stdin_fd = in.get();
  plan.stdout_fd = out_fd >= 0 ? out_fd : null_out->get();
  plan.stderr_fd = err_fd >= 0 ? err_fd : null_out->get();
  plan.cwd = request.cwd.empty() ? nullptr : request.cwd.c_str();
  const long pid = clone_into_cgroup(plan, request.cgroup_fd);
  if (pid < 0) return std::nullopt;
  if (plan.error != 0) {
    int status = 0;
    while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
    }
    return sched::Result<Spawned>(sched::Error{std::strerror(plan.error)});
  }
  return sched::Result<Spawned>(Spawned{static_cast<pid_t>(pid), true});
}

}  // namespace

sched::Result<Spawned> spawn_process(const SpawnRequest& request) {
  if (request.argv.empty()) return sched::Error{std::strerror(EINVAL)};

  const HighFd out(request.stdout_fd);
  const HighFd err(request.stderr_fd);
  if ((request.stdout_fd >= 0 && out.get() < 0) || (request.stderr_fd >= 0 && err.get() < 0)) {
    return sched::Error{std::string("dup: ") + std::strerror(errno)};
  }
  if (request.cgroup_fd >= 0) {
    if (auto spawned = spawn_into_cgroup(request, out.get(), err.get())) return *spawned;
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
  return Spawned{pid, false};
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
