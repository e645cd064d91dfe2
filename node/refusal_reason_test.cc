#include "node/refusal_reason.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

TEST(RefusalReason, FreeTextMapsToTheContractsLabels) {
  EXPECT_EQ(refusal_reason("busy"), RefusalReason::kBusy);
  EXPECT_EQ(refusal_reason("needs node label gpu=1; this node has none"), RefusalReason::kLabels);
  EXPECT_EQ(refusal_reason("draining"), RefusalReason::kDraining);
  EXPECT_EQ(refusal_reason("migration is off on this node (braidd --no-migrate)"),
            RefusalReason::kDisabled);
  EXPECT_EQ(refusal_reason("fenced"), RefusalReason::kFenced);
  EXPECT_EQ(refusal_reason("held from another handoff"), RefusalReason::kFenced);
  EXPECT_EQ(refusal_reason("shutting down"), RefusalReason::kOther);
  EXPECT_EQ(refusal_reason("cwd /x does not exist"), RefusalReason::kOther);
  EXPECT_EQ(refusal_reason(""), RefusalReason::kOther);
  EXPECT_EQ(to_string(RefusalReason::kDisabled), "disabled");
  EXPECT_EQ(to_string(RefusalSide::kByPeers), "by_peers");
}

TEST(RefusalReason, CountsBySideAndReason) {
  RefusalCounts c;
  c.add(RefusalSide::kByUs, "busy");
  c.add(RefusalSide::kByUs, "busy");
  c.add(RefusalSide::kByPeers, "fenced");
  EXPECT_EQ(c.at(RefusalSide::kByUs, RefusalReason::kBusy), 2u);
  EXPECT_EQ(c.at(RefusalSide::kByPeers, RefusalReason::kFenced), 1u);
  EXPECT_EQ(c.at(RefusalSide::kByPeers, RefusalReason::kBusy), 0u);
}

}  // namespace
}  // namespace braid::node
