// The `braid` commands that follow tasks over time: wait, logs and run.
// Each returns the process's exit code (cli_exit.h) and prints as
// docs/cli.md says.
#pragma once

#include <string>
#include <vector>

#include "node/control_client.h"

namespace braid::node {

// `braid wait IDS`: blocks until every task ended (timeout_us 0 = no limit).
int wait_command(ControlClient& client, const std::vector<std::string>& ids,
                 sched::Micros timeout_us, bool json);

// `braid logs ID`: the task's output so far; with `follow`, until it ends.
int logs_command(ControlClient& client, const std::string& id, bool stderr_stream, bool follow);

// `braid run`: submits the task, streams its output (stdout to stdout, a
// separate stderr to stderr) until it ends, then returns its own exit code.
// The first Ctrl-C (SIGINT, even one that comes before the daemon answered
// the submission) cancels the task and keeps streaming until it ended; a
// second one exits at once (130).
int run_command(ControlClient& client, const sched::TaskSpec& spec);

}  // namespace braid::node
