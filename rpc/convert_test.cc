#include "rpc/convert.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace braid::rpc {
namespace {

TEST(Convert, NameGlobsAreBoundedAndHaveNoNul) {
  capnp::MallocMessageBuilder message;
  auto spec = message.initRoot<schema::TaskSpec>();
  spec.setName("render-*");
  auto ok = name_glob_from_wire(spec.asReader().getName());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), "render-*");
  spec.setName(capnp::Text::Reader("a\0b", 3));
  EXPECT_FALSE(name_glob_from_wire(spec.asReader().getName()).ok());
  const std::string huge(kStringBytesMax + 1, 'x');
  spec.setName(huge);
  auto refused = name_glob_from_wire(spec.asReader().getName());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("name pattern"), std::string::npos);
}

TEST(Convert, SpecRoundTripsEveryField) {
  sched::TaskSpec spec;
  spec.argv = {"/bin/echo", "hello world"};
  spec.env = {"A=1"};
  spec.cwd = "/tmp";
  spec.priority = 7;
  spec.cpus = 2;
  spec.memory_bytes = 1 << 20;
  spec.after = {"alpha:1"};
  spec.retries = 3;
  spec.retry_backoff_us = 5000;
  spec.time_limit_us = 9000;
  spec.name = "greeting";
  spec.pinned = true;
  spec.array_index = 4;
  spec.output = "out/%x-%a.log";
  spec.separate_stderr = true;
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::TaskSpec>();
  to_wire(spec, builder);
  auto back = from_wire(builder.asReader());
  ASSERT_TRUE(back.ok()) << back.error().message;
  const sched::TaskSpec& b = back.value();
  EXPECT_EQ(b.argv, spec.argv);
  EXPECT_EQ(b.env, spec.env);
  EXPECT_EQ(b.cwd, spec.cwd);
  EXPECT_EQ(b.priority, 7);
  EXPECT_EQ(b.cpus, 2);
  EXPECT_EQ(b.memory_bytes, spec.memory_bytes);
  EXPECT_EQ(b.after, spec.after);
  EXPECT_EQ(b.retries, 3);
  EXPECT_EQ(b.retry_backoff_us, 5000);
  EXPECT_EQ(b.time_limit_us, 9000);
  EXPECT_EQ(b.name, "greeting");
  EXPECT_TRUE(b.pinned);
  EXPECT_EQ(b.array_index, 4);
  EXPECT_EQ(b.output, spec.output);
  EXPECT_TRUE(b.separate_stderr);
}

TEST(Convert, DependencyKindsHoldAndArrayFieldsRoundTrip) {
  sched::TaskSpec spec;
  spec.argv = {"true"};
  spec.add_dependency("a:1", sched::DepKind::kOk);
  spec.add_dependency("a:2", sched::DepKind::kFail);
  spec.add_dependency("a:3", sched::DepKind::kAny);
  spec.hold = true;
  spec.array_index = 12;
  spec.array_throttle = 4;
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::TaskSpec>();
  to_wire(spec, builder);
  auto back = from_wire(builder.asReader());
  ASSERT_TRUE(back.ok()) << back.error().message;
  const sched::TaskSpec& b = back.value();
  // Grouped by kind on the wire: after, then after-any, then after-fail.
  EXPECT_EQ(b.after, (std::vector<std::string>{"a:1", "a:3", "a:2"}));
  EXPECT_EQ(b.after_kinds, (std::vector<sched::DepKind>{sched::DepKind::kOk, sched::DepKind::kAny,
                                                        sched::DepKind::kFail}));
  EXPECT_TRUE(b.hold);
  EXPECT_EQ(b.array_index, 12);
  EXPECT_EQ(b.array_throttle, 4u);
  EXPECT_EQ(b.array_group, 0u);  // the node's to give
  sched::TaskSpec plain;
  plain.argv = {"true"};
  plain.after = {"a:1"};
  capnp::MallocMessageBuilder message2;
  auto builder2 = message2.initRoot<schema::TaskSpec>();
  to_wire(plain, builder2);
  EXPECT_TRUE(from_wire(builder2.asReader()).value().after_kinds.empty());
  EXPECT_EQ(from_wire(builder2.asReader()).value().array_index, -1);
}

TEST(Convert, DefaultsMatchTheTaskModel) {
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::TaskSpec>();
  auto spec = from_wire(builder.asReader()).value();
  sched::TaskSpec defaults;
  EXPECT_EQ(spec.priority, defaults.priority);
  EXPECT_EQ(spec.cpus, defaults.cpus);
  EXPECT_EQ(spec.retry_backoff_us, defaults.retry_backoff_us);
  EXPECT_EQ(spec.array_index, -1);
  EXPECT_FALSE(spec.separate_stderr);
}

