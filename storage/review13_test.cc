// Review 13: failing reproducers for the storage of migration (journal and
// fences keyed by task id only, against what sched/handoff.h needs stored).
#include <gtest/gtest.h>

#include <algorithm>

#include "sched/handoff.h"
#include "storage/migration_records.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace braid::storage {
namespace {

using testing::open_ok;
using testing::TempDir;

std::uint8_t to_store(sched::HandoffState s) {
  switch (s) {
    case sched::HandoffState::kMigrating:
      return kHandoffMigrating;
    case sched::HandoffState::kMoved:
      return kHandoffMoved;
    case sched::HandoffState::kReclaimed:
      return kHandoffReclaimed;
  }
  return 0;
}

sched::HandoffState from_store(std::uint8_t s) {
  return s == kHandoffMoved       ? sched::HandoffState::kMoved
         : s == kHandoffReclaimed ? sched::HandoffState::kReclaimed
                                  : sched::HandoffState::kMigrating;
}

// Carries a donor's journal actions out on the store, the only way its API
// allows (entries keyed by task id).
void carry_out(Store& store, const sched::DonorActions& out) {
  Batch batch;
  for (const sched::DonorAction& a : out) {
    if (a.kind == sched::DonorAction::Kind::kPersist) {
      batch.put_handoff(HandoffRecord{a.record.task_id, a.record.peer, a.record.epoch,
                                      to_store(a.record.state), 0});
    } else if (a.kind == sched::DonorAction::Kind::kErase) {
      batch.delete_handoff(a.record.task_id, a.record.epoch);  // fixed: keyed by epoch too
    }
  }
  ASSERT_TRUE(store.write(batch, true));
}

// The donor keeps, for one task, a reclaimed entry (to R, epoch 1, until R is
// alive again) beside the moved entry of its next offer (to S, epoch 2): the
// forwarding pointer. The journal family holds one entry per task id, so the
// moved entry overwrites the reclaimed one, and the kErase of the reclaimed
// entry (R answered `have`) deletes the moved one. After a restart, S's
// confirm_query for epoch 2 is answered go=false: S discards the task, the
// donor holds only a moved pointer: the task is lost (docs/migration.md:
// "one that was deleted would be answered go=false and the task lost").
TEST(Review13, TheJournalKeepsAMovedEntryBesideAReclaimedOneOfTheSameTask) {
  TempDir tmp;
  const std::string t = "d:1";
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    sched::HandoffDonor donor;
    sched::DonorActions out;
    ASSERT_TRUE(donor.begin(t, "R", 0, out));                          // epoch 1
    donor.on_peer_dead("R", 1, out);                                   // reclaimed(t, R, 1)
    ASSERT_TRUE(donor.begin(t, "S", 2, out));                          // epoch 2
    donor.on_answer(t, 2, "S", sched::Answer::kAccepted, "", 3, out);  // moved(t, S, 2)
    carry_out(*store, out);  // S's confirm(go=true) is lost
    out.clear();
    donor.on_peer_alive("R", 4, out);
    donor.on_answer(t, 1, "R", sched::Answer::kHave, "", 5, out);  // erase (t, 1), go=false
    carry_out(*store, out);
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  std::vector<sched::HandoffRecord> journal;
  ASSERT_TRUE(store->load_handoffs([&](HandoffRecord&& r) {
    journal.push_back({r.task_id, r.peer, r.epoch, from_store(r.state)});
  }));
  sched::HandoffDonor restarted;
  sched::DonorActions out;
  ASSERT_TRUE(restarted.restore(journal, 0, 10, out));
  out.clear();
  restarted.on_confirm_query(t, 2, "S", 11, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].go) << "the moved entry (the forwarding pointer) was deleted with the "
                            "reclaimed one: S discards the task";
}

// Fences are per (task, donor) (handoff.h, docs/migration.md "fences are per
// (task, donor)"), but the fences family keys them by task id and a
// FenceRecord names no donor: a fence of one donor replaces another donor's
// (possibly lowering it), and HandoffReceiver::restore cannot be given the
// donor at all.
TEST(Review13, FencesOfTwoDonorsForOneTaskAreBothKept) {
  TempDir tmp;
  {
    std::unique_ptr<Store> store = open_ok(tmp.path());
    ASSERT_TRUE(store);
    Batch batch;
    batch.put_fence(FenceRecord{"o:1", 5, "A"});  // R fenced (o:1, donor A, 5)
    batch.put_fence(FenceRecord{"o:1", 3, "B"});  // R fenced (o:1, donor B, 3)
    ASSERT_TRUE(store->write(batch, true));
  }
  std::unique_ptr<Store> store = open_ok(tmp.path());
  ASSERT_TRUE(store);
  std::vector<FenceRecord> fences;
  ASSERT_TRUE(store->load_fences([&](FenceRecord&& f) { fences.push_back(std::move(f)); }));
  EXPECT_EQ(fences.size(), 2u);
  EXPECT_TRUE(std::any_of(fences.begin(), fences.end(), [](const FenceRecord& f) {
    return f.epoch == 5;
  })) << "donor A's fence at epoch 5 was replaced by donor B's at 3";
}

}  // namespace
}  // namespace braid::storage
