#include "node/output_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace braid::node {
namespace {

sched::TaskSpec spec_named(std::string name, int array_index = -1) {
  sched::TaskSpec spec;
  spec.argv = {"/usr/bin/python3", "x.py"};
  spec.name = std::move(name);
  spec.array_index = array_index;
  return spec;
}

TEST(OutputPattern, ExpandsIdArrayIndexNameAndPercent) {
  EXPECT_EQ(expand_output_pattern("%x-%j_%a.log", "n:7", spec_named("build", 3)),
            "build-n:7_3.log");
  EXPECT_EQ(expand_output_pattern("100%%-%j", "n:7", spec_named("b")), "100%-n:7");
}

TEST(OutputPattern, NonArrayIndexIsEmptyAndUnnamedTasksUseTheProgram) {
  EXPECT_EQ(expand_output_pattern("%x.%a.out", "n:1", spec_named("")), "python3..out");
  EXPECT_EQ(expand_output_pattern("a%a", "n:1", spec_named("x", 0)), "a0");
}

TEST(OutputPattern, UnknownSequencesAndATrailingPercentStay) {
  EXPECT_EQ(expand_output_pattern("%u-%N-%", "n:1", spec_named("x")), "%u-%N-%");
}

TEST(OutputPaths, DefaultIsOneMergedFileInTheLogsDir) {
  const OutputPaths p = output_paths("n:1", spec_named("x"), "/daemon");
  EXPECT_EQ(p.out, (OutputFile{true, "n:1.out"}));
  EXPECT_FALSE(p.err);
}

TEST(OutputPaths, SeparateStderrAddsTheErrFile) {
  sched::TaskSpec spec = spec_named("x");
  spec.separate_stderr = true;
  const OutputPaths p = output_paths("n:1", spec, "/daemon");
  EXPECT_EQ(p.out, (OutputFile{true, "n:1.out"}));
  EXPECT_EQ(p.err, (OutputFile{true, "n:1.err"}));
}

TEST(OutputPaths, RelativePatternsFollowTheTaskCwdElseTheDaemons) {
  sched::TaskSpec spec = spec_named("job");
  spec.output = "out/%x.log";
  EXPECT_EQ(output_paths("n:1", spec, "/daemon").out, (OutputFile{false, "/daemon/out/job.log"}));
  spec.cwd = "/home/ann/work";
  EXPECT_EQ(output_paths("n:1", spec, "/daemon").out,
            (OutputFile{false, "/home/ann/work/out/job.log"}));
  spec.output = "/abs/%j.log";
  EXPECT_EQ(output_paths("n:1", spec, "/daemon").out, (OutputFile{false, "/abs/n:1.log"}));
}

class LogDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/braid-logdir-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::filesystem::path dir_;
};

TEST_F(LogDirTest, AppendsPrivatelyAndNeverFollowsASymlink) {
  auto logs = LogDir::open(dir_);
  ASSERT_TRUE(logs) << logs.error().message;
  const OutputFile file{true, "n:1.out"};
  for (const char* text : {"one\n", "two\n"}) {
    auto fd = logs.value().open_append(file);
    ASSERT_TRUE(fd) << fd.error().message;
    ASSERT_EQ(::write(fd.value(), text, 4), 4);
    ::close(fd.value());
  }
  EXPECT_EQ(read(dir_ / "n:1.out"), "one\ntwo\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "n:1.out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  std::ofstream(dir_ / "victim") << "precious\n";
  std::filesystem::create_symlink(dir_ / "victim", dir_ / "n:2.out");
  auto planted = logs.value().open_append({true, "n:2.out"});
  ASSERT_FALSE(planted);
  EXPECT_EQ(planted.error().message, "cannot open output file " + (dir_ / "n:2.out").string() +
                                         ": Too many levels of symbolic links");
  EXPECT_LT(logs.value().open_read({true, "n:2.out"}), 0);
  EXPECT_EQ(read(dir_ / "victim"), "precious\n");

  logs.value().remove(file);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "n:1.out"));
  logs.value().remove({false, dir_ / "victim"});  // the user's: never deleted
  EXPECT_TRUE(std::filesystem::exists(dir_ / "victim"));
}

TEST_F(LogDirTest, MissingParentOfACustomOutputIsNamed) {
  auto logs = LogDir::open(dir_);
  ASSERT_TRUE(logs);
  auto fd = logs.value().open_append({false, dir_ / "no/such/dir/x.out"});
  ASSERT_FALSE(fd);
  EXPECT_EQ(fd.error().message, "cannot open output file " + (dir_ / "no/such/dir/x.out").string() +
                                    ": No such file or directory");
}

}  // namespace
}  // namespace braid::node
