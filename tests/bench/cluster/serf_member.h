// A Serf agent (`serf agent`, Debian's package) on loopback, seen through
// `serf members -format=json`; its wire bytes come from a StatsdSink and its
// user events are time-stamped by an event handler script that appends
// "<realtime ns> <payload>" to <dir>/events.
//
// Membership changes are timed from the agent's own log, not by polling
// `serf members` (a Go CLI call costs ~10 ms of CPU; polling 9 agents every
// 50 ms would take most of a 2-core machine): serf logs
// "serf: EventMemberJoin: NAME" / "serf: EventMemberFailed: NAME" in the same
// step that changes the member's status, before the agent coalesces events
// for handlers (1-3 s later). scan(), called every ~10 ms, stamps each new
// line with the steady clock as it appears.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tests/bench/cluster/member.h"
#include "tests/bench/cluster/statsd_sink.h"
#include "tests/integration/harness.h"

namespace braid::bench::cluster {

// A TCP port free on 127.0.0.1 right now (bound to port 0, then released).
int free_port();

class SerfMember final : public Member {
 public:
  // seed: HOST:PORT to -join, or "" for the first agent. Starts it and
  // returns once `serf members` answers.
  SerfMember(std::string name, const std::string& serf, const std::string& seed, StatsdSink* sink);
  ~SerfMember() override;
  const std::string& name() const override { return name_; }
  pid_t pid() const override { return pid_; }
  void kill9() override;
  void restart() override;
  std::map<std::string, std::string> states() const override;
  double bytes_sent() const override { return sink_->bytes_sent(slot_); }

  std::string address() const { return "127.0.0.1:" + std::to_string(bind_port_); }
  std::string rpc_address() const { return "127.0.0.1:" + std::to_string(rpc_port_); }
  // Reads new log lines and stamps the membership events among them.
  void scan();
  // The first time at or after `since` this agent logged `kind` ("join" or
  // "failed") for member `who`; nullopt if not (yet).
  std::optional<std::chrono::steady_clock::time_point> first_event(
      const std::string& kind, const std::string& who,
      std::chrono::steady_clock::time_point since) const;

  // Realtime ns at which the handler saw user event payload `payload`; -1 if not yet.
  long long event_seen_ns(const std::string& payload) const;

 private:
  void start();

  std::string name_;
  std::string serf_;
  testing::TempDir dir_;
  StatsdSink* sink_;
  int slot_ = -1;
  int bind_port_ = 0;
  int rpc_port_ = 0;
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  struct Event {
    std::string kind, who;
    std::chrono::steady_clock::time_point at;
  };
  mutable std::mutex mu_;
  std::vector<Event> events_;
  long long log_offset_ = 0;
  std::string partial_line_;
};

}  // namespace braid::bench::cluster
