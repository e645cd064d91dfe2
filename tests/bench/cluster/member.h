// One member of a gossip cluster under benchmark: a braidd or a Serf agent,
// started on loopback, that can be asked what it sees and be killed and
// restarted. The benchmark drives both kinds through this interface so that
// every phase measures them the same way (same polling, same clock).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

namespace braid::bench::cluster {

class Member {
 public:
  virtual ~Member() = default;
  virtual const std::string& name() const = 0;
  // The process id (for RSS), or -1 when not running.
  virtual pid_t pid() const = 0;
  // SIGKILL, as a crash would, and reaped.
  virtual void kill9() = 0;
  // Starts it again on its data dir and flags; returns once it answers its CLI.
  virtual void restart() = 0;
  // name -> state as this member sees the cluster, states normalised to
  // alive, suspect, dead (Serf: failed) or left. Empty when the CLI call failed.
  virtual std::map<std::string, std::string> states() const = 0;
  // Gossip bytes sent so far as encoded on the wire (payload, no IP/UDP/TCP
  // headers); < 0 when unknown.
  virtual double bytes_sent() const = 0;
};

// VmRSS of a process in KiB (from /proc/PID/status); -1 when gone.
long long rss_kib(pid_t pid);

}  // namespace braid::bench::cluster
