// The handoff state machines, step by step: each test drives one donor and
// one receiver by hand, carrying actions over as messages.
#include "sched/handoff.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace braid::sched {
namespace {

using DK = DonorAction::Kind;
using RK = ReceiverAction::Kind;

constexpr Micros kT0 = 1'000'000;
const std::string kTask = "a:1";

// "persist_epochs persist(migrating) send_offer": the action kinds in order.
std::string names(const DonorActions& out) {
  std::string s;
  for (const DonorAction& a : out) {
    if (!s.empty()) s += ' ';
    s += to_string(a.kind);
    if (a.kind == DK::kPersist) s += "(" + std::string(to_string(a.record.state)) + ")";
  }
  return s;
}

std::string names(const ReceiverActions& out) {
  std::string s;
  for (const ReceiverAction& a : out) {
    if (!s.empty()) s += ' ';
    s += to_string(a.kind);
    if (a.kind == RK::kSendAnswer) s += "(" + std::string(to_string(a.answer)) + ")";
  }
  return s;
}

const DonorAction& find(const DonorActions& out, DK kind) {
  auto it = std::find_if(out.begin(), out.end(), [&](const auto& a) { return a.kind == kind; });
  EXPECT_NE(it, out.end()) << to_string(kind) << " missing in " << names(out);
  return *it;
}

const ReceiverAction& answer_of(const ReceiverActions& out) {
  EXPECT_FALSE(out.empty());
  EXPECT_EQ(out.back().kind, RK::kSendAnswer);
  return out.back();
}

// One donor "a" handing kTask to receiver "b".
struct Pair {
  HandoffDonor donor;
  HandoffReceiver receiver;
  DonorActions d;
  ReceiverActions r;

