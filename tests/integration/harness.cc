#include "tests/integration/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "node/proc_stat.h"

extern char** environ;

namespace braid::testing {
namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string bin(const std::string& name) { return std::string(BRAID_BIN_DIR) + "/" + name; }

TempDir::TempDir() {
  // $TMPDIR unless the control socket path below it would pass the 107
  // bytes a unix socket allows.
  const char* tmpdir = std::getenv("TMPDIR");
  std::string base = tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp";
  if (base.size() > 64) base = "/tmp";
  std::string pattern = base + "/braid-it-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

RunResult run(const std::vector<std::string>& argv) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid = -1;
  auto args = c_argv(argv);
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  RunResult result;
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = "spawn failed";
    return result;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buffer[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = decode(status);
  return result;
}

bool eventually(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);  // polling a condition, with a deadline
  }
}

Daemon::Daemon(std::vector<std::string> extra) {
  // argv_[2] is the name unless extra names one (tests edit it there).
  argv_ = {bin("braidd")};
  if (std::find(extra.begin(), extra.end(), "--name") == extra.end()) {
    argv_.insert(argv_.end(), {"--name", "it"});
  }
  argv_.insert(argv_.end(), {"--data-dir", dir_.path()});
  if (std::find(extra.begin(), extra.end(), "--log-level") == extra.end()) {
    argv_.insert(argv_.end(), {"--log-level", "debug"});
  }
  const bool names_io_aware = std::any_of(extra.begin(), extra.end(), [](const std::string& a) {
    return a == "--io-aware" || a.starts_with("--io-aware=");
  });
  if (!names_io_aware) argv_.insert(argv_.end(), {"--io-aware", "off"});
  argv_.insert(argv_.end(), extra.begin(), extra.end());
  start();
}

pid_t spawn_logged(const std::vector<std::string>& argv, const std::string& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  auto args = c_argv(argv);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

void Daemon::start() {
  exit_code_ = -1;
  pid_ = spawn_logged(argv_, dir_.path() + "/braidd.stderr");
  const bool up = eventually(
      [&] {
        struct stat st {};
        return !alive() || (stat(socket().c_str(), &st) == 0 && cli({"stats"}).exit_code == 0);
      },
      std::chrono::seconds(60));
  if (!up || !alive()) throw std::runtime_error("braidd did not come up: " + log());
}

void Daemon::kill9() {
  if (!alive()) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_code_ = decode(status);
}

void Daemon::restart() {
  if (alive()) throw std::logic_error("restart() of a braidd that still runs");
  start();
}

void Daemon::restart_with(std::vector<std::string> argv) {
  argv_ = std::move(argv);
  restart();
}

Daemon::~Daemon() {
  // SIGTERM first: braidd ends its tasks' process groups; SIGKILL would leave them behind.
  if (alive()) terminate();
}

bool Daemon::alive() const {
  if (exit_code_ >= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    const_cast<Daemon*>(this)->exit_code_ = decode(status);
    return false;
  }
  return true;
}

std::string Daemon::log() const {
  std::ifstream in(dir_.path() + "/braidd.stderr");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RunResult Daemon::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{bin("braid"), "--socket", socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

std::string Daemon::cli_ok(const std::vector<std::string>& args) const {
  RunResult r = cli(args);
  if (r.exit_code != 0) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    throw std::runtime_error("braid " + joined + "exited " + std::to_string(r.exit_code) + ": " +
                             r.err);
  }
  return r.out;
}

nlohmann::json Daemon::json(const std::vector<std::string>& args) const {
  return nlohmann::json::parse(cli_ok(args));
}

std::string Daemon::submit(const std::vector<std::string>& args) const {
  std::vector<std::string> full{"submit", "--json"};
  full.insert(full.end(), args.begin(), args.end());
  return json(full)["id"].get<std::string>();
}

int Daemon::terminate(std::chrono::milliseconds timeout) {
  if (!alive()) return exit_code_;
  kill(pid_, SIGTERM);
  eventually([&] { return !alive(); }, timeout);
  if (alive()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    exit_code_ = 128 + SIGKILL;
  }
  return exit_code_;
}

std::vector<pid_t> group_members(pid_t pgid) {
  std::vector<pid_t> members;
  for (pid_t pid : node::list_process_group(pgid)) {
    std::optional<node::ProcStat> stat = node::read_proc_stat(pid);
    if (stat && stat->state != 'Z') members.push_back(pid);
  }
  return members;
}

long long process_cpu_ticks(pid_t pid) {
  std::optional<node::ProcStat> stat = node::read_proc_stat(pid);
  return stat ? static_cast<long long>(stat->utime_ticks + stat->stime_ticks) : -1;
}

char process_state(pid_t pid) {
  std::optional<node::ProcStat> stat = node::read_proc_stat(pid);
  return stat ? stat->state : '?';
}

}  // namespace braid::testing
