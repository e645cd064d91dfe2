// The handoff: moving ownership of one queued task from a donor node to a
// receiver node, exactly once across message loss, duplication, reordering and
// crashes of either side (docs/migration.md, "The handoff").
//
// Two pure state machines, like the torus: no clock, no I/O. Every input
// carries `now_us`; every effect is appended to `out` as an action, and the
// caller carries the actions out IN ORDER, each persist durable before any
// later send (a batch of consecutive persists may be one write). The machines
// have already changed their memory as if every action succeeded; a crash is
// modelled by building a new machine and calling restore() with what the
// store holds. Two writes must be atomic: a donor's kPersist(moved) and the
// kDropLocal after it (or restart must treat a task with a moved entry as
// gone). At a donor's restart a task with a migrating entry stays off the run
// queue until answered; a task with a reclaimed entry, or none, is queued.
//
// Protocol (D = donor, R = receiver, e = epoch), four steps:
//   1. D: journal migrating(task, R, e)           -> offer(task, e) to R
//   2. R: store the task HELD, pending (D, e)     -> accepted
//         (persisted, answered, but NOT runnable)
//      or fence(task, D, e) stored                -> refused(reason)
//   3. D: journal moved(task, R, e), drop the local task, keep a forwarding
//         pointer                                 -> confirm(task, e, go=true)
//   4. R: store the adoption confirmed            -> kRelease: the task may run
// No answer to an offer: D retries with query(task, e), backoff
// kHandoffRetryMinUs doubling up to kHandoffRetryMaxUs. R answers `have` if
// its store holds the task (held or not), else stores fence(task, D, e) and
// answers `not_have`. A fence makes R refuse every later offer of that task
// from D with an epoch <= e, so after `refused` or `not_have` D may take the
// task back: R can never adopt that offer any more.
// No confirm: R drives the resolution of each held task: it asks D
// confirm_query(task, e) with the same backoff, and at once after restore().
// D answers from its journal: moved(task, R, e) -> go=true; migrating(task, R,
// e) -> D takes it as an acceptance (journals moved, drops the task) and
// answers go=true; anything else (reclaimed, or no entry of that epoch) ->
// go=false. On go=false R stores fence(task, D, e) and discards its copy.
//
// R declared dead while migrating: D journals reclaimed(task, R, e) and
// requeues the task (a task is never lost while R stays away). If R had
// stored the adoption (a false death, or a real crash after adopting), it
// holds it and asks; D answers go=false: R never runs it. So a task runs on
// one node only, whatever crashes and false deaths, unless an operator
// force_release()s a held task (below). When R is alive again D queries its
// reclaimed entries: `have`/`accepted` -> D sends confirm(go=false) at once;
// either answer erases the entry.
//
// D declared dead (at R) while R holds a task from it: R keeps holding it
// and stops asking until D is alive again: only D's journal can say whether
// the task moved. If D never returns (its disk lost), the task stays held;
// force_release() lets an operator run it. That duplicates the task only if
// D had also reclaimed it, which needs D to have declared R dead during
// step 1..3 (a false death, or R's real crash before it answered).
//
// D's moved entries must outlive R's questions: a moved entry D no longer
// has would be answered go=false and the task lost. They are the forwarding
// pointers and are kept (in the store and in this machine's memory).
//
// Epochs come from one counter per donor that rises on every begin() and is
// persisted ahead of use (kPersistEpochs, blocks of kHandoffEpochBlock), so a
// donor never reuses an epoch, also after a restart with an empty journal.
// Receivers compare epochs of one donor only (fences are per task and donor).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sched/result.h"
#include "sched/torus.h"
#include "sched/types.h"

namespace braid::sched {

using Epoch = std::uint64_t;

constexpr Micros kHandoffRetryMinUs = 200 * kMicrosPerMilli;
constexpr Micros kHandoffRetryMaxUs = 10 * kMicrosPerSecond;
constexpr Epoch kHandoffEpochBlock = 1024;

// R's answer to an offer (accepted, refused) or to a query (have, not_have).
enum class Answer : std::uint8_t { kAccepted, kRefused, kHave, kNotHave };
std::string_view to_string(Answer answer);
// The wire's answer (sched/migration_message.h) and the machines', one for one.
Answer answer_of(HandoffAnswerKind kind);
HandoffAnswerKind kind_of(Answer answer);

// The donor's journal entry of one handoff, stored under (task_id, epoch). A
// task has at most one migrating entry, and may have reclaimed ones beside it.
enum class HandoffState : std::uint8_t { kMigrating, kMoved, kReclaimed };
std::string_view to_string(HandoffState state);

struct HandoffRecord {
  std::string task_id;
  std::string peer;  // the receiver
  Epoch epoch = 0;
  HandoffState state = HandoffState::kMigrating;

