// gossip::Node end to end on a tiny in-test cluster: messages are delivered
// instantly (or dropped for a crashed node, held for a stalled one) on a
// virtual clock. The simulator (tests/sim/) measures the protocol at scale;
// this only proves the features work.
#include "gossip/node.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "gossip/broadcast_queue.h"

namespace braid::gossip {
namespace {

std::string address_of(int i) { return "10.0.0." + std::to_string(i + 1) + ":7946"; }
std::string name_of(int i) { return "n" + std::to_string(i); }

struct Sent {
  Micros at_us;
  std::string to;
  Message message;
  friend bool operator==(const Sent&, const Sent&) = default;
};

class Cluster {
 public:
  explicit Cluster(int n, GossipConfig config = GossipConfig::fast(), std::uint64_t seed = 1) {
    for (int i = 0; i < n; ++i)
      add(name_of(i), address_of(i), seed + static_cast<unsigned>(i), config);
  }
  Node& add(const std::string& name, const std::string& address, std::uint64_t seed,
            const GossipConfig& config) {
    auto node = std::make_unique<Node>(config, Self{name, address, 1}, seed, now_us);
    Node& ref = *node;
    nodes[address] = std::move(node);
    order.push_back(address);
    return ref;
  }
  Node& at(int i) { return *nodes.at(address_of(i)); }
  void join_all_via(int seed) {
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (order[i] == address_of(seed)) continue;
      Outbox out;
      nodes[order[i]]->join({address_of(seed)}, now_us, out);
      take(out);
    }
    deliver();
  }
  void take(Outbox& out) {
    for (Outgoing& o : out.messages) {
      EXPECT_LE(encoded_size_bound(o.message), kMaxMessageBytes);
      EXPECT_EQ(validate_message(o.message), std::nullopt);
      largest_bytes = std::max(largest_bytes, encoded_size_bound(o.message));
      if (record) sent.push_back(Sent{now_us, o.to_address, o.message});
      in_flight.push_back(std::move(o));
    }
    for (Event& e : out.events) events.push_back(std::move(e));
    out.clear();
  }
  void deliver() {
    while (!in_flight.empty()) {
      Outgoing o = std::move(in_flight.front());
      in_flight.pop_front();
      if (crashed.count(o.to_address) || !nodes.count(o.to_address)) continue;
      if (stalled.count(o.to_address)) {
        held.push_back(std::move(o));
        continue;
      }
      Outbox out;
      nodes[o.to_address]->receive(o.message, now_us, out);
      take(out);
    }
  }
  bool running(const std::string& address) const {
    return !crashed.count(address) && !stalled.count(address);
  }
  // Runs every due tick until end_us (or until done() holds); true if done().
  bool run_until(
      Micros end_us, const std::function<bool()>& done = [] { return false; }) {
    while (true) {
      if (done()) return true;
      Micros next = end_us + 1;
      for (const auto& a : order) {
        if (running(a)) next = std::min(next, nodes[a]->next_tick_us());
      }
      if (next > end_us) {
        now_us = end_us;
        return done();
      }
      now_us = std::max(now_us, next);
      for (const auto& a : order) {
        if (!running(a) || nodes[a]->next_tick_us() > now_us) continue;
        Outbox out;
        nodes[a]->tick(now_us, out);
        take(out);
        deliver();
      }
    }
  }
  void resume(int i) {
    stalled.erase(address_of(i));
    std::deque<Outgoing> queued;
    queued.swap(held);
    for (Outgoing& o : queued) in_flight.push_back(std::move(o));
    deliver();
  }
  // Every running node sees `name` in `state`.
  bool all_see(const std::string& name, MemberState state) {
    for (const auto& a : order) {
      if (!running(a) || nodes[a]->self().name == name) continue;
      auto m = nodes[a]->member(name);
      if (!m || m->state != state) return false;
    }
    return true;
  }
  bool converged(std::size_t n) {
    for (const auto& a : order) {
      if (running(a) && nodes[a]->alive_count() != n) return false;
    }
    return true;
  }