TEST(Convert, NulBytesAndOversizedFieldsAreRefusedByName) {
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::TaskSpec>();
  auto argv = builder.initArgv(2);
  argv.set(0, "/bin/echo");
  argv.set(1, capnp::Text::Reader("a\0b", 3));
  auto r = from_wire(builder.asReader());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "argv[1] contains a NUL byte, which no program can receive");

  builder.initArgv(kArgvEntriesMax + 1);
  r = from_wire(builder.asReader());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "argv has 4097 entries; at most 4096 are allowed");

  builder.initArgv(1).set(0, "/bin/true");
  std::string huge(kStringBytesMax + 1, 'x');
  builder.setCwd(huge);
  r = from_wire(builder.asReader());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cwd is 131073 bytes; at most 131072 are allowed");
}

TEST(Convert, TaskInfoRoundTripsExitKinds) {
  for (auto exit : {sched::ExitStatus::exited(3), sched::ExitStatus::signaled(9)}) {
    TaskView t;
    t.id = "n:1";
    t.state = sched::TaskState::kFailed;
    t.exit = exit;
    t.cpu_time_us = 42;
    capnp::MallocMessageBuilder message;
    auto builder = message.initRoot<schema::TaskInfo>();
    to_wire(t, builder);
    TaskView back = from_wire(builder.asReader());
    ASSERT_TRUE(back.exit.has_value());
    EXPECT_EQ(back.exit->describe(), exit.describe());
    EXPECT_EQ(back.state, sched::TaskState::kFailed);
    EXPECT_EQ(back.cpu_time_us, 42);
  }
}

TEST(Convert, TaskInfoCarriesItsMigration) {
  TaskView t;
  t.id = "n:1";
  t.hops = 2;
  t.moved_to = "n3";
  t.adopted_from = "n2";
  t.refusals = {{"n4", "no such program: foo"}, {"n5", "busy"}};
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::TaskInfo>();
  to_wire(t, builder);
  TaskView back = from_wire(builder.asReader());
  EXPECT_EQ(back.hops, 2);
  EXPECT_EQ(back.moved_to, "n3");
  EXPECT_EQ(back.adopted_from, "n2");
  ASSERT_EQ(back.refusals.size(), 2u);
  EXPECT_EQ(back.refusals[1].node, "n5");
  EXPECT_EQ(back.refusals[0].reason, "no such program: foo");
}

TEST(Convert, MigrationCountersRoundTrip) {
  MigrationCounters m{true, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  capnp::MallocMessageBuilder message;
  auto builder = message.initRoot<schema::MigrationCounters>();
  to_wire(m, builder);
  const MigrationCounters back = from_wire(builder.asReader());
  EXPECT_TRUE(back.enabled);
  EXPECT_EQ(back.offers_made, 1u);
  EXPECT_EQ(back.reclaimed, 4u);
  EXPECT_EQ(back.unresolved, 7u);
  EXPECT_EQ(back.outcomes_owed, 8u);
  EXPECT_EQ(back.outcomes_unexpected, 10u);
  EXPECT_EQ(back.forced_releases, 11u);
  EXPECT_EQ(back.held, 12u);
  EXPECT_EQ(back.released, 13u);
  EXPECT_EQ(back.discarded, 14u);
}

TEST(Convert, IdsMustBeTaskIds) {
  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<schema::Control::ShowParams>().initIds(2);
  list.set(0, "n:1");
  list.set(1, "../../etc/passwd");
  auto ids = ids_from_wire(list.asReader());
  ASSERT_FALSE(ids);
  EXPECT_EQ(ids.error().message.rfind("task id \"../../etc/passwd\" must look like NODE:NUMBER", 0),
            0u);
  list.set(1, "n:2");
  ASSERT_TRUE(ids_from_wire(list.asReader()));
}

TEST(Convert, OperationsRoundTripAndUnknownValuesAreNamedAsSuch) {
  for (PriorityOp op : {PriorityOp::kSet, PriorityOp::kBoost, PriorityOp::kLower}) {
    EXPECT_EQ(from_wire(to_wire(op)), op);
  }
  for (SchedulerOp op :
       {SchedulerOp::kPause, SchedulerOp::kResume, SchedulerOp::kTrigger, SchedulerOp::kNext}) {
    EXPECT_EQ(from_wire(to_wire(op)), op);
  }
  EXPECT_EQ(from_wire(static_cast<schema::SchedulerOp>(42)), std::nullopt);
  EXPECT_EQ(from_wire(static_cast<schema::PriorityOp>(42)), std::nullopt);
}

}  // namespace
}  // namespace braid::rpc
