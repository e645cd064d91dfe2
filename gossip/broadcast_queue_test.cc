#include "gossip/broadcast_queue.h"

#include <gtest/gtest.h>

namespace braid::gossip {
namespace {

Update alive(const std::string& name, Incarnation inc = 1) {
  return Update{Update::Kind::kAlive, name, "10.0.0.1:1", inc, "", {}, 0, 0};
}
Update load(const std::string& name, std::uint64_t version) {
  return Update{Update::Kind::kLoad,
                name,
                "",
                1,
                "",
                Load{static_cast<std::uint32_t>(version), 0, 0, 0, 0, -1, true},
                version,
                0};
}

TEST(BroadcastQueue, RetransmitLimitGrowsWithLogN) {
  EXPECT_EQ(retransmit_limit(4, 1), 8);  // at least 2 x mult
  EXPECT_EQ(retransmit_limit(4, 9), 8);
  EXPECT_EQ(retransmit_limit(4, 10), 8);
  EXPECT_EQ(retransmit_limit(4, 99), 8);
  EXPECT_EQ(retransmit_limit(4, 100), 12);
  EXPECT_EQ(retransmit_limit(3, 10000), 15);
  EXPECT_EQ(membership_retransmit_limit(6, 4), 12);  // at least 2 x mult
  EXPECT_EQ(membership_retransmit_limit(6, 100), 18);
}

TEST(BroadcastQueue, EachUpdateIsSentExactlyTheLimit) {
  BroadcastQueue q;
  q.push(alive("a"));
  q.push(alive("b"));
  int sent_a = 0, sent_b = 0;
  for (int i = 0; i < 20; ++i) {
    std::vector<Update> out;
    q.fill(kMaxMessageBytes, kMaxUpdatesPerMessage, {4, 4}, out);
    for (const Update& u : out) (u.name == "a" ? sent_a : sent_b)++;
  }
  EXPECT_EQ(sent_a, 4);
  EXPECT_EQ(sent_b, 4);
  EXPECT_TRUE(q.empty());
}

TEST(BroadcastQueue, LeastSentThenNewestFirstWithinCountAndBytes) {
  BroadcastQueue q;
  for (int i = 0; i < 20; ++i) q.push(alive("m" + std::to_string(i)));
  std::vector<Update> out;
  q.fill(kMaxMessageBytes, kMaxUpdatesPerMessage, {10, 10}, out);
  ASSERT_EQ(out.size(), kMaxUpdatesPerMessage);
  EXPECT_EQ(out.front().name, "m19");  // newest first
  out.clear();
  q.fill(kMaxMessageBytes, kMaxUpdatesPerMessage, {10, 10}, out);
  ASSERT_EQ(out.size(), kMaxUpdatesPerMessage);
  EXPECT_EQ(out.front().name, "m7");  // the 8 never sent come before the resent
  EXPECT_EQ(out[7].name, "m0");
  EXPECT_EQ(out[8].name, "m19");
  // A byte budget for exactly two.
  out.clear();
  const std::size_t one = encoded_size_bound(alive("m0"));
  q.fill(2 * one + one / 2, kMaxUpdatesPerMessage, {10, 10}, out);
  EXPECT_EQ(out.size(), 2u);
}

TEST(BroadcastQueue, NewerNewsAboutAMemberSupersedesOnItsTopic) {
  BroadcastQueue q;
  q.push(alive("a", 1));
  q.push(load("a", 1));
  std::vector<Update> out;
  q.fill(kMaxMessageBytes, kMaxUpdatesPerMessage, {4, 4}, out);
  EXPECT_EQ(q.transmits("a", Update::Kind::kAlive), 1);
  q.push(Update{Update::Kind::kSuspect, "a", "", 1, "x", {}, 0, 0});  // replaces alive
  q.push(load("a", 2));                                               // replaces load 1
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.transmits("a", Update::Kind::kDead), 0);
  out.clear();
  q.fill(kMaxMessageBytes, kMaxUpdatesPerMessage, {4, 4}, out);
  ASSERT_EQ(out.size(), 2u);
  for (const Update& u : out) {
    if (u.kind == Update::Kind::kLoad)
      EXPECT_EQ(u.load_version, 2u);
    else
      EXPECT_EQ(u.kind, Update::Kind::kSuspect);
  }
}

TEST(BroadcastQueue, ALowerLimitDropsUpdatesAlreadySentThatOften) {
  BroadcastQueue q;
  q.push(alive("a"));
  std::vector<Update> out;
  for (int i = 0; i < 3; ++i) q.fill(kMaxMessageBytes, 1, {8, 8}, out);
  EXPECT_EQ(q.transmits("a", Update::Kind::kAlive), 3);
  out.clear();
  q.fill(kMaxMessageBytes, 1, {2, 2}, out);  // the cluster shrank
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(q.empty());
}

TEST(BroadcastQueue, MembershipAndLoadUpdatesHaveTheirOwnLimits) {
  BroadcastQueue q;
  Update join;
  join.kind = Update::Kind::kAlive;
  join.name = "a";
  Update load;
  load.kind = Update::Kind::kLoad;
  load.name = "a";
  q.push(join);
  q.push(load);
  std::vector<Update> out;
  for (int i = 0; i < 2; ++i) q.fill(kMaxMessageBytes, kMaxUpdatesPerMessage, {6, 2}, out);
  EXPECT_EQ(q.transmits("a", Update::Kind::kLoad), std::nullopt);  // spent at 2
  EXPECT_EQ(q.transmits("a", Update::Kind::kAlive), 2);
  for (int i = 0; i < 4; ++i) q.fill(kMaxMessageBytes, kMaxUpdatesPerMessage, {6, 2}, out);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(out.size(), 8u);
}

}  // namespace
}  // namespace braid::gossip
