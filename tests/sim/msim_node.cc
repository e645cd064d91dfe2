#include "tests/sim/msim_node.h"

#include <algorithm>
#include <set>
#include <utility>

namespace braid::msim {

using sched::Action;
using sched::Actions;
using sched::DonorAction;
using sched::DonorActions;
using sched::HandoffRecord;
using sched::kNoTask;
using sched::ReceiverAction;
using sched::ReceiverActions;
using sched::Task;
using sched::TaskKey;
using sched::TaskState;

namespace {

Micros work_of(const Task& task) { return std::stoll(task.spec.argv.at(1)); }

}  // namespace

Node::Node(std::string name, NodeConfig config, std::uint64_t seed, Ledger& ledger, PeerView& view)
    : name_(std::move(name)),
      config_(std::move(config)),
      seeds_(seed),
      ledger_(ledger),
      view_(view) {}

void Node::build(Micros now_us) {
  sched::TorusConfig tc;
  tc.node_name = name_;
  tc.next_sequence = store_.next_sequence;
  tc.slots = config_.slots;
  tc.policy = sched::Policy::kPriority;
  torus_.emplace(tc);
  balancer_.emplace(config_.balance, seeds_());
  donor_.emplace();
  receiver_.emplace();
  procs_.clear();
  outbox_retry_.clear();
  outgoing_.clear();
  next_balance_us_ = now_us + static_cast<Micros>(seeds_() % config_.balance_interval_us);
  last_balance_us_ = -1;
  up_ = true;
}

void Node::start(Micros now_us) {
  store_ = {};
  build(now_us);
  DonorActions d;
  (void)donor_->restore({}, 0, now_us, d);
  apply(d, now_us);
  ReceiverActions r;
  (void)receiver_->restore({}, {}, now_us, r);
  apply(r, now_us);
}

void Node::crash() {
  for (const auto& [key, proc] : procs_) ledger_.crash_lost(proc.id, name_);
  torus_.reset();
  balancer_.reset();
  donor_.reset();
  receiver_.reset();
  procs_.clear();
  outbox_retry_.clear();
  outgoing_.clear();
  up_ = false;
}

void Node::restart(Micros now_us, const std::vector<std::string>& dead_peers) {
  build(now_us);
  Actions out;
  // The torus from its records; started tasks are requeued, as braidd's recover() does.
  std::vector<Task> records;
  records.reserve(store_.tasks.size());
  for (const auto& [id, task] : store_.tasks) records.push_back(task);
  std::sort(records.begin(), records.end(), [](const Task& a, const Task& b) {
    return a.submitted_at_us != b.submitted_at_us ? a.submitted_at_us < b.submitted_at_us
                                                  : a.id < b.id;
  });
  for (Task& record : records) {
    const bool started = sched::is_started(record.state);
    if (started) {
      record.reason = "node restarted";
      if (record.node_requeues < config_.max_node_requeues) {
        record.state = TaskState::kQueued;
        record.attempts = std::max(0, record.attempts - 1);
        ++record.node_requeues;
      } else {
        record.state = TaskState::kFailed;
        record.finished_at_us = now_us;
      }
    }
    const std::string id = record.id;
    sched::Result<TaskKey> key = torus_->restore(std::move(record), now_us, out);
    if (!key) {
      ledger_.violation(name_ + ": restore refused: " + key.error().message);
      continue;
    }
    if (started) persist(key.value(), now_us);
  }
  // A task migrating with no migrating journal entry is ours again.
  std::set<std::string> migrating;
  std::vector<HandoffRecord> journal;
  for (const auto& [k, record] : store_.journal) {
    journal.push_back(record);
    if (record.state == sched::HandoffState::kMigrating) migrating.insert(record.task_id);
  }
  for (TaskKey k = 0; k < torus_->task_count(); ++k) {
    if (!torus_->exists(k) || torus_->task(k).state != TaskState::kMigrating) continue;
    if (!migrating.contains(torus_->task(k).id)) (void)torus_->abort_migration(k, now_us, out);
  }
  apply(out, now_us);
  DonorActions d;
  if (sched::Status s = donor_->restore(journal, store_.epoch_floor, now_us, d); !s) {
    ledger_.violation(name_ + ": donor restore: " + s.error().message);
  }
  apply(d, now_us);
  std::vector<sched::Fence> fences;
  for (const auto& [k, epoch] : store_.fences) fences.push_back({k.first, k.second, epoch});
  std::vector<sched::HeldAdoption> held;
  for (const auto& [id, h] : store_.held) held.push_back(h.adoption);
  ReceiverActions r;
  if (sched::Status s = receiver_->restore(fences, held, now_us, r); !s) {
    ledger_.violation(name_ + ": receiver restore: " + s.error().message);
  }
  apply(r, now_us);
  for (const std::string& peer : dead_peers) on_peer_dead(peer, now_us);
  for (const auto& [id, report] : store_.outbox) send_outcome(id, now_us);
  out.clear();
  torus_->trigger(now_us, out);
  apply(out, now_us);
}

std::string Node::submit(Micros work_us, Micros now_us) {
  sched::TaskSpec spec;
  spec.argv = {"work", std::to_string(work_us)};
  Actions out;
  sched::Result<TaskKey> key = torus_->submit(std::move(spec), now_us, out);
  BRAID_CHECK(key.ok(), key.error().message);
  store_.next_sequence = torus_->next_sequence();
  const std::string id = torus_->task(key.value()).id;
  ledger_.submitted(id, work_us, now_us);
  apply(out, now_us);
  return id;
}

void Node::persist(TaskKey key, Micros now_us) {
  const Task& task = torus_->task(key);
  store_.tasks[task.id] = task;
  // A task that ended here for another origin: its outcome goes home.
  if (!sched::is_terminal(task.state) || sched::origin_of(task.id) == name_) return;
  if (store_.reported.contains(task.id) || store_.outbox.contains(task.id)) return;
  sched::OutcomeReport report;
  report.task_id = task.id;
  report.executor = name_;
  report.state = task.state;
  report.exit = task.exit;
  report.reason = task.reason;
  report.started_at_us = task.started_at_us;
  report.finished_at_us = task.finished_at_us;
  report.attempts = task.attempts;
  report.cpu_time_us = task.cpu_time_us;
  store_.outbox[task.id] = report;
  send_outcome(task.id, now_us);
}

void Node::send_outcome(const std::string& id, Micros now_us) {
  send(std::string(sched::origin_of(id)), store_.outbox.at(id));
  Retry& retry = outbox_retry_[id];
  retry.backoff_us = retry.backoff_us == 0
                         ? config_.outcome_retry_min_us
                         : std::min(2 * retry.backoff_us, config_.outcome_retry_max_us);
  retry.due_us = now_us + retry.backoff_us;
}

void Node::send(const std::string& to, Body body) {
  outgoing_.push_back({to, sched::MigrationMessage{name_, "", std::move(body)}});
}

TaskKey Node::key_of(const std::string& id) const { return torus_->find(id).value_or(kNoTask); }

void Node::apply(const Actions& actions, Micros now_us) {
  for (const Action& a : actions) {
    const Task& task = torus_->task(a.key);
    switch (a.kind) {
      case Action::Kind::kStart:
        if (procs_.contains(a.key)) ledger_.violation(name_ + ": started twice: " + task.id);
        procs_[a.key] = Proc{task.id, work_of(task), now_us, false, false};
        ledger_.started(task.id, name_);
        break;
      case Action::Kind::kStop: {
        Proc& p = procs_.at(a.key);
        p.work_left_us -= now_us - p.since_us;
        p.stopped = true;
        break;
      }
      case Action::Kind::kResume: {
        Proc& p = procs_.at(a.key);
        p.since_us = now_us;
        p.stopped = false;
        break;
      }
      case Action::Kind::kKill: {
        Proc& p = procs_.at(a.key);
        p = Proc{p.id, 0, now_us, false, true};
        break;
      }
      case Action::Kind::kPersist:
        persist(a.key, now_us);
        break;
    }
  }
}

void Node::apply(const DonorActions& actions, Micros now_us) {
  for (const DonorAction& a : actions) {
    const HandoffRecord& r = a.record;
    switch (a.kind) {
      case DonorAction::Kind::kPersist:
        store_.journal[{r.task_id, r.epoch}] = r;
        break;
      case DonorAction::Kind::kErase:
        store_.journal.erase({r.task_id, r.epoch});
        break;
      case DonorAction::Kind::kPersistEpochs:
        store_.epoch_floor = r.epoch;
        break;
      case DonorAction::Kind::kSendOffer: {
        const TaskKey k = key_of(r.task_id);
        if (k == kNoTask || torus_->task(k).state != TaskState::kMigrating) {
          ledger_.violation(name_ + ": offer of a task not migrating: " + r.task_id);
          break;
        }
        const Task& t = torus_->task(k);
        send(r.peer, sched::HandoffOffer{
                         r.epoch, sched::MigratingTask{t.id, t.spec, t.submitted_at_us, t.attempts,
                                                       t.node_requeues, t.hops + 1}});
        break;
      }
      case DonorAction::Kind::kSendQuery:
        send(r.peer, sched::HandoffQuery{r.task_id, r.epoch});
        break;
      case DonorAction::Kind::kDropLocal:
      case DonorAction::Kind::kRequeue: {
        const TaskKey k = key_of(r.task_id);
        const bool moved = a.kind == DonorAction::Kind::kDropLocal;
        Actions out;
        const sched::Status s = moved ? torus_->finish_migration(k, r.peer, now_us, out)
                                      : torus_->abort_migration(k, now_us, out);
        if (!s) ledger_.violation(name_ + ": " + s.error().message);
        apply(out, now_us);
        balancer_->offer_ended(r.peer, k, moved, now_us);
        ++(moved ? counters_.moved_out : counters_.requeued);
        break;
      }
      case DonorAction::Kind::kRecordRefusal:
        break;  // no torus operation records it yet
      case DonorAction::Kind::kSendConfirm:
        send(r.peer, sched::HandoffConfirm{r.task_id, r.epoch, a.go});
        break;
    }
  }
}

void Node::apply(const ReceiverActions& actions, Micros now_us,
                 const sched::MigratingTask* offered) {
  for (const ReceiverAction& a : actions) {
    const sched::Fence& f = a.fence;
    switch (a.kind) {
      case ReceiverAction::Kind::kAdopt:
        if (offered == nullptr || offered->id != f.task_id) {
          ledger_.violation(name_ + ": adopt without the offer: " + f.task_id);
          break;
        }
        store_.held[f.task_id] = HeldTask{{f.task_id, f.donor, f.epoch}, *offered};
        break;
      case ReceiverAction::Kind::kPersistFence:
        store_.fences[{f.task_id, f.donor}] = f.epoch;
        break;
      case ReceiverAction::Kind::kSendAnswer:
        send(f.donor, sched::HandoffAnswer{f.task_id, f.epoch, sched::kind_of(a.answer), a.reason});
        break;
      case ReceiverAction::Kind::kSendConfirmQuery:
        send(f.donor, sched::HandoffConfirmQuery{f.task_id, f.epoch});
        break;
      case ReceiverAction::Kind::kRelease:
        release(f.task_id, now_us);
        break;
      case ReceiverAction::Kind::kDiscard:
        store_.held.erase(f.task_id);
        break;
    }
  }
}

void Node::release(const std::string& id, Micros now_us) {
  const auto it = store_.held.find(id);
  if (it == store_.held.end()) {
    ledger_.violation(name_ + ": released a task not held: " + id);
    return;
  }
  if (key_of(id) != kNoTask) {
    ledger_.violation(name_ + ": released a task it has already: " + id);
    store_.held.erase(it);
    return;
  }
  const sched::MigratingTask& m = it->second.task;
  Task record;
  record.id = m.id;
  record.spec = m.spec;
  record.state = TaskState::kQueued;
  record.submitted_at_us = m.submitted_at_us;
  record.attempts = m.attempts;
  record.node_requeues = m.node_requeues;
  record.hops = m.hops;
  record.adopted_from = it->second.adoption.donor;
  record.reason = "adopted from " + record.adopted_from;
  store_.held.erase(it);
  Actions out;
  sched::Result<TaskKey> key = torus_->restore(std::move(record), now_us, out);
  if (!key) {
    ledger_.violation(name_ + ": release refused: " + key.error().message);
    return;
  }
  persist(key.value(), now_us);
  torus_->trigger(now_us, out);
  apply(out, now_us);
  ++counters_.released;
}

void Node::receive(const sched::MigrationMessage& message, Micros now_us) {
  if (!up_) return;
  const std::string& from = message.from;
  DonorActions d;
  ReceiverActions r;
  if (const auto* m = std::get_if<sched::HandoffOffer>(&message.body)) {
    const TaskKey k = key_of(m->task.id);
    const bool forwarded = k != kNoTask && torus_->task(k).state == TaskState::kMoved;
    const bool have = k != kNoTask && !forwarded;
    if (have && torus_->task(k).adopted_from != from) {
      ledger_.violation(name_ + ": offered a task it owns by another way: " + m->task.id);
    }
    std::optional<std::string> cannot_run;
    if (forwarded) cannot_run = "forwarded it before";
    const sched::LocalLoad local = local_load();
    const std::int64_t backlog = static_cast<std::int64_t>(local.queued) +
                                 static_cast<std::int64_t>(store_.held.size()) - local.free_slots;
    if (!have && !forwarded && config_.refuse_at_backlog >= 0 &&
        backlog >= config_.refuse_at_backlog && !store_.held.contains(m->task.id)) {
      cannot_run = "busy";
      ++counters_.refused_busy;
    }
    receiver_->on_offer(m->task.id, from, m->epoch, have, cannot_run, now_us, r);
    apply(r, now_us, &m->task);
  } else if (const auto* m = std::get_if<sched::HandoffAnswer>(&message.body)) {
    donor_->on_answer(m->task_id, m->epoch, from, sched::answer_of(m->kind), m->reason, now_us, d);
    apply(d, now_us);
  } else if (const auto* m = std::get_if<sched::HandoffQuery>(&message.body)) {
    // "have": this node adopted the task from that donor (a forwarding
    // pointer counts: it did adopt it). Not the origin's own record.
    const TaskKey k = key_of(m->task_id);
    const bool have = k != kNoTask && torus_->task(k).adopted_from == from;
    receiver_->on_query(m->task_id, from, m->epoch, have, r);
    apply(r, now_us);
  } else if (const auto* m = std::get_if<sched::HandoffConfirmQuery>(&message.body)) {
    donor_->on_confirm_query(m->task_id, m->epoch, from, now_us, d);
    apply(d, now_us);
  } else if (const auto* m = std::get_if<sched::HandoffConfirm>(&message.body)) {
    receiver_->on_confirm(m->task_id, from, m->epoch, m->go, now_us, r);
    apply(r, now_us);
  } else if (const auto* m = std::get_if<sched::OutcomeReport>(&message.body)) {
    on_outcome(from, *m, now_us);
  } else if (const auto* m = std::get_if<sched::OutcomeAck>(&message.body)) {
    if (store_.outbox.erase(m->task_id) > 0) store_.reported.insert(m->task_id);
    outbox_retry_.erase(m->task_id);
  } else if (const auto* m = std::get_if<sched::WorkRequest>(&message.body)) {
    const sched::LocalLoad local = local_load();
    if (local.queued > local.free_slots) {
      for (const sched::Offer& offer :
           balancer_->answer_pull(local, movable(), {from, m->slots}, now_us)) {
        begin(offer, now_us);
      }
    }
  }
}

void Node::on_outcome(const std::string& from, const sched::OutcomeReport& report, Micros now_us) {
  const TaskKey k = key_of(report.task_id);
  if (k == kNoTask) {
    ledger_.violation(name_ + ": outcome of an unknown task: " + report.task_id);
  } else if (torus_->task(k).state == TaskState::kMoved) {
    Actions out;
    if (sched::Status s = torus_->apply_outcome(k, report, now_us, out); !s) {
      ledger_.violation(name_ + ": " + s.error().message);
    }
    apply(out, now_us);
    ++counters_.outcomes_applied;
  } else if (!sched::is_terminal(torus_->task(k).state)) {
    ledger_.violation(name_ + ": outcome of " + report.task_id + " while it is " +
                      std::string(sched::to_string(torus_->task(k).state)));
    return;  // not acked
  }
  send(from, sched::OutcomeAck{report.task_id});
}

void Node::on_peer_dead(const std::string& peer, Micros now_us) {
  if (!up_) return;
  DonorActions d;
  donor_->on_peer_dead(peer, now_us, d);
  apply(d, now_us);
  ReceiverActions r;
  receiver_->on_peer_dead(peer, now_us, r);
  apply(r, now_us);
}

void Node::on_peer_alive(const std::string& peer, Micros now_us) {
  if (!up_) return;
  DonorActions d;
  donor_->on_peer_alive(peer, now_us, d);
  apply(d, now_us);
  ReceiverActions r;
  receiver_->on_peer_alive(peer, now_us, r);
  apply(r, now_us);
}

void Node::exits(Micros now_us) {
  std::vector<TaskKey> done;
  for (const auto& [key, p] : procs_) {
    if (!p.stopped && p.since_us + p.work_left_us <= now_us) done.push_back(key);
  }
  for (TaskKey key : done) {
    const Proc p = procs_.at(key);
    procs_.erase(key);
    ledger_.exited(p.id, name_);
    Actions out;
    const sched::ExitStatus status =
        p.killed ? sched::ExitStatus::signaled(9) : sched::ExitStatus::exited(0);
    if (sched::Status s = torus_->on_exit(key, status, now_us, out); !s) {
      ledger_.violation(name_ + ": " + s.error().message);
    }
    if (!p.killed && torus_->task(key).state == TaskState::kCompleted) {
      ledger_.completed(p.id, name_, now_us);
    }
    apply(out, now_us);
  }
  if (!done.empty() && config_.round_on_exit) {
    const Micros earliest =
        last_balance_us_ < 0 ? now_us : last_balance_us_ + config_.balance_interval_us;
    next_balance_us_ = std::min(next_balance_us_, std::max(now_us, earliest));
  }
}

void Node::wake(Micros now_us) {
  if (!up_) return;
  exits(now_us);
  if (torus_->next_tick_us() <= now_us) {
    Actions out;
    torus_->tick(now_us, out);
    apply(out, now_us);
  }
  if (donor_->next_tick_us() <= now_us) {
    DonorActions d;
    donor_->tick(now_us, d);
    apply(d, now_us);
  }
  if (receiver_->next_tick_us() <= now_us) {
    ReceiverActions r;
    receiver_->tick(now_us, r);
    apply(r, now_us);
  }
  std::vector<std::string> due;
  for (const auto& [id, retry] : outbox_retry_) {
    if (retry.due_us <= now_us) due.push_back(id);
  }
  for (const std::string& id : due) send_outcome(id, now_us);
  if (next_balance_us_ <= now_us) {
    if (balance(now_us)) last_balance_us_ = now_us;
    next_balance_us_ = now_us + config_.balance_interval_us;
  }
}

Micros Node::next_wake_us() const {
  if (!up_) return sched::kNever;
  Micros t = std::min({torus_->next_tick_us(), donor_->next_tick_us(), receiver_->next_tick_us(),
                       next_balance_us_});
  for (const auto& [key, p] : procs_) {
    if (!p.stopped) t = std::min(t, p.since_us + p.work_left_us);
  }
  for (const auto& [id, retry] : outbox_retry_) t = std::min(t, retry.due_us);
  return t;
}

sched::LocalLoad Node::local_load() const {
  const sched::TorusStats s = torus_->stats();
  return {static_cast<std::uint32_t>(s.count(TaskState::kQueued)),
          static_cast<std::uint32_t>(config_.slots),
          static_cast<std::uint32_t>(std::max(0, config_.slots - s.slots_busy))};
}

sched::PeerLoad Node::load() const {
  sched::PeerLoad p;
  p.name = name_;
  if (!up_) return p;
  const sched::TorusStats s = torus_->stats();
  const sched::LocalLoad local = local_load();
  p.queued = local.queued;
  p.running = static_cast<std::uint32_t>(s.count(TaskState::kRunning));
  p.slots = local.slots;
  p.free_slots = local.free_slots;
  p.top_queued_priority = torus_->top_queued_priority();
  return p;
}

std::vector<sched::MovableTask> Node::movable() const {
  std::vector<sched::MovableTask> tasks;
  for (TaskKey k = 0; k < torus_->task_count(); ++k) {
    if (!torus_->exists(k)) continue;
    const Task& t = torus_->task(k);
    if (!sched::may_migrate(t, t.hops, config_.balance)) continue;
    tasks.push_back({k, t.spec.priority, t.spec.cpus, t.submitted_at_us, t.hops});
  }
  return tasks;
}

void Node::begin(const sched::Offer& offer, Micros now_us) {
  Actions out;
  if (!torus_->begin_migration(offer.key, now_us, out)) {
    apply(out, now_us);
    balancer_->offer_ended(offer.peer, offer.key, false, now_us);
    return;
  }
  DonorActions d;
  if (!donor_->begin(torus_->task(offer.key).id, offer.peer, now_us, d)) {
    (void)torus_->abort_migration(offer.key, now_us, out);
    apply(out, now_us);
    balancer_->offer_ended(offer.peer, offer.key, false, now_us);
    return;
  }
  apply(out, now_us);
  ++counters_.offers_begun;
  apply(d, now_us);
}

bool Node::balance(Micros now_us) {
  const sched::LocalLoad local = local_load();
  bool acted = false;
  if (balancer_->wants_push(local)) {
    const std::vector<sched::PeerLoad>& peers = view_.peers(name_, now_us);
    for (const sched::Offer& offer : balancer_->push(local, movable(), peers, now_us)) {
      begin(offer, now_us);
      acted = true;
    }
  } else {
    const std::vector<sched::PeerLoad>& peers = view_.peers(name_, now_us);
    if (std::optional<sched::PullRequest> request = balancer_->pull(local, peers, now_us)) {
      ++counters_.pulls;
      send(request->peer, sched::WorkRequest{request->slots});
      acted = true;
    }
  }
  return acted;
}

bool Node::settled() const {
  return up_ && donor_->entries() == 0 && receiver_->held_count() == 0 && store_.outbox.empty() &&
         store_.held.empty();
}

}  // namespace braid::msim
