// review11: failing reproducers against gossip::Node (hostile review of
// issue 10). Messages are built by hand as peers would send them; every one
// passes validate_message(), i.e. the edge lets it through.
#include <gtest/gtest.h>

#include <limits>

#include "gossip/node.h"

namespace braid::gossip {
namespace {

Message from(const std::string& name, const std::string& address, Incarnation incarnation) {
  Message m;
  m.from = name;
  m.from_address = address;
  m.from_incarnation = incarnation;
  m.body = Ack{0};
  return m;
}

Update load_update(const std::string& name, Incarnation incarnation, std::uint32_t queued,
                   std::uint64_t version) {
  Update u;
  u.kind = Update::Kind::kLoad;
  u.name = name;
  u.incarnation = incarnation;
  u.load.queued = queued;
  u.load.slots = 4;
  u.load.free_slots = 4;
  u.load_version = version;
  return u;
}

void deliver(Node& node, const Message& m, Micros now_us, Outbox& out) {
  ASSERT_EQ(validate_message(m), std::nullopt);
  node.receive(m, now_us, out);
}

// A peer (one authenticated node, or a buggy one) gossips "x is dead at
// incarnation 2^64-1". x refutes with above + 1 (gossip/node_merge.cc:103),
// which wraps to 0: x's refutation is alive@0, lower than everything anyone
// holds, so x stays dead everywhere for good and cannot ever refute again.
// Incarnations are not bounded at the edge (gossip/message.cc validate_*).
// Should hold: a refutation never lowers the node's incarnation.
TEST(GossipReview11, ADeathAtAHugeIncarnationIsRefusedAndCannotWrapTheRefutation) {
  Node x(GossipConfig::fast(), Self{"x", "10.0.0.1:7946", 3}, 1, 0);
  Outbox out;
  Message m = from("c", "10.0.0.3:7946", 1);
  Update dead;
  dead.kind = Update::Kind::kDead;
  dead.name = "x";
  dead.incarnation = std::numeric_limits<Incarnation>::max();
  dead.accuser = "c";
  m.updates.push_back(dead);
  EXPECT_NE(validate_message(m), std::nullopt);  // the edge refuses it
  x.receive(m, 1000, out);                       // and fed anyway, the refutation saturates
  EXPECT_GE(x.incarnation(), 3u) << "x refuted its death with incarnation " << x.incarnation();
}

// x ran at incarnation 1 and published ten loads (queued 50 at the end),
// then was restarted at incarnation 2 (braidd's meta) and published its
// new figure (queued 0, version 3 of incarnation 2). Peer c heard x's old
// load, then x's new incarnation from a message without x's load update
// (piggybacks are bounded and retransmit-limited, so this is ordinary).
// c's sync page to b carries x's entry at incarnation 2 WITH c's pre-restart
// figure (gossip/node.cc:120-129: SyncMember has no load incarnation, and
// merge_sync passes the member's incarnation as the load's,
// gossip/node_merge.cc:158). b takes it as (incarnation 2, version 10),
// newer than x's real (2, 3): b (and everyone b gossips to) shows x with 50
// queued, and ignores x's real updates until x's version passes 10.
// Should hold: a third party's stale figure never replaces the origin's
// newer one.
TEST(GossipReview11, AThirdPartysSyncReplacesARestartedNodesLoadWithItsOldOne) {
  const std::string xa = "10.0.0.1:7946";
  const std::string ba = "10.0.0.2:7946";
  const std::string ca = "10.0.0.3:7946";
  Node b(GossipConfig::fast(), Self{"b", ba, 1}, 2, 0);
  Node c(GossipConfig::fast(), Self{"c", ca, 1}, 3, 0);
  Outbox out;
  // c hears x's last load of its first run.
  Message old_load = from("x", xa, 1);
  old_load.updates.push_back(load_update("x", 1, 50, 10));
  deliver(c, old_load, 1000, out);
  // x restarts at incarnation 2; b hears its new figure directly.
  Message new_load = from("x", xa, 2);
  new_load.updates.push_back(load_update("x", 2, 0, 3));
  deliver(b, new_load, 2000, out);
  ASSERT_EQ(b.member("x")->load.queued, 0u);
  // c hears from x at incarnation 2, without the load update.
  deliver(c, from("x", xa, 2), 2000, out);
  out.clear();
  // b syncs with c (its periodic push-pull); c answers with a page.
  Message sync = from("b", ba, 1);
  sync.body = Sync{false, false, {}};
  deliver(c, sync, 3000, out);
  bool answered = false;
  for (const Outgoing& o : out.messages) {
    if (o.to_address != ba) continue;
    answered = true;
    Outbox ignored;
    deliver(b, o.message, 3000, ignored);
  }
  ASSERT_TRUE(answered);
  EXPECT_EQ(b.member("x")->load.queued, 0u)
      << "b now shows x's pre-restart figure (load version " << b.member("x")->load_version
      << ", load incarnation " << b.member("x")->load_incarnation << ")";
  // And x's next real change is ignored by b.
  Message next = from("x", xa, 2);
  next.updates.push_back(load_update("x", 2, 1, 4));
  Outbox ignored;
  deliver(b, next, 4000, ignored);
  EXPECT_EQ(b.member("x")->load.queued, 1u);
}

// Review 11: a ping-req made us connect to any address the requester named.
// Now only a live member we know is pinged, at the address we know.
TEST(GossipReview11, APingReqGoesOnlyToAKnownMemberAtItsKnownAddress) {
  Node mid(GossipConfig::fast(), Self{"mid", "10.0.0.1:7946", 1}, 1, 0);
  Outbox out;
  Message req = from("asker", "10.0.0.2:7946", 1);
  req.body = PingReq{5, "nobody", "203.0.113.9:1"};
  deliver(mid, req, 0, out);
  EXPECT_TRUE(out.messages.empty());
  Message hello = from("target", "10.0.0.3:7946", 1);
  hello.body = Ack{0};
  deliver(mid, hello, 0, out);
  out.clear();
  req.body = PingReq{6, "target", "203.0.113.9:1"};
  deliver(mid, req, 0, out);
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_EQ(out.messages[0].to_address, "10.0.0.3:7946");
}

}  // namespace
}  // namespace braid::gossip
