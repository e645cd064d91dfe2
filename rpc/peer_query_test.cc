// rpc/peer_query: the checks at the edge (hostile answers are refused with
// one line naming the field), and the questions over a real PeerTransport
// on loopback: answered, refused, and a stalled peer (a socket that accepts
// and never answers) reported within the deadline.
#include "rpc/peer_query.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <optional>

#include "rpc/asio_event_port.h"
#include "rpc/convert.h"
#include "rpc/peer_transport.h"

namespace braid::rpc {
namespace {

using namespace std::chrono_literals;

TaskView row(const std::string& id, const std::string& node) {
  TaskView t;
  t.id = id;
  t.name = "n";
  t.node = node;
  t.state = sched::TaskState::kRunning;
  t.argv = {"sleep", "1"};
  return t;
}

TEST(PeerQueryConvert, LogRequestRoundTripsAndCapsMaxBytes) {
  capnp::MallocMessageBuilder message;
  auto params = message.initRoot<schema::Peer::ReadLogParams>();
  to_wire(PeerLogRequest{"a:7", true, 12, 1u << 30}, params);
  auto request = from_wire(params.asReader());
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request.value().task_id, "a:7");
  EXPECT_TRUE(request.value().stderr_stream);
  EXPECT_EQ(request.value().offset, 12u);
  EXPECT_EQ(request.value().max_bytes, kPeerLogChunkBytesMax);
}

TEST(PeerQueryConvert, LogRequestWithABadIdIsRefused) {
  capnp::MallocMessageBuilder message;
  auto params = message.initRoot<schema::Peer::ReadLogParams>();
  to_wire(PeerLogRequest{"../../etc/passwd", false, 0, 10}, params);
  EXPECT_FALSE(from_wire(params.asReader()));
}

TEST(PeerQueryConvert, LogAnswerRoundTrips) {
  capnp::MallocMessageBuilder message;
  auto results = message.initRoot<schema::Peer::ReadLogResults>();
  PeerLogAnswer answer;
  answer.data = "hello\n";
  answer.state = sched::TaskState::kCompleted;
  to_wire(answer, results);
  auto back = from_wire(results.asReader(), PeerLogRequest{"a:1", false, 0, 100});
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value().data, "hello\n");
  EXPECT_EQ(back.value().state, sched::TaskState::kCompleted);
  EXPECT_TRUE(back.value().moved_to.empty());
}

TEST(PeerQueryConvert, LogAnswerWithMoreThanAskedIsRefused) {
  capnp::MallocMessageBuilder message;
  auto results = message.initRoot<schema::Peer::ReadLogResults>();
  PeerLogAnswer answer;
  answer.data = std::string(101, 'x');
  answer.state = sched::TaskState::kRunning;
  to_wire(answer, results);
  auto back = from_wire(results.asReader(), PeerLogRequest{"a:1", false, 0, 100});
  ASSERT_FALSE(back);
  EXPECT_NE(back.error().message.find("at most the 100 bytes"), std::string::npos)
      << back.error().message;
}

TEST(PeerQueryConvert, LogAnswerWithAnUnknownStateOrBadNodeIsRefused) {
  {
    capnp::MallocMessageBuilder message;
    auto results = message.initRoot<schema::Peer::ReadLogResults>();
    results.setState("dancing");
    EXPECT_FALSE(from_wire(results.asReader(), PeerLogRequest{"a:1", false, 0, 100}));
  }
  {
    capnp::MallocMessageBuilder message;
    auto results = message.initRoot<schema::Peer::ReadLogResults>();
    results.setState("moved");
    results.setMovedTo("not a name/..");
    auto back = from_wire(results.asReader(), PeerLogRequest{"a:1", false, 0, 100});
    ASSERT_FALSE(back);
    EXPECT_NE(back.error().message.find("movedTo"), std::string::npos);
  }
}

TEST(PeerQueryConvert, ListRequestChecksStateAndCapsLimit) {
  capnp::MallocMessageBuilder message;
  auto params = message.initRoot<schema::Peer::ListTasksParams>();
  to_wire(PeerListRequest{true, "running", "x*", 1'000'000}, params);
  auto request = from_wire(params.asReader());
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request.value().limit, kPeerListRowsMax);
  EXPECT_EQ(request.value().state, "running");
  params.setState("sleeping");
  EXPECT_FALSE(from_wire(params.asReader()));
}

