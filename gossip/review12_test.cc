// review12: failing reproducers against gossip::Node (hostile review of
// issue 10's eager push, floods and suspicion checks). One node under test,
// its peers played by hand: every message passes validate_message(), i.e.
// the edge lets it through. Pings are answered at once by their target.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "gossip/broadcast_queue.h"
#include "gossip/node.h"

namespace braid::gossip {
namespace {

std::string address_of(const std::string& name) { return name + ".test:7946"; }

Update alive(const std::string& name, Incarnation incarnation) {
  Update u;
  u.kind = Update::Kind::kAlive;
  u.name = name;
  u.address = address_of(name);
  u.incarnation = incarnation;
  return u;
}

Update suspect(const std::string& name, Incarnation incarnation, const std::string& accuser) {
  Update u;
  u.kind = Update::Kind::kSuspect;
  u.name = name;
  u.incarnation = incarnation;
  u.accuser = accuser;
  return u;
}

Message carrier(const std::string& from, std::vector<Update> updates) {
  Message m;
  m.from = from;
  m.from_address = address_of(from);
  m.from_incarnation = 1;
  m.body = Ack{0};
  m.updates = std::move(updates);
  return m;
}

// Node "x" and its peers; x's pings are acked by their targets at once.
struct Harness {
  explicit Harness(const GossipConfig& config, std::uint64_t seed = 7)
      : x(config, Self{"x", address_of("x"), 1}, seed, 0) {}

  // x learns the peers from the first one's message (all alive at 1).
  void meet(const std::vector<std::string>& peers) {
    std::vector<Update> updates;
    for (std::size_t i = 1; i < peers.size(); ++i) updates.push_back(alive(peers[i], 1));
    feed(carrier(peers.front(), updates));
  }
  void feed(const Message& m) {
    ASSERT_EQ(validate_message(m), std::nullopt);
    Outbox out;
    x.receive(m, now_us, out);
    handle(out);
  }
  void handle(Outbox& out) {
    for (const Outgoing& o : out.messages) {
      sent.push_back({now_us, o.message});
      if (const auto* ping = std::get_if<Ping>(&o.message.body)) {
        pinged.push_back(ping->target);
        const auto m = x.member(ping->target);
        Message ack;
        ack.from = ping->target;
        ack.from_address = address_of(ping->target);
        ack.from_incarnation = m ? m->incarnation : 1;
        ack.body = Ack{ping->seq};
        Outbox reply;
        x.receive(ack, now_us, reply);
        handle(reply);
      }
    }
    out.clear();
  }
  void run_until(Micros end_us) {
    while (x.next_tick_us() <= end_us) {
      now_us = std::max(now_us, x.next_tick_us());
      Outbox out;
      x.tick(now_us, out);
      handle(out);
    }
    now_us = std::max(now_us, end_us);
  }
  // Gossip carriers (Ack{0}) x sent in [from_us, to_us).
  std::size_t carriers(Micros from_us, Micros to_us) const {
    std::size_t n = 0;
    for (const auto& [at_us, m] : sent) {
      const auto* ack = std::get_if<Ack>(&m.body);
      if (ack != nullptr && ack->seq == 0 && at_us >= from_us && at_us < to_us) ++n;
    }
    return n;
  }

