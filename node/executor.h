// Executor: carries out the torus's process actions (kStart, kStop, kResume,
// kKill) on real Linux processes and reports every attempt's end exactly
// once through the ExitCallback.
//
// Each attempt runs in its own process group (pgid = pid of the leader, the
// process braid spawned) and, in cgroup mode, in its own cgroup v2
// <own cgroup>/<cgroup_name>/<task id, ':' -> '_'>:
//
//   action   cgroup mode                          signals mode
//   stop     cgroup.freeze 1 (waits briefly for   kill(-pgid, SIGSTOP)
//            "frozen 1")
//   resume   cgroup.freeze 0                      kill(-pgid, SIGCONT)
//   kill     thaw, SIGTERM every process of the   SIGCONT (if stopped), SIGTERM
//            cgroup; after kill_grace:            to the group; after kill_grace:
//            cgroup.kill                          SIGKILL to the group
//   cpu time cpu.stat usage_usec (whole tree)     leader's utime+stime+cutime+
//                                                 cstime (itself and the
//                                                 descendants it reaped)
//
// Exits are observed through a pidfd watched by the io_context (no SIGCHLD,
// no polling). When the leader exits, whatever is left of its group and
// cgroup is SIGKILLed, the leader is reaped, then on_exit is called. A task's
// cgroup is removed once empty (at once, or when cgroup.events says so).
//
// Threading: everything runs on the io_context's single thread; no method is
// thread-safe. on_exit is always called from an Asio handler, never from
// inside a method of this class, so the callback may call any method
// (including start() for the same key). Destroy the Executor before its
// io_context.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "node/cgroup.h"
#include "node/lifetime.h"
#include "node/output_files.h"
#include "sched/task.h"
#include "sched/types.h"

namespace asio {
class io_context;
}

namespace braid::node {

struct ExecutorConfig {
  std::filesystem::path log_dir;                 // <data_dir>/logs (see output_files.h)
  std::chrono::milliseconds kill_grace{10'000};  // SIGTERM -> SIGKILL delay
  // kAuto: cgroup if a writable cgroup v2 hierarchy exists, else signals.
  enum class Mode { kAuto, kCgroup, kSignals } mode = Mode::kAuto;
  std::string cgroup_name = "braid";  // parent cgroup dir created for this daemon's tasks
  // How long stop() spins re-reading cgroup.events for "frozen 1". Default 0:
  // under load a freeze takes ms to confirm (p50 ~2 ms with busy tasks on
  // every core), and spinning on the loop thread for it skewed Fair shares.
  std::chrono::microseconds freeze_confirm_bound{0};
  // Cgroup mode: at construction, SIGKILL and remove the task cgroups a
  // previous run left below <cgroup_name> (a daemon that died without its
  // destructor). The parent cgroup belongs to one daemon: give each its own
  // cgroup_name.
  bool end_stale_tasks = true;
  // Exported to every task process as BRAID_NODE_MARK (empty: not set), so
  // that a later daemon finds the processes of this one even when their
  // records never reached the log (leftovers.h: end_marked_processes). One
  // node and data dir: the daemon uses its cgroup_name.
  std::string node_mark;
};

class Executor final {
 public:
  using ExitCallback = std::function<void(sched::TaskKey, const sched::ExitStatus&)>;

  // Creates config.log_dir (0700) if missing and holds it open; in cgroup
  // mode enables the memory controller where offered and ends stale tasks (see
  // ExecutorConfig::end_stale_tasks). In kCgroup mode throws
  // std::runtime_error when cgroups cannot be used; in kAuto mode falls back
  // to signals mode (one warning in the log).
  // `clock` bounds the waits for cgroups to empty and freeze; it must outlive
  // the executor.
  Executor(asio::io_context& io, const Clock& clock, ExecutorConfig config, ExitCallback on_exit);
  // SIGKILLs every live task's group and cgroup, reaps the leaders, removes
  // the cgroups (waiting up to about a second for them to empty). No
  // callback is called.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Spawns an attempt of the task (argv, env, cwd of `spec`; environment =
  // the daemon's, spec.env overriding, plus BRAID_TASK_ID=<task_id> and
  // BRAID_NODE_MARK=<config.node_mark> (when not empty); stdout
  // and stderr appended to output_paths(task_id, spec), after `header`, a
  // line written to each output file first, unless empty). In a cgroup with
  // the memory controller, memory.max = spec.memory_bytes (when not 0). A
  // failure (invalid task id, missing binary, bad cwd, unwritable output)
  // is reported as ExitStatus::spawn_failed(reason) through on_exit, posted
  // to the io_context; until then stop/resume/kill of the key are no-ops.
  // Requires that `key` has no live attempt (throws std::logic_error).
  void start(sched::TaskKey key, const std::string& task_id, const sched::TaskSpec& spec,
             std::string_view header = {});
  // Stops every process of the task. No-op without a live process, when
  // already stopped, or once kill() was called.
  void stop(sched::TaskKey key);
  // Continues a stopped task. No-op otherwise.
  void resume(sched::TaskKey key);
  // Ends the task: resume if stopped, SIGTERM every process, SIGKILL them all
  // after kill_grace if the leader still lives. No-op without a live process
  // or when a kill is already under way.
  void kill(sched::TaskKey key);
  // kill() for every live task (daemon shutdown); returns at once.
  void terminate_all();

