#include "node/refusal_reason.h"

#include "sched/labels.h"

namespace braid::node {

std::string_view to_string(RefusalReason reason) {
  switch (reason) {
    case RefusalReason::kBusy:
      return "busy";
    case RefusalReason::kLabels:
      return "labels";
    case RefusalReason::kDraining:
      return "draining";
    case RefusalReason::kDisabled:
      return "disabled";
    case RefusalReason::kFenced:
      return "fenced";
    case RefusalReason::kOther:
      break;
  }
  return "other";
}

std::string_view to_string(RefusalSide side) {
  return side == RefusalSide::kByPeers ? "by_peers" : "by_us";
}

// The texts come from node/migration.cc (cannot_run), node/migration_checks.cc
// (missing_labels) and sched/handoff_receiver.cc (fences).
RefusalReason refusal_reason(std::string_view text) {
  if (text == "busy") return RefusalReason::kBusy;
  if (text.starts_with(sched::kNeedsLabelPrefix)) return RefusalReason::kLabels;
  if (text == "draining") return RefusalReason::kDraining;
  if (text.starts_with("migration is off")) return RefusalReason::kDisabled;
  if (text == "fenced" || text == "held from another handoff") return RefusalReason::kFenced;
  return RefusalReason::kOther;
}

}  // namespace braid::node
