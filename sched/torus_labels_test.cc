// Node labels in the torus (issue 11 §2): a queued task whose constraints
// this node's labels do not satisfy never starts here, says why, and can be
// cancelled, held, offered away and restored.
#include <gtest/gtest.h>

#include "sched/balance.h"
#include "sched/sim_node.h"
#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::spec;
using testing::work;

constexpr Micros kMs = kMicrosPerMilli;

TaskSpec needs(std::vector<Label> labels) {
  TaskSpec s = spec();
  s.constraints = std::move(labels);
  return s;
}

TorusConfig labelled(std::vector<Label> labels, bool migrates = true, int slots = 2) {
  TorusConfig c = config(Policy::kFair, slots);
  c.labels = std::move(labels);
  c.migrates = migrates;
  return c;
}

TEST(TorusLabels, ConfigLabelsAreValidated) {
  TorusConfig c = labelled({{"gpu", "1"}, {"gpu", "2"}});
  EXPECT_FALSE(validate_config(c).ok());
  EXPECT_TRUE(validate_config(labelled({{"gpu", "1"}})).ok());
}

TEST(TorusLabels, AnUnmetTaskStaysQueuedNeverStartsAndSaysWhy) {
  SimNode node(labelled({{"zone", "a"}}));
  const TaskKey unmet = must(node.submit(needs({{"gpu", "1"}}), work(5 * kMs)));
  const TaskKey other = must(node.submit(spec(), work(5 * kMs)));
  node.run_for(200 * kMs);
  const Task& t = node.torus().task(unmet);
  EXPECT_EQ(t.state, TaskState::kQueued);
  EXPECT_EQ(t.attempts, 0);
  EXPECT_FALSE(node.torus().runs_here(t));
  EXPECT_EQ(node.torus().queued_elsewhere(), 1u);
  EXPECT_EQ(t.reason,
            "needs node label gpu=1; this node has none: waits to move to a node that has it");
  // It holds no slot and does not block the queue behind it.
  EXPECT_EQ(node.torus().task(other).state, TaskState::kCompleted);
  BalanceConfig balance;
  EXPECT_TRUE(may_migrate(t, t.hops, balance));
  // Cancel works.
  Actions out;
  ASSERT_TRUE(node.torus().cancel(unmet, node.now_us(), out));
  node.apply(out);
  EXPECT_EQ(node.torus().task(unmet).state, TaskState::kCancelled);
  EXPECT_EQ(node.torus().queued_elsewhere(), 0u);
}

TEST(TorusLabels, WithoutMigrateTheReasonSaysItWaits) {
  SimNode node(labelled({{"gpu", "0"}}, /*migrates=*/false));
  const TaskKey unmet = must(node.submit(needs({{"gpu", "1"}}), work(5 * kMs)));
  EXPECT_EQ(node.torus().task(unmet).reason,
            "needs node label gpu=1; this node has gpu=0: waits (braidd runs without --migrate, so "
            "it never moves)");
}

TEST(TorusLabels, AMetTaskRunsAsAnyOther) {
  SimNode node(labelled({{"gpu", "1"}, {"zone", "a"}}));
  const TaskKey met = must(node.submit(needs({{"zone", "a"}, {"gpu", "1"}}), work(5 * kMs)));
  ASSERT_TRUE(node.run_until_idle(kMicrosPerSecond));
  EXPECT_EQ(node.torus().task(met).state, TaskState::kCompleted);
}

TEST(TorusLabels, APinnedTaskThatCouldNeverRunIsRefused) {
  SimNode node(labelled({}));
  TaskSpec s = needs({{"gpu", "1"}});
  s.pinned = true;
  auto key = node.submit(s, work(5 * kMs));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().message,
            "a pinned task that needs node label gpu=1; this node has none: it could never run");
  TaskSpec array = needs({{"gpu", "1"}});
  array.array_index = 0;
  array.array_throttle = 2;
  array.array_group = 1;
  key = node.submit(array, work(5 * kMs));
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().message,
            "a throttled array's task that needs node label gpu=1; this node has none: it could "
            "never run");
  array.array_throttle = 0;  // an unthrottled array's tasks move as any others
  array.array_group = 0;
  EXPECT_TRUE(node.submit(array, work(5 * kMs)).ok());
}