  Micros now_us = 0;
  std::map<std::string, std::unique_ptr<Node>> nodes;
  std::vector<std::string> order;
  std::set<std::string> crashed, stalled;
  std::deque<Outgoing> in_flight, held;
  bool record = true;  // keep every sent message in `sent`
  std::vector<Sent> sent;
  std::size_t largest_bytes = 0;
  std::vector<Event> events;
};

TEST(Node, JoinThroughOneSeedConverges) {
  Cluster c(5);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(2 * kMicrosPerSecond, [&] { return c.converged(5); }));
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 5; ++j) {
      auto m = c.at(i).member(name_of(j));
      ASSERT_TRUE(m.has_value()) << i << " " << j;
      EXPECT_EQ(m->state, MemberState::kAlive);
      EXPECT_EQ(m->address, address_of(j));
    }
  }
  int joined = 0;
  for (const Event& e : c.events) joined += e.kind == Event::Kind::kJoined;
  EXPECT_EQ(joined, 5 * 4);
}

TEST(Node, JoinRetriesWithBackoffUntilASeedAnswers) {
  Cluster c(2);
  c.crashed.insert(address_of(0));
  c.join_all_via(0);
  c.run_until(3 * kMicrosPerSecond);
  std::vector<Micros> join_syncs_us;
  for (const Sent& s : c.sent) {
    const auto* sync = std::get_if<Sync>(&s.message.body);
    if (sync && sync->join && !sync->reply) join_syncs_us.push_back(s.at_us);
  }
  // fast(): 50 ms doubling to 1 s: at 0, 50, 150, 350, 750, 1550, 2550 ms.
  ASSERT_EQ(join_syncs_us.size(), 7u);
  for (std::size_t i = 2; i < join_syncs_us.size(); ++i) {
    const Micros gap = join_syncs_us[i] - join_syncs_us[i - 1];
    EXPECT_EQ(gap, std::min<Micros>(2 * (join_syncs_us[i - 1] - join_syncs_us[i - 2]),
                                    1 * kMicrosPerSecond));
  }
  c.crashed.clear();
  ASSERT_TRUE(c.run_until(6 * kMicrosPerSecond, [&] { return c.converged(2); }));
  const std::size_t before = c.sent.size();
  c.run_until(10 * kMicrosPerSecond);
  for (std::size_t i = before; i < c.sent.size(); ++i) {
    const auto* sync = std::get_if<Sync>(&c.sent[i].message.body);
    EXPECT_FALSE(sync && sync->join && !sync->reply) << "still joining at " << c.sent[i].at_us;
  }
}

TEST(Node, ASilentNodeIsSuspectedThenDeadWithinTheBound) {
  Cluster c(5);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(2 * kMicrosPerSecond, [&] { return c.converged(5); }));
  const GossipConfig config = GossipConfig::fast();
  const Micros crash_us = c.now_us;
  c.crashed.insert(address_of(4));
  // Every node probes n4 within two passes of its shuffled order; the
  // suspicion lasts at most min x max_mult; then a few gossip rounds spread it.
  const Micros bound_us =
      2 * 4 * config.probe_interval_us + config.probe_interval_us +
      config.suspicion_mult * config.suspicion_max_timeout_mult * config.probe_interval_us +
      10 * config.gossip_interval_us;
  bool suspected = false;
  ASSERT_TRUE(c.run_until(crash_us + bound_us,
                          [&] {
                            suspected = suspected || c.all_see("n4", MemberState::kSuspect);
                            return c.all_see("n4", MemberState::kDead);
                          }))
      << "not dead everywhere " << bound_us << " us after the crash";
  std::uint64_t raised = 0, declared = 0;
  for (int i = 0; i < 4; ++i) {
    raised += c.at(i).stats().suspicions_raised;
    declared += c.at(i).stats().deaths_declared;
  }
  EXPECT_GE(raised, 1u);
  EXPECT_GE(declared, 1u);
  for (const Event& e : c.events) {
    if (e.name != "n4") {
      EXPECT_EQ(e.state, MemberState::kAlive) << e.name;
    }
  }
  // Forgotten after reclaim_after.
  ASSERT_TRUE(c.run_until(c.now_us + config.reclaim_after_us + kMicrosPerSecond, [&] {
    for (int i = 0; i < 4; ++i) {
      if (c.at(i).member("n4")) return false;
    }
    return true;
  }));
  int removed = 0;
  for (const Event& e : c.events) removed += e.kind == Event::Kind::kRemoved && e.name == "n4";
  EXPECT_EQ(removed, 4);
}

