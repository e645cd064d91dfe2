#include "sched/task.h"

#include <gtest/gtest.h>

namespace braid::sched {
namespace {

TaskSpec valid() {
  TaskSpec spec;
  spec.argv = {"/bin/true"};
  return spec;
}

TEST(TaskSpec, DefaultsAreValid) {
  EXPECT_TRUE(validate_spec(valid()).ok());
  EXPECT_EQ(valid().priority, 5);
  EXPECT_EQ(valid().cpus, 1);
}

TEST(TaskSpec, BadFieldsAreNamedWithWhatIsAllowed) {
  struct Case {
    void (*mutate)(TaskSpec&);
    const char* message;
  };
  const Case cases[] = {
      {[](TaskSpec& s) { s.priority = 11; }, "priority must be 0..10, got 11"},
      {[](TaskSpec& s) { s.priority = -1; }, "priority must be 0..10, got -1"},
      {[](TaskSpec& s) { s.argv.clear(); }, "argv must name a program to run, got nothing"},
      {[](TaskSpec& s) { s.cpus = 0; }, "cpus must be at least 1, got 0"},
      {[](TaskSpec& s) { s.retries = 101; }, "retries must be 0..100, got 101"},
      {[](TaskSpec& s) { s.env = {"NOEQUALS"}; },
       "env entry \"NOEQUALS\" must look like KEY=VALUE"},
      {[](TaskSpec& s) { s.time_limit_us = -5; },
       "time_limit must be 0 (none) .. 366 days, got -5us"},
      {[](TaskSpec& s) { s.time_limit_us = kTimeLimitMaxUs + 1; },
       "time_limit must be 0 (none) .. 366 days, got 31622400000001us"},
  };
  for (const Case& c : cases) {
    TaskSpec spec = valid();
    c.mutate(spec);
    Status s = validate_spec(spec);
    ASSERT_FALSE(s.ok()) << c.message;
    EXPECT_EQ(s.error().message, c.message);
  }
}

TEST(TaskState, NamesRoundTripAndTerminalsAreThree) {
  int terminal = 0;
  for (int i = 0; i <= static_cast<int>(TaskState::kCancelled); ++i) {
    auto state = static_cast<TaskState>(i);
    EXPECT_EQ(parse_task_state(to_string(state)).value(), state);
    terminal += is_terminal(state) ? 1 : 0;
  }
  EXPECT_EQ(terminal, 3);
  Result<TaskState> bad = parse_task_state("runing");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("use pending, queued, running"), std::string::npos);
}

TEST(TaskId, OnlyNodeColonNumberIsAccepted) {
  for (const char* good : {"a:1", "node-1.x_y:42", "n:18446744073709551615"}) {
    EXPECT_TRUE(validate_task_id(good)) << good;
  }
  EXPECT_TRUE(validate_task_id(std::string(63, 'a') + ":1"));
  for (const std::string& bad : std::vector<std::string>{
           "", ":1", "a:", "a", "a:b", "../x:1", "a/b:1", "a:1/..", "a:1:2", "a b:1", "a:-1",
           std::string(64, 'a') + ":1", "a:" + std::string(21, '1'), std::string("a\0:1", 4)}) {
    EXPECT_FALSE(validate_task_id(bad)) << bad;
  }
  EXPECT_EQ(validate_task_id("../etc:1").error().message,
            "task id \"../etc:1\" must look like NODE:NUMBER (NODE: 1..63 of A-Z a-z 0-9 . _ -, "
            "NUMBER: 1..20 digits)");
}

TEST(ExitStatus, DescribesLikeOperatorsReadIt) {
  EXPECT_EQ(ExitStatus::exited(3).describe(), "exit 3");
  EXPECT_EQ(ExitStatus::signaled(9).describe(), "signal 9");
  EXPECT_EQ(ExitStatus::spawn_failed("No such file or directory").describe(),
            "spawn failed: No such file or directory");
  EXPECT_TRUE(ExitStatus::exited(0).success());
  EXPECT_FALSE(ExitStatus::signaled(0).success());
}

TEST(Task, MigrationFieldsDefaultToNeverMoved) {
  const Task t;
  EXPECT_EQ(t.hops, 0);
  EXPECT_TRUE(t.moved_to.empty());
  EXPECT_TRUE(t.adopted_from.empty());
  EXPECT_TRUE(t.refusals.empty());
}

TEST(Task, AddRefusalKeepsTheLastEight) {
  Task t;
  for (int i = 0; i < 11; ++i) t.add_refusal("n" + std::to_string(i), "full");
  ASSERT_EQ(t.refusals.size(), kRefusalsKept);
  EXPECT_EQ(t.refusals.front(), (Refusal{"n3", "full"}));
  EXPECT_EQ(t.refusals.back(), (Refusal{"n10", "full"}));
}

TEST(Task, AddRefusalCutsLongReasonsAtACharacterBoundary) {
  Task t;
  t.add_refusal("a", std::string(2000, 'x'));
  EXPECT_EQ(t.refusals[0].reason.size(), kRefusalReasonBytesMax);
  // "\xc3\xa9" (é) straddling the limit is dropped whole, not split.
  t.add_refusal("b", std::string(kRefusalReasonBytesMax - 1, 'x') + "\xc3\xa9tail");
  EXPECT_EQ(t.refusals[1].reason, std::string(kRefusalReasonBytesMax - 1, 'x'));
  t.add_refusal("c", "no such program: foo");
  EXPECT_EQ(t.refusals[2].reason, "no such program: foo");
}

TEST(TaskId, OriginIsTheNodePart) {
  EXPECT_EQ(origin_of("n1:42"), "n1");
  EXPECT_EQ(origin_of("a.b-c:7"), "a.b-c");
  EXPECT_EQ(origin_of("plain"), "plain");
}

}  // namespace
}  // namespace braid::sched
