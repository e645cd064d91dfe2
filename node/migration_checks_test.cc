#include "node/migration_checks.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "node/test_temp_dir.h"

namespace braid::node {
namespace {

sched::TaskSpec spec_of(std::vector<std::string> argv) {
  sched::TaskSpec s;
  s.argv = std::move(argv);
  return s;
}

TEST(MigrationChecks, AProgramResolvesByPathOrByTheTasksPath) {
  EXPECT_TRUE(program_resolves(spec_of({"sh", "-c", "true"})));  // on this daemon's PATH
  EXPECT_TRUE(program_resolves(spec_of({"/bin/sh"})));
  EXPECT_FALSE(program_resolves(spec_of({"no-such-program-braid"})));
  EXPECT_FALSE(program_resolves(spec_of({"/no/such/program"})));

  testing::TempDir tmp("braid-checks");
  const std::string dir_path = tmp.path().string();
  const std::string tool = dir_path + "/tool";
  std::ofstream(tool) << "#!/bin/sh\n";
  ::chmod(tool.c_str(), 0755);
  sched::TaskSpec by_path = spec_of({"tool"});
  EXPECT_FALSE(program_resolves(by_path));
  by_path.env = {"PATH=" + dir_path};  // the task's own PATH
  EXPECT_TRUE(program_resolves(by_path));
  sched::TaskSpec by_submitter = spec_of({"tool"});
  by_submitter.base_env = std::make_shared<const sched::Environment>(
      sched::Environment{1, {"PATH=/usr/bin:" + dir_path}});
  EXPECT_TRUE(program_resolves(by_submitter));
  sched::TaskSpec relative = spec_of({"./tool"});
  relative.cwd = dir_path;
  EXPECT_TRUE(program_resolves(relative));
  ::chmod(tool.c_str(), 0644);  // not executable
  EXPECT_FALSE(program_resolves(relative));
}

TEST(MigrationChecks, ASpecTooBigForAnOfferStaysHome) {
  sched::TaskSpec s = spec_of({"sh"});
  EXPECT_TRUE(travels(s));
  s.base_env = std::make_shared<const sched::Environment>(
      sched::Environment{1, std::vector<std::string>(600, "K=" + std::string(1024, 'v'))});
  EXPECT_FALSE(travels(s));  // 600 KiB of environment: over half the message bound
}

TEST(MigrationChecks, AMissingDirectoryOrProgramIsNamed) {
  sched::TaskSpec s = spec_of({"sh"});
  EXPECT_EQ(missing_for(s), std::nullopt);
  s.cwd = "/no/such/dir";
  EXPECT_EQ(missing_for(s), "no such working directory: /no/such/dir");
  s.cwd.clear();
  s.argv = {"no-such-program-braid"};
  EXPECT_EQ(missing_for(s), "no such program: no-such-program-braid");
}

TEST(MigrationChecks, AnOfferNeedingALabelTheNodeLacksIsRefusedByName) {
  sched::TaskSpec spec = spec_of({"sh"});
  EXPECT_EQ(missing_labels({}, spec), std::nullopt);  // needs none
  spec.constraints = {{"gpu", "1"}, {"zone", "a"}};
  EXPECT_EQ(missing_labels({}, spec), "needs node label gpu=1; this node has none");
  EXPECT_EQ(missing_labels({{"gpu", "1"}}, spec), "needs node label zone=a; this node has none");
  EXPECT_EQ(missing_labels({{"gpu", "1"}, {"zone", "b"}}, spec),
            "needs node label zone=a; this node has zone=b");
  EXPECT_EQ(missing_labels({{"zone", "a"}, {"extra", "x"}, {"gpu", "1"}}, spec), std::nullopt);
}

}  // namespace
}  // namespace braid::node
