// cgroup v2 for the executor: finding the hierarchy and this daemon's own
// cgroup, the parent cgroup the daemon creates per-task cgroups in, and the
// operations on one task's cgroup (move in, freeze, kill, CPU time, remove).
//
// Needs only the cgroup core files (cgroup.procs, cgroup.freeze,
// cgroup.events, cgroup.kill, cpu.stat), so it works in hybrid hierarchies
// (e.g. /sys/fs/cgroup/unified) too. The memory controller is enabled where
// the hierarchy offers it (memory.max limits), and optional.
// Failures are values: Status errors read "<operation> <path>: <strerror>".
// Nothing here throws or logs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/clock.h"
#include "sched/result.h"
#include "sched/types.h"

namespace braid::node {

// A cgroup2 mount from /proc/self/mountinfo: where it is mounted and which
// cgroup of the hierarchy appears there ("/" unless in a cgroup namespace
// or a bind mount of a sub-tree).
struct Cgroup2Mount {
  std::filesystem::path mount_point;
  std::string root;
};

// The first cgroup2 mount in the text of /proc/self/mountinfo.
std::optional<Cgroup2Mount> parse_cgroup2_mount(std::string_view mountinfo);

// The v2 path ("0::<path>" line) in the text of /proc/self/cgroup.
std::optional<std::string> parse_own_cgroup(std::string_view proc_self_cgroup);

// Directory of the cgroup `cgroup_path` (as /proc/self/cgroup names it) under `mount`.
std::filesystem::path cgroup_directory(const Cgroup2Mount& mount, std::string_view cgroup_path);

// The "total=" microseconds of the "some" line of a PSI pressure file
// ("some avg10=0.00 avg60=0.00 avg300=0.00 total=123\nfull ..."); nullopt
// when the text has no such line.
std::optional<std::int64_t> pressure_some_total_us(std::string_view pressure);

// A cgroup directory name for a task id: [A-Za-z0-9._-] kept, anything else
// (':' in "alpha:42") becomes '_'; never empty, "." or "..".
std::string cgroup_name_for(std::string_view task_id);

// Enables the memory controller for the children of cgroup directory `dir`:
// when "memory" is listed in dir/cgroup.controllers, writes "+memory" to
// dir/cgroup.subtree_control. True when it is enabled (children then have
// memory.max). False when the hierarchy offers no memory controller (e.g.
// a hybrid host's /sys/fs/cgroup/unified) or the write was refused.
bool enable_memory_controller(const std::filesystem::path& dir);

// Writes `text` to the file at `path`; 0 or the errno. (Injectable for tests.)
using CgroupWrite = int (*)(const std::filesystem::path& path, std::string_view text);
int write_cgroup_file(const std::filesystem::path& path, std::string_view text);

// Under a delegated cgroup (systemd's Delegate=yes puts braidd in its unit's
// cgroup, which is not the root) the kernel's "no internal processes" rule
// refuses "+memory" in dir/cgroup.subtree_control (EBUSY) while braidd itself
// is a member of `dir`. Then this moves process `self` into the leaf child
// dir/`leaf_name` and enables it again, so the task cgroups created beside
// that leaf can have memory.max. Changes nothing when `dir` offers no memory
// controller or already enables it for its children. True when memory is
// enabled for dir's children afterwards.
bool claim_memory_for_children(const std::filesystem::path& dir, pid_t self,
                               std::string_view leaf_name, CgroupWrite write = write_cgroup_file);

// One task attempt's cgroup: its directory, and the files stop/resume use
// (cgroup.freeze, cgroup.events), each opened at its first use and kept
// open, so that a freeze is one pwrite, without a path lookup (those were
// ~30% of braidd's CPU while slicing). Only tasks that are sliced hold them:
// the samplers' files (cpu.stat, cpu.pressure) are opened per read, since
// with lent slots any number of tasks may run. Copies share the open files;
// they are closed by remove() or when the last copy goes. Single-threaded,
// like the executor.
class TaskCgroup {
 public:
  TaskCgroup(std::filesystem::path dir, bool has_kill_file);

  const std::filesystem::path& dir() const { return dir_; }