TEST(PeerQueryConvert, ListAnswerIsCutByItsByteBound) {
  PeerListAnswer answer;
  TaskView big = row("a:1", "a");
  big.argv = {std::string(100 * 1024, 'x')};
  for (int i = 0; i < 20; ++i) answer.tasks.push_back(big);  // 2 MB of argv
  capnp::MallocMessageBuilder message;
  auto results = message.initRoot<schema::Peer::ListTasksResults>();
  fill_list_answer(answer, 0, results);
  EXPECT_TRUE(results.getMore());
  EXPECT_LT(results.getTasks().size(), 11u);
  EXPECT_GT(results.getTasks().size(), 5u);
  auto back = from_wire(results.asReader());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back.value().more);
}

TEST(PeerQueryConvert, ListAnswerRowsAreChecked) {
  PeerListAnswer answer;
  answer.tasks.push_back(row("a:1", "a"));
  answer.tasks.push_back(row("a:2", "a"));
  capnp::MallocMessageBuilder message;
  auto results = message.initRoot<schema::Peer::ListTasksResults>();
  fill_list_answer(answer, 0, results);
  auto back = from_wire(results.asReader());
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back.value().tasks.size(), 2u);
  EXPECT_EQ(back.value().tasks[1].id, "a:2");
  EXPECT_FALSE(back.value().more);

  results.getTasks()[1].setState("bogus");
  auto bad = from_wire(results.asReader());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("task 2"), std::string::npos) << bad.error().message;
  results.getTasks()[1].setState("queued");
  results.getTasks()[1].setNode("");
  EXPECT_FALSE(from_wire(results.asReader()));
  results.getTasks()[1].setNode("a");
  results.getTasks()[1].setId("no-colon");
  EXPECT_FALSE(from_wire(results.asReader()));
}

TEST(PeerQueryConvert, TooManyRefusalsAreRefused) {
  capnp::MallocMessageBuilder message;
  auto info = message.initRoot<schema::TaskInfo>();
  to_wire(row("a:1", "a"), info);
  info.initRefusals(sched::kRefusalsKept + 1);
  EXPECT_FALSE(checked_task_from_wire(info.asReader()));
}

class PeerQueryTransport : public ::testing::Test {
 protected:
  ~PeerQueryTransport() override {
    transports_.clear();
    io_.restart();
    io_.poll();
  }

  PeerTransport& make(const std::string& name) {
    PeerTransportConfig config;
    config.listen = "127.0.0.1:0";
    config.name = name;
    config.secret = "a secret for the questions test";
    config.call_deadline = 500ms;
    config.link_retry_delay = 50ms;
    transports_.push_back(std::make_unique<PeerTransport>(io_, config, [](gossip::Message) {}));
    return *transports_.back();
  }

  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.run_one_for(10ms);
    }
    return true;
  }

  static std::string address(const PeerTransport& t) {
    return "127.0.0.1:" + std::to_string(t.port());
  }

  asio::io_context io_;
  AsioEventPort port_{io_};
  std::vector<std::unique_ptr<PeerTransport>> transports_;
};

TEST_F(PeerQueryTransport, ReadLogAndListTasksAreAnswered) {
  PeerTransport& a = make("a");
  PeerTransport& b = make("b");
  b.set_query_handlers({[](const PeerLogRequest& r) {
                          PeerLogAnswer answer;
                          if (r.task_id == "a:2") {
                            answer.state = sched::TaskState::kMoved;
                            answer.moved_to = "c";
                          } else {
                            answer.data = "out of " + r.task_id;
                            answer.state = sched::TaskState::kRunning;
                          }
                          return answer;
                        },
                        [](const PeerListRequest&) {
                          PeerListAnswer answer;
                          answer.tasks = {row("a:1", "b"), row("b:1", "b")};
                          return answer;
                        }});
  std::optional<sched::Result<PeerLogAnswer>> log, moved;
  std::optional<sched::Result<PeerListAnswer>> list;
  a.read_log(address(b), {"a:1", false, 0, 1000}, 2000ms, [&](auto r) { log = std::move(r); });
  a.read_log(address(b), {"a:2", false, 0, 1000}, 2000ms, [&](auto r) { moved = std::move(r); });
  a.list_tasks(address(b), {}, 2000ms, [&](auto r) { list = std::move(r); });
  ASSERT_TRUE(run_until([&] { return log && moved && list; }));
  ASSERT_TRUE(*log) << log->error().message;
  EXPECT_EQ(log->value().data, "out of a:1");
  ASSERT_TRUE(*moved);
  EXPECT_EQ(moved->value().moved_to, "c");
  ASSERT_TRUE(*list);
  ASSERT_EQ(list->value().tasks.size(), 2u);
  EXPECT_EQ(list->value().tasks[1].id, "b:1");
  EXPECT_EQ(b.stats().queries_answered, 3u);
}