  bool operator==(const HandoffRecord&) const = default;
};

struct DonorAction {
  enum class Kind : std::uint8_t {
    kPersist,        // store `record` under (task_id, epoch), replacing what is there
    kErase,          // delete the journal entry (task_id, epoch)
    kPersistEpochs,  // store the epoch floor record.epoch: every epoch given is below it
    kSendOffer,      // send offer(task_id, epoch) with the task's record to peer
    kSendQuery,      // send query(task_id, epoch) to peer
    kDropLocal,      // the task moved: forget the local copy, keep a pointer to peer
    kRequeue,        // the task is ours again: put it back in the local queue
    kRecordRefusal,  // note on the task that peer refused it for `reason`
    kSendConfirm,    // send confirm(task_id, epoch, go) to peer (HandoffConfirm)
  };
  Kind kind;
  HandoffRecord record;  // task_id, peer, epoch; state for kPersist
  std::string reason;    // kRecordRefusal
  bool go = false;       // kSendConfirm: true = the peer may run it, false = discard it

  bool operator==(const DonorAction&) const = default;
};
using DonorActions = std::vector<DonorAction>;
std::string_view to_string(DonorAction::Kind kind);

struct DonorStats {
  std::uint64_t offers = 0;         // offers sent (begin)
  std::uint64_t queries = 0;        // queries sent (retries, restore, alive)
  std::uint64_t moved = 0;          // accepted or have
  std::uint64_t refused = 0;        // refused (task requeued)
  std::uint64_t not_have = 0;       // not_have to a migrating entry (task requeued)
  std::uint64_t reclaimed = 0;      // taken back from a peer declared dead
  std::uint64_t revoked = 0;        // reclaimed tasks the peer held: told go=false
  std::uint64_t stale_answers = 0;  // answers matching no journal entry (ignored)
  std::uint64_t confirm_queries = 0;
  std::uint64_t confirmed = 0;   // confirm(go=true) sent
  std::uint64_t confirm_no = 0;  // confirm(go=false) sent
};

class HandoffDonor {
 public:
  // Rebuilds the machine from the store: the journal entries and the epoch
  // floor last persisted (0 if none). migrating entries are queried at once
  // (the task stays off the local queue until answered); reclaimed ones wait
  // for on_peer_alive; moved ones are kept to answer confirm queries.
  // Call once, before anything else. Refuses a second migrating entry of a task.
  Status restore(const std::vector<HandoffRecord>& records, Epoch epoch_floor, Micros now_us,
                 DonorActions& out);

  // Starts handing task_id to peer (a fresh epoch). The caller has taken the
  // task off its run queue. Refuses if the task is already migrating or the
  // peer is dead (on_peer_dead with no on_peer_alive since).
  Status begin(const std::string& task_id, const std::string& peer, Micros now_us,
               DonorActions& out);

  // An answer from `peer`. Ignored (stale_answers) unless it matches a
  // journal entry (task_id, epoch, peer). To a migrating entry:
  //   accepted, have   -> kPersist(moved), kDropLocal, kSendConfirm(go=true)
  //   refused          -> kErase, kRequeue, kRecordRefusal(reason)
  //   not_have         -> kErase, kRequeue
  // To a reclaimed entry: accepted, have -> kErase, kSendConfirm(go=false);
  // else kErase.
  void on_answer(const std::string& task_id, Epoch epoch, const std::string& peer, Answer answer,
                 const std::string& reason, Micros now_us, DonorActions& out);

  // Gossip declared peer dead: every migrating entry to it is reclaimed and
  // its task requeued. The caller also calls this for a peer in the journal
  // that gossip does not report alive within a grace period after a restart,
  // or its migrating tasks wait for it forever.
  void on_peer_dead(const std::string& peer, Micros now_us, DonorActions& out);

  // Gossip reports peer alive (again, or first seen after a restart): its
  // reclaimed entries are queried, to learn whether it had adopted them.
  void on_peer_alive(const std::string& peer, Micros now_us, DonorActions& out);

  // confirm_query(task_id, epoch) from `peer`, which holds the task pending
  // confirmation. Answered from the journal, per (task, epoch):
  //   moved to peer at epoch     -> kSendConfirm(go=true)
  //   migrating to peer at epoch -> an acceptance: kPersist(moved), kDropLocal,
  //                                 kSendConfirm(go=true)
  //   reclaimed to peer at epoch -> kErase, kSendConfirm(go=false)
  //   anything else              -> kSendConfirm(go=false)
  // (An entry of another epoch, migrating or not, is another offer: epochs
  // are never reused, so the held one is not it.)
  void on_confirm_query(const std::string& task_id, Epoch epoch, const std::string& peer,
                        Micros now_us, DonorActions& out);

