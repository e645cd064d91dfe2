#include "node/lifetime.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

namespace braid::node {
namespace {

TEST(LifetimeTest, GuardedHandlerRunsWhileOwnerLives) {
  int calls = 0;
  Lifetime lifetime;
  auto handler = lifetime.guard([&calls](int n) { calls += n; });
  handler(2);
  handler(3);
  EXPECT_EQ(calls, 5);
}

TEST(LifetimeTest, GuardedHandlerDoesNothingOnceOwnerIsGone) {
  int calls = 0;
  std::function<void(int)> handler;
  {
    Lifetime lifetime;
    handler = lifetime.guard([&calls](int n) { calls += n; });
    handler(1);
  }
  handler(10);
  EXPECT_EQ(calls, 1);
}

TEST(LifetimeTest, TokenExpiresWithOwner) {
  std::weak_ptr<const bool> token;
  {
    Lifetime lifetime;
    token = lifetime.token();
    EXPECT_FALSE(token.expired());
  }
  EXPECT_TRUE(token.expired());
}

}  // namespace
}  // namespace braid::node
