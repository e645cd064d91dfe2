#include "gossip/message.h"

#include <gtest/gtest.h>

namespace braid::gossip {
namespace {

std::string long_name(char c) { return std::string(kNameMaxBytes, c); }
std::string long_address(int port) {
  const std::string p = std::to_string(port);
  return std::string(kAddressMaxBytes - 1 - p.size(), 'h') + ":" + p;
}

Message base() {
  Message m;
  m.from = "a";
  m.from_address = "10.0.0.1:7946";
  m.body = Ack{1};
  return m;
}

TEST(Message, TheLargestPossibleMessageFitsTheLimit) {
  Message m;
  m.from = long_name('f');
  m.from_address = long_address(1);
  Sync sync;
  for (std::size_t i = 0; i < kMaxSyncMembers; ++i) {
    sync.members.push_back(SyncMember{long_name('s'), long_address(2), ~0ull, MemberState::kLeft,
                                      Load{}, ~0ull, kLoadAgeMaxMs});
  }
  m.body = sync;
  for (std::size_t i = 0; i < kMaxUpdatesPerMessage; ++i) {
    // Not a valid update (address and accuser together), but the largest.
    m.updates.push_back(Update{Update::Kind::kSuspect, long_name('u'), long_address(3), ~0ull,
                               long_name('x'), Load{}, 0, 0});
  }
  EXPECT_LE(encoded_size_bound(m), kMaxMessageBytes);
  EXPECT_EQ(encoded_size_bound(m), encoded_size_without_updates(m) +
                                       kMaxUpdatesPerMessage * encoded_size_bound(m.updates[0]));
}

TEST(Message, BoundCountsWordsOfText) {
  Update u{Update::Kind::kLeft, "a", "", 1, "", {}, 0, 0};
  const std::size_t one = encoded_size_bound(u);
  u.name = "abcdefg";  // 7 + NUL: still one word
  EXPECT_EQ(encoded_size_bound(u), one);
  u.name = "abcdefgh";  // 8 + NUL: two words
  EXPECT_GT(encoded_size_bound(u), one);
  // At least the raw bytes of every text, plus the fixed fields.
  Message m = base();
  m.body = PingReq{1, long_name('t'), long_address(9)};
  EXPECT_GT(encoded_size_bound(m), 2 * kNameMaxBytes + kAddressMaxBytes + 16);
}

TEST(Message, ValidMessagesPass) {
  Message m = base();
  m.updates = {Update{Update::Kind::kAlive, "b", "10.0.0.2:1", 2, "", {}, 0, 0},
               Update{Update::Kind::kSuspect, "c", "", 2, "a", {}, 0, 0},
               Update{Update::Kind::kDead, "c", "", 2, "a", {}, 0, 0},
               Update{Update::Kind::kLeft, "d", "", 2, "", {}, 0, 0},
               Update{Update::Kind::kLoad, "d", "", 2, "", Load{1, 1, 0, 2, 1, 3, true}, 4, 10}};
  EXPECT_EQ(validate_message(m), std::nullopt);
  m.body = Sync{true, false, {SyncMember{"b", "10.0.0.2:1", 1, MemberState::kDead, {}, 0, 0}}};
  EXPECT_EQ(validate_message(m), std::nullopt);
}

TEST(Message, EveryBadFieldIsNamed) {
  auto why = [](auto mutate) {
    Message m = base();
    mutate(m);
    return validate_message(m).value_or("valid");
  };
  EXPECT_EQ(why([](Message& m) { m.from = "a b"; }), "from is not 1..64 of [A-Za-z0-9._-]");
  EXPECT_EQ(why([](Message& m) { m.from_address = "x"; }), "from_address is not HOST:PORT");
  EXPECT_EQ(why([](Message& m) { m.body = Ping{1, ""}; }), "ping target is not a valid name");
  EXPECT_EQ(why([](Message& m) {
              m.body = PingReq{1, "t", "t"};
            }),
            "ping-req target_address is not HOST:PORT");
  EXPECT_EQ(why([](Message& m) {
              m.updates.push_back(Update{Update::Kind::kAlive, "b", "", 1, "", {}, 0, 0});
            }),
            "update 0: alive needs a HOST:PORT address");
  EXPECT_EQ(why([](Message& m) {
              m.updates.push_back(Update{Update::Kind::kSuspect, "b", "", 1, "", {}, 0, 0});
            }),
            "update 0: suspect and dead need a valid accuser");
  EXPECT_EQ(why([](Message& m) {
              m.updates.push_back(Update{Update::Kind::kDead, "b", "h:1", 1, "a", {}, 0, 0});
            }),
            "update 0: only alive carries an address");
  EXPECT_EQ(why([](Message& m) {
              m.updates.push_back(Update{Update::Kind::kLeft, "b", "", 1, "a", {}, 0, 0});
            }),
            "update 0: only suspect and dead carry an accuser");
  EXPECT_EQ(why([](Message& m) {
              m.updates.push_back(Update{Update::Kind::kLeft, "b", "", 1, "", {}, 3, 0});
            }),
            "update 0: only load carries load fields");
  EXPECT_EQ(why([](Message& m) {
              m.updates.push_back(
                  Update{Update::Kind::kLoad, "b", "", 1, "", Load{0, 0, 0, 1, 2, -1, true}, 1, 0});
            }),
            "update 0: load out of range");
  EXPECT_EQ(
      why([](Message& m) {
        m.updates.push_back(Update{Update::Kind::kLoad, "b", "", 1, "", {}, 1, kLoadAgeMaxMs + 1});
      }),
      "update 0: load_age_ms above 86400000");
  EXPECT_EQ(why([](Message& m) {
              m.updates.push_back(Update{static_cast<Update::Kind>(9), "b", "", 1, "", {}, 0, 0});
            }),
            "update 0: kind 9 is not 0..4");
  EXPECT_EQ(why([](Message& m) {
              for (std::size_t i = 0; i <= kMaxUpdatesPerMessage; ++i) {
                m.updates.push_back(Update{Update::Kind::kLeft, "b", "", 1, "", {}, 0, 0});
              }
            }),
            "more than 12 updates");
  EXPECT_EQ(why([](Message& m) {
              Sync s;
              s.members.resize(kMaxSyncMembers + 1,
                               SyncMember{"b", "h:1", 1, MemberState::kAlive, {}, 0, 0});
              m.body = s;
            }),
            "sync carries more than 24 members");
  EXPECT_EQ(why([](Message& m) {
              m.body = Sync{
                  false, false, {SyncMember{"b", "h:1", 1, static_cast<MemberState>(4), {}, 0, 0}}};
            }),
            "sync member 0: state is not 0..3");
}

}  // namespace
}  // namespace braid::gossip