TEST(Node, ASuspectedLiveNodeRefutes) {
  Cluster c(4);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(2 * kMicrosPerSecond, [&] { return c.converged(4); }));
  const Incarnation before = c.at(2).incarnation();
  Message m;
  m.from = "n1";
  m.from_address = address_of(1);
  m.from_incarnation = c.at(1).incarnation();
  m.body = Ack{0};
  m.updates.push_back(Update{Update::Kind::kDead, "n2", "", before, "n1", {}, 0, 0});
  Outbox out;
  c.at(0).receive(m, c.now_us, out);
  c.take(out);
  EXPECT_EQ(c.at(0).member("n2")->state, MemberState::kDead);
  c.deliver();
  ASSERT_TRUE(c.run_until(c.now_us + 2 * kMicrosPerSecond, [&] {
    return c.all_see("n2", MemberState::kAlive) && c.at(0).member("n2")->incarnation > before &&
           c.at(3).member("n2")->incarnation > before;
  }));
  EXPECT_GT(c.at(2).incarnation(), before);
  EXPECT_GE(c.at(2).stats().refutations, 1u);
  EXPECT_GE(c.at(2).health_score(), 1);
}

TEST(Node, LeaveShowsLeftEverywhereAndNeverDead) {
  Cluster c(5);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(2 * kMicrosPerSecond, [&] { return c.converged(5); }));
  Outbox out;
  c.at(3).leave(c.now_us, out);
  c.take(out);
  c.deliver();
  ASSERT_TRUE(c.run_until(c.now_us + kMicrosPerSecond,
                          [&] { return c.all_see("n3", MemberState::kLeft); }));
  c.crashed.insert(address_of(3));  // the process exits
  c.run_until(c.now_us + 5 * kMicrosPerSecond);
  EXPECT_TRUE(c.all_see("n3", MemberState::kLeft));
  for (const Event& e : c.events) {
    EXPECT_NE(e.state, MemberState::kDead) << e.name;
  }
}

TEST(Node, ALoadChangeReachesEveryone) {
  Cluster c(5);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(2 * kMicrosPerSecond, [&] { return c.converged(5); }));
  Load load;
  load.queued = 50;
  load.running = 4;
  load.slots = 4;
  load.top_queued_priority = 7;
  c.at(1).set_load(load, c.now_us);
  const Micros set_us = c.now_us;
  ASSERT_TRUE(c.run_until(set_us + kMicrosPerSecond, [&] {
    for (int i = 0; i < 5; ++i) {
      if (c.at(i).member("n1")->load != load) return false;
    }
    return true;
  }));
  for (int i = 0; i < 5; ++i) {
    const Member m = *c.at(i).member("n1");
    EXPECT_EQ(m.load_version, 1u);
    EXPECT_LE(m.load_measured_us, c.now_us);
    EXPECT_GE(m.load_measured_us, set_us - kMicrosPerMilli);
  }
  // An unchanged figure does not bump the version.
  c.at(1).set_load(load, c.now_us);
  EXPECT_EQ(c.at(1).member("n1")->load_version, 1u);
  // Republished, it does, and everyone hears the fresher figure.
  c.run_until(c.now_us + 2 * kMicrosPerSecond, [] { return false; });
  c.at(1).set_load(load, c.now_us, /*republish=*/true);
  const Micros republished_us = c.now_us;
  EXPECT_EQ(c.at(1).member("n1")->load_version, 2u);
  ASSERT_TRUE(c.run_until(republished_us + kMicrosPerSecond, [&] {
    for (int i = 0; i < 5; ++i) {
      if (c.at(i).member("n1")->load_version != 2u) return false;
    }
    return true;
  }));
  for (int i = 0; i < 5; ++i) {
    EXPECT_GE(c.at(i).member("n1")->load_measured_us, republished_us - kMicrosPerMilli);
  }
}