  Node x;
  Micros now_us = 0;
  std::vector<std::string> pinged;
  std::vector<std::pair<Micros, Message>> sent;
};

// Twelve updates (the per-message maximum) that make c suspect six times:
// suspect@i, alive@i+1, suspect@i+1, ... Each suspect is a new suspicion
// (claim() -> kChanged), so check_suspect_soon() runs six times, and with
// p = min(1, 2 x 3 / (n - 1)) = 1 in a 5-member cluster,
// ProbeOrder::probe_next("c") inserts c six times at the head of the pass
// (gossip/probe_order.cc: no check that c is already next, nothing removes
// the extra entries). Legit churn does the same more slowly: a flapping
// member suspected again and again.
std::vector<Update> six_suspicions_of(const std::string& name, Incarnation& incarnation) {
  std::vector<Update> updates;
  for (int i = 0; i < 6; ++i) {
    updates.push_back(suspect(name, incarnation, "a"));
    ++incarnation;
    updates.push_back(alive(name, incarnation));
  }
  return updates;
}

// One validated message per probe interval from one peer blinds x's failure
// detector: x probes c, and only c, for as long as the messages come (the
// probe order grows by 5 entries per interval, without bound), and for
// ~5 x (messages) intervals after they stop. SWIM's bounded detection time
// (every live member probed once per pass) is gone: a crashed b or d would
// never be probed by x.
// Should hold: a member is made "next" at most once (no duplicates in the
// pending head), and the rest of the pass still gets its turn within about
// one pass.
TEST(Review12, HeardSuspicionsCannotStarveTheProbeRoundRobin) {
  GossipConfig config = GossipConfig::fast();
  Harness h(config);
  const std::vector<std::string> peers = {"a", "b", "c", "d"};
  h.meet(peers);
  h.run_until(2 * kMicrosPerSecond);  // ordinary passes: everyone probed
  ASSERT_GE(std::set<std::string>(h.pinged.begin(), h.pinged.end()).size(), 4u);

  Incarnation incarnation = 1;
  h.pinged.clear();
  const int attack_intervals = 20;
  for (int i = 0; i < attack_intervals; ++i) {
    h.feed(carrier("a", six_suspicions_of("c", incarnation)));
    h.run_until(h.now_us + config.probe_interval_us);
  }
  std::map<std::string, int> during;
  for (const std::string& t : h.pinged) ++during[t];
  // 20 probe intervals = 5 passes over 4 members: b and d are due 5 times.
  EXPECT_GE(during["b"], 1) << "c probed " << during["c"] << " times of " << h.pinged.size();
  EXPECT_GE(during["d"], 1) << "c probed " << during["c"] << " times of " << h.pinged.size();

  // The attack stopped: within two passes everyone is probed again.
  h.pinged.clear();
  h.run_until(h.now_us + 8 * config.probe_interval_us);
  std::map<std::string, int> after;
  for (const std::string& t : h.pinged) ++after[t];
  EXPECT_GE(after["b"], 1) << "c probed " << after["c"] << " times of " << h.pinged.size()
                           << " after the attack stopped";
}

// The same suspicion made new twice (suspected, refuted, suspected again
// before the next probe): c is queued to be probed twice in a row.
// ProbeOrder's contract: "Makes name the next one probed (the rest of the
// pass is unchanged)" - a second call should not add a second probe.
TEST(Review12, ProbeNextTwiceDoesNotProbeTheSameMemberTwiceInARow) {
  GossipConfig config = GossipConfig::fast();
  Harness h(config);
  h.meet({"a", "b", "c", "d"});
  h.run_until(2 * kMicrosPerSecond);
  Incarnation incarnation = 1;
  std::vector<Update> twice;
  for (int i = 0; i < 2; ++i) {
    twice.push_back(suspect("c", incarnation, "a"));
    ++incarnation;
    twice.push_back(alive("c", incarnation));
  }
  h.pinged.clear();
  h.feed(carrier("a", twice));
  h.run_until(h.now_us + 4 * config.probe_interval_us);
  ASSERT_GE(h.pinged.size(), 2u);
  EXPECT_EQ(h.pinged[0], "c");
  EXPECT_NE(h.pinged[1], "c") << "c probed twice in a row for one (twice heard) suspicion";
}

// docs/gossip.md "Eager push and floods": floods are "rate-limited to the
// message rate of ordinary rounds ... under churn news is batched into
// ordinary rounds instead of multiplying the messages". The code
// (Node::State::enqueue) pulls the gossip timer to last_gossip +
// interval / 4 for every piece of news past the flood rate, so under
// steady churn (news every quarter interval: a lossy cluster's suspicions
// and refutations) the node runs a round every quarter interval, 4x the
// ordinary rate, plus its floods: ~5x the carriers of ordinary rounds.
// Each inbound message with news buys gossip_fanout outbound ones.
// Should hold (the doc's promise): at most the ordinary rounds' carriers
// plus an equal flood allowance, i.e. 2 x fanout per gossip interval.
TEST(Review12, ChurnDoesNotMultiplyGossipMessagesBeyondTheOrdinaryRate) {
  GossipConfig config = GossipConfig::fast();  // gossip every 20 ms, fanout 3
  config.probe_interval_us = 10 * kMicrosPerSecond;
  config.probe_timeout_us = 5 * kMicrosPerSecond;
  config.sync_interval_us = 600 * kMicrosPerSecond;
  Harness h(config);
  std::vector<std::string> peers;
  for (int i = 0; i < 11; ++i) peers.push_back("m" + std::to_string(i));
  h.meet(peers);
  h.run_until(5 * kMicrosPerSecond);  // the joining news is spent
  ASSERT_EQ(h.x.queued_updates(), 0u);

  const int intervals = 50;
  const Micros start_us = h.now_us;
  std::vector<Incarnation> incarnation(peers.size(), 1);
  for (int q = 0; q < 4 * intervals; ++q) {
    // One refutation per quarter interval, from the member itself.
    const std::size_t k = static_cast<std::size_t>(q) % peers.size();
    h.feed(carrier(peers[k], {alive(peers[k], ++incarnation[k])}));
    h.run_until(h.now_us + config.gossip_interval_us / 4);
  }
  const std::size_t carriers = h.carriers(start_us, h.now_us);
  const std::size_t ordinary = static_cast<std::size_t>(config.gossip_fanout) * intervals;
  EXPECT_LE(carriers, 2 * ordinary) << carriers << " gossip carriers in " << intervals
                                    << " intervals; ordinary rounds send " << ordinary;
}

// docs/gossip.md and gossip/config.h: membership_retransmit_mult 6 means a
// member misses a flood with probability ~e^-12 "below 100 members". Below
// 10 members ceil(log10(n + 1)) is 1, so the flood is 6 sends (~e^-6), not
// 12: the doc's figure holds for 10..99 members only.
TEST(Review12, TheFloodSizeMatchesTheDocsBelowTenMembers) {
  const GossipConfig config = GossipConfig::lan();
  for (std::size_t live : {2u, 5u, 9u, 10u, 99u}) {
    SCOPED_TRACE("live " + std::to_string(live));
    EXPECT_GE(membership_retransmit_limit(config.membership_retransmit_mult, live), 12);
  }
}

}  // namespace
}  // namespace braid::gossip
