// SdNotify: systemd's readiness protocol (sd_notify(3)) in a few lines, no
// libsystemd. A service of Type=notify is started with $NOTIFY_SOCKET naming
// an AF_UNIX datagram socket: a path ("/run/systemd/notify") or an abstract
// name ("@..." : the '@' stands for the leading NUL byte). The daemon sends
// newline-separated assignments as one datagram: "READY=1" once it serves,
// "STOPPING=1" when it begins to stop.
//
// from_environment() reads $NOTIFY_SOCKET once and removes it from the
// environment (call it early in main, before any thread starts), so that
// the tasks braidd starts never see it. Without it (braidd run by hand, or
// by a Type=simple unit) send() does nothing and succeeds.
#pragma once

#include <string>
#include <string_view>

#include "sched/result.h"

namespace braid::node {

class SdNotify final {
 public:
  // `socket`: as $NOTIFY_SOCKET holds it; empty = no service manager.
  explicit SdNotify(std::string socket) : socket_(std::move(socket)) {}
  static SdNotify from_environment();

  bool enabled() const { return !socket_.empty(); }
  const std::string& socket() const { return socket_; }

  // Sends `state` (e.g. "READY=1") as one datagram. An Error names the
  // socket and the reason (not a path or '@' name, too long, send failed).
  sched::Status send(std::string_view state) const;

 private:
  std::string socket_;
};

}  // namespace braid::node
