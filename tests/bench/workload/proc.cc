#include "tests/bench/workload/proc.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace braid::bench::workload {

namespace {

std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('=') + 1);
    bool overridden = false;
    for (const auto& x : extra) overridden = overridden || x.compare(0, name.size(), name) == 0;
    if (!overridden) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

pid_t spawn_shell(const std::string& script, const std::vector<std::string>& env,
                  const std::string& out_path) {
  const std::vector<std::string> argv = {"/bin/sh", "-c", script};
  const auto full_env = environment_with(env);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : full_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.empty() ? "/dev/null" : out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, args.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot spawn /bin/sh: " + std::string(std::strerror(rc)));
  return pid;
}

int wait_exit(pid_t pid, Clock::time_point deadline, const std::string& what) {
  // Polls with a short sleep: makespans are seconds, 1 ms of slack is noise.
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) throw std::runtime_error(what + ": waitpid failed: " + std::strerror(errno));
    if (Clock::now() >= deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      throw std::runtime_error(what + ": did not finish before its deadline (killed)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int run_shell(const std::string& script, std::chrono::seconds timeout, const std::string& what,
              const std::vector<std::string>& env, const std::string& out_path) {
  const auto deadline = Clock::now() + timeout;
  return wait_exit(spawn_shell(script, env, out_path), deadline, what);
}

std::string run_shell_ok(const std::string& script, std::chrono::seconds timeout,
                         const std::string& what, const std::string& scratch,
                         const std::vector<std::string>& env) {
  const std::string out_path = scratch + ".out";
  const int code = run_shell(script, timeout, what, env, out_path);
  std::ifstream in(out_path);
  std::stringstream s;
  s << in.rdbuf();
  std::remove(out_path.c_str());
  if (code != 0) throw std::runtime_error(what + ": exited " + std::to_string(code));
  return s.str();
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::vector<double> finish_times(const std::vector<pid_t>& pids, Clock::time_point start,
                                 Clock::time_point deadline, const std::string& what) {
  std::vector<double> done(pids.size(), -1);
  std::size_t left = pids.size();
  while (left > 0) {
    for (std::size_t i = 0; i < pids.size(); ++i) {
      if (done[i] >= 0) continue;
      int status = 0;
      if (waitpid(pids[i], &status, WNOHANG) != pids[i]) continue;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(what + ": a waiter reported a failure");
      }
      done[i] = seconds_since(start);
      --left;
    }
    if (left > 0 && Clock::now() >= deadline) {
      for (std::size_t i = 0; i < pids.size(); ++i) {
        if (done[i] < 0) wait_exit(pids[i], Clock::now(), what);  // kills and throws
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling, bounded
  }
  return done;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace braid::bench::workload
