// HandoffReceiver: the receiver's side of the handoff (handoff.h).
#include <algorithm>

#include "sched/handoff.h"

namespace braid::sched {

std::string_view to_string(ReceiverAction::Kind kind) {
  using K = ReceiverAction::Kind;
  switch (kind) {
    case K::kAdopt:
      return "adopt";
    case K::kPersistFence:
      return "persist_fence";
    case K::kSendAnswer:
      return "send_answer";
    case K::kSendConfirmQuery:
      return "send_confirm_query";
    case K::kRelease:
      return "release";
    case K::kDiscard:
      return "discard";
  }
  return "?";
}

namespace {

ReceiverAction act(ReceiverAction::Kind kind, const Fence& fence, Answer answer = Answer::kAccepted,
                   std::string reason = {}) {
  return ReceiverAction{kind, fence, answer, std::move(reason)};
}

Fence fence_of(const HeldAdoption& a) { return Fence{a.task_id, a.donor, a.epoch}; }

}  // namespace

Status HandoffReceiver::restore(const std::vector<Fence>& fences,
                                const std::vector<HeldAdoption>& held, Micros now_us,
                                ReceiverActions& out) {
  BRAID_CHECK(fences_.empty() && held_.empty(), fences_.size(), held_.size());
  for (const Fence& f : fences) {
    Epoch& e = fences_[{f.task_id, f.donor}];
    e = std::max(e, f.epoch);
  }
  for (const HeldAdoption& a : held) {
    if (held_.contains(a.task_id)) {
      return Error{"handoff store: task " + a.task_id +
                   " is held twice, at most one held adoption per task is allowed"};
    }
    if (fence(a.task_id, a.donor) >= a.epoch) {
      // A discard (or a re-adoption) stopped between its fence and its
      // delete: the fence is the decision.
      ++stats_.discarded;
      out.push_back(act(ReceiverAction::Kind::kDiscard, fence_of(a)));
      continue;
    }
    hold(a, kNever);
  }
  for (auto& [task, h] : held_) ask(h, now_us, out);
  return ok_status();
}

Epoch HandoffReceiver::fence(const std::string& task_id, const std::string& donor) const {
  auto it = fences_.find({task_id, donor});
  return it == fences_.end() ? 0 : it->second;
}

std::optional<HeldAdoption> HandoffReceiver::held(const std::string& task_id) const {
  auto it = held_.find(task_id);
  if (it == held_.end()) return std::nullopt;
  return it->second.adoption;
}

std::size_t HandoffReceiver::held_from_dead_donors() const {
  return static_cast<std::size_t>(std::count_if(held_.begin(), held_.end(), [&](const auto& kv) {
    return dead_.contains(kv.second.adoption.donor);
  }));
}

void HandoffReceiver::raise_fence(const std::string& task_id, const std::string& donor, Epoch epoch,
                                  ReceiverActions& out) {
  Epoch& e = fences_[{task_id, donor}];
  if (e >= epoch) return;
  e = epoch;
  out.push_back(act(ReceiverAction::Kind::kPersistFence, Fence{task_id, donor, e}));
}

void HandoffReceiver::on_offer(const std::string& task_id, const std::string& donor, Epoch epoch,
                               bool already_have, const std::optional<std::string>& cannot_run,
                               Micros now_us, ReceiverActions& out) {
  ++stats_.offers;
  Fence offer{task_id, donor, epoch};
  auto answer = [&](Answer a, std::string reason) {
    out.push_back(act(ReceiverAction::Kind::kSendAnswer, offer, a, std::move(reason)));
  };
  if (fence(task_id, donor) >= epoch) {
    ++stats_.refused;
    ++stats_.fenced;
    answer(Answer::kRefused, "fenced");
    return;
  }
  auto it = held_.find(task_id);
  if (it != held_.end()) {
    const HeldAdoption& old = it->second.adoption;
    if (old.donor != donor) {
      // Held from another donor: only that donor can say whether our copy
      // is the live one, so this offer is refused (and fenced: its donor
      // takes the task back). Epochs of two donors cannot be compared, and a
      // late offer of an earlier donor must not displace the live adoption
      // (Review13.ALateOfferFromAnEarlierDonorDoesNotDisplaceTheLiveAdoption).
      ++stats_.refused;
      raise_fence(task_id, donor, epoch, out);
      answer(Answer::kRefused, "held from another handoff");
      return;
    }
    bool same = old.epoch == epoch;
    bool older = epoch < old.epoch;
    if (!same && !older) {
      // A newer offer of the same donor: the held one was reclaimed (a donor
      // has one offer of a task out at a time), so this one is the live
      // offer. Fence the old one so that a late duplicate of it cannot take
      // the adoption back.
      raise_fence(old.task_id, old.donor, old.epoch, out);
      ++stats_.adopted;
      out.push_back(act(ReceiverAction::Kind::kAdopt, offer));
      hold(HeldAdoption{task_id, donor, epoch}, kNever);
      schedule(held_.at(task_id), dead_.contains(donor) ? kNever : now_us + kHandoffRetryMinUs);
    }
    ++stats_.accepted;
    answer(Answer::kAccepted, "");
    return;
  }
  if (already_have) {
    ++stats_.accepted;
    answer(Answer::kAccepted, "");
    return;
  }
  if (cannot_run) {
    // Fenced before answering: a duplicate of this offer that arrives once the
    // task could run must not be adopted, since the donor takes it back.
    ++stats_.refused;
    raise_fence(task_id, donor, epoch, out);
    answer(Answer::kRefused, *cannot_run);
    return;
  }
  ++stats_.adopted;
  ++stats_.accepted;
  out.push_back(act(ReceiverAction::Kind::kAdopt, offer));
  hold(HeldAdoption{task_id, donor, epoch}, kNever);
  // The confirm normally follows the answer at once; ask if it does not.
  schedule(held_.at(task_id), dead_.contains(donor) ? kNever : now_us + kHandoffRetryMinUs);
  answer(Answer::kAccepted, "");
}

void HandoffReceiver::on_query(const std::string& task_id, const std::string& donor, Epoch epoch,
                               bool have, ReceiverActions& out) {
  ++stats_.queries;
  Fence query{task_id, donor, epoch};
  auto it = held_.find(task_id);
  if (it != held_.end()) {
    // Held from another offer (an older one of this donor, or another
    // donor's): this offer's epoch was never adopted, and is fenced now.
    have = it->second.adoption.donor == donor && it->second.adoption.epoch == epoch;
  }
  if (have) {
    out.push_back(act(ReceiverAction::Kind::kSendAnswer, query, Answer::kHave));
    return;
  }
  ++stats_.not_have;
  raise_fence(task_id, donor, epoch, out);
  out.push_back(act(ReceiverAction::Kind::kSendAnswer, query, Answer::kNotHave));
}

void HandoffReceiver::on_confirm(const std::string& task_id, const std::string& donor, Epoch epoch,
                                 bool go, Micros /*now_us*/, ReceiverActions& out) {
  auto it = held_.find(task_id);
  if (it == held_.end() || it->second.adoption.donor != donor ||
      it->second.adoption.epoch != epoch) {
    ++stats_.stale_confirms;
    return;
  }
  Fence f{task_id, donor, epoch};
  drop(task_id);
  if (go) {
    ++stats_.released;
    out.push_back(act(ReceiverAction::Kind::kRelease, f));
    return;
  }
  ++stats_.discarded;
  raise_fence(task_id, donor, epoch, out);
  out.push_back(act(ReceiverAction::Kind::kDiscard, f));
}

void HandoffReceiver::on_peer_dead(const std::string& donor, Micros /*now_us*/,
                                   ReceiverActions& /*out*/) {
  dead_.insert(donor);
  for (auto& [task, h] : held_) {
    if (h.adoption.donor == donor) schedule(h, kNever);
  }
}

void HandoffReceiver::on_peer_alive(const std::string& donor, Micros now_us, ReceiverActions& out) {
  if (dead_.erase(donor) == 0) return;
  for (auto& [task, h] : held_) {
    if (h.adoption.donor != donor) continue;
    h.backoff_us = kHandoffRetryMinUs;
    ask(h, now_us, out);
  }
}

Status HandoffReceiver::force_release(const std::string& task_id, ReceiverActions& out) {
  auto it = held_.find(task_id);
  if (it == held_.end()) {
    return Error{"task " + task_id + " is not held pending a donor's confirmation"};
  }
  Fence f = fence_of(it->second.adoption);
  drop(task_id);
  ++stats_.forced;
  ++stats_.released;
  out.push_back(act(ReceiverAction::Kind::kRelease, f));
  return ok_status();
}

void HandoffReceiver::tick(Micros now_us, ReceiverActions& out) {
  while (!timers_.empty() && timers_.begin()->first <= now_us) {
    ask(held_.at(timers_.begin()->second), now_us, out);
  }
}

Micros HandoffReceiver::next_tick_us() const {
  return timers_.empty() ? kNever : timers_.begin()->first;
}

void HandoffReceiver::hold(const HeldAdoption& adoption, Micros due_us) {
  auto it = held_.find(adoption.task_id);
  if (it != held_.end()) drop(adoption.task_id);
  Held& h = held_[adoption.task_id];
  h.adoption = adoption;
  schedule(h, due_us);
}

void HandoffReceiver::schedule(Held& held, Micros due_us) {
  if (held.due_us != kNever) timers_.erase({held.due_us, held.adoption.task_id});
  held.due_us = due_us;
  if (due_us != kNever) timers_.emplace(due_us, held.adoption.task_id);
}

void HandoffReceiver::ask(Held& held, Micros now_us, ReceiverActions& out) {
  if (dead_.contains(held.adoption.donor)) {
    schedule(held, kNever);
    return;
  }
  out.push_back(act(ReceiverAction::Kind::kSendConfirmQuery, fence_of(held.adoption)));
  ++stats_.confirm_queries;
  schedule(held, now_us + held.backoff_us);
  held.backoff_us = std::min(2 * held.backoff_us, kHandoffRetryMaxUs);
}

void HandoffReceiver::drop(const std::string& task_id) {
  auto it = held_.find(task_id);
  if (it == held_.end()) return;
  schedule(it->second, kNever);
  held_.erase(it);
}

}  // namespace braid::sched
