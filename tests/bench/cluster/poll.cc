#include "tests/bench/cluster/poll.h"

#include <thread>

namespace braid::bench::cluster {

PollResult poll_until(const std::vector<std::function<bool()>>& checks,
                      std::chrono::steady_clock::time_point t0, std::chrono::milliseconds interval,
                      std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  PollResult result;
  result.ms.assign(checks.size(), -1);
  std::vector<double> gap_sum(checks.size(), 0);
  std::vector<int> gaps(checks.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    threads.emplace_back([&, i] {
      Clock::time_point previous{};
      for (auto next = Clock::now(); next < t0 + timeout; next += interval) {
        std::this_thread::sleep_until(next);  // pacing the polls, not synchronising
        const auto polled = Clock::now();
        if (previous != Clock::time_point{}) {
          gap_sum[i] += std::chrono::duration<double, std::milli>(polled - previous).count();
          ++gaps[i];
        }
        previous = polled;
        if (checks[i]()) {
          result.ms[i] = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          return;
        }
        if (Clock::now() > next + interval) next = Clock::now() - interval;  // fell behind
      }
    });
  }
  for (auto& t : threads) t.join();
  double sum = 0;
  int n = 0;
  for (std::size_t i = 0; i < checks.size(); ++i) {
    sum += gap_sum[i];
    n += gaps[i];
  }
  result.mean_gap_ms = n > 0 ? sum / n : 0;
  return result;
}

}  // namespace braid::bench::cluster
