#include "gossip/types.h"

#include <gtest/gtest.h>

#include <string>

namespace braid::gossip {
namespace {

TEST(Types, Names) {
  EXPECT_TRUE(valid_name("node-1.a_b"));
  EXPECT_TRUE(valid_name(std::string(kNameMaxBytes, 'x')));
  EXPECT_FALSE(valid_name(""));
  EXPECT_FALSE(valid_name(std::string(kNameMaxBytes + 1, 'x')));
  EXPECT_FALSE(valid_name("a b"));
  EXPECT_FALSE(valid_name("a/b"));
  EXPECT_FALSE(valid_name("a:b"));
}

TEST(Types, Addresses) {
  EXPECT_TRUE(valid_address("10.0.0.1:7946"));
  EXPECT_TRUE(valid_address("host.example:1"));
  EXPECT_TRUE(valid_address("h:65535"));
  EXPECT_TRUE(valid_address("[::1]:7946"));
  EXPECT_TRUE(valid_address("[fe80::1:2]:80"));
  EXPECT_FALSE(valid_address("h:0"));
  EXPECT_FALSE(valid_address("h:65536"));
  EXPECT_FALSE(valid_address("h:080"));
  EXPECT_FALSE(valid_address("h:"));
  EXPECT_FALSE(valid_address(":80"));
  EXPECT_FALSE(valid_address("host"));
  EXPECT_FALSE(valid_address("ho st:80"));
  EXPECT_FALSE(valid_address("-host:80"));
  EXPECT_FALSE(valid_address("[]:80"));
  EXPECT_FALSE(valid_address("[::1:80"));
  EXPECT_FALSE(valid_address("::1:80"));
  EXPECT_FALSE(valid_address(std::string(kAddressMaxBytes - 4, 'h') + ":7946"));
  EXPECT_TRUE(valid_address(std::string(kAddressMaxBytes - 5, 'h') + ":7946"));
}

TEST(Types, StateNames) {
  EXPECT_EQ(to_string(MemberState::kAlive), "alive");
  EXPECT_EQ(to_string(MemberState::kSuspect), "suspect");
  EXPECT_EQ(to_string(MemberState::kDead), "dead");
  EXPECT_EQ(to_string(MemberState::kLeft), "left");
}

TEST(Types, Loads) {
  EXPECT_TRUE(valid_load(Load{}));
  EXPECT_TRUE(valid_load(Load{1, 2, 1, 8, 8, 10, true}));
  EXPECT_FALSE(valid_load(Load{0, 0, 0, 4, 5, -1, true}));  // free above slots
  EXPECT_FALSE(valid_load(Load{0, 0, 0, 4, 4, 11, true}));
  EXPECT_FALSE(valid_load(Load{0, 0, 0, 4, 4, -2, true}));
  EXPECT_FALSE(valid_load(Load{kLoadCountMax + 1, 0, 0, 0, 0, -1, true}));
}

}  // namespace
}  // namespace braid::gossip