  Epoch begin(Micros now = kT0) {
    d.clear();
    EXPECT_TRUE(donor.begin(kTask, "b", now, d).ok());
    return find(d, DK::kSendOffer).record.epoch;
  }
  // Delivers an offer of `epoch`; returns the receiver's answer.
  ReceiverAction offer(Epoch epoch, bool have, std::optional<std::string> cannot = {}) {
    r.clear();
    receiver.on_offer(kTask, "a", epoch, have, cannot, r);
    return answer_of(r);
  }
  ReceiverAction query(Epoch epoch, bool have) {
    r.clear();
    receiver.on_query(kTask, "a", epoch, have, r);
    return answer_of(r);
  }
  void deliver(const ReceiverAction& answer, Micros now = kT0) {
    d.clear();
    donor.on_answer(answer.fence.task_id, answer.fence.epoch, "b", answer.answer, answer.reason,
                    now, d);
  }
};

TEST(Handoff, HappyPathMovesWithExactlyOneAdopt) {
  Pair p;
  Epoch e = p.begin();
  EXPECT_EQ(names(p.d), "persist_epochs persist(migrating) send_offer");
  EXPECT_TRUE(p.donor.migrating(kTask));
  ReceiverAction a = p.offer(e, false);
  EXPECT_EQ(names(p.r), "adopt send_answer(accepted)");
  EXPECT_EQ(p.r[0].fence, (Fence{kTask, "a", e}));
  p.deliver(a);
  EXPECT_EQ(names(p.d), "persist(moved) drop_local");
  EXPECT_EQ(p.d[1].record.peer, "b");
  EXPECT_FALSE(p.donor.migrating(kTask));
  EXPECT_EQ(p.donor.entries(), 0u);
  EXPECT_EQ(p.donor.next_tick_us(), kNever);
  EXPECT_EQ(p.receiver.stats().adopted, 1u);
  EXPECT_EQ(p.donor.stats().moved, 1u);
}

TEST(Handoff, RefusalRequeuesRecordsTheReasonAndFencesTheOffer) {
  Pair p;
  Epoch e = p.begin();
  ReceiverAction a = p.offer(e, false, "program nope not on PATH");
  EXPECT_EQ(names(p.r), "persist_fence send_answer(refused)");
  p.deliver(a);
  EXPECT_EQ(names(p.d), "erase requeue record_refusal");
  EXPECT_EQ(p.d[2].reason, "program nope not on PATH");
  EXPECT_EQ(p.d[2].record.peer, "b");
  EXPECT_EQ(p.donor.stats().refused, 1u);
  // A network duplicate of the refused offer, once the receiver could run the
  // task, is refused too: the donor has taken it back.
  EXPECT_EQ(p.offer(e, false).reason, "fenced");
  EXPECT_EQ(names(p.r), "send_answer(refused)");
}

TEST(Handoff, LostAnswerIsQueriedAndHaveMovesTheTask) {
  Pair p;
  Epoch e = p.begin();
  p.offer(e, false);  // adopted, the answer is lost
  p.d.clear();
  p.donor.tick(kT0 + kHandoffRetryMinUs - 1, p.d);
  EXPECT_EQ(names(p.d), "");
  p.donor.tick(kT0 + kHandoffRetryMinUs, p.d);
  EXPECT_EQ(names(p.d), "send_query");
  p.deliver(p.query(e, true));
  EXPECT_EQ(names(p.d), "persist(moved) drop_local");
  EXPECT_EQ(p.receiver.stats().adopted, 1u);
}

TEST(Handoff, LostOfferIsQueriedNotHaveRequeuesAndTheLateOfferIsFenced) {
  Pair p;
  Epoch e = p.begin();
  p.d.clear();
  p.donor.tick(kT0 + kHandoffRetryMinUs, p.d);  // the offer is delayed
  EXPECT_EQ(names(p.d), "send_query");
  ReceiverAction nh = p.query(e, false);
  EXPECT_EQ(names(p.r), "persist_fence send_answer(not_have)");
  p.deliver(nh);
  EXPECT_EQ(names(p.d), "erase requeue");
  EXPECT_EQ(p.donor.stats().not_have, 1u);
  ReceiverAction late = p.offer(e, false);
  EXPECT_EQ(late.reason, "fenced");
  EXPECT_EQ(p.receiver.stats().adopted, 0u);
  p.deliver(late);  // its answer no longer matches a journal entry
  EXPECT_EQ(names(p.d), "");
  EXPECT_EQ(p.donor.stats().stale_answers, 1u);
}

TEST(Handoff, DuplicatedOfferAdoptsOnce) {
  Pair p;
  Epoch e = p.begin();
  p.offer(e, false);
  EXPECT_EQ(names(p.r), "adopt send_answer(accepted)");
  ReceiverAction again = p.offer(e, /*have=*/true);
  EXPECT_EQ(names(p.r), "send_answer(accepted)");
  p.deliver(again);
  p.deliver(again);
  EXPECT_EQ(p.receiver.stats().adopted, 1u);
  EXPECT_EQ(p.receiver.stats().accepted, 2u);
  EXPECT_EQ(p.donor.stats().moved, 1u);
  EXPECT_EQ(p.donor.stats().stale_answers, 1u);
}

// The donor crashes once migrating(e) is stored; its offer went out or not.
TEST(Handoff, DonorCrashAfterPersistingMigratingIsResolvedByAQuery) {
  for (bool offer_arrived : {false, true}) {
    SCOPED_TRACE(offer_arrived);
    Pair p;
    Epoch e = p.begin();
    std::vector<HandoffRecord> journal = {find(p.d, DK::kPersist).record};
    Epoch floor = find(p.d, DK::kPersistEpochs).record.epoch;
    if (offer_arrived) p.offer(e, false);
    bool have = offer_arrived;

    HandoffDonor donor;
    DonorActions d;
    ASSERT_TRUE(donor.restore(journal, floor, kT0 + 5, d).ok());
    EXPECT_EQ(names(d), "send_query");
    EXPECT_TRUE(donor.migrating(kTask));
    ReceiverAction a = p.query(e, have);
    d.clear();
    donor.on_answer(kTask, e, "b", a.answer, a.reason, kT0 + 6, d);
    EXPECT_EQ(names(d), offer_arrived ? "persist(moved) drop_local" : "erase requeue");
    if (!offer_arrived) {
      EXPECT_EQ(p.offer(e, false).reason, "fenced");  // the delayed offer
    }
    EXPECT_EQ(p.receiver.stats().adopted, offer_arrived ? 1u : 0u);
  }
}

// The receiver crashes before or after storing the adoption; its restore and
// the donor's query leave exactly one owner.
TEST(Handoff, ReceiverCrashBeforeOrAfterStoringGivesOneOwner) {
  for (bool stored : {false, true}) {
    SCOPED_TRACE(stored);
    Pair p;
    Epoch e = p.begin();
    p.offer(e, false);  // adopt, then crash before the answer
    HandoffReceiver restarted;
    restarted.restore({});
    p.d.clear();
    p.donor.tick(kT0 + kHandoffRetryMinUs, p.d);
    ReceiverActions r;
    restarted.on_query(kTask, "a", e, stored, r);
    ReceiverAction a = answer_of(r);
    p.deliver(a);
    bool donor_owns = std::any_of(p.d.begin(), p.d.end(),
                                  [](const DonorAction& x) { return x.kind == DK::kRequeue; });
    EXPECT_NE(donor_owns, stored);
    if (!stored) {
      // The fence survives a second crash; the delayed offer is refused.
      HandoffReceiver again;
      again.restore({r[0].fence});
      r.clear();
      again.on_offer(kTask, "a", e, false, std::nullopt, r);
      EXPECT_EQ(answer_of(r).reason, "fenced");
    }
  }
}

TEST(Handoff, PeerDeclaredDeadIsReclaimedAndRequeued) {
  Pair p;
  p.begin();
  p.d.clear();
  p.donor.on_peer_dead("b", kT0 + 1, p.d);
  EXPECT_EQ(names(p.d), "persist(reclaimed) requeue");
  EXPECT_EQ(p.donor.stats().reclaimed, 1u);
  EXPECT_FALSE(p.donor.migrating(kTask));
  EXPECT_EQ(p.donor.next_tick_us(), kNever);  // no queries to a dead peer
  DonorActions d;
  EXPECT_FALSE(p.donor.begin(kTask, "b", kT0 + 2, d).ok());
  EXPECT_TRUE(p.donor.begin(kTask, "c", kT0 + 2, d).ok());  // beside the reclaimed entry
  EXPECT_EQ(p.donor.entries(), 2u);
}

TEST(Handoff, FalselyDeadPeerThatAdoptedCountsADuplicate) {
  for (bool adopted : {true, false}) {
    SCOPED_TRACE(adopted);
    Pair p;
    Epoch e = p.begin();
    if (adopted) p.offer(e, false);  // answer lost
    p.d.clear();
    p.donor.on_peer_dead("b", kT0 + 1, p.d);
    p.d.clear();
    p.donor.tick(kT0 + kHandoffRetryMaxUs, p.d);
    EXPECT_EQ(names(p.d), "");
    p.donor.on_peer_alive("b", kT0 + 2, p.d);
    EXPECT_EQ(names(p.d), "send_query");
    p.deliver(p.query(e, adopted));
    EXPECT_EQ(names(p.d), adopted ? "duplicate erase" : "erase");
    EXPECT_EQ(p.donor.stats().duplicates, adopted ? 1u : 0u);
    EXPECT_EQ(p.donor.entries(), 0u);
    if (!adopted) {
      EXPECT_EQ(p.offer(e, false).reason, "fenced");
    }
  }
}

TEST(Handoff, StaleAnswersAreIgnoredAndCounted) {
  Pair p;
  Epoch e = p.begin();
  p.d.clear();
  p.donor.on_answer(kTask, e + 1, "b", Answer::kAccepted, "", kT0, p.d);  // wrong epoch
  p.donor.on_answer("a:2", e, "b", Answer::kAccepted, "", kT0, p.d);      // other task
  p.donor.on_answer(kTask, e, "c", Answer::kNotHave, "", kT0, p.d);       // other peer
  EXPECT_EQ(names(p.d), "");
  EXPECT_EQ(p.donor.stats().stale_answers, 3u);
  EXPECT_TRUE(p.donor.migrating(kTask));
}

TEST(Handoff, RetriesBackOffExponentiallyUpToTheCap) {
  Pair p;
  p.begin(0);
  std::vector<Micros> gaps;
  Micros last = 0;
  for (int i = 0; i < 10; ++i) {
    Micros due = p.donor.next_tick_us();
    gaps.push_back(due - last);
    last = due;
    p.d.clear();
    p.donor.tick(due, p.d);
    EXPECT_EQ(names(p.d), "send_query");
  }
  std::vector<Micros> want = {200'000,   400'000,    800'000,    1'600'000,  3'200'000,
                              6'400'000, 10'000'000, 10'000'000, 10'000'000, 10'000'000};
  EXPECT_EQ(gaps, want);
}

TEST(Handoff, EpochsRiseAndAreNeverReusedAfterARestart) {
  HandoffDonor donor;
  DonorActions d;
  Epoch floor = 0;
  Epoch last = 0;
  for (int i = 0; i < 3000; ++i) {
    d.clear();
    ASSERT_TRUE(donor.begin("a:" + std::to_string(i), "b", kT0, d).ok());
    for (const DonorAction& a : d) {
      if (a.kind == DK::kPersistEpochs) floor = a.record.epoch;
    }
    Epoch e = find(d, DK::kSendOffer).record.epoch;
    EXPECT_GT(e, last);
    EXPECT_LT(e, floor);  // the floor is stored before the epoch is used
    last = e;
  }
  // Every handoff resolved, the journal is empty; the floor is what is left.
  HandoffDonor restarted;
  d.clear();
  ASSERT_TRUE(restarted.restore({}, floor, kT0, d).ok());
  ASSERT_TRUE(restarted.begin("a:0", "b", kT0, d).ok());
  EXPECT_GT(find(d, DK::kSendOffer).record.epoch, last);
  // A journal entry above the floor (written, floor update lost) also counts.
  HandoffDonor other;
  d.clear();
  std::vector<HandoffRecord> journal = {{"a:9", "b", 5000, HandoffState::kMoved}};
  ASSERT_TRUE(other.restore(journal, 10, kT0, d).ok());
  EXPECT_EQ(other.entries(), 0u);  // moved entries are forwarding pointers
  ASSERT_TRUE(other.begin("a:0", "b", kT0, d).ok());
  EXPECT_EQ(find(d, DK::kSendOffer).record.epoch, 5001u);
}

TEST(Handoff, RestoreRefusesTwoMigratingEntriesOfATask) {
  HandoffDonor donor;
  DonorActions d;
  std::vector<HandoffRecord> journal = {{kTask, "b", 3, HandoffState::kMigrating},
                                        {kTask, "c", 4, HandoffState::kMigrating}};
  Status s = donor.restore(journal, 0, kT0, d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("two migrating entries"), std::string::npos);
}

TEST(Handoff, RestoredReclaimedEntriesWaitForThePeerToBeAlive) {
  HandoffDonor donor;
  DonorActions d;
  std::vector<HandoffRecord> journal = {{kTask, "b", 3, HandoffState::kReclaimed}};
  ASSERT_TRUE(donor.restore(journal, 0, kT0, d).ok());
  EXPECT_EQ(names(d), "");
  EXPECT_FALSE(donor.migrating(kTask));
  donor.on_peer_alive("b", kT0, d);
  EXPECT_EQ(names(d), "send_query");
}

TEST(Handoff, FencesArePerDonor) {
  HandoffReceiver receiver;
  ReceiverActions r;
  receiver.on_query(kTask, "a", 7, false, r);
  EXPECT_EQ(receiver.fence(kTask, "a"), 7u);
  r.clear();
  receiver.on_offer(kTask, "c", 2, false, std::nullopt, r);  // c's epochs are its own
  EXPECT_EQ(names(r), "adopt send_answer(accepted)");
  r.clear();
  receiver.on_offer(kTask, "a", 8, false, std::nullopt, r);  // a newer offer from a
  EXPECT_EQ(names(r), "adopt send_answer(accepted)");
}

}  // namespace
}  // namespace braid::sched
