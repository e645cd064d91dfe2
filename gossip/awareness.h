// Lifeguard local health ("awareness"): a score 0..max-1 that rises when this
// node has evidence that it, not its peers, is slow (a failed probe nobody
// nacked, having to refute a suspicion of itself, a stalled loop) and falls
// with every successful probe. Timeouts are stretched by (score + 1), so a
// slow node waits longer before accusing others.
#pragma once

#include "gossip/types.h"

namespace braid::gossip {

class Awareness {
 public:
  // max >= 1: the score stays in 0..max-1.
  explicit Awareness(int max);
  // Adds delta (negative: healthier), clamped to 0..max-1.
  void apply(int delta);
  int score() const { return score_; }
  // timeout x (score + 1).
  Micros scale(Micros timeout_us) const;

 private:
  int max_;
  int score_ = 0;
};

}  // namespace braid::gossip
