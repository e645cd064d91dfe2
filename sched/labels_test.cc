#include "sched/labels.h"

#include <gtest/gtest.h>

#include <string>

#include "sched/task.h"

namespace braid::sched {
namespace {

TEST(Labels, ParseKeyValue) {
  auto l = parse_label("gpu=1");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l.value(), (Label{"gpu", "1"}));
  EXPECT_TRUE(parse_label("zone.eu-west_1=a.B-c").ok());
}

TEST(Labels, ParseRefusesBadShapesWithOneLine) {
  for (const char* bad : {"gpu", "=1", "gpu=", "g pu=1", "gpu=1=2", "gpu=\xc3\xa9", "a/b=1"}) {
    auto l = parse_label(bad);
    ASSERT_FALSE(l.ok()) << bad;
    EXPECT_NE(l.error().message.find("must look like KEY=VALUE, each 1..63 of A-Z a-z 0-9 . _ -"),
              std::string::npos)
        << l.error().message;
    EXPECT_EQ(l.error().message.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(parse_label(std::string(64, 'k') + "=1").ok());
  EXPECT_TRUE(parse_label(std::string(63, 'k') + "=1").ok());
  EXPECT_FALSE(parse_label("k=" + std::string(64, 'v')).ok());
}

TEST(Labels, ValidateCountAndDuplicateKeys) {
  std::vector<Label> labels;
  for (std::size_t i = 0; i < kLabelsMax; ++i) labels.push_back({"k" + std::to_string(i), "v"});
  EXPECT_TRUE(validate_labels(labels).ok());
  labels.push_back({"one", "more"});
  Status s = validate_labels(labels, "--node-label");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "at most 32 --node-labels are allowed, got 33");
  s = validate_labels({{"gpu", "1"}, {"gpu", "2"}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message,
            "node label key \"gpu\" is given twice (gpu=1, gpu=2): each key at most once");
  EXPECT_FALSE(validate_labels({{"", "1"}}).ok());
  EXPECT_FALSE(validate_labels({{"gpu", ""}}).ok());
  EXPECT_TRUE(validate_labels({}).ok());
}

TEST(Labels, EveryConstraintMustMatchKeyAndValue) {
  const std::vector<Label> node{{"gpu", "1"}, {"zone", "a"}};
  EXPECT_FALSE(first_unmet(node, {}));
  EXPECT_FALSE(first_unmet(node, {{"gpu", "1"}}));
  EXPECT_FALSE(first_unmet(node, {{"zone", "a"}, {"gpu", "1"}}));
  EXPECT_EQ(first_unmet(node, {{"gpu", "1"}, {"zone", "b"}}), (Label{"zone", "b"}));
  EXPECT_EQ(first_unmet({}, {{"gpu", "1"}}), (Label{"gpu", "1"}));
}

TEST(Labels, ReasonNamesTheMissingLabel) {
  EXPECT_EQ(unmet_labels_reason({}, {{"gpu", "1"}}), "needs node label gpu=1; this node has none");
  EXPECT_EQ(unmet_labels_reason({{"gpu", "0"}}, {{"gpu", "1"}}),
            "needs node label gpu=1; this node has gpu=0");
  EXPECT_EQ(unmet_labels_reason({{"gpu", "1"}}, {{"gpu", "1"}}), std::nullopt);
  EXPECT_EQ(format_labels({{"gpu", "1"}, {"zone", "a"}}), "gpu=1,zone=a");
  EXPECT_EQ(format_labels({}), "");
}

TEST(Labels, ValidateSpecChecksConstraints) {
  TaskSpec spec;
  spec.argv = {"/bin/true"};
  spec.constraints = {{"gpu", "1"}};
  EXPECT_TRUE(validate_spec(spec).ok());
  spec.constraints.push_back({"gpu", "2"});
  EXPECT_FALSE(validate_spec(spec).ok());
}

}  // namespace
}  // namespace braid::sched
