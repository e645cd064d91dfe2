// Peers on loopback: real gossip::Node, real PeerTransport (TCP, Cap'n
// Proto, the HMAC handshake), one io_context; driven by run_one_for() loops
// until a condition holds or a deadline passes.
#include "node/peers.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>

#include "rpc/asio_event_port.h"

namespace braid::node {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSecret = "sixteen bytes or more of secret";

class PeersTest : public ::testing::Test {
 protected:
  ~PeersTest() override {
    peers_.clear();
    io_.restart();
    io_.poll();
  }

  Peers& start(const std::string& name, std::vector<std::string> join,
               std::vector<storage::MemberRecord> known = {}) {
    PeersOptions o;
    o.name = name;
    o.listen = "127.0.0.1:0";
    o.join = std::move(join);
    o.secret = kSecret;
    o.gossip = gossip::GossipConfig::fast();
    o.seed = 1 + peers_.size();
    auto started = Peers::start(io_, clock_, o, std::move(known),
                                [this, name](storage::Batch b) { persisted_[name] += b.count(); });
    EXPECT_TRUE(started) << started.error().message;
    peers_.push_back(std::move(started).value());
    return *peers_.back();
  }

  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io_.run_one_for(10ms);
    }
    return true;
  }

  static std::size_t count(const Peers& p, gossip::MemberState state) {
    std::size_t n = 0;
    for (const auto& m : p.members()) n += m.state == state;
    return n;
  }

  static std::optional<gossip::Member> member(const Peers& p, const std::string& name) {
    for (const auto& m : p.members()) {
      if (m.name == name) return m;
    }
    return std::nullopt;
  }

  asio::io_context io_;
  rpc::AsioEventPort port_{io_};
  SystemClock clock_;
  std::vector<std::unique_ptr<Peers>> peers_;
  std::map<std::string, std::size_t> persisted_;
};

TEST_F(PeersTest, ThreeNodesJoinThroughOneSeedAndShareTheirLoad) {
  Peers& a = start("a", {});
  Peers& b = start("b", {a.address()});
  Peers& c = start("c", {a.address()});
  ASSERT_TRUE(run_until([&] {
    return count(a, gossip::MemberState::kAlive) == 3 &&
           count(b, gossip::MemberState::kAlive) == 3 && count(c, gossip::MemberState::kAlive) == 3;
  }));
  gossip::Load load;
  load.queued = 50;
  load.slots = 2;
  load.top_queued_priority = 7;
  c.set_load(load);
  ASSERT_TRUE(run_until([&] {
    auto seen_by_a = member(a, "c");
    auto seen_by_b = member(b, "c");
    return seen_by_a && seen_by_b && seen_by_a->load == load && seen_by_b->load == load;
  }));
  // Members were handed over for the members family.
  EXPECT_GE(persisted_["a"], 2u);
  EXPECT_GE(persisted_["b"], 2u);
}

TEST_F(PeersTest, ALeavingNodeShowsAsLeft) {
  Peers& a = start("a", {});
  Peers& b = start("b", {a.address()});
  ASSERT_TRUE(run_until([&] { return count(a, gossip::MemberState::kAlive) == 2; }));
  bool left = false;
  b.leave([&] { left = true; });
  ASSERT_TRUE(run_until([&] { return left; }));
  ASSERT_TRUE(run_until([&] {
    auto m = member(a, "b");
    return m && m->state == gossip::MemberState::kLeft;
  }));
}

// A node that refuted suspicions in an earlier run (its own stored record says
// incarnation 7, above braidd's meta) restarts above it: its peers, which saw
// 7, see the restarted node as news (the rolling upgrade waits for that).
TEST_F(PeersTest, ARestartStartsAboveTheIncarnationOfEarlierRefutations) {
  Peers& a = start("a", {});
  Peers& b = start("b", {a.address()}, {storage::MemberRecord{"b", "127.0.0.1:1", 7, 0, 0}});
  ASSERT_TRUE(run_until([&] {
    auto m = member(a, "b");
    return m && m->state == gossip::MemberState::kAlive && m->incarnation == 8;
  }));
  auto self = member(b, "b");
  ASSERT_TRUE(self);
  EXPECT_EQ(self->incarnation, 8u);
}