// Membership news is not held for the gossip timer: the node gossips at its
// next tick, to as many members as the update's retransmit limit, so one
// wave reaches nearly everyone (the join tail of issue 10 §9).
TEST(Node, MembershipNewsFloodsAtTheNextTick) {
  GossipConfig config = GossipConfig::fast();
  config.gossip_interval_us = 10 * kMicrosPerSecond;  // the timer alone would wait 10 s
  config.probe_interval_us = 10 * kMicrosPerSecond;
  config.sync_interval_us = 600 * kMicrosPerSecond;
  Cluster c(12, config);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(30 * kMicrosPerSecond, [&] { return c.converged(12); }));
  // The joining gossip is spent and the flood budget back (one flood per
  // ceil(12 / 3) = 4 gossip intervals).
  c.run_until(c.now_us + 60 * kMicrosPerSecond);
  c.sent.clear();
  Outbox out;
  Node& newcomer = c.add("n12", address_of(12), 99, config);
  newcomer.join({address_of(0)}, c.now_us, out);
  c.take(out);
  c.deliver();
  EXPECT_LE(c.at(0).next_tick_us(), c.now_us);  // due now, not at the gossip timer
  const Micros joined_us = c.now_us;
  ASSERT_TRUE(c.run_until(joined_us + kMicrosPerMilli, [&] { return c.converged(13); }));
  std::size_t carrying = 0;
  for (const Sent& sent : c.sent) {
    if (sent.message.from != "n0") continue;
    for (const Update& u : sent.message.updates) carrying += u.name == "n12" ? 1 : 0;
  }
  // retransmit_limit(6, 12 live) = 12 sends at once, not the fanout of 3.
  EXPECT_GE(carrying, static_cast<std::size_t>(
                          membership_retransmit_limit(config.membership_retransmit_mult, 12)));

  // A second join right after: no flood budget left, so n0 sends it in an
  // ordinary (early) round of gossip_fanout messages.
  c.sent.clear();
  Node& second = c.add("n13", address_of(13), 98, config);
  second.join({address_of(0)}, c.now_us, out);
  c.take(out);
  c.deliver();
  c.run_until(c.now_us + config.gossip_interval_us / 2);
  std::size_t first_round = 0;
  for (const Sent& sent : c.sent) {
    const auto* gossip = std::get_if<Ack>(&sent.message.body);  // Ack{0}: a gossip round's
    if (sent.message.from != "n0" || gossip == nullptr || gossip->seq != 0) continue;
    for (const Update& u : sent.message.updates) first_round += u.name == "n13" ? 1 : 0;
  }
  EXPECT_LE(first_round, static_cast<std::size_t>(config.gossip_fanout));
  EXPECT_GE(first_round, 1u);
}
// A load change on a quiet node is gossiped at once, not at the gossip
// timer; a stream of changes (a busy node) is batched into the ordinary
// rounds.
TEST(Node, LoadNewsGoesOutAtOnceWhenQuietAndIsBatchedUnderChurn) {
  GossipConfig config = GossipConfig::fast();
  config.gossip_interval_us = 1 * kMicrosPerSecond;
  config.probe_interval_us = 10 * kMicrosPerSecond;
  Cluster c(3, config);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(30 * kMicrosPerSecond, [&] { return c.converged(3); }));
  c.run_until(c.now_us + 20 * kMicrosPerSecond);
  c.sent.clear();
  Load load;
  load.slots = 4;
  load.queued = 1;
  const Micros changed_us = c.now_us;
  c.at(1).set_load(load, c.now_us);
  ASSERT_TRUE(c.run_until(c.now_us + 10 * kMicrosPerMilli,
                          [&] { return c.at(2).member("n1")->load.queued == 1; }));
  EXPECT_LT(c.now_us - changed_us, 10 * kMicrosPerMilli);  // not the 1 s timer
  for (std::uint32_t q = 2; q <= 21; ++q) {
    load.queued = q;
    c.at(1).set_load(load, c.now_us);
    c.run_until(c.now_us + 50 * kMicrosPerMilli);  // 20 changes in 1 s
  }
  std::set<Micros> rounds;
  for (const Sent& sent : c.sent) {
    const auto* gossip = std::get_if<Ack>(&sent.message.body);
    if (sent.message.from != "n1" || gossip == nullptr || gossip->seq != 0) continue;
    rounds.insert(sent.at_us);
  }
  EXPECT_LE(rounds.size(), 4u);  // not one per change
  ASSERT_TRUE(c.run_until(c.now_us + 2 * kMicrosPerSecond,
                          [&] { return c.at(2).member("n1")->load.queued == 21; }));
}

