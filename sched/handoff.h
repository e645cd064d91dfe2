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
// Protocol (D = donor, R = receiver, e = epoch):
//   D: journal migrating(task, R, e)        -> offer(task, e) to R
//   R: adopt the task (stored)              -> accepted
//      or fence(task, D, e) stored          -> refused(reason)
//   D: journal moved(task, R, e), drop the local task, keep a forwarding pointer
// No answer: D retries with query(task, e), backoff kHandoffRetryMinUs doubling
// up to kHandoffRetryMaxUs. R answers `have` if its store holds the task, else
// stores fence(task, D, e) and answers `not_have`. A fence makes R refuse every
// later offer of that task from D with an epoch <= e, so after `refused` or
// `not_have` D may take the task back: R can never adopt that offer any more.
//
// R declared dead while migrating: D journals reclaimed(task, R, e) and requeues
// the task (a task is never lost while R stays away). When R is alive again
// (or its answer arrives late), D queries it: `have`/`accepted` means R had
// adopted the task, so it may run on both nodes; D counts a duplicate. This
// is the only way a task runs twice. It needs R to have stored the adoption
// before it was declared dead: a false death, or a real crash after adopting
// (R restarts holding the task).
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
    kDuplicate,      // peer had adopted a task we reclaimed: it may run twice
  };
  Kind kind;
  HandoffRecord record;  // task_id, peer, epoch; state for kPersist
  std::string reason;    // kRecordRefusal

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
  std::uint64_t duplicates = 0;     // reclaimed tasks the peer had adopted
  std::uint64_t stale_answers = 0;  // answers matching no journal entry (ignored)
};

class HandoffDonor {
 public:
  // Rebuilds the machine from the store: the journal entries and the epoch
  // floor last persisted (0 if none). migrating entries are queried at once
  // (the task stays off the local queue until answered); reclaimed ones wait
  // for on_peer_alive; moved ones are forwarding pointers and are ignored.
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
  //   accepted, have   -> kPersist(moved), kDropLocal
  //   refused          -> kErase, kRequeue, kRecordRefusal(reason)
  //   not_have         -> kErase, kRequeue
  // To a reclaimed entry: accepted, have -> kDuplicate, kErase; else kErase.
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

  // Sends the queries that are due. An unanswered offer is retried as a
  // query: only a query's not_have is a promise that the offer can no longer
  // be adopted.
  void tick(Micros now_us, DonorActions& out);
  Micros next_tick_us() const;  // kNever when nothing is waiting for an answer

  std::size_t entries() const { return entries_.size(); }  // migrating + reclaimed
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

  Entries entries_;                                 // by epoch
  std::unordered_map<std::string, Epoch> by_task_;  // migrating entries
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

struct ReceiverAction {
  enum class Kind : std::uint8_t {
    kAdopt,         // store the offered task as ours (origin, hops from the offer)
    kPersistFence,  // store `fence`, replacing the one of (task_id, donor)
    kSendAnswer,    // send answer(fence.task_id, fence.epoch, answer, reason) to fence.donor
  };
  Kind kind;
  Fence fence;  // task_id, donor, epoch of the offer or query
  Answer answer = Answer::kAccepted;
  std::string reason;

  bool operator==(const ReceiverAction&) const = default;
};
using ReceiverActions = std::vector<ReceiverAction>;
std::string_view to_string(ReceiverAction::Kind kind);

struct ReceiverStats {
  std::uint64_t offers = 0;
  std::uint64_t adopted = 0;   // offers adopted (kAdopt)
  std::uint64_t accepted = 0;  // offers accepted, including repeats of adopted tasks
  std::uint64_t refused = 0;   // offers refused, including fenced
  std::uint64_t fenced = 0;    // offers refused by a fence
  std::uint64_t queries = 0;
  std::uint64_t not_have = 0;
};

class HandoffReceiver {
 public:
  // The fences in the store. Call once, before anything else.
  void restore(const std::vector<Fence>& fences);

  // An offer. `already_have`: the store holds the task (any state, also
  // finished: it must stay until no donor can still ask). `cannot_run`: why
  // this node cannot run it (checks of docs/migration.md), or nullopt.
  // A fence with an epoch >= epoch refuses it ("fenced"); else a task already
  // held is accepted again (no second kAdopt); else a task that cannot run is
  // fenced and refused; else it is adopted and accepted.
  void on_offer(const std::string& task_id, const std::string& donor, Epoch epoch,
                bool already_have, const std::optional<std::string>& cannot_run,
                ReceiverActions& out);

  // A query. `have` as already_have above. not_have stores a fence first.
  void on_query(const std::string& task_id, const std::string& donor, Epoch epoch, bool have,
                ReceiverActions& out);

  // The fenced epoch of (task_id, donor); 0 if none.
  Epoch fence(const std::string& task_id, const std::string& donor) const;
  const ReceiverStats& stats() const { return stats_; }

 private:
  void raise_fence(const std::string& task_id, const std::string& donor, Epoch epoch,
                   ReceiverActions& out);

  std::map<std::pair<std::string, std::string>, Epoch> fences_;
  ReceiverStats stats_;
};

}  // namespace braid::sched
