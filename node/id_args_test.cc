#include "node/id_args.h"

#include <gtest/gtest.h>

namespace braid::node {
namespace {

using Ids = std::vector<std::string>;

TEST(IdArgsTest, SingleIdsPassThroughInOrder) {
  auto ids = expand_ids({"n:7", "other:1"});
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_EQ(ids.value(), (Ids{"n:7", "other:1"}));
}

TEST(IdArgsTest, RangesExpandBothEndsIncluded) {
  auto ids = expand_ids({"n:5..n:8", "m:1"});
  ASSERT_TRUE(ids) << ids.error().message;
  EXPECT_EQ(ids.value(), (Ids{"n:5", "n:6", "n:7", "n:8", "m:1"}));
  auto one = expand_ids({"a.b-c:3..a.b-c:3"});
  ASSERT_TRUE(one);
  EXPECT_EQ(one.value(), (Ids{"a.b-c:3"}));
}

TEST(IdArgsTest, BadRangesNameTheArgumentAndTheForms) {
  for (const char* bad : {"n:5..m:6", "n:9..n:5", "n:5..", "..n:5", "n:x..n:5", "n:5..n:"}) {
    auto ids = expand_ids({bad});
    ASSERT_FALSE(ids) << bad;
    EXPECT_NE(ids.error().message.find(bad), std::string::npos) << ids.error().message;
    EXPECT_NE(ids.error().message.find("n:5..n:104"), std::string::npos) << ids.error().message;
  }
}

TEST(IdArgsTest, TooManyIdsAreRefused) {
  EXPECT_TRUE(expand_ids({"n:1..n:100000"}));
  EXPECT_FALSE(expand_ids({"n:1..n:100001"}));
  EXPECT_FALSE(expand_ids({"n:1..n:99999", "n:5", "n:6"}));
  EXPECT_FALSE(expand_ids({"n:1..n:18446744073709551615"}));
}

}  // namespace
}  // namespace braid::node