  // The task came back to this node (offered back and adopted): its moved
  // entries are stale forwarding pointers. Each is erased (kErase), so that
  // a restart cannot take one for where the task is now.
  void forget_moved(const std::string& task_id, DonorActions& out);

  // Sends the queries that are due. An unanswered offer is retried as a
  // query: only a query's not_have is a promise that the offer can no longer
  // be adopted.
  void tick(Micros now_us, DonorActions& out);
  Micros next_tick_us() const;  // kNever when nothing is waiting for an answer

  std::size_t entries() const { return entries_.size(); }  // migrating + reclaimed
  std::size_t moved_entries() const { return moved_.size(); }
  bool migrating(const std::string& task_id) const { return by_task_.contains(task_id); }
  const DonorStats& stats() const { return stats_; }

 private:
  struct Entry {
    HandoffRecord record;
    Micros due_us = kNever;  // next query; kNever: not retrying
    Micros backoff_us = kHandoffRetryMinUs;
  };
  using Entries = std::map<Epoch, Entry>;

  Epoch next_epoch(DonorActions& out);
  void schedule(Entry& entry, Micros due_us);
  void query(Entry& entry, Micros now_us, DonorActions& out);
  void finish(Entries::iterator it, DonorActions& out);  // erase entry + journal
  void move(Entries::iterator it, DonorActions& out);    // migrating -> moved, confirm
  void confirm(const HandoffRecord& r, bool go, DonorActions& out);

  Entries entries_;                                 // by epoch
  std::unordered_map<std::string, Epoch> by_task_;  // migrating entries
  std::map<Epoch, HandoffRecord> moved_;            // moved entries (forwarding pointers)
  std::set<std::pair<Micros, Epoch>> timers_;       // (due_us, epoch)
  std::set<std::string> dead_;
  Epoch next_epoch_ = 1;
  Epoch epoch_floor_ = 0;  // persisted: epochs below it may have been used
  DonorStats stats_;
};

// R's durable promise: no offer of task_id from donor with an epoch <= epoch
// will be adopted.
struct Fence {
  std::string task_id;
  std::string donor;
  Epoch epoch = 0;

  bool operator==(const Fence&) const = default;
};

// A task R stores held: adopted from donor at epoch, not runnable until the
// donor confirms (or an operator forces it).
struct HeldAdoption {
  std::string task_id;
  std::string donor;
  Epoch epoch = 0;

  bool operator==(const HeldAdoption&) const = default;
};

struct ReceiverAction {
  enum class Kind : std::uint8_t {
    kAdopt,             // store the offered task HELD, pending confirmation of
                        // (fence.donor, fence.epoch), replacing a held copy:
                        // persisted but NOT runnable (origin, hops from the offer)
    kPersistFence,      // store `fence`, replacing the one of (task_id, donor)
    kSendAnswer,        // send answer(fence.task_id, fence.epoch, answer, reason) to fence.donor
    kSendConfirmQuery,  // send confirm_query(fence.task_id, fence.epoch) to fence.donor
    kRelease,           // store the adoption confirmed: the task may run now
    kDiscard,           // delete the held task (its fence was persisted just before)
  };
  Kind kind;
  Fence fence;  // task_id, donor, epoch of the offer, query or adoption
  Answer answer = Answer::kAccepted;
  std::string reason;

  bool operator==(const ReceiverAction&) const = default;
};
using ReceiverActions = std::vector<ReceiverAction>;
std::string_view to_string(ReceiverAction::Kind kind);

struct ReceiverStats {
  std::uint64_t offers = 0;
  std::uint64_t adopted = 0;   // kAdopt (first adoptions and re-adoptions of a held task)
  std::uint64_t accepted = 0;  // offers accepted, including repeats of adopted tasks
  std::uint64_t refused = 0;   // offers refused, including fenced
  std::uint64_t fenced = 0;    // offers refused by a fence
  std::uint64_t queries = 0;
  std::uint64_t not_have = 0;
  std::uint64_t confirm_queries = 0;  // kSendConfirmQuery
  std::uint64_t released = 0;         // kRelease, forced ones included
  std::uint64_t discarded = 0;        // kDiscard
  std::uint64_t forced = 0;           // force_release
  std::uint64_t stale_confirms = 0;   // confirms matching no held adoption (ignored)
};

class HandoffReceiver {
 public:
  // The fences and the held adoptions in the store. Call once, before
  // anything else. Each held adoption is asked about at once
  // (kSendConfirmQuery); one whose epoch is fenced (a discard interrupted
  // between its two writes) is discarded (kDiscard). Refuses a task held twice.
  Status restore(const std::vector<Fence>& fences, const std::vector<HeldAdoption>& held,
                 Micros now_us, ReceiverActions& out);

