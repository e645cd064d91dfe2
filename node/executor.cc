#include "node/executor.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "node/memory_probe.h"
#include "node/proc_stat.h"
#include "node/spawn.h"

namespace braid::node {
namespace {

using Mode = ExecutorConfig::Mode;

// How long the destructor waits for a killed task's cgroup to empty.
constexpr sched::Micros kCgroupRemoveBoundUs = sched::kMicrosPerSecond;

int open_pidfd(pid_t pid) {
  // glibc 2.36's <sys/pidfd.h> lacks extern "C"; the raw syscall avoids it.
  // A pidfd is always close-on-exec.
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

sched::ExitStatus exit_status_of(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return sched::ExitStatus::exited(info.si_status);
  return sched::ExitStatus::signaled(info.si_status);  // CLD_KILLED, CLD_DUMPED
}

// Cleanup steps whose failure changes nothing for the task: logged.
void warn_if_failed(std::string_view context, const sched::Status& status) {
  if (!status) spdlog::warn("{}: {}", context, status.error().message);
}

// Blocks until the (SIGKILLed or exited) leader behind `pidfd` is reaped.
void reap_blocking(int pidfd, siginfo_t& info) {
  info = {};
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) != 0 && errno == EINTR) {
  }
}

// Removes a cgroup whose processes were SIGKILLed, waiting for them to go.
void remove_cgroup_blocking(const TaskCgroup& cgroup, const Clock& clock,
                            sched::Micros deadline_us) {
  for (;;) {
    sched::Status removed = cgroup.remove();
    if (removed) return;
    const std::optional<bool> populated = cgroup.populated();
    if (clock.monotonic_us() >= deadline_us || !populated) {  // gone, or the bound passed
      spdlog::warn("executor: cgroup left behind: {}", removed.error().message);
      return;
    }
    // Busy: processes still inside, or the kernel still releasing the last.
    if (*populated) warn_if_failed("executor", cgroup.kill_all(clock));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

// One live attempt: the leader's pid (= pgid) and pidfd, its cgroup, and
// what was last asked of it.
struct Executor::Process {
  enum class Hold { kNone, kFrozen, kSignalStopped };

  Process(asio::io_context& io, sched::TaskKey key, std::uint64_t serial, std::string task_id,
          pid_t pid, int pidfd)
      : key(key),
        serial(serial),
        task_id(std::move(task_id)),
        pid(pid),
        pidfd(io, pidfd),
        kill_timer(io) {}

  sched::TaskKey key;
  std::uint64_t serial;  // tells this attempt from later ones of the same key
  std::string task_id;
  pid_t pid;  // also the process group id
  asio::posix::stream_descriptor pidfd;
  asio::steady_timer kill_timer;  // SIGKILL after kill_grace
  std::optional<TaskCgroup> cgroup;
  Hold hold = Hold::kNone;
  bool killing = false;
};

// An ended attempt's cgroup whose killed processes have not left yet; removed
// when cgroup.events reports "populated 0".
struct Executor::Draining {
  Draining(asio::io_context& io, TaskCgroup cgroup, int events_fd)
      : cgroup(std::move(cgroup)), events(io, events_fd) {}

  TaskCgroup cgroup;
  asio::posix::stream_descriptor events;
};

Executor::Executor(asio::io_context& io, const Clock& clock, ExecutorConfig config,
                   ExitCallback on_exit)
    : io_(io), clock_(clock), config_(std::move(config)), on_exit_(std::move(on_exit)) {
  std::error_code ec;
  daemon_cwd_ = std::filesystem::current_path(ec);
  if (!config_.log_dir.empty()) {
    if (config_.log_dir.has_parent_path()) {
      std::filesystem::create_directories(config_.log_dir.parent_path(), ec);
    }
    if (::mkdir(config_.log_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      spdlog::warn("executor: cannot create log directory {}: {}", config_.log_dir.string(),
                   std::strerror(errno));
    }
    sched::Result<LogDir> opened = LogDir::open(config_.log_dir);
    if (opened) {
      log_dir_ = std::move(opened).value();
    } else {
      spdlog::warn("executor: {}", opened.error().message);
      log_dir_error_ = opened.error().message;
    }
  }
  if (config_.mode == Mode::kSignals) return;
  sched::Result<CgroupParent> parent = CgroupParent::open(config_.cgroup_name);
  if (parent) {
    cgroups_ = std::move(parent).value();
    if (!cgroups_->has_kill_file()) {
      spdlog::info("executor: no cgroup.kill (kernel < 5.14); killing cgroups pid by pid");
    }
    memory_controller_ = enable_memory_controller(cgroups_->dir());
    cpu_pressure_ = ::access((cgroups_->dir() / "cpu.pressure").c_str(), R_OK) == 0;
    if (!cpu_pressure_) spdlog::info("executor: no cpu.pressure (PSI): I/O-aware slots off");
    spdlog::info("executor: memory limits {}", memory_controller_
                                                   ? "enforced (memory.max)"
                                                   : "admitted only (no cgroup memory controller)");
    if (config_.end_stale_tasks) end_stale_cgroups();
    return;
  }
  if (config_.mode == Mode::kCgroup) {
    throw std::runtime_error("executor: cgroup mode unavailable: " + parent.error().message);
  }
  spdlog::warn("executor: cgroups unavailable ({}); using signals to process groups",
               parent.error().message);
}

Executor::~Executor() {
  // Handlers still queued in the io_context become no-ops once lifetime_
  // (the last member) is destroyed, before any other member.
  for (auto& [key, process] : live_) {
    if (process->cgroup) warn_if_failed("executor", process->cgroup->kill_all(clock_));
    ::kill(-process->pid, SIGKILL);  // the unreaped leader keeps the pgid ours
  }
  std::vector<TaskCgroup> cgroups;
  for (auto& [key, process] : live_) {
    siginfo_t info;
    reap_blocking(process->pidfd.native_handle(), info);
    if (process->cgroup) cgroups.push_back(*process->cgroup);
  }
  live_.clear();
  for (auto& [serial, draining] : draining_) cgroups.push_back(draining->cgroup);
  draining_.clear();
  const sched::Micros deadline_us = clock_.monotonic_us() + kCgroupRemoveBoundUs;
  for (const TaskCgroup& cgroup : cgroups) remove_cgroup_blocking(cgroup, clock_, deadline_us);
  // Right after its children's rmdir the parent can still be busy for a
  // moment; another executor's children keep it (then it stays).
  while (cgroups_ && !cgroups_->remove_if_empty() && clock_.monotonic_us() < deadline_us &&
         cgroups_->children().empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Executor::end_stale_cgroups() {
  const std::vector<TaskCgroup> stale = cgroups_->children();
  if (stale.empty()) return;
  spdlog::warn("executor: ending {} task cgroup(s) left below {} by a previous run", stale.size(),
               cgroups_->dir().string());
  for (const TaskCgroup& cgroup : stale) warn_if_failed("executor", cgroup.kill_all(clock_));
  const sched::Micros deadline_us = clock_.monotonic_us() + kCgroupRemoveBoundUs;
  for (const TaskCgroup& cgroup : stale) remove_cgroup_blocking(cgroup, clock_, deadline_us);
}

void Executor::start(sched::TaskKey key, const std::string& task_id, const sched::TaskSpec& spec,
                     std::string_view header) {
  if (live_.count(key) != 0) {
    throw std::logic_error("executor: start of task " + task_id + " while an attempt is live");
  }
  if (sched::Status valid = sched::validate_task_id(task_id); !valid) {
    post_spawn_failure(key, valid.error().message);
    return;
  }
  if (!log_dir_) {
    post_spawn_failure(key,
                       log_dir_error_.empty() ? "no log directory configured" : log_dir_error_);
    return;
  }
  sched::Result<OutputFds> opened = open_outputs(task_id, spec, header);
  if (!opened) {
    post_spawn_failure(key, opened.error().message);
    return;
  }
  OutputFds outputs = opened.value();
  SpawnRequest request;
  request.argv = spec.argv;
  if (spec.base_env) {  // the submitter's (braid submit --export), else the daemon's own
    std::vector<const char*> base;
    base.reserve(spec.base_env->entries.size() + 1);
    for (const std::string& entry : spec.base_env->entries) base.push_back(entry.c_str());
    base.push_back(nullptr);
    request.envp = task_environment(base.data(), spec.env, task_id, config_.node_mark);
  } else {
    request.envp = task_environment(environ, spec.env, task_id, config_.node_mark);
  }
  request.cwd = spec.cwd;
  request.stdout_fd = outputs.out;
  request.stderr_fd = outputs.err >= 0 ? outputs.err : outputs.out;

  std::optional<TaskCgroup> cgroup;
  if (cgroups_) {
    sched::Result<TaskCgroup> created = cgroups_->create(task_id);
    if (created) {
      cgroup = created.value();
      if (memory_controller_ && spec.memory_bytes != 0) {
        if (sched::Status limited = cgroup->set_memory_max(spec.memory_bytes); !limited) {
          spdlog::warn("task {}: memory limit not enforced: {}", task_id, limited.error().message);
        }
      }
    } else {
      spdlog::warn("task {}: {}; it runs without a cgroup", task_id, created.error().message);
    }
  }

  // The child starts inside its cgroup (clone3 CLONE_INTO_CGROUP): no
  // migration on the loop, and nothing it forks can escape.
  const int cgroup_fd =
      cgroup ? ::open(cgroup->dir().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
  request.cgroup_fd = cgroup_fd;
  sched::Result<Spawned> spawned = spawn_process(request);
  if (cgroup_fd >= 0) ::close(cgroup_fd);
  outputs.close();  // the child has its copies
  if (!spawned) {
    if (cgroup) warn_if_failed("task " + task_id, cgroup->remove());
    post_spawn_failure(key, spawned.error().message);
    return;
  }
  const pid_t pid = spawned.value().pid;

  if (cgroup && !spawned.value().in_cgroup) {
    // Where the kernel cannot spawn into a cgroup: moved after its exec.
    // Race: the move waits for an RCU grace period (milliseconds), so it
    // may fork before it is moved; add_process_tree() then moves those
    // children too. A process orphaned in that window stays outside, but in
    // the task's process group, which the final SIGKILLs also reach.
    sched::Status moved = cgroup->add_process_tree(pid);
    if (!moved) {
      spdlog::warn("task {}: {}; it runs without a cgroup", task_id, moved.error().message);
      warn_if_failed("task " + task_id, cgroup->remove());
      cgroup.reset();
    }
  }

  const int pidfd = open_pidfd(pid);
  if (pidfd < 0) {
    const int err = errno;
    if (cgroup) warn_if_failed("task " + task_id, cgroup->kill_all(clock_));
    ::kill(-pid, SIGKILL);
    siginfo_t info = {};
    while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED) != 0 && errno == EINTR) {
    }
    if (cgroup) remove_cgroup(*cgroup);
    post_spawn_failure(key, std::string("pidfd_open: ") + std::strerror(err));
    return;
  }

  auto process = std::make_unique<Process>(io_, key, next_serial_++, task_id, pid, pidfd);
  process->cgroup = std::move(cgroup);
  Process& live = *live_.emplace(key, std::move(process)).first->second;
  watch_exit(live);
}

sched::Result<Executor::OutputFds> Executor::open_outputs(const std::string& task_id,
                                                          const sched::TaskSpec& spec,
                                                          std::string_view header) const {
  const OutputPaths paths = output_paths(task_id, spec, daemon_cwd_);
  OutputFds fds;
  sched::Result<int> out = log_dir_->open_append(paths.out);
  if (!out) return out.error();
  fds.out = out.value();
  if (paths.err) {
    sched::Result<int> err = log_dir_->open_append(*paths.err);
    if (!err) {
      fds.close();
      return err.error();
    }
    fds.err = err.value();
  }
  if (!header.empty()) {
    for (int fd : {fds.out, fds.err}) {
      // A failed header write loses a line of context, not the attempt.
      if (fd >= 0 && ::write(fd, header.data(), header.size()) < 0) {
        spdlog::warn("task {}: cannot write the attempt header: {}", task_id, std::strerror(errno));
      }
    }
  }
  return fds;
}

void Executor::OutputFds::close() {
  if (out >= 0) ::close(out);
  if (err >= 0) ::close(err);
  out = err = -1;
}

void Executor::stop(sched::TaskKey key) {
  Process* process = find(key);
  if (process == nullptr || process->hold != Process::Hold::kNone || process->killing) return;
  if (process->cgroup) {
    sched::Status frozen = process->cgroup->set_frozen(true);
    if (frozen) {
      process->hold = Process::Hold::kFrozen;
      if (!process->cgroup->wait_frozen(
              clock_, clock_.monotonic_us() + config_.freeze_confirm_bound.count())) {
        spdlog::debug("task {}: freezing takes longer than {}us; it completes in the kernel",
                      process->task_id, config_.freeze_confirm_bound.count());
      }
      return;
    }
    spdlog::warn("task {}: {}; stopping its process group instead", process->task_id,
                 frozen.error().message);
  }
  ::kill(-process->pid, SIGSTOP);
  process->hold = Process::Hold::kSignalStopped;
}

void Executor::resume(sched::TaskKey key) {
  Process* process = find(key);
  if (process != nullptr) release(*process);
}

void Executor::release(Process& process) {
  switch (process.hold) {
    case Process::Hold::kNone:
      return;
    case Process::Hold::kFrozen:
      if (sched::Status thawed = process.cgroup->set_frozen(false); !thawed) {
        spdlog::error("task {}: {}", process.task_id, thawed.error().message);
      }
      break;
    case Process::Hold::kSignalStopped:
      ::kill(-process.pid, SIGCONT);
      break;
  }
  process.hold = Process::Hold::kNone;
}

void Executor::kill(sched::TaskKey key) {
  Process* process = find(key);
  if (process == nullptr || process->killing) return;
  process->killing = true;
  release(*process);  // a stopped process would not act on SIGTERM
  if (process->cgroup) {
    if (sched::Status sent = process->cgroup->signal_all(SIGTERM); !sent) {
      spdlog::warn("task {}: {}; SIGTERM to its process group instead", process->task_id,
                   sent.error().message);
      ::kill(-process->pid, SIGTERM);
    }
  } else {
    ::kill(-process->pid, SIGTERM);
  }
  process->kill_timer.expires_after(config_.kill_grace);
  process->kill_timer.async_wait(
      lifetime_.guard([this, key, serial = process->serial](const std::error_code& ec) {
        if (ec) return;
        on_kill_grace_over(key, serial);
      }));
}

void Executor::terminate_all() {
  for (auto& [key, process] : live_) kill(key);
}

void Executor::on_kill_grace_over(sched::TaskKey key, std::uint64_t serial) {
  Process* process = find(key);
  if (process == nullptr || process->serial != serial) return;
  spdlog::info("task {}: still running {}ms after SIGTERM; SIGKILL", process->task_id,
               config_.kill_grace.count());
  if (process->cgroup)
    warn_if_failed("task " + process->task_id, process->cgroup->kill_all(clock_));
  ::kill(-process->pid, SIGKILL);
}

void Executor::watch_exit(Process& process) {
  process.pidfd.async_wait(asio::posix::stream_descriptor::wait_read,
                           lifetime_.guard([this, key = process.key,
                                            serial = process.serial](const std::error_code& ec) {
                             if (ec == asio::error::operation_aborted) return;
                             on_leader_exit(key, serial);
                           }));
}

void Executor::on_leader_exit(sched::TaskKey key, std::uint64_t serial) {
  Process* process = find(key);
  if (process == nullptr || process->serial != serial) return;
  const int pidfd = process->pidfd.native_handle();

  // Look without reaping: while the leader is an unreaped zombie, its pid
  // (and so the pgid) cannot be reused, and /proc still has its times.
  siginfo_t info = {};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    // ECHILD: something else in the daemon reaped our child (waitpid(-1)).
    spdlog::error("task {}: exit status lost: waitid: {}", process->task_id, std::strerror(errno));
    info.si_code = CLD_KILLED;
    info.si_status = SIGKILL;
  } else if (info.si_pid == 0) {
    watch_exit(*process);  // spurious wake-up: not exited
    return;
  }

  std::optional<sched::Micros> cpu_us;
  if (!process->cgroup) cpu_us = live_cpu_time_us(*process);
  // End whatever is left of the task, then reap the leader.
  if (process->cgroup)
    warn_if_failed("task " + process->task_id, process->cgroup->kill_all(clock_));
  ::kill(-process->pid, SIGKILL);
  siginfo_t reaped;
  reap_blocking(pidfd, reaped);
  if (reaped.si_pid != 0) info = reaped;
  if (process->cgroup) cpu_us = process->cgroup->cpu_usage_us();

  const sched::ExitStatus status = exit_status_of(info);
  std::optional<TaskCgroup> cgroup = std::move(process->cgroup);
  live_.erase(key);  // closes the pidfd, cancels the kill timer
  if (cgroup) remove_cgroup(std::move(*cgroup));

  const std::weak_ptr<const bool> alive = lifetime_.token();
  delivering_.emplace(key, cpu_us);
  on_exit_(key, status);
  if (alive.expired()) return;  // the callback destroyed this executor
  delivering_.reset();
}

void Executor::post_spawn_failure(sched::TaskKey key, std::string reason) {
  asio::post(io_, lifetime_.guard([this, key, reason = std::move(reason)]() {
    on_exit_(key, sched::ExitStatus::spawn_failed(reason));
  }));
}

void Executor::remove_cgroup(TaskCgroup cgroup) {
  if (cgroup.remove()) return;
  // Killed processes are still on their way out: remove the cgroup once
  // cgroup.events says it is empty.
  const int events_fd = cgroup.open_events();
  if (events_fd < 0) {
    spdlog::warn("executor: cgroup {} left behind: cannot open cgroup.events: {}",
                 cgroup.dir().string(), std::strerror(errno));
    return;
  }
  const std::uint64_t serial = next_serial_++;
  draining_.emplace(serial, std::make_unique<Draining>(io_, std::move(cgroup), events_fd));
  watch_draining(serial);
}

void Executor::watch_draining(std::uint64_t serial) {
  auto it = draining_.find(serial);
  if (it == draining_.end()) return;
  Draining& draining = *it->second;
  // cgroup.events notifies with POLLPRI (Asio's wait_error). Arm the wait
  // before reading, so a change after the read still wakes it.
  draining.events.async_wait(asio::posix::stream_descriptor::wait_error,
                             lifetime_.guard([this, serial](const std::error_code& ec) {
                               if (ec == asio::error::operation_aborted) return;
                               if (ec) {
                                 auto failed = draining_.find(serial);
                                 if (failed == draining_.end()) return;
                                 spdlog::warn(
                                     "executor: cgroup {} left behind: waiting for it to empty: {}",
                                     failed->second->cgroup.dir().string(), ec.message());
                                 draining_.erase(failed);
                                 return;
                               }
                               watch_draining(serial);
                             }));
  if (draining.cgroup.populated() == true) return;
  if (sched::Status removed = draining.cgroup.remove(); !removed) {
    spdlog::warn("executor: cgroup left behind: {}", removed.error().message);
  }
  draining_.erase(it);
}

std::optional<sched::Micros> Executor::cpu_time_us(sched::TaskKey key) const {
  if (const Process* process = find(key)) return live_cpu_time_us(*process);
  if (delivering_ && delivering_->first == key) return delivering_->second;
  return std::nullopt;
}

std::optional<sched::Micros> Executor::cpu_demand_us(sched::TaskKey key) const {
  const Process* process = find(key);
  if (process == nullptr || !process->cgroup) return std::nullopt;
  const std::optional<sched::Micros> used_us = process->cgroup->cpu_usage_us();
  const std::optional<sched::Micros> waited_us = process->cgroup->cpu_wait_us();
  if (!used_us || !waited_us) return std::nullopt;
  return *used_us + *waited_us;
}

std::optional<sched::Micros> Executor::live_cpu_time_us(const Process& process) const {
  if (process.cgroup) return process.cgroup->cpu_usage_us();
  std::optional<ProcStat> stat = read_proc_stat(process.pid);
  if (!stat) return std::nullopt;
  return clock_ticks_to_us(stat->tree_ticks());
}

std::vector<std::pair<sched::TaskKey, std::uint64_t>> Executor::memory_bytes() const {
  std::vector<std::pair<sched::TaskKey, std::uint64_t>> out;
  out.reserve(live_.size());
  for (const auto& [key, process] : live_) {
    std::optional<std::uint64_t> bytes = process->cgroup && memory_controller_
                                             ? process->cgroup->memory_current_bytes()
                                             : read_rss_bytes(process->pid);
    if (bytes) out.emplace_back(key, *bytes);
  }
  return out;
}

std::optional<pid_t> Executor::pid(sched::TaskKey key) const {
  if (const Process* process = find(key)) return process->pid;
  return std::nullopt;
}

std::optional<std::filesystem::path> Executor::cgroup_path(sched::TaskKey key) const {
  const Process* process = find(key);
  if (process == nullptr || !process->cgroup) return std::nullopt;
  return process->cgroup->dir();
}

Executor::Process* Executor::find(sched::TaskKey key) const {
  auto it = live_.find(key);
  return it == live_.end() ? nullptr : it->second.get();
}

}  // namespace braid::node
