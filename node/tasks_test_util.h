// Tests only: a task held in a real Tasks part (never started, so no
// process), tracked as record `sequence`.
#pragma once

#include <gtest/gtest.h>

#include "node/tasks.h"

namespace braid::node::testing {

inline sched::TaskKey submit_held(Tasks& tasks, std::uint64_t sequence) {
  sched::TaskSpec spec;
  spec.argv = {"true"};
  spec.hold = true;
  auto key = tasks.torus().submit_as(tasks.torus().make_id(sequence), spec, tasks.now_us(),
                                     tasks.actions());
  EXPECT_TRUE(key) << key.error().message;
  tasks.track(key.value(), sequence);
  return key.value();
}

}  // namespace braid::node::testing