TEST_F(PeersTest, AKnownMemberIsEnoughToRejoin) {
  Peers& a = start("a", {});
  Peers& b = start("b", {}, {storage::MemberRecord{"a", a.address(), 1, 0, 0}});
  ASSERT_TRUE(run_until([&] {
    return count(a, gossip::MemberState::kAlive) == 2 && count(b, gossip::MemberState::kAlive) == 2;
  }));
}

TEST_F(PeersTest, BadAddressesAndNamesAreRefusedWithOneLine) {
  PeersOptions o;
  o.name = "a";
  o.listen = "127.0.0.1:nope";
  auto r = Peers::start(io_, clock_, o, {}, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("--listen"), std::string::npos) << r.error().message;
  o.listen = "0.0.0.0:0";
  r = Peers::start(io_, clock_, o, {}, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("--advertise"), std::string::npos) << r.error().message;
  Peers& a = start("a", {});
  o.listen = a.address();  // taken
  r = Peers::start(io_, clock_, o, {}, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot listen for peers on"), std::string::npos)
      << r.error().message;
  o.listen = "127.0.0.1:0";
  o.name = "bad name";
  r = Peers::start(io_, clock_, o, {}, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot be a peer name"), std::string::npos);
}

// Migration messages go to a member by name over the peer links, and each
// node's member listeners hear of the others joining.
TEST_F(PeersTest, MigrationMessagesReachAMemberByNameAndListenersHearJoins) {
  Peers& a = start("a", {});
  std::vector<std::string> a_heard;
  a.add_member_listener([&](const gossip::Event& e) {
    if (e.kind == gossip::Event::Kind::kJoined) a_heard.push_back(e.name);
  });
  Peers& b = start("b", {a.address()});
  std::vector<sched::MigrationMessage> inbox;
  b.set_on_migration([&](sched::MigrationMessage m) { inbox.push_back(std::move(m)); });
  ASSERT_TRUE(run_until([&] {
    return count(a, gossip::MemberState::kAlive) == 2 && count(b, gossip::MemberState::kAlive) == 2;
  }));
  EXPECT_EQ(a_heard, std::vector<std::string>{"b"});
  EXPECT_FALSE(a.send_migration("nobody", {{}, {}, sched::WorkRequest{2}}));  // not a member
  EXPECT_FALSE(a.send_migration("a", {{}, {}, sched::WorkRequest{2}}));       // not to itself
  ASSERT_TRUE(a.send_migration("b", {{}, {}, sched::WorkRequest{2}}));
  ASSERT_TRUE(run_until([&] { return inbox.size() == 1; }));
  EXPECT_EQ(inbox[0].from, "a");  // filled in by Peers
  EXPECT_EQ(inbox[0].from_address, a.address());
  EXPECT_EQ(std::get<sched::WorkRequest>(inbox[0].body).slots, 2u);
}

// Metrics: direct probes on loopback come back, and their round trips reach
// the listener (real transport, real clock).
TEST_F(PeersTest, ProbeRoundTripsReachTheListener) {
  Peers& a = start("a", {});
  std::vector<sched::Micros> rtts_us;
  a.set_probe_rtt_listener([&](sched::Micros rtt_us) { rtts_us.push_back(rtt_us); });
  start("b", {a.address()});
  ASSERT_TRUE(run_until([&] { return rtts_us.size() >= 2; }));
  for (const sched::Micros rtt_us : rtts_us) {
    EXPECT_GE(rtt_us, 0);
    EXPECT_LT(rtt_us, 10'000'000);
  }
}

}  // namespace
}  // namespace braid::node