// A member that hears of a suspicion in a small cluster probes the suspect
// next, so the accusation is confirmed (or refuted) within about one probe.
TEST(Node, HearingOfASuspicionMakesTheSuspectTheNextProbe) {
  GossipConfig config = GossipConfig::fast();
  Cluster c(4, config);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(2 * kMicrosPerSecond, [&] { return c.converged(4); }));
  Message m;
  m.from = "n1";
  m.from_address = address_of(1);
  m.from_incarnation = 1;
  m.body = Ack{0};
  Update u;
  u.kind = Update::Kind::kSuspect;
  u.name = "n3";
  u.incarnation = c.at(2).member("n3")->incarnation;
  u.accuser = "n1";
  m.updates.push_back(u);
  c.sent.clear();
  Outbox out;
  c.nodes[address_of(2)]->receive(m, c.now_us, out);
  c.take(out);
  const Micros next_probe_us = c.at(2).next_tick_us() + config.probe_interval_us;
  c.crashed.insert(address_of(3));  // keep its refutation out of the way
  c.run_until(next_probe_us);
  const Ping* first = nullptr;
  for (const Sent& sent : c.sent) {
    if (sent.message.from != "n2") continue;
    if (const auto* ping = std::get_if<Ping>(&sent.message.body)) {
      first = ping;
      break;
    }
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->target, "n3");
}

TEST(Node, AStalledNodeRefutesAndAccusesNobody) {
  Cluster c(5);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(2 * kMicrosPerSecond, [&] { return c.converged(5); }));
  c.stalled.insert(address_of(0));
  c.run_until(c.now_us + 5 * kMicrosPerSecond);  // others may suspect or kill n0
  c.resume(0);
  const Micros resumed_us = c.now_us;
  c.run_until(resumed_us);  // n0's first tick, late: its loop stalled
  EXPECT_GE(c.at(0).health_score(), 1);
  ASSERT_TRUE(c.run_until(resumed_us + 3 * kMicrosPerSecond,
                          [&] { return c.all_see("n0", MemberState::kAlive); }));
  c.run_until(c.now_us + 3 * kMicrosPerSecond);
  EXPECT_EQ(c.at(0).stats().deaths_declared, 0u);
  EXPECT_EQ(c.at(0).stats().suspicions_raised, 0u);
  for (const Event& e : c.events) {
    if (e.name != "n0") {
      EXPECT_EQ(e.state, MemberState::kAlive) << e.name;
    }
  }
}

TEST(Node, FailedProbesRaiseTheHealthScoreAndStretchTheProbeInterval) {
  Cluster c(2);
  c.join_all_via(0);
  ASSERT_TRUE(c.run_until(kMicrosPerSecond, [&] { return c.converged(2); }));
  EXPECT_EQ(c.at(0).health_score(), 0);
  c.crashed.insert(address_of(1));
  const Micros crash_us = c.now_us;
  c.run_until(c.now_us + 2 * kMicrosPerSecond);
  EXPECT_GE(c.at(0).health_score(), 2);
  // Pings from n0 after the crash are spaced by probe_interval x (score + 1),
  // the score rising with each failed probe.
  std::vector<Micros> pings_us;
  for (const Sent& s : c.sent) {
    if (s.at_us >= crash_us && s.message.from == "n0" &&
        std::holds_alternative<Ping>(s.message.body)) {
      pings_us.push_back(s.at_us);
    }
  }
  ASSERT_GE(pings_us.size(), 3u);
  const Micros probe_us = GossipConfig::fast().probe_interval_us;
  EXPECT_EQ(pings_us[1] - pings_us[0], probe_us);      // healthy: score 0
  EXPECT_EQ(pings_us[2] - pings_us[1], 2 * probe_us);  // after one failed probe: score 1
}

