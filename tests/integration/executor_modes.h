// ExecutorModes: a test fixture parameterised by braidd's --executor mode
// ("signals" or "cgroup"); cgroup runs are skipped where this host has no
// writable cgroup v2 hierarchy.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tests/integration/harness.h"

namespace braid::testing {

class ExecutorModes : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (std::string(GetParam()) == "cgroup") {
      Daemon probe({"--executor", "auto"});
      if (probe.json({"stats", "--json"})["executor"] != "cgroup") {
        GTEST_SKIP() << "no writable cgroup v2 hierarchy here";
      }
    }
  }
};

}  // namespace braid::testing
