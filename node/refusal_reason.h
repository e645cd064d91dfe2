// Refusal reasons for metrics: the free-text reason of a refused handoff
// offer ("busy", "fenced", "needs node label gpu=1; ...", "draining", ...)
// mapped to the fixed, low-cardinality label set of docs/metrics.md.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace braid::node {

enum class RefusalReason : std::uint8_t { kBusy, kLabels, kDraining, kDisabled, kFenced, kOther };
constexpr std::size_t kRefusalReasons = 6;
enum class RefusalSide : std::uint8_t { kByPeers, kByUs };

std::string_view to_string(RefusalReason reason);  // the label value: "busy", ...
std::string_view to_string(RefusalSide side);      // "by_peers", "by_us"
RefusalReason refusal_reason(std::string_view text);

// Refusals counted by side and reason.
struct RefusalCounts {
  std::array<std::array<std::uint64_t, kRefusalReasons>, 2> counts{};
  void add(RefusalSide side, std::string_view text) {
    ++counts[static_cast<std::size_t>(side)][static_cast<std::size_t>(refusal_reason(text))];
  }
  std::uint64_t at(RefusalSide side, RefusalReason reason) const {
    return counts[static_cast<std::size_t>(side)][static_cast<std::size_t>(reason)];
  }
};

}  // namespace braid::node