  // CPU time of the attempt's process tree (see the table above), if known.
  // Inside on_exit for `key` (before any new start of it), the attempt's
  // final CPU time.
  std::optional<sched::Micros> cpu_time_us(sched::TaskKey key) const;
  // CPU demand of a live attempt (cgroup mode with PSI only): its CPU time
  // plus the time its processes waited, runnable, for a CPU (cpu.pressure
  // "some"). A task that gets little CPU because the machine is busy still
  // shows a high demand; only one that sleeps or waits on I/O shows a low one.
  std::optional<sched::Micros> cpu_demand_us(sched::TaskKey key) const;
  // Memory of each live attempt: its cgroup's memory.current where the memory
  // controller is on, else the leader's resident set (its children's are not
  // counted: reading every group member would scan /proc). Attempts whose
  // figure cannot be read are left out.
  std::vector<std::pair<sched::TaskKey, std::uint64_t>> memory_bytes() const;
  // Leader's pid (= process group id) of the live attempt.
  std::optional<pid_t> pid(sched::TaskKey key) const;
  // The live attempt's cgroup directory (cgroup mode only).
  std::optional<std::filesystem::path> cgroup_path(sched::TaskKey key) const;
  // Attempts whose exit has not been delivered yet (spawn failures excluded).
  std::size_t live_count() const { return live_.size(); }
  // Cgroups of ended attempts still waiting to be empty before removal.
  std::size_t draining_count() const { return draining_.size(); }
  std::string_view mode_name() const { return cgroups_ ? "cgroup" : "signals"; }
  // True when task cgroups get memory.max (cgroup mode, memory controller on).
  bool memory_enforced() const { return cgroups_.has_value() && memory_controller_; }
  // True when cpu_demand_us can be measured (cgroup mode, the kernel has PSI).
  bool measures_cpu_demand() const { return cgroups_.has_value() && cpu_pressure_; }
  // Where output files are (reading, purging); nullptr if it could not be opened.
  const LogDir* log_dir() const { return log_dir_ ? &*log_dir_ : nullptr; }
  // Relative output patterns of tasks without a working directory resolve here.
  const std::filesystem::path& daemon_cwd() const { return daemon_cwd_; }

 private:
  struct Process;     // one live attempt
  struct OutputFds {  // an attempt's output files, open for appending
    int out = -1;
    int err = -1;  // -1: stderr merged into out
    void close();
  };
  struct Draining;  // an ended attempt's cgroup waiting to be empty

  sched::Result<OutputFds> open_outputs(const std::string& task_id, const sched::TaskSpec& spec,
                                        std::string_view header) const;
  void end_stale_cgroups();
  void release(Process& process);  // undo stop()
  void watch_exit(Process& process);
  void on_leader_exit(sched::TaskKey key, std::uint64_t serial);
  void on_kill_grace_over(sched::TaskKey key, std::uint64_t serial);
  void post_spawn_failure(sched::TaskKey key, std::string reason);
  void remove_cgroup(TaskCgroup cgroup);
  void watch_draining(std::uint64_t serial);
  std::optional<sched::Micros> live_cpu_time_us(const Process& process) const;
  Process* find(sched::TaskKey key) const;

  asio::io_context& io_;
  const Clock& clock_;
  ExecutorConfig config_;
  ExitCallback on_exit_;
  std::optional<CgroupParent> cgroups_;  // set in cgroup mode
  bool memory_controller_ = false;       // enabled below cgroups_
  bool cpu_pressure_ = false;            // cgroups_ have cpu.pressure (PSI)
  std::optional<LogDir> log_dir_;
  std::string log_dir_error_;  // why log_dir_ is empty
  std::filesystem::path daemon_cwd_;
  std::unordered_map<sched::TaskKey, std::unique_ptr<Process>> live_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Draining>> draining_;  // by serial
  std::uint64_t next_serial_ = 1;
  // Set while on_exit runs: the ended attempt's final CPU time.
  std::optional<std::pair<sched::TaskKey, std::optional<sched::Micros>>> delivering_;
  Lifetime lifetime_;  // last: every handler's guard (lifetime.h)
};

}  // namespace braid::node
