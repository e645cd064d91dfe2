// Review 13: failing reproducers for the first pieces of issue 11
// (balance, handoff, torus migration states, restore). Each test states the
// expected behaviour; a failure is the finding.
#include <gtest/gtest.h>

#include <algorithm>

#include "sched/balance.h"
#include "sched/handoff.h"
#include "sched/test_util.h"
#include "sched/torus.h"

namespace braid::sched {
namespace {

using testing::config;
using testing::must;
using testing::spec;

bool has(const ReceiverActions& out, ReceiverAction::Kind kind) {
  return std::any_of(out.begin(), out.end(),
                     [&](const ReceiverAction& a) { return a.kind == kind; });
}

bool has(const DonorActions& out, DonorAction::Kind kind) {
  return std::any_of(out.begin(), out.end(), [&](const DonorAction& a) { return a.kind == kind; });
}

bool starts(const Actions& out, TaskKey key) {
  return std::any_of(out.begin(), out.end(), [&](const Action& a) {
    return a.kind == Action::Kind::kStart && a.key == key;
  });
}

// A delayed duplicate of an EARLIER owner's offer (B, reclaimed long ago)
// reaches R while R holds the task from its CURRENT owner C, pending C's
// confirm. on_offer treats any other donor's offer as "newer": it fences C's
// live adoption and re-adopts under (B, e). B revokes (go=false), R discards,
// and C's confirm(go=true) is now stale: C has dropped the task (moved to R),
// R has discarded it. Nobody runs it. handoff.h promises exactly once under
// reordering.
TEST(Review13, ALateOfferFromAnEarlierDonorDoesNotDisplaceTheLiveAdoption) {
  const std::string t = "a:1";
  HandoffDonor b;  // owned t first
  HandoffDonor c;  // owns t after b moved it there
  HandoffReceiver c_recv;
  HandoffReceiver r;
  DonorActions bo, co;
  ReceiverActions cro, ro;

  // B offers t to R; the offer is delayed in the network.
  ASSERT_TRUE(b.begin(t, "R", 0, bo));
  const Epoch b_to_r = std::find_if(bo.begin(), bo.end(), [](const DonorAction& a) {
                         return a.kind == DonorAction::Kind::kSendOffer;
                       })->record.epoch;
  // B declares R dead (false death): reclaimed, requeued.
  bo.clear();
  b.on_peer_dead("R", 1, bo);
  ASSERT_TRUE(has(bo, DonorAction::Kind::kRequeue));
  // B hands t to C, completely (confirmed).
  bo.clear();
  ASSERT_TRUE(b.begin(t, "C", 2, bo));
  const Epoch b_to_c = b_to_r + 1;
  c_recv.on_offer(t, "B", b_to_c, false, std::nullopt, 2, cro);
  ASSERT_TRUE(has(cro, ReceiverAction::Kind::kAdopt));
  bo.clear();
  b.on_answer(t, b_to_c, "C", Answer::kAccepted, "", 3, bo);
  ASSERT_TRUE(has(bo, DonorAction::Kind::kDropLocal));
  cro.clear();
  c_recv.on_confirm(t, "B", b_to_c, true, 3, cro);
  ASSERT_TRUE(has(cro, ReceiverAction::Kind::kRelease));
  // C (now the owner) offers t to R; R adopts (held); C moves it and sends
  // confirm(go=true), which is delayed.
  ASSERT_TRUE(c.begin(t, "R", 4, co));
  const Epoch c_to_r = 1;
  r.on_offer(t, "C", c_to_r, false, std::nullopt, 4, ro);
  ASSERT_TRUE(has(ro, ReceiverAction::Kind::kAdopt));
  co.clear();
  c.on_answer(t, c_to_r, "R", Answer::kAccepted, "", 5, co);
  ASSERT_TRUE(has(co, DonorAction::Kind::kDropLocal));  // C no longer has t
  // B's delayed offer finally arrives (R holds t: already_have).
  ro.clear();
  r.on_offer(t, "B", b_to_r, true, std::nullopt, 6, ro);
  bool adopted_again = has(ro, ReceiverAction::Kind::kAdopt);
  // B answers the acceptance of its reclaimed offer with go=false.
  b.on_peer_alive("R", 6, bo);
  bo.clear();
  b.on_answer(t, b_to_r, "R", Answer::kAccepted, "", 7, bo);
  for (const DonorAction& a : bo) {
    if (a.kind == DonorAction::Kind::kSendConfirm) {
      r.on_confirm(t, "B", a.record.epoch, a.go, 7, ro);
    }
  }
  // C's delayed confirm(go=true) arrives.
  for (const DonorAction& a : co) {
    if (a.kind == DonorAction::Kind::kSendConfirm) {
      r.on_confirm(t, "C", a.record.epoch, a.go, 8, ro);
    }
  }
  EXPECT_FALSE(adopted_again) << "an offer of another donor replaced the live adoption";
  EXPECT_TRUE(has(ro, ReceiverAction::Kind::kRelease))
      << "t was dropped by its owner C and discarded by R: lost";
  EXPECT_FALSE(has(ro, ReceiverAction::Kind::kDiscard));
}

// A task that returns to a node it left (A -> B -> A: A was busy, later idle
// and pulls from B; max_hops 3 allows it) is answered `accepted` without
// kAdopt, because handoff.h defines already_have as "the store holds the task
// (any state)", and A still holds its forwarding pointer (kMoved). B then
// drops its copy: no node can run the task. Torus A also has no way to take a
// moved task back (submit_as refuses a known id).
TEST(Review13, ATaskOfferedBackToTheNodeItLeftIsAdoptedThere) {
  TorusConfig ca = config(Policy::kFair, 1);
  ca.node_name = "A";
  TorusConfig cb = config(Policy::kFair, 1);
  cb.node_name = "B";
  Torus a(ca);
  Torus b(cb);
  Actions out;
  must(b.submit(spec(), 0, out));  // B busy too, so t stays queued there
  // A: busy, t queued behind it, offered to B.
  must(a.submit(spec(), 0, out));
  const TaskKey ta = must(a.submit(spec(), 0, out));
  const std::string id = a.task(ta).id;
  ASSERT_TRUE(a.begin_migration(ta, 1, out));
  HandoffDonor a_don;
  HandoffReceiver b_recv;
  DonorActions ad;
  ReceiverActions br;
  ASSERT_TRUE(a_don.begin(id, "B", 1, ad));
  b_recv.on_offer(id, "A", 1, b.find(id).has_value(), std::nullopt, 1, br);
  ASSERT_TRUE(has(br, ReceiverAction::Kind::kAdopt));
  const TaskKey tb = must(b.submit_as(id, spec(), 1, out));
  ad.clear();
  a_don.on_answer(id, 1, "B", Answer::kAccepted, "", 2, ad);
  ASSERT_TRUE(a.finish_migration(ta, "B", 2, out));
  // B: busy now, t queued; A idle pulls; B offers t back to A.
  ASSERT_TRUE(b.begin_migration(tb, 3, out));
  HandoffDonor b_don;
  HandoffReceiver a_recv;
  DonorActions bd;
  ReceiverActions ar;
  ASSERT_TRUE(b_don.begin(id, "A", 3, bd));
  // The glue's `already_have` (handoff.h): held as its own, not as moved.
  const bool a_has = a.find(id) && a.task(*a.find(id)).state != TaskState::kMoved;
  a_recv.on_offer(id, "B", 1, a_has, std::nullopt, 3, ar);
  EXPECT_TRUE(has(ar, ReceiverAction::Kind::kAdopt))
      << "A answered `accepted` from its forwarding pointer without adopting";
  EXPECT_TRUE(a.submit_as(id, spec(), 3, out))
      << "torus A cannot take back a task it holds as moved";
}

// An adopted member of another node's throttled array joins this node's
// array that happens to have the same array_group number (array_group is the
// submitting node's sequence number, so node A's and node B's first arrays are
// both group 1): it is throttled by an unrelated array.
TEST(Review13, AnAdoptedArrayMemberIsNotThrottledByALocalArrayWithTheSameGroupNumber) {
  Torus b(config(Policy::kFair, 4));
  Actions out;
  TaskSpec local = spec();
  local.array_index = 0;
  local.array_throttle = 1;
  local.array_group = 1;
  must(b.submit(local, 0, out));  // b's own array, throttle 1: one member runs
  TaskSpec adopted = local;       // a member of node a's first array, also group 1
  out.clear();
  const TaskKey key = must(b.submit_as("a:7", adopted, 1, out));
  // Control: the same member under another group number starts at once.
  Torus control(config(Policy::kFair, 4));
  Actions cout_;
  must(control.submit(local, 0, cout_));
  adopted.array_group = 2;
  cout_.clear();
  ASSERT_TRUE(starts(cout_, must(control.submit_as("a:7", adopted, 1, cout_))));
  EXPECT_TRUE(starts(out, key)) << "3 slots free, but the adopted task waits on b's throttle: "
                                << b.task(key).reason;
}

// --array-throttle K promises at most K members of the array started at once
// (docs/cli.md); a member that migrates is counted by no throttle anywhere,
// so a throttle-1 array spread by push runs on every node at once. may_migrate
// allows it.
TEST(Review13, AThrottledArrayMemberMayNotMigrate) {
  Task t;
  t.id = "a:2";
  t.state = TaskState::kQueued;
  t.spec = spec();
  t.spec.array_index = 1;
  t.spec.array_throttle = 1;
  t.spec.array_group = 1;
  EXPECT_FALSE(may_migrate(t, 0, BalanceConfig{}));
}

// restore() keeps a migrating task without checking that it fits the node
// (a queued one that no longer fits fails). When its handoff is aborted, it
// is queued with cpus above the slots and, with no backfill, holds the node's
// slots reserved forever: nothing else starts.
TEST(Review13, AMigratingTaskThatNoLongerFitsDoesNotBlockTheNodeAfterAbort) {
  Torus torus(config(Policy::kFair, 2));
  Actions out;
  Task record;
  record.id = "n1:1";
  record.spec = spec();
  record.spec.cpus = 4;  // the node had 4 slots before its restart
  record.state = TaskState::kMigrating;
  const TaskKey wide = must(torus.restore(record, 0, out));
  torus.trigger(0, out);
  ASSERT_TRUE(torus.abort_migration(wide, 1, out));  // the receiver refused it
  out.clear();
  const TaskKey small = must(torus.submit(spec(), 2, out));
  torus.tick(1'000'000, out);
  // Fixed by failing it, as restore fails a queued task that no longer fits.
  ASSERT_EQ(torus.task(wide).state, TaskState::kFailed);
  EXPECT_NE(torus.task(wide).reason.find("cannot run on this node any more"), std::string::npos);
  EXPECT_TRUE(starts(out, small)) << "the 4-cpu task on a 2-slot node blocks every other task: "
                                  << torus.task(small).reason;
}

}  // namespace
}  // namespace braid::sched
