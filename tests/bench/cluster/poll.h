// Polling many observers at once: one thread per observer calls its check
// every `interval` (a CLI call each) until it holds or the deadline passes,
// and records when it first held. The mean gap between two polls of one
// observer is the resolution of the figures.
#pragma once

#include <chrono>
#include <functional>
#include <vector>

namespace braid::bench::cluster {

struct PollResult {
  // Per observer: ms from t0 to the first poll that saw the check hold; -1 if never.
  std::vector<double> ms;
  double mean_gap_ms = 0;  // mean interval between successive polls of one observer
};

PollResult poll_until(const std::vector<std::function<bool()>>& checks,
                      std::chrono::steady_clock::time_point t0, std::chrono::milliseconds interval,
                      std::chrono::milliseconds timeout);

}  // namespace braid::bench::cluster
