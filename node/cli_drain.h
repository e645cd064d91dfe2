// `braid drain` (docs/cli.md, node/drain.h): starts a drain and, unless
// `wait` is false, polls the node until no queued task that may leave is
// left (only started tasks and those that never leave remain): for rolling
// restarts. `cancel` ends a drain. Returns the exit code: 0 drained (or the
// drain ended), 1 queued tasks cannot leave (migration off), 124 timeout_us
// ran out (0 = no limit), 2/3 as every command.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "node/control_client.h"

namespace braid::node {

int drain_command(ControlClient& client, bool cancel, bool wait, sched::Micros timeout_us,
                  bool json);

// `braid drain --json` (and the HTTP API's drain): draining, migrate, queued,
// staying, running.
nlohmann::json drain_json(const rpc::DrainView& view);

// One line saying where a drain stands.
std::string drain_line(const rpc::DrainView& view);

}  // namespace braid::node
