// SliceObserver: the time slices task processes experienced, seen from
// outside braidd (a benchmark's observer thread, not the daemon's own clock).
//
// A thread sweeps every target every `interval`: a target counts as stopped
// only once the kernel says so, i.e. its /proc/PID/stat state is 'T' (signals
// mode) or its cgroup.events shows "frozen 1" (cgroup mode; a frozen cgroup's
// processes show 'S', not 'T'), and as running once that is no longer so. A
// slice is the time from a seen resume to the next seen stop. Every time has
// the resolution of one sweep: sweep_us() reports the sweep periods, so a
// figure can be read beside its resolution.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace braid::bench {

class SliceObserver {
 public:
  struct Target {
    pid_t pid = -1;
    std::string cgroup_events;  // path of the task's cgroup.events; empty in signals mode
  };

  // Opens every target's file and starts sweeping.
  SliceObserver(const std::vector<Target>& targets, std::chrono::microseconds interval);
  ~SliceObserver();  // stop()
  SliceObserver(const SliceObserver&) = delete;
  SliceObserver& operator=(const SliceObserver&) = delete;

  // Stops the thread; the figures below are final afterwards. Idempotent.
  void stop();
  // Slice lengths seen, in microseconds (only after stop()).
  const std::vector<long long>& slices_us() const { return slices_us_; }
  // Duration of each sweep over all targets (the resolution), microseconds.
  const std::vector<long long>& sweep_us() const { return sweep_us_; }

  // The cgroup.events of the cgroup `pid` is in (cgroup2, from /proc/PID/cgroup
  // and /proc/self/mountinfo); empty when not found.
  static std::string cgroup_events_of(pid_t pid);

 private:
  struct Watched {
    int fd = -1;
    bool cgroup = false;
    int stopped = -1;           // -1 unknown, 0 running, 1 stopped
    long long resumed_us = -1;  // when it was last seen resumed; -1 not yet
  };
  void run(std::chrono::microseconds interval);
  static int read_stopped(const Watched& w);  // -1 when unreadable

  std::vector<Watched> watched_;
  std::vector<long long> slices_us_;
  std::vector<long long> sweep_us_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace braid::bench
