#include "node/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace braid::node {
namespace {

class PrivateDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/braid-dd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::filesystem::path root_;
};

unsigned mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST_F(PrivateDir, DataDirAndLogsAreCreated0700EvenUnderALaxUmask) {
  const mode_t old = ::umask(0);
  auto dir = DataDir::open(root_ / "a/data");
  ::umask(old);
  ASSERT_TRUE(dir) << dir.error().message;
  EXPECT_EQ(mode_of(root_ / "a/data"), 0700u);
  EXPECT_EQ(mode_of(root_ / "a/data/logs"), 0700u);
  EXPECT_EQ(mode_of(root_ / "a/data/braidd.lock") & 077, 0u);
}

TEST_F(PrivateDir, AReadableDirOfAnOlderBraidIsMadePrivate) {
  const std::filesystem::path data = root_ / "old";
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((data / "logs").c_str(), 0755), 0);
  ASSERT_EQ(::chmod(data.c_str(), 0755), 0);
  ASSERT_EQ(::chmod((data / "logs").c_str(), 0755), 0);
  auto dir = DataDir::open(data);
  ASSERT_TRUE(dir) << dir.error().message;
  EXPECT_EQ(mode_of(data), 0700u);
  EXPECT_EQ(mode_of(data / "logs"), 0700u);
}

TEST_F(PrivateDir, GroupOrOtherWritableDirIsRefusedWithTheFix) {
  const std::filesystem::path dir = root_ / "shared";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0770), 0);
  auto opened = DataDir::open(dir);
  ASSERT_FALSE(opened);
  EXPECT_EQ(
      opened.error().message,
      "data dir " + dir.string() + " is writable by group or others (mode 0770): chmod 700 it");
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);  // readable is fine: only writes let others plant files
  EXPECT_TRUE(DataDir::open(dir));
}

TEST_F(PrivateDir, AFileIsNotADirectory) {
  const std::filesystem::path file = root_ / "file";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  sched::Status s = ensure_private_dir(file, "socket dir");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "socket dir " + file.string() + " is not a directory");
}

TEST_F(PrivateDir, OtherOwnerIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::filesystem::path dir = root_ / "theirs";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  sched::Status s = ensure_private_dir(dir, "data dir");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("is owned by uid 65534, not by this user (uid 0)"),
            std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace braid::node
