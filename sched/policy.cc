#include "sched/policy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "sched/check.h"

namespace braid::sched {
namespace {

// Linux sched_prio_to_weight for nice +5 .. -5, i.e. priority 0 .. 10.
constexpr std::array<std::uint32_t, kPriorityLevels> kFairWeights{335,  423,  526,  655,  820, 1024,
                                                                  1277, 1586, 1991, 2501, 3121};
static_assert(kFairWeights[kPriorityDefault] == 1024);

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::string_view to_string(Policy policy) {
  switch (policy) {
    case Policy::kRoundRobin:
      return "RoundRobin";
    case Policy::kPriority:
      return "Priority";
    case Policy::kFair:
      return "Fair";
  }
  return "unknown";
}

Result<Policy> parse_policy(std::string_view name) {
  std::string key = lower(name);
  if (key == "roundrobin" || key == "round-robin" || key == "rr") return Policy::kRoundRobin;
  if (key == "priority") return Policy::kPriority;
  if (key == "fair") return Policy::kFair;
  return Error{"unknown policy \"" + std::string(name) + "\": use RoundRobin, Priority or Fair"};
}

std::uint32_t fair_weight(int priority) {
  BRAID_CHECK(priority >= kPriorityMin && priority <= kPriorityMax, priority);
  return kFairWeights[static_cast<std::size_t>(priority - kPriorityMin)];
}

std::uint64_t vruntime_delta_ns(Micros us, int priority) {
  BRAID_CHECK(us >= 0, us, priority);
  return static_cast<std::uint64_t>(us) * 1000u * kFairWeights[kPriorityDefault] /
         fair_weight(priority);
}

std::uint64_t owed_cpu_ns(std::uint64_t lag_ns, int priority) {
  const std::uint64_t weight = fair_weight(priority);
  const std::uint64_t unit = kFairWeights[kPriorityDefault];
  // lag * weight / unit without overflowing for any lag.
  return lag_ns / unit * weight + lag_ns % unit * weight / unit;
}

std::uint64_t rank_major(Policy policy, int priority, std::uint64_t vruntime_ns) {
  switch (policy) {
    case Policy::kRoundRobin:
      return 0;
    case Policy::kPriority:
      return static_cast<std::uint64_t>(kPriorityMax - priority);
    case Policy::kFair:
      return vruntime_ns;
  }
  return 0;
}

int rank_level(Policy policy, int priority) {
  return policy == Policy::kRoundRobin ? 0 : kPriorityMax - priority;
}

}  // namespace braid::sched
