// Waiters over real Tasks (held tasks: no process starts) and a KJ loop:
// a wait is answered only once the end it waits for is durable.
#include "node/waiters.h"

#include <gtest/gtest.h>
#include <kj/async.h>

#include <memory>

#include "node/manual_clock.h"
#include "node/tasks_test_util.h"

namespace braid::node {
namespace {

using sched::TaskKey;
using sched::TaskState;

// Routes state changes to the waiters, as the Daemon does.
class ToWaiters final : public TaskEvents {
 public:
  explicit ToWaiters(Waiters*& waiters) : waiters_(waiters) {}
  void on_started(TaskKey) override {}
  void on_state_changed(TaskKey key) override { waiters_->note_state(key); }
  void on_actions_done() override {}
  void on_interrupted(TaskKey) override {}
  void on_exit_handled() override {}

 private:
  Waiters*& waiters_;
};

class WaitersTest : public ::testing::Test {
 protected:
  WaitersTest() { tasks_.set_events(&events_); }

  TaskKey submit(std::uint64_t sequence) {
    const TaskKey key = node::testing::submit_held(tasks_, sequence);
    tasks_.carry_out();
    return key;
  }
  std::string id(TaskKey key) const { return tasks_.torus().task(key).id; }

  // Held by pointer: their destructors may throw, a fixture's must not.
  std::unique_ptr<kj::EventLoop> loop_ = std::make_unique<kj::EventLoop>();
  std::unique_ptr<kj::WaitScope> wait_scope_ = std::make_unique<kj::WaitScope>(*loop_);
  kj::WaitScope& scope_ = *wait_scope_;
  asio::io_context io_;
  ManualClock clock_;
  DaemonConfig config_ = [] {
    DaemonConfig c;
    c.executor.mode = ExecutorConfig::Mode::kSignals;
    return c;
  }();
  Waiters* waiters_ptr_ = &waiters_;
  ToWaiters events_{waiters_ptr_};
  Tasks tasks_{io_, clock_, config_, 1};
  Waiters waiters_{io_, tasks_};
};

TEST_F(WaitersTest, AnEndIsShownAndAnsweredOnlyOnceDurable) {
  const TaskKey key = submit(1);
  auto waited = waiters_.wait({id(key)}, 0);
  EXPECT_TRUE(waiters_.waited_on(key));
  ASSERT_TRUE(tasks_.cancel({id(key)}));
  EXPECT_EQ(tasks_.torus().task(key).state, TaskState::kCancelled);
  EXPECT_EQ(tasks_.shown_state(key), TaskState::kHeld);  // the end is not written yet
  EXPECT_FALSE(waited.poll(scope_));

  waiters_.on_ends_stored({{key, 1}}, sched::ok_status());
  EXPECT_EQ(tasks_.shown_state(key), TaskState::kCancelled);
  ASSERT_TRUE(waited.poll(scope_));
  kj::Own<rpc::WaitOutcome> outcome = waited.wait(scope_);
  EXPECT_TRUE(outcome->error.empty());
  EXPECT_FALSE(outcome->timed_out);
  ASSERT_EQ(outcome->tasks.size(), 1u);
  EXPECT_EQ(outcome->tasks[0].state, TaskState::kCancelled);
  EXPECT_FALSE(waiters_.waited_on(key));
}

TEST_F(WaitersTest, AnEndOfAnotherRecordOnTheSameKeyIsIgnored) {
  const TaskKey key = submit(1);
  auto waited = waiters_.wait({id(key)}, 0);
  ASSERT_TRUE(tasks_.cancel({id(key)}));
  waiters_.on_ends_stored({{key, 99}}, sched::ok_status());  // a purged task's record
  EXPECT_FALSE(waited.poll(scope_));
  EXPECT_EQ(tasks_.shown_state(key), TaskState::kHeld);
}

TEST_F(WaitersTest, AnEndThatCouldNotBeStoredFailsItsWaitersAndLaterOnes) {
  const TaskKey key = submit(1);
  auto waited = waiters_.wait({id(key)}, 0);
  ASSERT_TRUE(tasks_.cancel({id(key)}));
  waiters_.on_ends_stored({{key, 1}}, sched::Error{"disk full"});
  ASSERT_TRUE(waited.poll(scope_));
  EXPECT_NE(waited.wait(scope_)->error.find("disk full"), std::string::npos);
  auto later = waiters_.wait({id(key)}, 0);
  ASSERT_TRUE(later.poll(scope_));
  EXPECT_NE(later.wait(scope_)->error.find("could not be stored"), std::string::npos);
}

TEST_F(WaitersTest, ShutdownAnswersPendingWaitsWithTheReason) {
  const TaskKey key = submit(1);
  auto waited = waiters_.wait({id(key)}, 0);
  waiters_.finish_all("node n is shutting down");
  ASSERT_TRUE(waited.poll(scope_));
  EXPECT_EQ(waited.wait(scope_)->error, "node n is shutting down");
  EXPECT_FALSE(waiters_.waited_on(key));
}

TEST_F(WaitersTest, AWaitForFinishedTasksIsAnsweredAtOnce) {
  const TaskKey key = submit(1);
  ASSERT_TRUE(tasks_.cancel({id(key)}));
  waiters_.on_ends_stored({{key, 1}}, sched::ok_status());
  auto waited = waiters_.wait({id(key)}, 0);
  ASSERT_TRUE(waited.poll(scope_));
  EXPECT_EQ(waited.wait(scope_)->tasks.at(0).state, TaskState::kCancelled);
  EXPECT_FALSE(waiters_.waited_on(key));
}

}  // namespace
}  // namespace braid::node
