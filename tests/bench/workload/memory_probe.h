// The peak memory of one tool's run of a workload. Whatever the harness
// spawns inside inside() (a tool, a daemon, a task-spooler server) is
// measured with all its descendants:
//  - cgroup mode: a dedicated cgroup v2 (a child of the harness's own, under
//    /sys/fs/cgroup or the hybrid /sys/fs/cgroup/unified); its subtree's
//    cgroup.procs name the processes, and every leftover process is killed
//    (cgroup.kill) at the end;
//  - tree mode (no writable cgroup2): the harness's descendants (it is a child
//    subreaper, so daemonized servers stay its descendants).
// A sampler thread sums, every `interval` (longer when a sample costs more
// than 2% of it), the resident set (statm) and its
// anonymous part (resident - shared) of those processes and keeps the
// maximum: Σ RSS counts shared libraries once per process. (memory.peak is
// not used even where a memory controller gives it: it charges the page cache
// of the files the workload writes, which the other tools' figures lack.)
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace braid::bench::workload {

class MemoryProbe {
 public:
  explicit MemoryProbe(const std::string& label,
                       std::chrono::milliseconds interval = std::chrono::milliseconds(50));
  ~MemoryProbe();  // stops sampling, kills leftovers (cgroup mode), removes the cgroup
  MemoryProbe(const MemoryProbe&) = delete;
  MemoryProbe& operator=(const MemoryProbe&) = delete;

  // Runs `spawn` with this process inside the probe's cgroup (so what it
  // spawns starts there), then moves back. Tree mode: just runs it.
  void inside(const std::function<void()>& spawn);

  void start();  // starts sampling
  void stop();   // stops sampling (idempotent)

  double peak_rss_mib() const;   // max of the sampled Σ RSS
  double peak_anon_mib() const;  // max of the sampled Σ (RSS - shared)
  double sampler_cpu_s() const { return sampler_cpu_s_; }
  const char* mode() const { return cgroup_.empty() ? "tree" : "cgroup"; }

  // Kills every process left in the cgroup and waits (bounded) until none is.
  void kill_leftovers();

 private:
  void sample_loop();
  void sample_once();

  std::string cgroup_;      // absolute path; "" in tree mode
  std::string own_cgroup_;  // where this process returns to
  std::chrono::milliseconds interval_;
  std::thread sampler_;
  std::atomic<bool> running_{false};
  long long peak_rss_bytes_ = 0;
  long long peak_anon_bytes_ = 0;
  double sampler_cpu_s_ = 0;
};

// The cgroup2 hierarchy's mount point ("/sys/fs/cgroup" or its hybrid
// "/sys/fs/cgroup/unified"), or "" when there is none.
std::string cgroup2_root();

}  // namespace braid::bench::workload