TEST(Node, EveryMessageStaysWithinItsBoundWith200MembersAndLongNames) {
  GossipConfig config = GossipConfig::fast();
  Cluster c(0, config);
  c.record = false;
  std::vector<std::string> addresses;
  for (int i = 0; i < 200; ++i) {
    std::string name = std::string(60, 'a' + static_cast<char>(i % 26)) + std::to_string(1000 + i);
    std::string host = std::string(80, 'h') + "-" + std::to_string(1000 + i) + ".example";
    std::string address = host.substr(0, kAddressMaxBytes - 6) + ":" + std::to_string(10000 + i);
    ASSERT_TRUE(valid_name(name.substr(0, kNameMaxBytes)));
    ASSERT_TRUE(valid_address(address)) << address;
    c.add(name.substr(0, kNameMaxBytes), address, 100 + static_cast<unsigned>(i), config);
    addresses.push_back(address);
  }
  for (int i = 1; i < 200; ++i) {
    Outbox out;
    c.nodes[addresses[static_cast<std::size_t>(i)]]->join({addresses[0]}, 0, out);
    c.take(out);
  }
  c.deliver();
  Load load{5, 6, 0, 8, 2, 3, true};
  for (int i = 0; i < 200; i += 7)
    c.nodes[addresses[static_cast<std::size_t>(i)]]->set_load(load, 0);
  ASSERT_TRUE(c.run_until(10 * kMicrosPerSecond, [&] { return c.converged(200); }));
  EXPECT_LE(c.largest_bytes, kMaxMessageBytes);
  EXPECT_GT(c.largest_bytes, kMaxMessageBytes / 2);  // the limits were exercised
  std::size_t largest_stat = 0;
  for (const auto& [address, node] : c.nodes) {
    largest_stat = std::max(largest_stat, node->stats().largest_message_bytes);
  }
  EXPECT_EQ(largest_stat, c.largest_bytes);
}

std::vector<Sent> run_scenario(std::uint64_t seed) {
  Cluster c(5, GossipConfig::fast(), seed);
  c.join_all_via(0);
  c.run_until(2 * kMicrosPerSecond);
  c.crashed.insert(address_of(3));
  c.at(1).set_load(Load{1, 2, 0, 4, 2, 0, true}, c.now_us);
  c.run_until(6 * kMicrosPerSecond);
  return c.sent;
}

TEST(Node, TheSameSeedReplaysTheSameOutbox) {
  const auto a = run_scenario(42);
  const auto b = run_scenario(42);
  ASSERT_GT(a.size(), 100u);
  EXPECT_TRUE(a == b);
  const auto other = run_scenario(43);
  EXPECT_FALSE(a == other);
}

TEST(Node, PingsForSomeoneElseAndUnknownAcksAreIgnored) {
  Node n(GossipConfig::fast(), Self{"a", "10.0.0.1:1", 1}, 1, 0);
  Outbox out;
  Message m;
  m.from = "b";
  m.from_address = "10.0.0.2:1";
  m.from_incarnation = 3;
  m.body = Ping{7, "not-a"};
  n.receive(m, 0, out);
  m.body = Ack{99};
  n.receive(m, 0, out);
  EXPECT_EQ(n.stats().messages_ignored, 2u);
  EXPECT_TRUE(out.messages.empty());
  // The sender is known now: alive at its incarnation.
  ASSERT_TRUE(n.member("b").has_value());
  EXPECT_EQ(n.member("b")->incarnation, 3u);
  m.body = Ping{8, "a"};
  n.receive(m, 0, out);
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_EQ(out.messages[0].to_address, "10.0.0.2:1");
  EXPECT_EQ(std::get<Ack>(out.messages[0].message.body).seq, 8u);
}

