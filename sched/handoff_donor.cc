// HandoffDonor: the donor's side of the handoff (handoff.h).
#include <algorithm>

#include "sched/handoff.h"

namespace braid::sched {

Answer answer_of(HandoffAnswerKind kind) {
  switch (kind) {
    case HandoffAnswerKind::kAccepted:
      return Answer::kAccepted;
    case HandoffAnswerKind::kRefused:
      return Answer::kRefused;
    case HandoffAnswerKind::kHave:
      return Answer::kHave;
    case HandoffAnswerKind::kNotHave:
      return Answer::kNotHave;
  }
  return Answer::kRefused;
}

HandoffAnswerKind kind_of(Answer answer) {
  switch (answer) {
    case Answer::kAccepted:
      return HandoffAnswerKind::kAccepted;
    case Answer::kRefused:
      return HandoffAnswerKind::kRefused;
    case Answer::kHave:
      return HandoffAnswerKind::kHave;
    case Answer::kNotHave:
      return HandoffAnswerKind::kNotHave;
  }
  return HandoffAnswerKind::kRefused;
}

std::string_view to_string(Answer answer) {
  switch (answer) {
    case Answer::kAccepted:
      return "accepted";
    case Answer::kRefused:
      return "refused";
    case Answer::kHave:
      return "have";
    case Answer::kNotHave:
      return "not_have";
  }
  return "?";
}

std::string_view to_string(HandoffState state) {
  switch (state) {
    case HandoffState::kMigrating:
      return "migrating";
    case HandoffState::kMoved:
      return "moved";
    case HandoffState::kReclaimed:
      return "reclaimed";
  }
  return "?";
}

std::string_view to_string(DonorAction::Kind kind) {
  using K = DonorAction::Kind;
  switch (kind) {
    case K::kPersist:
      return "persist";
    case K::kErase:
      return "erase";
    case K::kPersistEpochs:
      return "persist_epochs";
    case K::kSendOffer:
      return "send_offer";
    case K::kSendQuery:
      return "send_query";
    case K::kDropLocal:
      return "drop_local";
    case K::kRequeue:
      return "requeue";
    case K::kRecordRefusal:
      return "record_refusal";
    case K::kSendConfirm:
      return "send_confirm";
  }
  return "?";
}

namespace {

DonorAction act(DonorAction::Kind kind, const HandoffRecord& record, std::string reason = {}) {
  return DonorAction{kind, record, std::move(reason)};
}

}  // namespace

Status HandoffDonor::restore(const std::vector<HandoffRecord>& records, Epoch epoch_floor,
                             Micros now_us, DonorActions& out) {
  BRAID_CHECK(entries_.empty() && next_epoch_ == 1, entries_.size(), next_epoch_);
  epoch_floor_ = epoch_floor;
  next_epoch_ = std::max<Epoch>(epoch_floor, 1);
  for (const HandoffRecord& r : records) {
    next_epoch_ = std::max(next_epoch_, r.epoch + 1);
    if (r.epoch == 0 || entries_.contains(r.epoch) || moved_.contains(r.epoch)) {
      return Error{"handoff journal: epoch " + std::to_string(r.epoch) + " of task " + r.task_id +
                   " must be unique and above 0"};
    }
    if (r.state == HandoffState::kMoved) {
      moved_.emplace(r.epoch, r);
      continue;
    }
    if (r.state == HandoffState::kMigrating) {
      if (!by_task_.emplace(r.task_id, r.epoch).second) {
        return Error{"handoff journal: task " + r.task_id +
                     " has two migrating entries, at most one is allowed"};
      }
    }
    entries_.emplace(r.epoch, Entry{r});
  }
  for (auto& [epoch, entry] : entries_) {
    if (entry.record.state == HandoffState::kMigrating) query(entry, now_us, out);
  }
  return ok_status();
}

Epoch HandoffDonor::next_epoch(DonorActions& out) {
  if (next_epoch_ >= epoch_floor_) {
    epoch_floor_ = next_epoch_ + kHandoffEpochBlock;
    out.push_back(act(DonorAction::Kind::kPersistEpochs,
                      HandoffRecord{{}, {}, epoch_floor_, HandoffState::kMigrating}));
  }
  return next_epoch_++;
}

Status HandoffDonor::begin(const std::string& task_id, const std::string& peer, Micros now_us,
                           DonorActions& out) {
  if (by_task_.contains(task_id)) {
    return Error{"task " + task_id + " is already migrating; one handoff at a time"};
  }
  if (dead_.contains(peer)) {
    return Error{"peer " + peer + " is dead; offer tasks to live peers only"};
  }
  Epoch epoch = next_epoch(out);
  Entry& entry = entries_[epoch];
  entry.record = HandoffRecord{task_id, peer, epoch, HandoffState::kMigrating};
  by_task_.emplace(task_id, epoch);
  out.push_back(act(DonorAction::Kind::kPersist, entry.record));
  out.push_back(act(DonorAction::Kind::kSendOffer, entry.record));
  ++stats_.offers;
  schedule(entry, now_us + entry.backoff_us);
  entry.backoff_us = std::min(2 * entry.backoff_us, kHandoffRetryMaxUs);
  return ok_status();
}

void HandoffDonor::on_answer(const std::string& task_id, Epoch epoch, const std::string& peer,
                             Answer answer, const std::string& reason, Micros /*now_us*/,
                             DonorActions& out) {
  auto it = entries_.find(epoch);
  if (it == entries_.end() || it->second.record.task_id != task_id ||
      it->second.record.peer != peer) {
    ++stats_.stale_answers;
    return;
  }
  HandoffRecord& r = it->second.record;
  bool adopted = answer == Answer::kAccepted || answer == Answer::kHave;
  if (r.state == HandoffState::kReclaimed) {
    // The peer holds it, pending confirmation: it must not run it.
    HandoffRecord copy = r;
    finish(it, out);
    if (adopted) {
      ++stats_.revoked;
      confirm(copy, false, out);
    }
    return;
  }
  if (adopted) {
    move(it, out);
    return;
  }
  by_task_.erase(r.task_id);
  HandoffRecord copy = r;
  finish(it, out);
  out.push_back(act(DonorAction::Kind::kRequeue, copy));
  if (answer == Answer::kRefused) {
    ++stats_.refused;
    out.push_back(act(DonorAction::Kind::kRecordRefusal, copy, reason));
  } else {
    ++stats_.not_have;
  }
}

void HandoffDonor::on_confirm_query(const std::string& task_id, Epoch epoch,
                                    const std::string& peer, Micros /*now_us*/, DonorActions& out) {
  ++stats_.confirm_queries;
  auto it = entries_.find(epoch);
  if (it != entries_.end() && it->second.record.task_id == task_id &&
      it->second.record.peer == peer) {
    if (it->second.record.state == HandoffState::kMigrating) {
      move(it, out);  // the peer holds it: as good as `accepted`
      return;
    }
    HandoffRecord copy = it->second.record;  // reclaimed: the task is ours again
    finish(it, out);
    confirm(copy, false, out);
    return;
  }
  auto m = moved_.find(epoch);
  bool go = m != moved_.end() && m->second.task_id == task_id && m->second.peer == peer;
  confirm(HandoffRecord{task_id, peer, epoch, HandoffState::kMoved}, go, out);
}

void HandoffDonor::on_peer_dead(const std::string& peer, Micros /*now_us*/, DonorActions& out) {
  dead_.insert(peer);
  for (auto& [epoch, entry] : entries_) {
    if (entry.record.peer != peer) continue;
    schedule(entry, kNever);
    if (entry.record.state != HandoffState::kMigrating) continue;
    ++stats_.reclaimed;
    by_task_.erase(entry.record.task_id);
    entry.record.state = HandoffState::kReclaimed;
    out.push_back(act(DonorAction::Kind::kPersist, entry.record));
    out.push_back(act(DonorAction::Kind::kRequeue, entry.record));
  }
}

void HandoffDonor::on_peer_alive(const std::string& peer, Micros now_us, DonorActions& out) {
  dead_.erase(peer);
  for (auto& [epoch, entry] : entries_) {
    if (entry.record.peer != peer || entry.record.state != HandoffState::kReclaimed) continue;
    if (entry.due_us != kNever) continue;  // already being queried
    entry.backoff_us = kHandoffRetryMinUs;
    query(entry, now_us, out);
  }
}

void HandoffDonor::tick(Micros now_us, DonorActions& out) {
  while (!timers_.empty() && timers_.begin()->first <= now_us) {
    Entry& entry = entries_.at(timers_.begin()->second);
    query(entry, now_us, out);
  }
}

Micros HandoffDonor::next_tick_us() const {
  return timers_.empty() ? kNever : timers_.begin()->first;
}

void HandoffDonor::schedule(Entry& entry, Micros due_us) {
  if (entry.due_us != kNever) timers_.erase({entry.due_us, entry.record.epoch});
  entry.due_us = due_us;
  if (due_us != kNever) timers_.emplace(due_us, entry.record.epoch);
}

void HandoffDonor::query(Entry& entry, Micros now_us, DonorActions& out) {
  out.push_back(act(DonorAction::Kind::kSendQuery, entry.record));
  ++stats_.queries;
  schedule(entry, now_us + entry.backoff_us);
  entry.backoff_us = std::min(2 * entry.backoff_us, kHandoffRetryMaxUs);
}

void HandoffDonor::move(Entries::iterator it, DonorActions& out) {
  HandoffRecord& r = it->second.record;
  ++stats_.moved;
  by_task_.erase(r.task_id);
  r.state = HandoffState::kMoved;
  out.push_back(act(DonorAction::Kind::kPersist, r));
  out.push_back(act(DonorAction::Kind::kDropLocal, r));
  confirm(r, true, out);
  moved_.emplace(r.epoch, r);
  schedule(it->second, kNever);
  entries_.erase(it);
}

void HandoffDonor::confirm(const HandoffRecord& r, bool go, DonorActions& out) {
  ++(go ? stats_.confirmed : stats_.confirm_no);
  DonorAction a = act(DonorAction::Kind::kSendConfirm, r);
  a.go = go;
  out.push_back(std::move(a));
}

void HandoffDonor::forget_moved(const std::string& task_id, DonorActions& out) {
  for (auto it = moved_.begin(); it != moved_.end();) {
    if (it->second.task_id == task_id) {
      out.push_back(act(DonorAction::Kind::kErase, it->second));
      it = moved_.erase(it);
    } else {
      ++it;
    }
  }
}

void HandoffDonor::finish(Entries::iterator it, DonorActions& out) {
  out.push_back(act(DonorAction::Kind::kErase, it->second.record));
  schedule(it->second, kNever);
  entries_.erase(it);
}

}  // namespace braid::sched
