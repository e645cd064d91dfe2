#include "rpc/peer_auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace braid::rpc {
namespace {

Nonce nonce_of(std::uint8_t fill) {
  Nonce n{};
  n.fill(fill);
  return n;
}

TEST(PeerAuth, TheMacDependsOnSecretSideNoncesAndName) {
  const Mac base = peer_mac("0123456789abcdef", MacSide::kClient, nonce_of(1), nonce_of(2), "a");
  EXPECT_TRUE(same_mac(
      base, peer_mac("0123456789abcdef", MacSide::kClient, nonce_of(1), nonce_of(2), "a")));
  EXPECT_FALSE(same_mac(
      base, peer_mac("0123456789abcdeX", MacSide::kClient, nonce_of(1), nonce_of(2), "a")));
  EXPECT_FALSE(same_mac(
      base, peer_mac("0123456789abcdef", MacSide::kServer, nonce_of(1), nonce_of(2), "a")));
  EXPECT_FALSE(same_mac(
      base, peer_mac("0123456789abcdef", MacSide::kClient, nonce_of(3), nonce_of(2), "a")));
  EXPECT_FALSE(same_mac(
      base, peer_mac("0123456789abcdef", MacSide::kClient, nonce_of(1), nonce_of(3), "a")));
  EXPECT_FALSE(same_mac(
      base, peer_mac("0123456789abcdef", MacSide::kClient, nonce_of(1), nonce_of(2), "b")));
}

TEST(PeerAuth, NoncesAreFresh) { EXPECT_NE(random_nonce(), random_nonce()); }

class SecretFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("braid-secret-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& content, mode_t mode) {
    const std::string path = dir_ / "secret";
    std::ofstream(path, std::ios::trunc) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(SecretFile, ReadsTheSecretWithoutTrailingWhitespace) {
  auto secret = read_secret_file(write("correct horse battery staple\n", 0600));
  ASSERT_TRUE(secret) << secret.error().message;
  EXPECT_EQ(secret.value(), "correct horse battery staple");
}

TEST_F(SecretFile, RefusesWhatCannotBeASecret) {
  const std::string path = write("short\n", 0600);
  auto r = read_secret_file(path);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("allowed: 16..4096"), std::string::npos) << r.error().message;
  r = read_secret_file(write("correct horse battery staple", 0644));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("readable by group or others"), std::string::npos);
  r = read_secret_file(write(std::string(5000, 'x'), 0600));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("larger than 4096"), std::string::npos) << r.error().message;
  r = read_secret_file((dir_ / "missing").string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("No such file"), std::string::npos) << r.error().message;
  r = read_secret_file(dir_.string());
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace braid::rpc
