#include "rpc/migration_convert.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace braid::rpc {
namespace {

sched::MigrationMessage offer() {
  sched::MigrationMessage m;
  m.from = "n1";
  m.from_address = "127.0.0.1:7420";
  sched::HandoffOffer o;
  o.epoch = 9;
  o.task.id = "n1:42";
  o.task.spec.argv = {"sh", "-c", "echo hi"};
  o.task.spec.env = {"A=1"};
  o.task.spec.cwd = "/tmp";
  o.task.spec.priority = 10;
  o.task.spec.cpus = 2;
  o.task.spec.account = "alice";
  auto env = std::make_shared<sched::Environment>();
  env->entries = {"PATH=/usr/bin:/bin", "HOME=/root"};
  o.task.spec.base_env = env;
  o.task.submitted_at_us = 123456;
  o.task.attempts = 1;
  o.task.node_requeues = 1;
  o.task.hops = 2;
  m.body = o;
  return m;
}

sched::Result<sched::MigrationMessage> round_trip(const sched::MigrationMessage& m) {
  capnp::MallocMessageBuilder builder;
  to_wire(m, builder.initRoot<schema::MigrationMessage>());
  return from_wire(builder.getRoot<schema::MigrationMessage>().asReader());
}

TEST(MigrationConvert, AnOfferRoundTripsWithItsEnvironment) {
  auto back = round_trip(offer());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value().from, "n1");
  const auto& o = std::get<sched::HandoffOffer>(back.value().body);
  EXPECT_EQ(o.epoch, 9u);
  EXPECT_EQ(o.task.id, "n1:42");
  EXPECT_EQ(o.task.spec.argv, (std::vector<std::string>{"sh", "-c", "echo hi"}));
  EXPECT_EQ(o.task.spec.priority, 10);
  EXPECT_EQ(o.task.spec.cpus, 2);
  EXPECT_EQ(o.task.spec.account, "alice");
  ASSERT_NE(o.task.spec.base_env, nullptr);
  EXPECT_EQ(o.task.spec.base_env->entries.size(), 2u);
  EXPECT_EQ(o.task.submitted_at_us, 123456);
  EXPECT_EQ(o.task.hops, 2);
  EXPECT_EQ(o.task.node_requeues, 1);
}

TEST(MigrationConvert, EveryOtherKindRoundTrips) {
  sched::MigrationMessage m = offer();
  m.body = sched::HandoffAnswer{"n1:42", 9, sched::HandoffAnswerKind::kRefused, "no such program"};
  auto a = round_trip(m);
  ASSERT_TRUE(a);
  EXPECT_EQ(std::get<sched::HandoffAnswer>(a.value().body).kind,
            sched::HandoffAnswerKind::kRefused);
  EXPECT_EQ(std::get<sched::HandoffAnswer>(a.value().body).reason, "no such program");
  m.body = sched::HandoffQuery{"n1:42", 9};
  ASSERT_TRUE(round_trip(m));
  sched::OutcomeReport r;
  r.task_id = "n1:42";
  r.executor = "n2";
  r.state = sched::TaskState::kFailed;
  r.exit = sched::ExitStatus::signaled(9);
  r.reason = "killed";
  r.attempts = 2;
  m.body = r;
  auto o = round_trip(m);
  ASSERT_TRUE(o) << o.error().message;
  const auto& back = std::get<sched::OutcomeReport>(o.value().body);
  EXPECT_EQ(back.state, sched::TaskState::kFailed);
  ASSERT_TRUE(back.exit);
  EXPECT_EQ(back.exit->kind, sched::ExitStatus::Kind::kSignaled);
  EXPECT_EQ(back.exit->code, 9);
  m.body = sched::OutcomeAck{"n1:42"};
  ASSERT_TRUE(round_trip(m));
  m.body = sched::HandoffConfirmQuery{"n1:42", 9};
  ASSERT_TRUE(round_trip(m));
  m.body = sched::HandoffConfirm{"n1:42", 9, true};
  auto c = round_trip(m);
  ASSERT_TRUE(c);
  EXPECT_TRUE(std::get<sched::HandoffConfirm>(c.value().body).go);
  EXPECT_EQ(std::get<sched::HandoffConfirm>(c.value().body).epoch, 9u);
  m.body = sched::WorkRequest{3};
  auto w = round_trip(m);
  ASSERT_TRUE(w);
  EXPECT_EQ(std::get<sched::WorkRequest>(w.value().body).slots, 3u);
}

TEST(MigrationConvert, HostileFieldsAreRefusedWithTheirName) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<schema::MigrationMessage>();
  to_wire(offer(), root);
  root.setFrom(std::string(300, 'a'));
  auto r = from_wire(root.asReader());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("from must be at most 255 bytes"), std::string::npos);

  to_wire(offer(), root);
  root.getBody().getOffer().getTask().getSpec().setPriority(99);
  r = from_wire(root.asReader());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("priority"), std::string::npos);

  to_wire(offer(), root);
  root.getBody().getOffer().getTask().getEnv().set(0, "NOEQUALS");
  r = from_wire(root.asReader());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not KEY=VALUE"), std::string::npos);

  auto answer = root.getBody().initAnswer();
  answer.setTaskId("n1:1");
  answer.setKind(static_cast<schema::HandoffAnswerKind>(7));
  r = from_wire(root.asReader());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unknown value 7"), std::string::npos);

  auto outcome = root.getBody().initOutcome();
  outcome.setTaskId("n1:1");
  outcome.setExecutor("n2");
  outcome.setState("running");
  r = from_wire(root.asReader());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("completed, failed or cancelled"), std::string::npos);
  outcome.setState("completed");
  outcome.setHasExit(true);
  outcome.setExitKind(5);
  r = from_wire(root.asReader());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("exit kind"), std::string::npos);
}

TEST(MigrationConvert, AnOfferCarriesTheTaskConstraints) {
  sched::MigrationMessage m = offer();
  std::get<sched::HandoffOffer>(m.body).task.spec.constraints = {{"gpu", "1"}};
  auto back = round_trip(m);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(std::get<sched::HandoffOffer>(back.value().body).task.spec.constraints,
            (std::vector<sched::Label>{{"gpu", "1"}}));
}

}  // namespace
}  // namespace braid::rpc
