// Lifeguard suspicion timer of one suspected member. The timeout starts at
// max_us and shrinks logarithmically towards min_us as independent accusers
// confirm the suspicion (memberlist's suspicion.go):
//   timeout(c) = max(min, max - (max - min) x log(c + 1) / log(k + 1))
// with c confirmations so far (the first accuser is not one) and k the
// confirmations that bring it down to min (k < 1: always min).
#pragma once

#include <set>
#include <string>

#include "gossip/config.h"
#include "gossip/types.h"

namespace braid::gossip {

struct SuspicionBounds {
  Micros min_us = 0;
  Micros max_us = 0;
  int confirmations = 0;  // k
};

// For a cluster of live_members (alive + suspect, ourselves included):
//   min = suspicion_mult x max(1, log10(n)) x probe_interval
//   max = min x suspicion_max_timeout_mult
//   k   = suspicion_confirmations, at most n - 2 (the accusers there can be).
SuspicionBounds suspicion_bounds(const GossipConfig& config, std::size_t live_members);

// timeout(c) above.
Micros suspicion_timeout_us(const SuspicionBounds& bounds, int confirmations);

class Suspicion {
 public:
  Suspicion(Micros start_us, SuspicionBounds bounds, std::string accuser);
  // Counts `accuser` if it has not accused yet; true if it was new.
  bool confirm(const std::string& accuser);
  // No deadline before not_before_us (a stalled loop gives queued messages
  // a chance first).
  void postpone(Micros not_before_us);
  int confirmations() const { return static_cast<int>(accusers_.size()) - 1; }
  Micros deadline_us() const;

 private:
  Micros start_us_;
  SuspicionBounds bounds_;
  std::set<std::string> accusers_;
  Micros not_before_us_ = 0;
};

}  // namespace braid::gossip
