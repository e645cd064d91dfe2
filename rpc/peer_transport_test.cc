// PeerTransport on loopback: real TCP, real Cap'n Proto, one io_context with
// the AsioEventPort, driven by run_one_for() loops until a condition holds
// or a deadline passes (no sleeps as synchronisation).
#include "rpc/peer_transport.h"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "rpc/asio_event_port.h"

namespace braid::rpc {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSecret = "a cluster secret of some length";

gossip::Message ping_from(const std::string& from, std::uint16_t port, std::uint32_t seq) {
  gossip::Message m;
  m.from = from;
  m.from_address = "127.0.0.1:" + std::to_string(port);
  m.from_incarnation = 1;
  m.body = gossip::Ping{seq, "b"};
  return m;
}

class PeerTransportTest : public ::testing::Test {
 protected:
  ~PeerTransportTest() override {
    transports_.clear();
    io_.restart();
    io_.poll();
  }

  PeerTransport& make(const std::string& name, const std::string& secret,
                      std::vector<gossip::Message>* inbox,
                      std::chrono::milliseconds deadline = 1000ms) {
    PeerTransportConfig config;
    config.listen = "127.0.0.1:0";
    config.name = name;
    config.secret = secret;
    config.call_deadline = deadline;
    config.link_retry_delay = 50ms;
    transports_.push_back(std::make_unique<PeerTransport>(io_, config, [inbox](gossip::Message m) {
      if (inbox != nullptr) inbox->push_back(std::move(m));
    }));
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

TEST_F(PeerTransportTest, MessagesArriveInOrderOverOneAuthenticatedLink) {
  std::vector<gossip::Message> inbox;
  PeerTransport& a = make("a", kSecret, nullptr);
  PeerTransport& b = make("b", kSecret, &inbox);
  for (std::uint32_t i = 0; i < 20; ++i) a.send({address(b), ping_from("a", a.port(), i)});
  ASSERT_TRUE(run_until([&] { return inbox.size() == 20; })) << inbox.size();
  for (std::uint32_t i = 0; i < 20; ++i) {
    EXPECT_EQ(std::get<gossip::Ping>(inbox[i].body).seq, i);
  }
  EXPECT_EQ(a.stats().links, 1u);
  EXPECT_EQ(b.stats().received, 20u);
  EXPECT_EQ(b.stats().refused_auth, 0u);
  ASSERT_TRUE(run_until([&] { return a.stats().sent == 20; }));
}

// Migration messages share the links with gossip, in order, and a big
// offer (an environment of 200 KiB) gets through the reader limits.
TEST_F(PeerTransportTest, MigrationMessagesTravelBesideGossip) {
  std::vector<gossip::Message> inbox;
  std::vector<sched::MigrationMessage> migrations;
  PeerTransport& a = make("a", kSecret, nullptr);
  PeerTransport& b = make("b", kSecret, &inbox);
  b.set_on_migration([&](sched::MigrationMessage m) { migrations.push_back(std::move(m)); });
  sched::MigrationMessage offer;
  offer.from = "a";
  offer.from_address = address(a);
  sched::HandoffOffer o;
  o.epoch = 1;
  o.task.id = "a:1";
  o.task.spec.argv = {"true"};
  o.task.hops = 1;
  auto env = std::make_shared<sched::Environment>();
  for (int i = 0; i < 200; ++i)
    env->entries.push_back("K" + std::to_string(i) + "=" + std::string(1024, 'v'));
  o.task.spec.base_env = env;
  offer.body = o;
  a.send({address(b), ping_from("a", a.port(), 1)});
  a.send(address(b), offer);
  sched::MigrationMessage bad = offer;
  bad.from = "bad name";
  a.send(address(b), bad);
  a.send({address(b), ping_from("a", a.port(), 2)});
  ASSERT_TRUE(run_until([&] { return inbox.size() == 2 && migrations.size() == 1; }));
  const auto& got = std::get<sched::HandoffOffer>(migrations[0].body);
  EXPECT_EQ(got.task.id, "a:1");
  ASSERT_NE(got.task.spec.base_env, nullptr);
  EXPECT_EQ(got.task.spec.base_env->entries.size(), 200u);
  EXPECT_EQ(b.stats().migration_received, 1u);
  EXPECT_EQ(b.stats().invalid, 1u);
  EXPECT_GT(a.stats().migration_bytes_sent, 200u * 1024);
  EXPECT_EQ(a.stats().links, 1u);
}

TEST_F(PeerTransportTest, APeerWithoutTheSecretGetsNothingThrough) {
  std::vector<gossip::Message> inbox;
  PeerTransport& intruder = make("x", "not the cluster secret at all", nullptr);
  PeerTransport& b = make("b", kSecret, &inbox);
  PeerTransport& no_secret = make("y", "", nullptr);
  intruder.send({address(b), ping_from("x", intruder.port(), 1)});
  no_secret.send({address(b), ping_from("y", no_secret.port(), 1)});
  ASSERT_TRUE(run_until([&] { return b.stats().refused_auth == 2; })) << b.stats().refused_auth;
  ASSERT_TRUE(run_until([&] {
    return intruder.stats().connect_failures == 1 && no_secret.stats().connect_failures == 1;
  }));
  EXPECT_TRUE(inbox.empty());
  EXPECT_EQ(b.stats().received, 0u);
  // The refused connections are closed by b.
  EXPECT_TRUE(run_until([&] { return b.stats().incoming == 0; }));
}

TEST_F(PeerTransportTest, AnInvalidMessageIsRefusedAndTheLinkStays) {
  std::vector<gossip::Message> inbox;
  PeerTransport& a = make("a", kSecret, nullptr);
  PeerTransport& b = make("b", kSecret, &inbox);
  gossip::Message bad = ping_from("a", a.port(), 1);
  bad.from = "bad name with spaces";
  a.send({address(b), bad});
  a.send({address(b), ping_from("a", a.port(), 2)});
  ASSERT_TRUE(run_until([&] { return inbox.size() == 1; }));
  EXPECT_EQ(std::get<gossip::Ping>(inbox[0].body).seq, 2u);
  EXPECT_EQ(b.stats().invalid, 1u);
  EXPECT_EQ(a.stats().links, 1u);
}

TEST_F(PeerTransportTest, GarbageOnThePortDoesNotHurtTheListener) {
  std::vector<gossip::Message> inbox;
  PeerTransport& b = make("b", kSecret, &inbox);
  {
    asio::ip::tcp::socket raw(io_);
    raw.connect({asio::ip::make_address("127.0.0.1"), b.port()});
    const std::string junk(100'000, '\xff');
    std::error_code ec;
    asio::write(raw, asio::buffer(junk), ec);
    ASSERT_TRUE(run_until([&] { return b.stats().incoming == 0; }));
  }
  PeerTransport& a = make("a", kSecret, nullptr);
  a.send({address(b), ping_from("a", a.port(), 7)});
  ASSERT_TRUE(run_until([&] { return inbox.size() == 1; }));
}

TEST_F(PeerTransportTest, AStalledPeerCostsADeadlineAndABoundedQueue) {
  // A listener that accepts and never reads: a stopped braidd.
  asio::ip::tcp::acceptor stalled(io_, {asio::ip::make_address("127.0.0.1"), 0});
  std::vector<asio::ip::tcp::socket> held;
  std::function<void()> accept = [&] {
    stalled.async_accept([&](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      held.push_back(std::move(s));
      accept();
    });
  };
  accept();
  PeerTransport& a = make("a", kSecret, nullptr, 300ms);
  const std::string to = "127.0.0.1:" + std::to_string(stalled.local_endpoint().port());
  for (std::uint32_t i = 0; i < 100; ++i) a.send({to, ping_from("a", a.port(), i)});
  // Beyond the per-link queue, messages are dropped at once.
  EXPECT_EQ(a.stats().dropped, 100 - PeerTransport::kMaxQueuedPerLink);
  ASSERT_TRUE(run_until([&] { return a.stats().links == 0; }));
  EXPECT_EQ(a.stats().dropped, 100u);
  EXPECT_EQ(a.stats().connect_failures, 1u);
  // Within the retry delay, sends are dropped without a new connection.
  a.send({to, ping_from("a", a.port(), 101)});
  EXPECT_EQ(a.stats().links, 0u);
}

TEST_F(PeerTransportTest, InjectedFaultsDropOrBlock) {
  std::vector<gossip::Message> inbox;
  PeerTransport& a = make("a", kSecret, nullptr);
  PeerTransport& b = make("b", kSecret, &inbox);
  a.set_faults({.drop_permille = 1000, .blocked = {}, .seed = 7});
  for (std::uint32_t i = 0; i < 10; ++i) a.send({address(b), ping_from("a", a.port(), i)});
  EXPECT_EQ(a.stats().dropped, 10u);
  a.set_faults({.drop_permille = 0, .blocked = {address(b)}, .seed = 7});
  a.send({address(b), ping_from("a", a.port(), 11)});
  EXPECT_EQ(a.stats().dropped, 11u);
  a.set_faults({.drop_permille = 300, .blocked = {}, .seed = 7});
  for (std::uint32_t i = 0; i < 1000; ++i) a.send({address(b), ping_from("a", a.port(), i)});
  // ~30% of 1000 dropped by the fault; the rest queue (bounded) and go.
  ASSERT_TRUE(run_until([&] { return a.stats().links == 1 && a.stats().sent > 0; }));
  SUCCEED();
}

TEST_F(PeerTransportTest, ARefusedConnectIsCountedAndRetriedLater) {
  PeerTransport& a = make("a", kSecret, nullptr);
  // A port nobody listens on: bind one, note it, close it.
  std::uint16_t closed_port = 0;
  {
    asio::ip::tcp::acceptor probe(io_, {asio::ip::make_address("127.0.0.1"), 0});
    closed_port = probe.local_endpoint().port();
  }
  const std::string to = "127.0.0.1:" + std::to_string(closed_port);
  a.send({to, ping_from("a", a.port(), 1)});
  ASSERT_TRUE(run_until([&] { return a.stats().connect_failures == 1; }));
  EXPECT_EQ(a.stats().links, 0u);
  std::vector<gossip::Message> inbox;
  PeerTransport& b = make("b", kSecret, &inbox);
  a.send({address(b), ping_from("a", a.port(), 2)});
  ASSERT_TRUE(run_until([&] { return inbox.size() == 1; }));
}

// An authenticated peer that sends faster than any gossip would (here: as
// fast as the link goes) is cut off once past the burst, so its unread
// answers cannot pile up; what arrived before was delivered.
TEST_F(PeerTransportTest, APeerAboveTheCallRateIsCutOff) {
  std::vector<gossip::Message> inbox;
  PeerTransport& a = make("a", kSecret, nullptr);
  PeerTransport& b = make("b", kSecret, &inbox);
  std::uint32_t seq = 0;
  ASSERT_TRUE(run_until([&] {
    while (a.stats().links <= 1 && seq < 100'000 &&
           a.stats().sent + a.stats().dropped + PeerTransport::kMaxQueuedPerLink > seq) {
      a.send({address(b), ping_from("a", a.port(), ++seq)});
    }
    return b.stats().flooded >= 1;
  }));
  EXPECT_GE(inbox.size(), static_cast<std::size_t>(PeerTransport::kDeliverBurst));
  EXPECT_LT(inbox.size(), 4u * PeerTransport::kDeliverBurst);
}

}  // namespace
}  // namespace braid::rpc
