// The simulated network's fault model (tests/sim/network.h).
#include "tests/sim/network.h"

namespace braid::sim {

Network::Network(NetworkFaults faults, std::mt19937_64& rng) : faults_(faults), rng_(rng) {}

void Network::block(NodeIndex from, NodeIndex to) { blocked_.insert(pair_key(from, to)); }

void Network::unblock(NodeIndex from, NodeIndex to) { blocked_.erase(pair_key(from, to)); }

void Network::partition(const std::vector<NodeIndex>& a, const std::vector<NodeIndex>& b) {
  for (NodeIndex x : a) {
    for (NodeIndex y : b) {
      block(x, y);
      block(y, x);
    }
  }
}

void Network::heal() { blocked_.clear(); }

bool Network::blocked(NodeIndex from, NodeIndex to) const {
  return !blocked_.empty() && blocked_.contains(pair_key(from, to));
}

bool Network::draw(double probability) {
  if (probability <= 0.0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < probability;
}

Micros Network::draw_delay() {
  Micros jitter = 0;
  if (faults_.delay_jitter_us > 0) {
    jitter = std::uniform_int_distribution<Micros>(0, faults_.delay_jitter_us)(rng_);
  }
  return faults_.delay_base_us + jitter;
}

Route Network::route(NodeIndex from, NodeIndex to) {
  ++counters_.sent;
  Route route;
  if (blocked(from, to)) {
    ++counters_.dropped_partition;
    return route;
  }
  const int copies = draw(faults_.duplicate_probability) ? 2 : 1;
  if (copies == 2) ++counters_.duplicated;
  for (int i = 0; i < copies; ++i) {
    if (draw(faults_.drop_probability)) {
      ++counters_.dropped_loss;
      continue;
    }
    route.delay_us[route.copies++] = draw_delay();
  }
  return route;
}

}  // namespace braid::sim
