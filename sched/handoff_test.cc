// The handoff state machines, step by step: each test drives one donor and
// one receiver by hand, carrying actions over as messages.
#include "sched/handoff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

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
  ReceiverAction offer(Epoch epoch, bool have, std::optional<std::string> cannot = {},
                       Micros now = kT0) {
    r.clear();
    receiver.on_offer(kTask, "a", epoch, have, cannot, now, r);
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
  // Delivers the donor's confirm (the last action of d) to the receiver.
  void confirm(Micros now = kT0) {
    ASSERT_FALSE(d.empty());
    ASSERT_EQ(d.back().kind, DK::kSendConfirm);
    r.clear();
    receiver.on_confirm(d.back().record.task_id, "a", d.back().record.epoch, d.back().go, now, r);
  }
  // The receiver asks the donor about its held adoption of `epoch`.
  void confirm_query(Epoch epoch, Micros now = kT0) {
    d.clear();
    donor.on_confirm_query(kTask, epoch, "b", now, d);
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
  EXPECT_EQ(p.receiver.held(kTask), (HeldAdoption{kTask, "a", e}));
  p.deliver(a);
  EXPECT_EQ(names(p.d), "persist(moved) drop_local send_confirm");
  EXPECT_EQ(p.d[1].record.peer, "b");
  EXPECT_TRUE(p.d[2].go);
  EXPECT_FALSE(p.donor.migrating(kTask));
  EXPECT_EQ(p.donor.entries(), 0u);
  EXPECT_EQ(p.donor.moved_entries(), 1u);
  EXPECT_EQ(p.donor.next_tick_us(), kNever);
  p.confirm();
  EXPECT_EQ(names(p.r), "release");
  EXPECT_EQ(p.r[0].fence, (Fence{kTask, "a", e}));
  EXPECT_EQ(p.receiver.held_count(), 0u);
  EXPECT_EQ(p.receiver.next_tick_us(), kNever);
  EXPECT_EQ(p.receiver.stats().adopted, 1u);
  EXPECT_EQ(p.receiver.stats().released, 1u);
  EXPECT_EQ(p.donor.stats().moved, 1u);
}

TEST(Handoff, ATaskThatCameBackForgetsItsStaleForwardingPointers) {
  Pair p;
  const Epoch e = p.begin();
  p.deliver(p.offer(e, false));
  ASSERT_EQ(p.donor.moved_entries(), 1u);
  DonorActions out;
  p.donor.forget_moved("other:1", out);  // another task's: nothing
  EXPECT_TRUE(out.empty());
  p.donor.forget_moved(kTask, out);
  EXPECT_EQ(names(out), "erase");
  EXPECT_EQ(out[0].record.epoch, e);
  EXPECT_EQ(p.donor.moved_entries(), 0u);
  // The old receiver's late confirm query is answered no-go now.
  p.confirm_query(e);
  EXPECT_EQ(names(p.d), "send_confirm");
  EXPECT_FALSE(p.d.back().go);
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
  EXPECT_EQ(names(p.d), "persist(moved) drop_local send_confirm");
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
    EXPECT_EQ(names(d), offer_arrived ? "persist(moved) drop_local send_confirm" : "erase requeue");
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
    ReceiverActions rr;
    std::vector<HeldAdoption> held;
    if (stored) held.push_back({kTask, "a", e});
    ASSERT_TRUE(restarted.restore({}, held, kT0 + 1, rr).ok());
    EXPECT_EQ(names(rr), stored ? "send_confirm_query" : "");
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
      ASSERT_TRUE(again.restore({r[0].fence}, {}, kT0, r).ok());
      r.clear();
      again.on_offer(kTask, "a", e, false, std::nullopt, kT0, r);
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

// The receiver adopted (held), then was declared dead (falsely or not): the
// donor requeues the task, and the receiver never runs its copy.
TEST(Handoff, DeadPeerThatAdoptedIsToldToDiscardIt) {
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
    EXPECT_EQ(names(p.d), adopted ? "erase send_confirm" : "erase");
    EXPECT_EQ(p.donor.stats().revoked, adopted ? 1u : 0u);
    EXPECT_EQ(p.donor.entries(), 0u);
    if (adopted) {
      EXPECT_FALSE(p.d.back().go);
      p.confirm();
      EXPECT_EQ(names(p.r), "persist_fence discard");
      EXPECT_EQ(p.receiver.held_count(), 0u);
      EXPECT_EQ(p.receiver.stats().released, 0u);
    }
    EXPECT_EQ(p.offer(e, false).reason, "fenced");
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
  receiver.on_offer(kTask, "c", 2, false, std::nullopt, kT0, r);  // c's epochs are its own
  EXPECT_EQ(names(r), "adopt send_answer(accepted)");
  r.clear();
  receiver.on_offer(kTask, "a", 8, false, std::nullopt, kT0, r);  // a newer offer from a
  // Held from c's offer: only c can settle it, so a's offer is refused and
  // fenced (epochs of two donors cannot be compared: Review13).
  EXPECT_EQ(names(r), "persist_fence send_answer(refused)");
  EXPECT_EQ(receiver.fence(kTask, "a"), 8u);
  EXPECT_EQ(receiver.held(kTask), (HeldAdoption{kTask, "c", 2}));
}

// --- The confirmation step (docs/migration.md, step 4) ---

TEST(HandoffConfirm, HeldTaskIsNotReleasedBeforeTheConfirm) {
  Pair p;
  Epoch e = p.begin();
  p.offer(e, false);
  EXPECT_EQ(p.receiver.held_count(), 1u);
  EXPECT_EQ(p.receiver.next_tick_us(), kT0 + kHandoffRetryMinUs);  // asks if no confirm comes
  // A confirm of another epoch or from another donor is not it.
  p.r.clear();
  p.receiver.on_confirm(kTask, "a", e + 1, true, kT0, p.r);
  p.receiver.on_confirm(kTask, "c", e, true, kT0, p.r);
  EXPECT_EQ(names(p.r), "");
  EXPECT_EQ(p.receiver.stats().stale_confirms, 2u);
  EXPECT_EQ(p.receiver.held_count(), 1u);
}

TEST(HandoffConfirm, NoGoDiscardsBehindAFence) {
  Pair p;
  Epoch e = p.begin();
  p.offer(e, false);  // held, answer lost
  p.d.clear();
  p.donor.on_peer_dead("b", kT0 + 1, p.d);  // reclaimed, requeued
  p.confirm_query(e, kT0 + 2);
  EXPECT_EQ(names(p.d), "erase send_confirm");
  EXPECT_FALSE(p.d.back().go);
  EXPECT_EQ(p.donor.entries(), 0u);
  p.confirm(kT0 + 3);
  EXPECT_EQ(names(p.r), "persist_fence discard");
  EXPECT_EQ(p.r[0].fence, (Fence{kTask, "a", e}));
  EXPECT_EQ(p.receiver.held_count(), 0u);
  EXPECT_EQ(p.receiver.next_tick_us(), kNever);
  EXPECT_EQ(p.offer(e, false).reason, "fenced");  // a late duplicate of the offer
  // Asked again (its confirm lost), the donor with no entry still says no.
  p.confirm_query(e, kT0 + 4);
  EXPECT_EQ(names(p.d), "send_confirm");
  EXPECT_FALSE(p.d.back().go);
}

TEST(HandoffConfirm, ReceiverRestartWithAHeldAdoptionAsksAtOnceAndIsReleased) {
  Pair p;
  Epoch e = p.begin();
  p.deliver(p.offer(e, false));  // the donor moved it; its confirm is lost
  EXPECT_EQ(names(p.d), "persist(moved) drop_local send_confirm");
  HandoffReceiver restarted;
  ReceiverActions r;
  ASSERT_TRUE(restarted.restore({}, {{kTask, "a", e}}, kT0 + 10, r).ok());
  EXPECT_EQ(names(r), "send_confirm_query");
  EXPECT_EQ(r[0].fence, (Fence{kTask, "a", e}));
  EXPECT_EQ(restarted.next_tick_us(), kT0 + 10 + kHandoffRetryMinUs);
  p.confirm_query(e, kT0 + 11);
  EXPECT_EQ(names(p.d), "send_confirm");
  EXPECT_TRUE(p.d.back().go);
  r.clear();
  restarted.on_confirm(kTask, "a", e, true, kT0 + 12, r);
  EXPECT_EQ(names(r), "release");
  EXPECT_EQ(restarted.held_count(), 0u);
}

TEST(HandoffConfirm, RestoreDiscardsAHeldAdoptionWhoseEpochIsFenced) {
  // A discard stopped between its fence and its delete.
  HandoffReceiver receiver;
  ReceiverActions r;
  ASSERT_TRUE(receiver.restore({{kTask, "a", 5}}, {{kTask, "a", 5}}, kT0, r).ok());
  EXPECT_EQ(names(r), "discard");
  EXPECT_EQ(receiver.held_count(), 0u);
  HandoffReceiver twice;
  r.clear();
  EXPECT_FALSE(twice.restore({}, {{kTask, "a", 5}, {kTask, "c", 1}}, kT0, r).ok());
}

TEST(HandoffConfirm, DonorRestartAnswersConfirmQueriesFromItsJournal) {
  struct Case {
    HandoffState state;
    bool go;
    const char* actions;
  };
  for (Case c : {Case{HandoffState::kMoved, true, "send_confirm"},
                 Case{HandoffState::kReclaimed, false, "erase send_confirm"},
                 Case{HandoffState::kMigrating, true, "persist(moved) drop_local send_confirm"}}) {
    SCOPED_TRACE(to_string(c.state));
    HandoffDonor donor;
    DonorActions d;
    ASSERT_TRUE(donor.restore({{kTask, "b", 7, c.state}}, 1024, kT0, d).ok());
    d.clear();
    donor.on_confirm_query(kTask, 7, "b", kT0, d);
    EXPECT_EQ(names(d), c.actions);
    EXPECT_EQ(d.back().go, c.go);
    EXPECT_EQ(d.back().record, (HandoffRecord{kTask, "b", 7, d.back().record.state}));
    // Other epochs, tasks or peers than the entry's: no.
    for (auto [task, epoch, peer] :
         {std::tuple{kTask, Epoch{6}, "b"}, std::tuple{std::string("a:2"), Epoch{7}, "b"},
          std::tuple{kTask, Epoch{7}, "c"}}) {
      d.clear();
      donor.on_confirm_query(task, epoch, peer, kT0, d);
      EXPECT_EQ(names(d), "send_confirm");
      EXPECT_FALSE(d.back().go);
    }
  }
  // No journal at all: no.
  HandoffDonor empty;
  DonorActions d;
  ASSERT_TRUE(empty.restore({}, 0, kT0, d).ok());
  empty.on_confirm_query(kTask, 3, "b", kT0, d);
  EXPECT_EQ(names(d), "send_confirm");
  EXPECT_FALSE(d.back().go);
}

TEST(HandoffConfirm, ConfirmQueryWhileMigratingIsAnAcceptance) {
  Pair p;
  Epoch e = p.begin();
  p.offer(e, false);  // held; the accepted answer is lost
  p.r.clear();
  p.receiver.tick(kT0 + kHandoffRetryMinUs, p.r);
  EXPECT_EQ(names(p.r), "send_confirm_query");
  p.confirm_query(e, kT0 + kHandoffRetryMinUs);
  EXPECT_EQ(names(p.d), "persist(moved) drop_local send_confirm");
  EXPECT_TRUE(p.d.back().go);
  EXPECT_FALSE(p.donor.migrating(kTask));
  EXPECT_EQ(p.donor.next_tick_us(), kNever);
  p.confirm();
  EXPECT_EQ(names(p.r), "release");
  // The donor's own query, late: still `have`, and now stale at the donor.
  p.deliver(p.query(e, true));
  EXPECT_EQ(names(p.d), "");
}

TEST(HandoffConfirm, ConfirmQueriesBackOffExponentiallyUpToTheCap) {
  Pair p;
  Epoch e = p.begin(0);
  p.offer(e, false, std::nullopt, 0);
  std::vector<Micros> gaps;
  Micros last = 0;
  for (int i = 0; i < 8; ++i) {
    Micros due = p.receiver.next_tick_us();
    gaps.push_back(due - last);
    last = due;
    p.r.clear();
    p.receiver.tick(due, p.r);
    EXPECT_EQ(names(p.r), "send_confirm_query");
  }
  std::vector<Micros> want = {200'000,   200'000,   400'000,   800'000,
                              1'600'000, 3'200'000, 6'400'000, 10'000'000};
  EXPECT_EQ(gaps, want);
}

TEST(HandoffConfirm, DeadDonorLeavesTheTaskHeldUntilItReturns) {
  Pair p;
  Epoch e = p.begin();
  p.offer(e, false);
  p.r.clear();
  p.receiver.on_peer_dead("a", kT0 + 1, p.r);
  EXPECT_EQ(names(p.r), "");
  EXPECT_EQ(p.receiver.next_tick_us(), kNever);  // waits, asks no one
  EXPECT_EQ(p.receiver.held_count(), 1u);
  EXPECT_EQ(p.receiver.held_from_dead_donors(), 1u);
  EXPECT_TRUE(p.receiver.donor_dead("a"));
  p.receiver.tick(kT0 + kHandoffRetryMaxUs * 100, p.r);
  EXPECT_EQ(names(p.r), "");
  EXPECT_EQ(p.receiver.stats().released + p.receiver.stats().discarded, 0u);
  // The donor's store decides once it is back: it had moved it.
  p.deliver(p.query(e, true));  // (the donor's side, before its death)
  p.r.clear();
  p.receiver.on_peer_alive("a", kT0 + 5, p.r);
  EXPECT_EQ(names(p.r), "send_confirm_query");
  EXPECT_EQ(p.receiver.held_from_dead_donors(), 0u);
  p.confirm_query(e, kT0 + 6);
  p.confirm();
  EXPECT_EQ(names(p.r), "release");
}

TEST(HandoffConfirm, ForceReleaseRunsAHeldTaskWithoutTheDonor) {
  Pair p;
  Epoch e = p.begin();
  p.offer(e, false);
  p.r.clear();
  p.receiver.on_peer_dead("a", kT0 + 1, p.r);
  ASSERT_TRUE(p.receiver.force_release(kTask, p.r).ok());
  EXPECT_EQ(names(p.r), "release");
  EXPECT_EQ(p.r[0].fence, (Fence{kTask, "a", e}));
  EXPECT_EQ(p.receiver.held_count(), 0u);
  EXPECT_EQ(p.receiver.stats().forced, 1u);
  EXPECT_EQ(p.receiver.stats().released, 1u);
  Status again = p.receiver.force_release(kTask, p.r);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("not held"), std::string::npos);
  // The donor's late confirm (either way) no longer matters.
  p.r.clear();
  p.receiver.on_confirm(kTask, "a", e, false, kT0 + 2, p.r);
  EXPECT_EQ(names(p.r), "");
}

// R holds a's older offer e1 (reclaimed by a), then gets a's newer offer e2.
TEST(HandoffConfirm, NewerOfferReplacesAHeldOneAndOlderOnesDoNot) {
  Pair p;
  Epoch e1 = p.begin();
  p.offer(e1, false);
  p.d.clear();
  p.donor.on_peer_dead("b", kT0 + 1, p.d);
  p.donor.on_peer_alive("b", kT0 + 2, p.d);  // queries e1; that query is lost
  Epoch e2 = p.begin(kT0 + 3);
  ReceiverAction a2 = p.offer(e2, true, std::nullopt, kT0 + 4);
  EXPECT_EQ(names(p.r), "persist_fence adopt send_answer(accepted)");
  EXPECT_EQ(p.receiver.fence(kTask, "a"), e1);
  EXPECT_EQ(p.receiver.held(kTask), (HeldAdoption{kTask, "a", e2}));
  // A late duplicate of e1 is fenced; the answers of both arrive.
  EXPECT_EQ(p.offer(e1, true).reason, "fenced");
  p.deliver(a2, kT0 + 5);
  EXPECT_EQ(names(p.d), "persist(moved) drop_local send_confirm");
  p.confirm();
  EXPECT_EQ(names(p.r), "release");

  // Without the fence, an older offer never replaces the held one.
  HandoffReceiver receiver;
  ReceiverActions r;
  ASSERT_TRUE(receiver.restore({}, {{kTask, "a", 9}}, kT0, r).ok());
  r.clear();
  receiver.on_offer(kTask, "a", 8, true, std::nullopt, kT0, r);
  EXPECT_EQ(names(r), "send_answer(accepted)");
  EXPECT_EQ(receiver.held(kTask), (HeldAdoption{kTask, "a", 9}));
}

TEST(HandoffConfirm, QueryOfAnotherEpochThanTheHeldOneIsNotHave) {
  HandoffReceiver receiver;
  ReceiverActions r;
  ASSERT_TRUE(receiver.restore({}, {{kTask, "a", 5}}, kT0, r).ok());
  r.clear();
  receiver.on_query(kTask, "a", 5, true, r);
  EXPECT_EQ(names(r), "send_answer(have)");
  r.clear();
  receiver.on_query(kTask, "a", 6, true, r);  // a's offer 6 never arrived
  EXPECT_EQ(names(r), "persist_fence send_answer(not_have)");
  EXPECT_EQ(receiver.fence(kTask, "a"), 6u);
}

TEST(Handoff, AnswersMapOneForOneBetweenTheWireAndTheHandoff) {
  for (Answer a : {Answer::kAccepted, Answer::kRefused, Answer::kHave, Answer::kNotHave}) {
    EXPECT_EQ(answer_of(kind_of(a)), a);
  }
  EXPECT_EQ(kind_of(Answer::kNotHave), HandoffAnswerKind::kNotHave);
  EXPECT_EQ(answer_of(HandoffAnswerKind::kHave), Answer::kHave);
}

}  // namespace
}  // namespace braid::sched
