// node/following: the pure part (which rows ps --cluster keeps). The
// questions themselves run against real braidd processes in
// tests/integration/following_test.cc, and over a real transport in
// rpc/peer_query_test.cc.
#include "node/following.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

rpc::TaskView row(const std::string& id, const std::string& node, const std::string& moved_to) {
  rpc::TaskView t;
  t.id = id;
  t.node = node;
  t.moved_to = moved_to;
  t.state = moved_to.empty() ? sched::TaskState::kRunning : sched::TaskState::kMoved;
  return t;
}

rpc::TaskView ended(rpc::TaskView t) {
  t.state = sched::TaskState::kCompleted;
  return t;
}

std::vector<std::string> where(const std::vector<rpc::TaskView>& rows) {
  std::vector<std::string> out;
  for (const auto& t : rows) out.push_back(t.id + "@" + t.node);
  return out;
}

TEST(Following, APointerRowGoesWhenTheHolderListsTheTask) {
  std::vector<rpc::TaskView> rows = {row("a:1", "a", "b"), row("a:2", "a", ""),
                                     row("a:1", "b", "")};
  drop_pointer_rows(rows, {"a", "b"});
  EXPECT_EQ(where(rows), (std::vector<std::string>{"a:2@a", "a:1@b"}));
}

TEST(Following, APointerRowStaysWhenTheNodeItPointsToDidNotAnswer) {
  // a -> b -> c, and c did not answer: b's pointer stays (where it went).
  std::vector<rpc::TaskView> rows = {row("a:1", "a", "b"), row("a:1", "b", "c")};
  drop_pointer_rows(rows, {"a", "b"});
  EXPECT_EQ(where(rows), (std::vector<std::string>{"a:1@b"}));
}

TEST(Following, ARelaysStalePointerGoesWhenTheExecutorAnswered) {
  // a -> b -> c, ended on c (not listed without --all); b's pointer is never updated.
  std::vector<rpc::TaskView> rows = {row("a:1", "b", "c")};
  drop_pointer_rows(rows, {"a", "b", "c"});
  EXPECT_TRUE(rows.empty());
}

TEST(Following, MovedRowsStayWhenAskedFor) {
  std::vector<rpc::TaskView> rows = {row("a:1", "a", "b"), row("a:1", "b", "")};
  drop_pointer_rows(rows, {"a", "b"}, /*keep_moved=*/true);
  EXPECT_EQ(rows.size(), 2u);
}

TEST(Following, AnEndedTaskIsListedByTheNodeThatRanItNotByItsOrigin) {
  // After the outcome came home the origin's record is terminal, moved_to = executor.
  std::vector<rpc::TaskView> rows = {ended(row("a:1", "a", "c")), row("a:1", "b", "c"),
                                     ended(row("a:1", "c", ""))};
  drop_pointer_rows(rows, {"a", "b", "c"});
  EXPECT_EQ(where(rows), (std::vector<std::string>{"a:1@c"}));
}

}  // namespace
}  // namespace braid::node
