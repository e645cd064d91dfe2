// HandoffReceiver: the receiver's side of the handoff (handoff.h).
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
  }
  return "?";
}

namespace {

ReceiverAction act(ReceiverAction::Kind kind, const Fence& fence, Answer answer = Answer::kAccepted,
                   std::string reason = {}) {
  return ReceiverAction{kind, fence, answer, std::move(reason)};
}

}  // namespace

void HandoffReceiver::restore(const std::vector<Fence>& fences) {
  BRAID_CHECK(fences_.empty(), fences_.size());
  for (const Fence& f : fences) {
    Epoch& e = fences_[{f.task_id, f.donor}];
    e = std::max(e, f.epoch);
  }
}

Epoch HandoffReceiver::fence(const std::string& task_id, const std::string& donor) const {
  auto it = fences_.find({task_id, donor});
  return it == fences_.end() ? 0 : it->second;
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
                               ReceiverActions& out) {
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
  answer(Answer::kAccepted, "");
}

void HandoffReceiver::on_query(const std::string& task_id, const std::string& donor, Epoch epoch,
                               bool have, ReceiverActions& out) {
  ++stats_.queries;
  Fence query{task_id, donor, epoch};
  if (have) {
    out.push_back(act(ReceiverAction::Kind::kSendAnswer, query, Answer::kHave));
    return;
  }
  ++stats_.not_have;
  raise_fence(task_id, donor, epoch, out);
  out.push_back(act(ReceiverAction::Kind::kSendAnswer, query, Answer::kNotHave));
}

}  // namespace braid::sched