  // An offer. `already_have`: the store holds the task as its own (any
  // state but moved, also finished: it must stay until no donor can still
  // ask). A task this node holds as moved (a forwarding pointer: it left
  // and is offered back) is NOT had: it is adopted again (Torus::submit_as
  // takes a moved task back). `cannot_run`: why this node cannot run it
  // (checks of docs/migration.md), or nullopt.
  //   a fence with an epoch >= epoch     -> refused("fenced")
  //   the task is held from (d, e):
  //     d != donor                       -> kPersistFence, refused("held from another handoff")
  //     e == epoch, or an older offer of donor (epoch < e) -> accepted (no kAdopt)
  //     else (a newer offer: the old one was reclaimed)
  //                                      -> kPersistFence(old), kAdopt, accepted
  //   already_have (released or finished) -> accepted
  //   cannot_run                         -> kPersistFence, refused(reason)
  //   else                               -> kAdopt (held), accepted
  void on_offer(const std::string& task_id, const std::string& donor, Epoch epoch,
                bool already_have, const std::optional<std::string>& cannot_run, Micros now_us,
                ReceiverActions& out);

  // A query. `have` as already_have above, except for a held task: have
  // only if it is held from exactly (donor, epoch). not_have stores a fence
  // first.
  void on_query(const std::string& task_id, const std::string& donor, Epoch epoch, bool have,
                ReceiverActions& out);

  // confirm(task_id, epoch, go) from donor. Ignored (stale_confirms) unless
  // the task is held from exactly (donor, epoch). go -> kRelease; no go ->
  // kPersistFence, kDiscard.
  void on_confirm(const std::string& task_id, const std::string& donor, Epoch epoch, bool go,
                  Micros now_us, ReceiverActions& out);

  // Gossip declared donor dead: its held tasks stay held, unasked, until
  // on_peer_alive (then asked at once). Only the donor's journal can say
  // whether they moved.
  void on_peer_dead(const std::string& donor, Micros now_us, ReceiverActions& out);
  void on_peer_alive(const std::string& donor, Micros now_us, ReceiverActions& out);

  // The operator's way out for a task held from a donor that never returns
  // (its disk lost): kRelease without a confirm. Runs the task twice if the
  // donor had reclaimed it (it declared this node dead during the handoff).
  // Refuses a task that is not held.
  Status force_release(const std::string& task_id, ReceiverActions& out);

  // Sends the confirm queries that are due.
  void tick(Micros now_us, ReceiverActions& out);
  Micros next_tick_us() const;  // kNever when nothing is asked

  // The fenced epoch of (task_id, donor); 0 if none.
  Epoch fence(const std::string& task_id, const std::string& donor) const;

  // For `braid show`: the task's held adoption, if any, and whether its donor
  // is declared dead (then it waits for the donor's return or an operator).
  std::optional<HeldAdoption> held(const std::string& task_id) const;
  bool donor_dead(const std::string& donor) const { return dead_.contains(donor); }
  std::size_t held_count() const { return held_.size(); }
  std::size_t held_from_dead_donors() const;
  const ReceiverStats& stats() const { return stats_; }

 private:
  struct Held {
    HeldAdoption adoption;
    Micros due_us = kNever;  // next confirm query; kNever: not asking
    Micros backoff_us = kHandoffRetryMinUs;
  };

  void raise_fence(const std::string& task_id, const std::string& donor, Epoch epoch,
                   ReceiverActions& out);
  void hold(const HeldAdoption& adoption, Micros due_us);  // (re)places, schedules
  void schedule(Held& held, Micros due_us);
  void ask(Held& held, Micros now_us, ReceiverActions& out);
  void drop(const std::string& task_id);  // forgets a held adoption

  std::map<std::pair<std::string, std::string>, Epoch> fences_;
  std::unordered_map<std::string, Held> held_;       // by task
  std::set<std::pair<Micros, std::string>> timers_;  // (due_us, task)
  std::set<std::string> dead_;                       // donors declared dead
  ReceiverStats stats_;
};

}  // namespace braid::sched
