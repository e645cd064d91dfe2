#include "gossip/awareness.h"

#include <algorithm>

namespace braid::gossip {

Awareness::Awareness(int max) : max_(std::max(1, max)) {}

void Awareness::apply(int delta) { score_ = std::clamp(score_ + delta, 0, max_ - 1); }

Micros Awareness::scale(Micros timeout_us) const { return timeout_us * (score_ + 1); }

}  // namespace braid::gossip
