#include "rpc/peer_convert.h"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

namespace braid::rpc {
namespace {

gossip::Message base() {
  gossip::Message m;
  m.from = "node-a";
  m.from_address = "127.0.0.1:7001";
  m.from_incarnation = 3;
  return m;
}

gossip::Update load_update() {
  gossip::Update u;
  u.kind = gossip::Update::Kind::kLoad;
  u.name = "node-b";
  u.incarnation = 2;
  u.load = gossip::Load{7, 2, 1, 4, 1, 9, false};
  u.load_version = 41;
  u.load_age_ms = 120;
  return u;
}

// Builds the message on the wire, re-reads it from its bytes, converts back.
sched::Result<gossip::Message> round_trip(const gossip::Message& m) {
  capnp::MallocMessageBuilder builder;
  to_wire(m, builder.initRoot<schema::GossipMessage>());
  auto words = capnp::messageToFlatArray(builder);
  capnp::FlatArrayMessageReader reader(words);
  return from_wire(reader.getRoot<schema::GossipMessage>());
}

TEST(PeerConvert, EveryBodyAndUpdateKindSurvivesTheWire) {
  std::vector<gossip::Message> messages;
  gossip::Message ping = base();
  ping.body = gossip::Ping{17, "node-b"};
  gossip::Update alive;
  alive.kind = gossip::Update::Kind::kAlive;
  alive.name = "node-c";
  alive.address = "[::1]:7003";
  alive.incarnation = 9;
  gossip::Update suspect;
  suspect.kind = gossip::Update::Kind::kSuspect;
  suspect.name = "node-d";
  suspect.incarnation = 1;
  suspect.accuser = "node-a";
  ping.updates = {alive, suspect, load_update()};
  messages.push_back(ping);
  gossip::Message ack = base();
  ack.body = gossip::Ack{18};
  messages.push_back(ack);
  gossip::Message req = base();
  req.body = gossip::PingReq{19, "node-e", "10.0.0.5:7946"};
  messages.push_back(req);
  gossip::Message nack = base();
  nack.body = gossip::Nack{20};
  messages.push_back(nack);
  gossip::Message sync = base();
  gossip::SyncMember member{"node-f",
                            "10.0.0.6:7946",
                            4,
                            gossip::MemberState::kSuspect,
                            gossip::Load{1, 1, 0, 2, 1, -1, true},
                            5,
                            30};
  sync.body = gossip::Sync{true, false, {member}};
  messages.push_back(sync);
  for (const auto& m : messages) {
    auto back = round_trip(m);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back.value(), m);
  }
}

TEST(PeerConvert, RefusesOversizedFieldsAndListsNamingThem) {
  gossip::Message m = base();
  m.body = gossip::Ack{1};
  m.from = std::string(gossip::kNameMaxBytes + 1, 'a');
  auto r = round_trip(m);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("from"), std::string::npos) << r.error().message;

  m = base();
  m.body = gossip::Ack{1};
  m.updates.assign(gossip::kMaxUpdatesPerMessage + 1, load_update());
  r = round_trip(m);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("updates"), std::string::npos) << r.error().message;

  m = base();
  gossip::SyncMember member{"node-f", "10.0.0.6:7946", 4, gossip::MemberState::kAlive, {}, 0, 0};
  m.body = gossip::Sync{false, false,
                        std::vector<gossip::SyncMember>(gossip::kMaxSyncMembers + 1, member)};
  r = round_trip(m);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("members"), std::string::npos) << r.error().message;
}

TEST(PeerConvert, RefusesUnknownEnumsAndInvalidValues) {
  capnp::MallocMessageBuilder builder;
  gossip::Message m = base();
  m.body = gossip::Ack{1};
  m.updates = {load_update()};
  auto root = builder.initRoot<schema::GossipMessage>();
  to_wire(m, root);
  root.getUpdates()[0].setKind(static_cast<schema::Update::Kind>(77));
  auto r = from_wire(root.asReader());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("update kind 77 unknown"), std::string::npos);

  m.updates[0].load.top_queued_priority = 99;  // beyond sched's 0..10
  r = round_trip(m);
  EXPECT_FALSE(r);
  m = base();
  m.body = gossip::Ack{1};
  m.from_address = "no-port";
  r = round_trip(m);
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace braid::rpc
