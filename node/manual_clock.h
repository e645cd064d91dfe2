// ManualClock: a Clock tests set by hand (time moves only when told).
#pragma once

#include "node/clock.h"

namespace braid::node {

class ManualClock final : public Clock {
 public:
  sched::Micros monotonic_us() const override { return monotonic_us_; }
  sched::Micros wall_us() const override { return wall_us_; }
  void advance_us(sched::Micros us) {
    monotonic_us_ += us;
    wall_us_ += us;
  }
  void step_wall_us(sched::Micros us) { wall_us_ += us; }  // an NTP step: monotonic unmoved

 private:
  sched::Micros monotonic_us_ = 1'000'000;
  sched::Micros wall_us_ = 1'700'000'000'000'000;
};

}  // namespace braid::node
