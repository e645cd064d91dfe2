// Daemon submissions: stored durably (group commit), then admitted to the
// torus and answered. See daemon.h for the contract.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/daemon.h"

namespace braid::node {

using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

namespace {

// Submitted tasks waiting for their durable write at most (memory bound
// against a client that pipelines huge submissions faster than the disk).
constexpr std::size_t kTasksBeingStoredMax = 1'000'000;

}  // namespace

kj::Promise<kj::Own<rpc::SubmitOutcome>> Daemon::submit(std::vector<sched::TaskSpec> specs) {
  auto refuse = [](std::string message) -> kj::Promise<kj::Own<rpc::SubmitOutcome>> {
    auto outcome = kj::heap<rpc::SubmitOutcome>();
    outcome->error = std::move(message);
    return kj::mv(outcome);
  };
  if (shutting_down_) return refuse("node " + config_.name + " is shutting down");
  if (tasks_being_stored_ + specs.size() > kTasksBeingStoredMax) {
    return refuse("node " + config_.name + " is still storing " +
                  std::to_string(tasks_being_stored_) + " submitted tasks (at most " +
                  std::to_string(kTasksBeingStoredMax) + " at once): submit again shortly");
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (sched::Status s = torus_.check(specs[i]); !s) {
      return refuse(specs.size() == 1 ? s.error().message
                                      : "task " + std::to_string(i + 1) + ": " + s.error().message);
    }
  }
  Submission& sub = submissions_.emplace_back();
  sub.serial = next_submission_serial_++;
  tasks_being_stored_ += specs.size();
  sub.first_sequence = torus_.reserve_sequences(specs.size());
  const Micros now = now_us();
  storage::Batch batch;
  storage::TaskRecord record;
  record.task.state = TaskState::kQueued;
  record.task.submitted_at_us = now;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    record.record_no = sub.first_sequence + i;
    record.task.id = torus_.make_id(record.record_no);
    record.task.spec = specs[i];
    batch.put_task(record);
    for (const std::string& dep : specs[i].after) {
      const TaskKey key = *torus_.find(dep);  // check() saw it
      ++pinned_[key];
      sub.pins.push_back(key);
    }
  }
  meta_.next_sequence = torus_.next_sequence();
  batch.put_meta(meta_);
  sub.specs = std::move(specs);
  auto pair = kj::newPromiseAndFulfiller<kj::Own<rpc::SubmitOutcome>>();
  sub.fulfiller = kj::mv(pair.fulfiller);
  committer_->commit(std::move(batch), /*durable=*/true,
                     on_loop([this, serial = sub.serial](const sched::Status& s) {
                       on_submission_stored(serial, s);
                     }));
  return kj::mv(pair.promise);
}

void Daemon::on_submission_stored(std::uint64_t serial, const sched::Status& status) {
  auto it = std::find_if(submissions_.begin(), submissions_.end(),
                         [serial](const Submission& s) { return s.serial == serial; });
  if (it == submissions_.end()) return;
  for (TaskKey key : it->pins) {
    if (--pinned_[key] == 0) pinned_.erase(key);
  }
  tasks_being_stored_ -= it->specs.size();
  auto outcome = kj::heap<rpc::SubmitOutcome>();
  if (!status) {
    spdlog::error("submission of {} tasks refused: cannot store it: {}", it->specs.size(),
                  status.error().message);
    outcome->error =
        "cannot store the submission, nothing was submitted: " + status.error().message;
  } else {
    const Micros now = now_us();
    std::vector<TaskKey> admitted;
    admitted.reserve(it->specs.size());
    for (std::size_t i = 0; i < it->specs.size(); ++i) {
      const std::uint64_t sequence = it->first_sequence + i;
      auto key = torus_.submit_as(torus_.make_id(sequence), std::move(it->specs[i]), now, actions_);
      if (!key) {  // checked before it was stored, and its dependencies pinned
        spdlog::critical("a stored submission no longer fits: {}", key.error().message);
        std::abort();
      }
      track(key.value(), sequence);
      admitted.push_back(key.value());
      outcome->ids.push_back(torus_.task(key.value()).id);
    }
    drop_stored_queued(admitted);
  }
  const bool stored = status.ok();
  it->fulfiller->fulfill(kj::mv(outcome));
  submissions_.erase(it);
  // Answer first, then start: the reply is written by the KJ turns already
  // queued ahead of this handler, so a client does not wait for the spawns.
  if (stored) {
    asio::post(io_, [this, alive = std::weak_ptr<const bool>(alive_)] {
      if (!alive.expired()) carry_out();
    });
  }
}

// A task admitted as queued is already stored as such: its kPersist would
// write the same record a second time.
void Daemon::drop_stored_queued(const std::vector<TaskKey>& admitted) {
  if (admitted.empty()) return;
  const TaskKey highest = *std::max_element(admitted.begin(), admitted.end());
  std::vector<bool> fresh(highest + 1, false);
  for (TaskKey key : admitted) fresh[key] = true;
  std::erase_if(actions_, [&](const sched::Action& a) {
    return a.kind == sched::Action::Kind::kPersist && a.key <= highest && fresh[a.key] &&
           torus_.task(a.key).state == TaskState::kQueued;
  });
}

}  // namespace braid::node