TEST(Node, AnIntermediaryForwardsTheAckOrNacksInTime) {
  const GossipConfig config = GossipConfig::fast();
  Node n(config, Self{"mid", "10.0.0.1:1", 1}, 1, 0);
  Outbox out;
  // The target is a member we know (a ping-req for a stranger is ignored).
  Message hello;
  hello.from = "target";
  hello.from_address = "10.0.0.3:1";
  hello.from_incarnation = 1;
  hello.body = Ack{0};
  n.receive(hello, 0, out);
  out.clear();
  Message req;
  req.from = "asker";
  req.from_address = "10.0.0.2:1";
  req.body = PingReq{5, "target", "10.0.0.3:1"};
  n.receive(req, 0, out);
  ASSERT_EQ(out.messages.size(), 1u);
  const auto ping = std::get<Ping>(out.messages[0].message.body);
  EXPECT_EQ(out.messages[0].to_address, "10.0.0.3:1");
  EXPECT_EQ(ping.target, "target");
  out.clear();
  Message ack;
  ack.from = "target";
  ack.from_address = "10.0.0.3:1";
  ack.body = Ack{ping.seq};
  n.receive(ack, 1000, out);
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_EQ(out.messages[0].to_address, "10.0.0.2:1");
  EXPECT_EQ(std::get<Ack>(out.messages[0].message.body).seq, 5u);
  out.clear();
  // No answer this time: a nack at 0.8 x probe_timeout.
  req.body = PingReq{6, "target", "10.0.0.3:1"};
  n.receive(req, 2000, out);
  out.clear();
  EXPECT_LE(n.next_tick_us(), 2000 + config.probe_timeout_us * 4 / 5);
  n.tick(2000 + config.probe_timeout_us * 4 / 5, out);
  bool nacked = false;
  for (const Outgoing& o : out.messages) {
    if (const auto* nack = std::get_if<Nack>(&o.message.body)) {
      nacked = nack->seq == 6 && o.to_address == "10.0.0.2:1";
    }
  }
  EXPECT_TRUE(nacked);
}

// Node a knows b (b's message arrived at 0) and is ticked until its probe of
// b goes out: the ping and when it was sent.
struct ProbeOfB {
  Node n{GossipConfig::fast(), Self{"a", "10.0.0.1:1", 1}, 1, 0};
  Outbox out;
  Message from_b;
  std::optional<Ping> ping;
  Micros now = 0;

  ProbeOfB() {
    from_b.from = "b";
    from_b.from_address = "10.0.0.2:1";
    from_b.from_incarnation = 1;
    from_b.body = Ack{0};
    n.receive(from_b, 0, out);
    out.clear();
    for (int i = 0; i < 100 && !ping; ++i) {
      now = n.next_tick_us();
      n.tick(now, out);
      for (const Outgoing& o : out.messages) {
        if (const auto* p = std::get_if<Ping>(&o.message.body)) ping = *p;
      }
      out.clear();
    }
  }
};

// Metrics: a direct probe's round trip comes out of the outbox, computed from
// the times the node was given; an ack relayed by a helper gives none.
TEST(Node, ADirectProbesRoundTripIsReported) {
  ProbeOfB probe;
  auto& [n, out, from_b, ping, now] = probe;
  ASSERT_TRUE(ping.has_value());
  EXPECT_TRUE(out.probe_rtts_us.empty());
  Message direct = from_b;
  direct.body = Ack{ping->seq};
  n.receive(direct, now + 1234, out);
  EXPECT_EQ(out.probe_rtts_us, (std::vector<Micros>{1234}));
  out.clear();
  n.receive(direct, now + 2000, out);  // a duplicate: counted once
  EXPECT_TRUE(out.probe_rtts_us.empty());
}

TEST(Node, AnAckRelayedByAHelperGivesNoRoundTrip) {
  ProbeOfB probe;
  auto& [n, out, from_b, ping, now] = probe;
  ASSERT_TRUE(ping.has_value());
  Message relayed = from_b;
  relayed.from = "c";
  relayed.from_address = "10.0.0.3:1";
  relayed.body = Ack{ping->seq};
  n.receive(relayed, now + 500, out);
  EXPECT_TRUE(out.probe_rtts_us.empty());
}

}  // namespace
}  // namespace braid::gossip