TEST(TorusLabels, HoldReleasePriorityAndPolicyKeepItOutOfTheQueue) {
  SimNode node(labelled({}));
  const TaskKey unmet = must(node.submit(needs({{"gpu", "1"}}), work(5 * kMs)));
  Actions out;
  ASSERT_TRUE(node.torus().hold(unmet, node.now_us(), out));
  ASSERT_TRUE(node.torus().release(unmet, node.now_us(), out));
  ASSERT_TRUE(node.torus().set_priority(unmet, 9, node.now_us(), out));
  node.torus().set_policy(Policy::kPriority, node.now_us(), out);
  node.torus().set_policy(Policy::kRoundRobin, node.now_us(), out);
  node.apply(out);
  node.run_for(100 * kMs);
  EXPECT_EQ(node.torus().task(unmet).state, TaskState::kQueued);
  EXPECT_EQ(node.torus().task(unmet).attempts, 0);
}

TEST(TorusLabels, AnAbortedOfferQueuesItAgainWithItsReason) {
  SimNode node(labelled({}));
  const TaskKey unmet = must(node.submit(needs({{"gpu", "1"}}), work(5 * kMs)));
  Actions out;
  ASSERT_TRUE(node.torus().begin_migration(unmet, node.now_us(), out));
  EXPECT_EQ(node.torus().task(unmet).reason, "offered to a peer");
  EXPECT_EQ(node.torus().queued_elsewhere(), 0u);
  ASSERT_TRUE(node.torus().abort_migration(unmet, node.now_us(), out));
  node.apply(out);
  node.run_for(50 * kMs);
  EXPECT_EQ(node.torus().task(unmet).state, TaskState::kQueued);
  EXPECT_EQ(node.torus().task(unmet).reason.rfind("needs node label gpu=1", 0), 0u);
  EXPECT_EQ(node.torus().queued_elsewhere(), 1u);
}

TEST(TorusLabels, RestoreJudgesByTheLabelsTheNodeHasNow) {
  // Stored while the node lacked the label; restored on a node that has it: it runs.
  Task record;
  record.id = "n:1";
  record.spec = needs({{"gpu", "1"}});
  record.state = TaskState::kQueued;
  record.reason = "needs node label gpu=1; this node has none: waits to move to a node that has it";
  {
    Torus torus(labelled({{"gpu", "1"}}));
    Actions out;
    const TaskKey key = must(torus.restore(record, 0, out));
    EXPECT_EQ(torus.task(key).reason, "");
    EXPECT_EQ(out.front().kind, Action::Kind::kPersist);  // the reason changed
    out.clear();
    torus.trigger(0, out);
    EXPECT_EQ(torus.task(key).state, TaskState::kRunning);
  }
  {
    Torus torus(labelled({}));
    Actions out;
    const TaskKey key = must(torus.restore(record, 0, out));
    EXPECT_EQ(torus.task(key).reason, record.reason);
    EXPECT_TRUE(out.empty());  // unchanged: nothing to persist
    torus.trigger(0, out);
    EXPECT_EQ(torus.task(key).state, TaskState::kQueued);
    EXPECT_EQ(torus.queued_elsewhere(), 1u);
    ASSERT_TRUE(torus.cancel(key, 0, out));
    EXPECT_EQ(torus.queued_elsewhere(), 0u);
  }
}

// A task that waits for a label elsewhere does not keep its account
// "competing": when the account submits work it can run, it comes back level
// with the busy account, as an idle one does, instead of with the credit of
// all the time it waited.
TEST(TorusLabels, AWaitingTaskBanksNoCreditForItsAccount) {
  SimNode node(labelled({}, true, 1));
  TaskSpec stuck = testing::account_spec("x");
  stuck.constraints = {{"gpu", "1"}};
  must(node.submit(stuck, work(5 * kMs)));
  for (int i = 0; i < 6; ++i) must(node.submit(testing::account_spec("y"), work(50 * kMs)));
  node.run_for(120 * kMs);
  const Micros since = node.now_us();
  std::set<TaskKey> x_keys;
  for (int i = 0; i < 3; ++i)
    x_keys.insert(must(node.submit(testing::account_spec("x"), work(50 * kMs))));
  node.run_for(300 * kMs);
  std::vector<TaskKey> starts;
  for (const SimNode::Logged& l : node.log()) {
    if (l.at_us >= since && l.action.kind == Action::Kind::kStart) starts.push_back(l.action.key);
  }
  ASSERT_GE(starts.size(), 3u);
  const auto x_first = std::count_if(starts.begin(), starts.begin() + 3,
                                     [&](TaskKey k) { return x_keys.contains(k); });
  EXPECT_LE(x_first, 2) << "x's three tasks all ran before y's: x banked credit while it waited";
}

}  // namespace
}  // namespace braid::sched
