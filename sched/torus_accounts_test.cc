// Accounts: under Fair the next queued task comes from the account that has
// used the least CPU; the other policies ignore accounts.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::account_spec;
using testing::config;
using testing::first_at;
using testing::must;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;
constexpr Micros kSec = kMicrosPerSecond;

// One slot, one started task at a time: the order of starts is the order
// in which queued tasks were chosen.
TorusConfig one_at_a_time(Policy policy) {
  TorusConfig c = config(policy, 1, 10 * kMs);
  c.started_max = 1;
  return c;
}

Micros start_of(const SimNode& node, TaskKey key) {
  return first_at(node, Action::Kind::kStart, key);
}

// The "two users": A queues a batch, B submits later; B's tasks run
// before the rest of A's batch, each as soon as a slot frees.
TEST(TorusAccounts, ALaterSmallSubmissionOfAnotherAccountRunsBeforeTheBatch) {
  SimNode node(one_at_a_time(Policy::kFair));
  std::vector<TaskKey> a;
  for (int i = 0; i < 4; ++i) a.push_back(must(node.submit(account_spec("a"), work(3 * kSec))));
  node.run_for(2 * kSec);
  const TaskKey b1 = must(node.submit(account_spec("b"), work(3 * kSec)));
  const TaskKey b2 = must(node.submit(account_spec("b"), work(3 * kSec)));
  node.run_for(60 * kSec);
  ASSERT_EQ(node.torus().task(b2).state, TaskState::kCompleted);
  // a[0] ran 3 s; B came back at A's usage then, 2 s: B's first task is
  // next, then A's (3 s used) before B's second (2 s + 3 s).
  EXPECT_LT(start_of(node, b1), start_of(node, a[1]));
  EXPECT_LT(start_of(node, a[1]), start_of(node, b2));
  EXPECT_LT(start_of(node, b2), start_of(node, a[2]));
}

// The same submissions under FIFO policies: accounts change nothing.
TEST(TorusAccounts, RoundRobinAndPriorityIgnoreAccounts) {
  for (Policy policy : {Policy::kRoundRobin, Policy::kPriority}) {
    SimNode node(one_at_a_time(policy));
    std::vector<TaskKey> a;
    for (int i = 0; i < 3; ++i) a.push_back(must(node.submit(account_spec("a"), work(1 * kSec))));
    node.run_for(500 * kMs);
    const TaskKey b = must(node.submit(account_spec("b"), work(1 * kSec)));
    node.run_for(10 * kSec);
    EXPECT_LT(start_of(node, a[2]), start_of(node, b)) << to_string(policy);
  }
}

// An account that was idle comes back at the busy accounts' least usage:
// its idle time earns it no credit...
TEST(TorusAccounts, IdleTimeEarnsNoCredit) {
  SimNode node(one_at_a_time(Policy::kFair));
  std::vector<TaskKey> a;
  for (int i = 0; i < 3; ++i) a.push_back(must(node.submit(account_spec("a"), work(5 * kSec))));
  node.run_for(4 * kSec);
  // A has used 4 s; C comes back at 4 s, not 0. After C's first task (1 s)
  // both have used 5 s, and A's older task goes first.
  std::vector<TaskKey> c;
  for (int i = 0; i < 2; ++i) c.push_back(must(node.submit(account_spec("c"), work(1 * kSec))));
  node.run_for(60 * kSec);
  EXPECT_LT(start_of(node, c[0]), start_of(node, a[1]));
  EXPECT_LT(start_of(node, a[1]), start_of(node, c[1]));
}

// ...and its past use is not held against it.
TEST(TorusAccounts, PastUseIsNotHeldAgainstAnAccountThatComesBack) {
  SimNode node(one_at_a_time(Policy::kFair));
  must(node.submit(account_spec("b"), work(10 * kSec)));
  node.run_for(11 * kSec);  // B used 10 s and went idle
  std::vector<TaskKey> a;
  for (int i = 0; i < 2; ++i) a.push_back(must(node.submit(account_spec("a"), work(2 * kSec))));
  node.run_for(1 * kSec);
  const TaskKey b = must(node.submit(account_spec("b"), work(1 * kSec)));
  node.run_for(30 * kSec);
  // B came back at A's 1 s, below A's 2 s when A's first task ended.
  EXPECT_LT(start_of(node, b), start_of(node, a[1]));
}

// The default account is one account like the others.
TEST(TorusAccounts, TheDefaultAccountSharesWithNamedOnes) {
  SimNode node(one_at_a_time(Policy::kFair));
  std::vector<TaskKey> a;
  for (int i = 0; i < 3; ++i) a.push_back(must(node.submit(spec(), work(2 * kSec))));
  node.run_for(1 * kSec);
  const TaskKey b = must(node.submit(account_spec("b"), work(1 * kSec)));
  node.run_for(30 * kSec);
  EXPECT_LT(start_of(node, b), start_of(node, a[1]));
}

// A dropped account (no task names it after a purge) can come back under
// the same name or another, and is served fairly again.
TEST(TorusAccounts, AccountsForgottenWithTheirTasksComeBack) {
  SimNode node(one_at_a_time(Policy::kFair));
  const TaskKey old = must(node.submit(account_spec("gone"), work(1 * kSec)));
  node.run_for(2 * kSec);
  ASSERT_TRUE(node.torus().forget(old).ok());
  std::vector<TaskKey> a;
  for (int i = 0; i < 3; ++i) a.push_back(must(node.submit(account_spec("a"), work(2 * kSec))));
  node.run_for(1 * kSec);
  const TaskKey x = must(node.submit(account_spec("x"), work(1 * kSec)));
  const TaskKey gone = must(node.submit(account_spec("gone"), work(1 * kSec)));
  node.run_for(30 * kSec);
  ASSERT_EQ(node.torus().task(gone).state, TaskState::kCompleted);
  EXPECT_LT(start_of(node, x), start_of(node, a[1]));
  EXPECT_LT(start_of(node, gone), start_of(node, a[1]));
}

TEST(TorusAccounts, BadAccountNamesAreRefusedWithTheAllowedShape) {
  Torus torus(one_at_a_time(Policy::kFair));
  Actions out;
  for (std::string bad : {std::string("a b"), std::string("x/y"), std::string(64, 'a')}) {
    Result<TaskKey> r = torus.submit(account_spec(bad), 0, out);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message.find("A-Z a-z 0-9 . _ -"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(torus.submit(account_spec(std::string(63, 'a')), 0, out).ok());
}

}  // namespace
}  // namespace braid::sched
