// Submissions: see submissions.h.
#include "node/submissions.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/migration_checks.h"
#include "sched/migration_message.h"

namespace braid::node {

using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

namespace {

// Submitted tasks waiting for their durable write at most (memory bound
// against a client that pipelines huge submissions faster than the disk).
constexpr std::size_t kTasksBeingStoredMax = 1'000'000;
// Tasks one loop turn checks, encodes or admits at most, and the time after
// which it stops sooner (checked every kTasksPerClockCheck): a `stats` call
// waits for a few handlers in a row (its read, KJ's turn, its write), so
// each stays short whatever a task costs on this node (admission slows as
// the node fills: ~6 ms per 2000 at 300k queued).
constexpr std::size_t kTasksPerTurn = 2'000;
constexpr Micros kTurnBudgetUs = 2'000;
constexpr std::size_t kTasksPerClockCheck = 128;

}  // namespace

Submissions::Submissions(asio::io_context& io, const Clock& clock, const DaemonConfig& config,
                         Tasks& tasks, Durability& durability, Waiters& waiters)
    : io_(io),
      clock_(clock),
      config_(config),
      tasks_(tasks),
      durability_(durability),
      waiters_(waiters) {}

kj::Promise<kj::Own<rpc::SubmitOutcome>> Submissions::submit(std::vector<sched::TaskSpec> specs) {
  auto refuse = [](std::string message) -> kj::Promise<kj::Own<rpc::SubmitOutcome>> {
    auto outcome = kj::heap<rpc::SubmitOutcome>();
    outcome->error = std::move(message);
    return kj::mv(outcome);
  };
  if (tasks_.shutting_down()) return refuse("node " + config_.name + " is shutting down");
  if (draining_) {
    return refuse("node " + config_.name +
                  " is draining (braid drain): it takes no new tasks; submit to another node, or "
                  "end the drain with `braid drain --cancel`");
  }
  if (tasks_being_stored_ + specs.size() > kTasksBeingStoredMax) {
    return refuse("node " + config_.name + " is still storing " +
                  std::to_string(tasks_being_stored_) + " submitted tasks (at most " +
                  std::to_string(kTasksBeingStoredMax) + " at once): submit again shortly");
  }
  if (specs.empty()) return refuse("a submission needs at least one task");
  // A throttled array is the submission's: its group is the first id's
  // sequence (set once the ids are reserved; non-zero until then).
  for (sched::TaskSpec& spec : specs) {
    if (spec.array_throttle > 0) spec.array_group = tasks_.torus().next_sequence();
  }
  Submission& sub = submissions_.emplace_back();
  sub.serial = next_submission_serial_++;
  tasks_being_stored_ += specs.size();
  sub.specs = std::move(specs);
  auto pair = kj::newPromiseAndFulfiller<kj::Own<rpc::SubmitOutcome>>();
  sub.fulfiller = kj::mv(pair.fulfiller);
  prepare_some(sub.serial);
  return kj::mv(pair.promise);
}

Submissions::Submission* Submissions::find_submission(std::uint64_t serial) {
  auto it = std::find_if(submissions_.begin(), submissions_.end(),
                         [serial](const Submission& s) { return s.serial == serial; });
  return it == submissions_.end() ? nullptr : &*it;
}

void Submissions::prepare_some(std::uint64_t serial) {
  Submission* sub = find_submission(serial);
  if (sub == nullptr) return;
  sched::Torus& torus = tasks_.torus();
  const std::size_t count = sub->specs.size();
  std::size_t budget = kTasksPerTurn;
  const Micros stop_us = clock_.monotonic_us() + kTurnBudgetUs;
  auto spend = [&] {  // one task's worth; the turn ends once time is up too
    --budget;
    if (budget % kTasksPerClockCheck == 0 && clock_.monotonic_us() >= stop_us) budget = 0;
  };
  // 1. Check every spec; pin its dependencies so no purge drops them meanwhile.
  for (; sub->checked < count && budget > 0; ++sub->checked, spend()) {
    const sched::TaskSpec& spec = sub->specs[sub->checked];
    const bool counted = sub->new_accounts.contains(spec.account);
    sched::Status s = torus.check(spec, sub->new_accounts.size() - (counted ? 1 : 0));
    // A task that cannot run here must be able to leave (review16: one too
    // big for a migration offer waited for ever).
    if (s && !spec.constraints.empty() && !travels(spec)) {
      if (auto why = missing_labels(torus.labels(), spec)) {
        s = sched::Error{*why +
                         ", and its arguments and environment are too big to send to "
                         "another node (at most about " +
                         std::to_string(sched::kMaxMigrationMessageBytes / 2 / 1024) + " KiB)"};
      }
    }
    if (!s) {
      end_submission(serial, count == 1 ? s.error().message
                                        : "task " + std::to_string(sub->checked + 1) + ": " +
                                              s.error().message);
      return;
    }
    if (!torus.holds_account(spec.account)) sub->new_accounts.insert(spec.account);
    for (const std::string& dep : spec.after) {
      const TaskKey key = *torus.find(dep);  // check() saw it
      ++pinned_[key];
      sub->pins.push_back(key);
    }
  }
  // 2. Every spec is fine: ids, then the records (one synced batch with the meta).
  if (sub->checked == count && sub->encoded == 0 && sub->first_sequence == 0) {
    sub->first_sequence = torus.reserve_sequences(count);
    reserved_.push_back(serial);
    // The submitter's environment is stored once, under the first id's
    // sequence, and shared by every task (ControlServer gave them one copy).
    std::shared_ptr<const sched::Environment> env;
    if (const auto& given = sub->specs.front().base_env) {
      env = std::make_shared<const sched::Environment>(
          sched::Environment{sub->first_sequence, given->entries});
      sub->batch.put_env(env->id, env->entries);
    }
    for (sched::TaskSpec& spec : sub->specs) {
      if (spec.array_throttle > 0) spec.array_group = sub->first_sequence;
      if (spec.base_env) spec.base_env = env;
    }
  }
  if (sub->checked == count) {
    storage::TaskRecord record;
    record.task.state = TaskState::kQueued;
    record.task.submitted_at_us = tasks_.now_us();
    for (; sub->encoded < count && budget > 0; ++sub->encoded, spend()) {
      record.record_no = sub->first_sequence + sub->encoded;
      record.task.id = torus.make_id(record.record_no);
      record.task.spec = sub->specs[sub->encoded];
      record.env_id = record.task.spec.base_env ? record.task.spec.base_env->id : 0;
      record.task.state = record.task.spec.hold ? TaskState::kHeld : TaskState::kQueued;
      record.task.reason = record.task.spec.hold ? "held" : "";
      sub->batch.put_task(record);
    }
  }
  if (sub->encoded < count) {  // more next turn
    asio::post(io_, lifetime_.guard([this, serial] { prepare_some(serial); }));
    return;
  }
  durability_.store_submission(std::move(sub->batch), [this, serial](const sched::Status& s) {
    on_submission_stored(serial, s);
  });
}

void Submissions::on_submission_stored(std::uint64_t serial, const sched::Status& status) {
  Submission* sub = find_submission(serial);
  if (sub == nullptr) return;
  if (!status) {
    spdlog::error("submission of {} tasks refused: cannot store it: {}", sub->specs.size(),
                  status.error().message);
    end_submission(serial,
                   "cannot store the submission, nothing was submitted: " + status.error().message);
    admit_some();  // it may have held up later, stored ones (admission is in id order)
    return;
  }
  sub->stored = true;
  admit_some();
}

void Submissions::admit_some() {
  admit_posted_ = false;
  // Admission follows id order (reservation order), not commit order: a big
  // submission reserves its ids, then encodes for several turns while a
  // small one may reserve later ids and be stored first. It waits.
  while (!reserved_.empty() && find_submission(reserved_.front()) == nullptr) {
    reserved_.pop_front();  // refused after it reserved (a failed write)
  }
  if (reserved_.empty()) return;
  const std::uint64_t serial = reserved_.front();
  Submission* sub = find_submission(serial);
  if (!sub->stored) return;  // its write's answer calls admit_some() again
  sched::Torus& torus = tasks_.torus();
  const Micros now = tasks_.now_us();
  const Micros stop_us = clock_.monotonic_us() + kTurnBudgetUs;
  const std::size_t end = std::min(sub->specs.size(), sub->admitted + kTasksPerTurn);
  std::vector<TaskKey> admitted;
  admitted.reserve(end - sub->admitted);
  if (sub->admitted == 0) sub->outcome->ids.reserve(sub->specs.size());  // no doubling later
  for (std::size_t n = 1; sub->admitted < end; ++sub->admitted, ++n) {
    if (n % kTasksPerClockCheck == 0 && clock_.monotonic_us() >= stop_us) break;
    const std::uint64_t sequence = sub->first_sequence + sub->admitted;
    auto key = torus.submit_as(torus.make_id(sequence), std::move(sub->specs[sub->admitted]), now,
                               tasks_.actions());
    if (!key) {  // checked before it was stored, and its dependencies pinned
      spdlog::critical("a stored submission no longer fits: {}", key.error().message);
      std::abort();
    }
    durability_.track(key.value(), sequence);
    ++admitted_total_;
    waiters_.note_state(key.value());  // stored as admitted (queued or held): shown so at once
    admitted.push_back(key.value());
    sub->outcome->ids.push_back(torus.task(key.value()).id);
  }
  drop_stored_queued(admitted);
  if (sub->admitted == sub->specs.size()) {
    reserved_.pop_front();
    end_submission(serial, {});
    // Answer first, then start: the reply is written by the KJ turns already
    // queued ahead of this handler, so a client does not wait for the spawns.
    asio::post(io_, lifetime_.guard([this] { tasks_.carry_out(); }));
  } else {
    tasks_.carry_out();
  }
  if (!reserved_.empty() && !admit_posted_) {
    admit_posted_ = true;
    asio::post(io_, lifetime_.guard([this] { admit_some(); }));
  }
}

void Submissions::end_submission(std::uint64_t serial, std::string error) {
  auto it = std::find_if(submissions_.begin(), submissions_.end(),
                         [serial](const Submission& s) { return s.serial == serial; });
  if (it == submissions_.end()) return;
  for (TaskKey key : it->pins) {
    if (--pinned_[key] == 0) pinned_.erase(key);
  }
  tasks_being_stored_ -= it->specs.size();
  kj::Own<rpc::SubmitOutcome> outcome = kj::mv(it->outcome);
  if (!error.empty()) {
    outcome->ids.clear();
    outcome->error = std::move(error);
  }
  it->fulfiller->fulfill(kj::mv(outcome));
  submissions_.erase(it);
  if (submissions_.empty() && on_idle_) on_idle_();  // a shutdown may wait for it
}

// A task admitted as queued (or held) is already stored as such: its
// kPersist would write the same record a second time.
void Submissions::drop_stored_queued(const std::vector<TaskKey>& admitted) {
  if (admitted.empty()) return;
  const TaskKey highest = *std::max_element(admitted.begin(), admitted.end());
  std::vector<bool> fresh(highest + 1, false);
  for (TaskKey key : admitted) fresh[key] = true;
  const sched::Torus& torus = tasks_.torus();
  std::erase_if(tasks_.actions(), [&](const sched::Action& a) {
    return a.kind == sched::Action::Kind::kPersist && a.key <= highest && fresh[a.key] &&
           (torus.task(a.key).state == TaskState::kQueued ||
            torus.task(a.key).state == TaskState::kHeld);
  });
}

}  // namespace braid::node
