// Order statistics of a set of delays (microseconds): what the simulator
// reports for "time until a fact is known everywhere".
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "gossip/types.h"

namespace braid::sim {

struct Summary {
  std::size_t count = 0;    // values summarized
  std::size_t missing = 0;  // observers that never learned (not in the figures)
  gossip::Micros median_us = 0;
  gossip::Micros p99_us = 0;
  gossip::Micros max_us = 0;
};

// Nearest-rank median, p99 and max of `values`.
Summary summarize(std::vector<gossip::Micros> values, std::size_t missing = 0);
// "median 0.512 s  p99 1.020 s  max 1.100 s" (+ " missing N" when some never learned).
std::string to_string(const Summary& summary);

}  // namespace braid::sim
