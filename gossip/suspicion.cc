#include "gossip/suspicion.h"

#include <algorithm>
#include <cmath>

namespace braid::gossip {

SuspicionBounds suspicion_bounds(const GossipConfig& config, std::size_t live_members) {
  const double n = static_cast<double>(std::max<std::size_t>(live_members, 1));
  const double scale = std::max(1.0, std::log10(n));
  SuspicionBounds b;
  b.min_us = static_cast<Micros>(config.suspicion_mult * scale *
                                 static_cast<double>(config.probe_interval_us));
  b.max_us = b.min_us * config.suspicion_max_timeout_mult;
  const long long others = static_cast<long long>(live_members) - 2;
  b.confirmations = static_cast<int>(
      std::clamp<long long>(others, 0, static_cast<long long>(config.suspicion_confirmations)));
  return b;
}

Micros suspicion_timeout_us(const SuspicionBounds& bounds, int confirmations) {
  if (bounds.confirmations < 1) return bounds.min_us;
  const double fraction = std::log(static_cast<double>(std::max(0, confirmations)) + 1.0) /
                          std::log(static_cast<double>(bounds.confirmations) + 1.0);
  const double timeout = static_cast<double>(bounds.max_us) -
                         static_cast<double>(bounds.max_us - bounds.min_us) * fraction;
  return std::max(bounds.min_us, static_cast<Micros>(std::floor(timeout)));
}

Suspicion::Suspicion(Micros start_us, SuspicionBounds bounds, std::string accuser)
    : start_us_(start_us), bounds_(bounds) {
  accusers_.insert(std::move(accuser));
}

bool Suspicion::confirm(const std::string& accuser) {
  if (confirmations() >= bounds_.confirmations) return false;  // already at the minimum
  return accusers_.insert(accuser).second;
}

void Suspicion::postpone(Micros not_before_us) {
  not_before_us_ = std::max(not_before_us_, not_before_us);
}

Micros Suspicion::deadline_us() const {
  return std::max(not_before_us_, start_us_ + suspicion_timeout_us(bounds_, confirmations()));
}

}  // namespace braid::gossip
