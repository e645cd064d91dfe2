#include "sched/migration_message.h"

#include <gtest/gtest.h>

namespace braid::sched {
namespace {

MigrationMessage offer() {
  MigrationMessage m;
  m.from = "n1";
  m.from_address = "127.0.0.1:7420";
  HandoffOffer o;
  o.epoch = 7;
  o.task.id = "n1:42";
  o.task.spec.argv = {"sleep", "1"};
  o.task.hops = 1;
  m.body = o;
  return m;
}

std::string error_of(const MigrationMessage& m) {
  auto s = validate(m);
  return s ? "" : s.error().message;
}

TEST(MigrationMessage, AValidOfferPasses) { EXPECT_EQ(error_of(offer()), ""); }

TEST(MigrationMessage, EveryFieldIsChecked) {
  auto m = offer();
  m.from = "bad name";
  EXPECT_NE(error_of(m).find("from must be a node name"), std::string::npos);
  m = offer();
  m.from_address = "nohostport";
  EXPECT_NE(error_of(m).find("from_address"), std::string::npos);
  m = offer();
  std::get<HandoffOffer>(m.body).task.id = "n1";
  EXPECT_NE(error_of(m).find("NODE:NUMBER"), std::string::npos);
  m = offer();
  std::get<HandoffOffer>(m.body).task.spec.argv.clear();
  EXPECT_NE(error_of(m).find("offered spec: argv"), std::string::npos);
  m = offer();
  std::get<HandoffOffer>(m.body).task.hops = 0;
  EXPECT_NE(error_of(m).find("hops must be 1..255"), std::string::npos);
  m = offer();
  std::get<HandoffOffer>(m.body).task.node_requeues = 2;
  EXPECT_NE(error_of(m).find("attempts"), std::string::npos);
}

TEST(MigrationMessage, AnswersReportsAndRequestsAreChecked) {
  MigrationMessage m = offer();
  m.body = HandoffAnswer{"n1:42", 7, HandoffAnswerKind::kRefused, "no such program: foo"};
  EXPECT_EQ(error_of(m), "");
  m.body = HandoffAnswer{"n1:42", 7, static_cast<HandoffAnswerKind>(9), ""};
  EXPECT_NE(error_of(m).find("unknown answer kind 9"), std::string::npos);
  m.body = HandoffAnswer{"n1:42", 7, HandoffAnswerKind::kRefused, std::string(2000, 'x')};
  EXPECT_NE(error_of(m).find("reason must be at most 1024 bytes"), std::string::npos);
  m.body = HandoffAnswer{"n1:42", 7, HandoffAnswerKind::kRefused, "two\nlines"};
  EXPECT_NE(error_of(m).find("one line"), std::string::npos);
  OutcomeReport r;
  r.task_id = "n1:42";
  r.executor = "n2";
  r.state = TaskState::kQueued;
  m.body = r;
  EXPECT_NE(error_of(m).find("completed, failed or cancelled, got queued"), std::string::npos);
  r.state = TaskState::kCompleted;
  m.body = r;
  EXPECT_EQ(error_of(m), "");
  m.body = WorkRequest{0};
  EXPECT_NE(error_of(m).find("slots must be 1..100000, got 0"), std::string::npos);
  m.body = WorkRequest{4};
  EXPECT_EQ(error_of(m), "");
  m.body = OutcomeAck{"x"};
  EXPECT_NE(error_of(m), "");
  m.body = HandoffQuery{"n1:42", 1};
  EXPECT_EQ(error_of(m), "");
  m.body = HandoffConfirm{"bad id", 1, true};
  EXPECT_NE(error_of(m).find("NODE:NUMBER"), std::string::npos);
  m.body = HandoffConfirmQuery{"n1:42", 1};
  EXPECT_EQ(error_of(m), "");
}

}  // namespace
}  // namespace braid::sched
