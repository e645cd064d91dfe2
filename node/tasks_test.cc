// Tasks without processes: every task is submitted held, so none starts.
#include "node/tasks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/manual_clock.h"
#include "node/tasks_test_util.h"

namespace braid::node {
namespace {

using sched::TaskKey;

class RecordingEvents final : public TaskEvents {
 public:
  void on_started(TaskKey key) override { log.push_back("started " + std::to_string(key)); }
  void on_state_changed(TaskKey key) override { log.push_back("changed " + std::to_string(key)); }
  void on_actions_done() override { log.push_back("done"); }
  void on_interrupted(TaskKey key) override { log.push_back("interrupted " + std::to_string(key)); }
  void on_exit_handled() override { log.push_back("exit"); }
  std::vector<std::string> log;
};

class TasksTest : public ::testing::Test {
 protected:
  TasksTest() {
    tasks_.set_events(&events_);
    events_.log.clear();
  }

  TaskKey submit(std::uint64_t sequence) {
    const TaskKey key = node::testing::submit_held(tasks_, sequence);
    return key;
  }

  std::vector<std::pair<std::uint64_t, TaskKey>> admitted(std::uint64_t after) const {
    std::vector<std::pair<std::uint64_t, TaskKey>> out;
    tasks_.for_each_admitted(after, [&](std::uint64_t record_no, TaskKey key) {
      out.emplace_back(record_no, key);
      return true;
    });
    return out;
  }

  asio::io_context io_;
  ManualClock clock_;
  DaemonConfig config_ = [] {
    DaemonConfig c;
    c.executor.mode = ExecutorConfig::Mode::kSignals;
    return c;
  }();
  RecordingEvents events_;
  Tasks tasks_{io_, clock_, config_, 1};
};

TEST_F(TasksTest, TorusTimeIsWallAnchoredAndMovesWithTheMonotonicClockOnly) {
  const sched::Micros start = clock_.wall_us();
  EXPECT_EQ(tasks_.now_us(), start);
  clock_.advance_us(250);
  EXPECT_EQ(tasks_.now_us(), start + 250);
  clock_.step_wall_us(-3'600 * sched::kMicrosPerSecond);  // the wall clock steps back
  EXPECT_EQ(tasks_.now_us(), start + 250);
  EXPECT_EQ(tasks_.uptime_us(), 250);
}

TEST_F(TasksTest, CarryOutReportsStateChangesThenTheBatchEndThenLoadListeners) {
  int load_changes = 0;
  tasks_.add_load_listener([&] {
    ++load_changes;
    events_.log.push_back("load");
  });
  const TaskKey key = submit(1);
  tasks_.carry_out();
  const std::string changed = "changed " + std::to_string(key);
  EXPECT_EQ(events_.log, (std::vector<std::string>{changed, "done", "load"}));
  EXPECT_EQ(load_changes, 1);
  EXPECT_TRUE(tasks_.actions().empty());
}

TEST_F(TasksTest, TrackResetsTheSideRecordAndListsInAdmissionOrder) {
  const TaskKey first = submit(7);
  const TaskKey second = submit(9);
  tasks_.carry_out();
  EXPECT_EQ(tasks_.side(first).record_no, 7u);
  tasks_.side(second).cpu_done_us = 42;
  tasks_.side(second).stored_started = true;
  EXPECT_EQ(admitted(0), (std::vector<std::pair<std::uint64_t, TaskKey>>{{7, first}, {9, second}}));
  EXPECT_EQ(admitted(7), (std::vector<std::pair<std::uint64_t, TaskKey>>{{9, second}}));

  ASSERT_TRUE(tasks_.cancel({tasks_.torus().task(first).id}));
  tasks_.forget(first);  // purged: its listing entry is stale from now on
  EXPECT_EQ(admitted(0), (std::vector<std::pair<std::uint64_t, TaskKey>>{{9, second}}));

  tasks_.track(second, 11);  // a reused key starts afresh
  EXPECT_EQ(tasks_.side(second).cpu_done_us, 0);
  EXPECT_FALSE(tasks_.side(second).stored_started);
  EXPECT_EQ(tasks_.side(second).slice_began_us, -1);
  EXPECT_EQ(tasks_.shown_state(second), sched::TaskState::kQueued);
  EXPECT_EQ(admitted(0), (std::vector<std::pair<std::uint64_t, TaskKey>>{{11, second}}));
}

TEST_F(TasksTest, UnknownIdsAreNamed) {
  auto keys = tasks_.keys_of({"nope:1"});
  ASSERT_FALSE(keys);
  EXPECT_NE(keys.error().message.find("unknown task \"nope:1\""), std::string::npos);
}

// Metrics: a decision's time is recorded for each control operation, and the
// time under each policy adds up across changes (on the injected clock).
TEST_F(TasksTest, DecisionsAndPolicyTimeAreMeasuredOnTheInjectedClock) {
  const TaskKey key = submit(1);
  tasks_.carry_out();  // an admission outside Tasks' inputs: no decision recorded
  EXPECT_EQ(tasks_.decision_times().count, 0u);
  ASSERT_TRUE(tasks_.cancel({tasks_.torus().task(key).id}));
  EXPECT_EQ(tasks_.decision_times().count, 1u);

  const auto fair = static_cast<std::size_t>(sched::Policy::kFair);
  const auto rr = static_cast<std::size_t>(sched::Policy::kRoundRobin);
  clock_.advance_us(5'000'000);
  ASSERT_TRUE(tasks_.set_policy(sched::Policy::kRoundRobin));
  clock_.advance_us(2'000'000);
  EXPECT_EQ(tasks_.policy_time_us()[fair], 5'000'000);
  EXPECT_EQ(tasks_.policy_time_us()[rr], 2'000'000);
  ASSERT_TRUE(tasks_.set_policy(sched::Policy::kFair));
  clock_.advance_us(1'000'000);
  EXPECT_EQ(tasks_.policy_time_us()[fair], 6'000'000);
  EXPECT_EQ(tasks_.policy_time_us()[rr], 2'000'000);
  EXPECT_EQ(tasks_.decision_times().count, 3u);
  // POST /kernel/schedule-next's path (review17: it recorded no decision).
  (void)tasks_.schedule_next();
  EXPECT_EQ(tasks_.decision_times().count, 4u);
}

// Metrics: the queue wait runs from admission (track) to the first start.
TEST_F(TasksTest, QueueWaitRunsFromAdmissionToTheFirstStart) {
  const TaskKey key = submit(1);
  tasks_.carry_out();
  clock_.advance_us(3'000);
  ASSERT_TRUE(tasks_.hold({tasks_.torus().task(key).id}, /*release=*/true));  // starts `true`
  ASSERT_TRUE(sched::is_started(tasks_.torus().task(key).state));
  const HistogramSnapshot waits = tasks_.queue_waits();
  EXPECT_EQ(waits.count, 1u);
  EXPECT_EQ(waits.sum_us, 3'000u);
  EXPECT_EQ(tasks_.side(key).waiting_since_us, -1);
}

}  // namespace
}  // namespace braid::node