  // Moves process `pid` in (writes it to cgroup.procs).
  sched::Status add_process(pid_t pid) const;
  // Moves `pid` in, then every descendant it forked before it moved (read
  // from /proc after each move, so nothing forked meanwhile is missed; a
  // descendant orphaned in that window is not found). Only the first move
  // is slow: a cgroup migration waits for an RCU grace period (measured
  // 4-48 ms on a loaded 2-core VM); moves right after it take microseconds.
  sched::Status add_process_tree(pid_t pid) const;
  // memory.max = bytes: the kernel reclaims, then OOM-kills inside the
  // cgroup beyond it. Needs the memory controller (enable_memory_controller
  // on the parent); without it the file is missing and this fails.
  sched::Status set_memory_max(std::uint64_t bytes) const;
  // cgroup.freeze 1 / 0. Freezing completes asynchronously; see wait_frozen().
  sched::Status set_frozen(bool frozen) const;
  // Re-reads cgroup.events until it shows "frozen 1" or `clock` passed
  // `deadline_us` (its monotonic_us(); a spin: poll(POLLPRI) on cgroup.events
  // is rate limited to ~10 ms). True once frozen.
  bool wait_frozen(const Clock& clock, sched::Micros deadline_us) const;
  // SIGKILLs every process in the cgroup: cgroup.kill (kernel >= 5.14), else
  // freeze, SIGKILL each pid of cgroup.procs, thaw (freezing first keeps
  // processes from forking past the loop; it waits up to 10 ms of `clock`
  // for the freeze).
  sched::Status kill_all(const Clock& clock) const;
  // Sends `signal` to each pid in cgroup.procs (a process forked while the
  // list is read may be missed).
  sched::Status signal_all(int signal) const;
  std::vector<pid_t> pids() const;
  // usage_usec of cpu.stat: CPU time of every process that ran in the cgroup.
  std::optional<sched::Micros> cpu_usage_us() const;
  // The "some" total of cpu.pressure (PSI): microseconds during which a
  // process of the cgroup was runnable but waited for a CPU. nullopt where
  // the kernel has no PSI.
  std::optional<sched::Micros> cpu_wait_us() const;
  // memory.current in bytes (needs the memory controller), if readable.
  std::optional<std::uint64_t> memory_current_bytes() const;
  // "populated" / "frozen" of cgroup.events; nullopt if unreadable.
  std::optional<bool> populated() const;
  std::optional<bool> frozen() const;
  // rmdir; fails with EBUSY while a process is still in it.
  sched::Status remove() const;
  // cgroup.events opened read-only, close-on-exec (for waiting on its
  // POLLPRI notifications); -1 on error.
  int open_events() const;

 private:
  std::optional<std::vector<pid_t>> read_pids() const;
  enum class File { kFreeze, kEvents, kCount };
  int file(File which) const;  // the open file, or -1 (errno set)
  std::optional<std::string> read(File which) const;
  std::optional<bool> events_flag(std::string_view key) const;  // of cgroup.events
  struct OpenFiles;

  std::filesystem::path dir_;
  bool has_kill_file_;
  std::shared_ptr<OpenFiles> files_;
};

// The cgroup this daemon creates its tasks' cgroups in:
// <cgroup2 mount><own cgroup>/<name>.
class CgroupParent {
 public:
  // Finds the hierarchy and the daemon's own cgroup from /proc/self, creates
  // the parent (an existing one is fine) and probes it: a child cgroup can be
  // created, has cgroup.freeze, cgroup.events, cgroup.procs and cpu.stat,
  // and can be frozen. The error says which step failed. First, where the
  // own cgroup offers the memory controller but the kernel refuses it for
  // children because braidd is a member (a delegated systemd unit), braidd
  // moves itself into the leaf <own>/<name>.daemon (claim_memory_for_children).
  static sched::Result<CgroupParent> open(std::string_view name);
  // The same below an explicit directory (tests).
  static sched::Result<CgroupParent> open_at(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  bool has_kill_file() const { return has_kill_file_; }

  // Creates the cgroup of one task attempt, named cgroup_name_for(task_id);
  // when that exists (a previous attempt still draining), "<name>.2", ".3"...
  sched::Result<TaskCgroup> create(std::string_view task_id) const;
  // The cgroups already below the parent (e.g. left by a daemon that died).
  std::vector<TaskCgroup> children() const;
  // Removes the parent if it is empty. False while it is busy: still has
  // children (another executor's, or ones the kernel is still releasing just
  // after their rmdir). True once it is gone.
  bool remove_if_empty() const;

 private:
  CgroupParent(std::filesystem::path dir, bool has_kill_file)
      : dir_(std::move(dir)), has_kill_file_(has_kill_file) {}

  std::filesystem::path dir_;
  bool has_kill_file_;
};

}  // namespace braid::node