TEST_F(PeerQueryTransport, ANodeWithoutHandlersAnswersAnError) {
  PeerTransport& a = make("a");
  PeerTransport& b = make("b");
  std::optional<sched::Result<PeerLogAnswer>> log;
  a.read_log(address(b), {"a:1", false, 0, 10}, 2000ms, [&](auto r) { log = std::move(r); });
  ASSERT_TRUE(run_until([&] { return log.has_value(); }));
  ASSERT_TRUE(*log);
  EXPECT_NE(log->value().error.find("does not answer"), std::string::npos);
}

TEST_F(PeerQueryTransport, AStalledPeerIsReportedWithinTheDeadline) {
  PeerTransport& a = make("a");
  // Accepts TCP connections (the kernel does) and never answers: a SIGSTOPped braidd.
  asio::ip::tcp::acceptor silent(io_,
                                 asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string silent_address = "127.0.0.1:" + std::to_string(silent.local_endpoint().port());
  std::optional<sched::Result<PeerListAnswer>> list;
  const auto began = std::chrono::steady_clock::now();
  a.list_tasks(silent_address, {}, 800ms, [&](auto r) { list = std::move(r); });
  ASSERT_TRUE(run_until([&] { return list.has_value(); }));
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_FALSE(*list);
  EXPECT_LT(took, 3s);  // bounded by the deadlines, not by the peer
  EXPECT_GE(a.stats().queries_failed, 1u);
}

TEST_F(PeerQueryTransport, NobodyListeningIsAnErrorNotAHang) {
  PeerTransport& a = make("a");
  std::optional<sched::Result<PeerLogAnswer>> log;
  a.read_log("127.0.0.1:1", {"a:1", false, 0, 10}, 1000ms, [&](auto r) { log = std::move(r); });
  ASSERT_TRUE(run_until([&] { return log.has_value(); }));
  EXPECT_FALSE(*log);
}

TEST_F(PeerQueryTransport, AFloodOfQuestionsIsAnsweredBusyAndTheLinkStays) {
  PeerTransport& a = make("a");
  std::vector<gossip::Message> inbox;
  PeerTransportConfig config;
  config.listen = "127.0.0.1:0";
  config.name = "b";
  config.secret = "a secret for the questions test";
  transports_.push_back(std::make_unique<PeerTransport>(
      io_, config, [&inbox](gossip::Message m) { inbox.push_back(std::move(m)); }));
  PeerTransport& b = *transports_.back();
  b.set_query_handlers({[](const PeerLogRequest&) { return PeerLogAnswer{}; }, nullptr});
  int answered = 0, busy = 0;
  for (int round = 0; round < 30; ++round) {
    int waiting = 20;
    for (int i = 0; i < 20; ++i) {
      a.read_log(address(b), {"a:1", false, 0, 10}, 2000ms, [&](sched::Result<PeerLogAnswer> r) {
        --waiting;
        if (r && r.value().error.empty()) ++answered;
        if (r && r.value().error.find("busy") != std::string::npos) ++busy;
      });
    }
    ASSERT_TRUE(run_until([&] { return waiting == 0; }));
  }
  EXPECT_GE(answered, PeerTransport::kQueryBurst);
  EXPECT_GT(busy, 0);
  EXPECT_EQ(answered + busy, 600);
  EXPECT_EQ(b.stats().queries_busy, static_cast<std::uint64_t>(busy));
  // The connection (which carries gossip) was not closed as a flood.
  EXPECT_EQ(b.stats().flooded, 0u);
  gossip::Message ping;
  ping.from = "a";
  ping.from_address = address(a);
  ping.from_incarnation = 1;
  ping.body = gossip::Ping{1, "b"};
  a.send({address(b), ping});
  ASSERT_TRUE(run_until([&] { return inbox.size() == 1; }));
}

}  // namespace
}  // namespace braid::rpc
