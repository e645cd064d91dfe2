#include "node/cli_drain.h"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "node/cli_reply.h"
#include "node/clock.h"

namespace braid::node {
namespace {

constexpr auto kDrainPollInterval = std::chrono::milliseconds(100);

}  // namespace

nlohmann::json drain_json(const rpc::DrainView& v) {
  return {{"draining", v.draining},
          {"migrate", v.migrate},
          {"queued", v.queued},
          {"staying", v.staying},
          {"running", v.running}};
}

std::string drain_line(const rpc::DrainView& v) {
  if (!v.draining) return "not draining: the node takes new tasks";
  const std::string rest =
      fmt::format("{} running, {} staying (pending, held or pinned)", v.running, v.staying);
  if (v.queued == 0) return "drained: no queued task left to move; " + rest;
  if (!v.migrate) {
    return fmt::format(
        "draining, but migration is off (braidd --migrate): {} queued tasks stay here; {}",
        v.queued, rest);
  }
  return fmt::format("draining: {} queued tasks to move; {}", v.queued, rest);
}

int drain_command(ControlClient& client, bool cancel, bool wait, sched::Micros timeout_us,
                  bool json) {
  const SystemClock clock;
  const sched::Micros start_us = clock.monotonic_us();
  auto print = [json](const rpc::DrainView& v) {
    if (json) {
      std::cout << drain_json(v).dump(2) << "\n";
    } else {
      std::cout << drain_line(v) << "\n";
    }
  };
  for (bool first = true;; first = false) {
    int code = 0;
    auto reply = client.drain(cancel, /*query=*/!first);  // started once, then watched
    const auto* view = ok(reply, code);
    if (!view) return code;
    if (!first && !view->draining) {
      std::cerr << "braid: the drain was cancelled (braid drain --cancel)\n";
      return 1;
    }
    const bool done = !view->draining || view->queued == 0;
    if (done || !wait) {
      print(*view);
      return 0;
    }
    if (!view->migrate) {
      print(*view);
      return 1;
    }
    if (timeout_us > 0 && clock.monotonic_us() - start_us >= timeout_us) {
      print(*view);
      return kExitTimedOut;
    }
    std::this_thread::sleep_for(kDrainPollInterval);
  }
}

}  // namespace braid::node
