// Clock: the only way node/ code reads time, so tests and simulations can
// substitute their own. main() builds the SystemClock.
#pragma once

#include <chrono>

#include "sched/types.h"

namespace braid::node {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic microseconds (never jumps); what the torus is fed.
  virtual sched::Micros monotonic_us() const = 0;
  // Microseconds since the Unix epoch; for timestamps people read.
  virtual sched::Micros wall_us() const = 0;
};

class SystemClock final : public Clock {
 public:
  sched::Micros monotonic_us() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  sched::Micros wall_us() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace braid::node
