#include "node/cli_drain.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

TEST(CliDrain, TheLineSaysWhatIsLeftAndWhyItStays) {
  EXPECT_EQ(drain_line({false, true, 3, 0, 1}), "not draining: the node takes new tasks");
  EXPECT_EQ(drain_line({true, true, 0, 2, 1}),
            "drained: no queued task left to move; 1 running, 2 staying (pending, held or pinned)");
  EXPECT_EQ(drain_line({true, true, 5, 0, 2}),
            "draining: 5 queued tasks to move; 2 running, 0 staying (pending, held or pinned)");
  EXPECT_NE(drain_line({true, false, 5, 0, 2}).find("migration is off (braidd --migrate)"),
            std::string::npos);
}

}  // namespace
}  // namespace braid::node
