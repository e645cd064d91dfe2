#include "node/migration.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "gossip/membership.h"
#include "node/drain.h"
#include "node/migration_checks.h"
#include "node/peers_glue.h"

namespace braid::node {
namespace {

using sched::Micros;
using sched::TaskKey;
using sched::TaskState;

sched::HandoffState state_of(std::uint8_t stored) {
  switch (stored) {
    case storage::kHandoffMoved:
      return sched::HandoffState::kMoved;
    case storage::kHandoffReclaimed:
      return sched::HandoffState::kReclaimed;
    default:
      return sched::HandoffState::kMigrating;
  }
}

std::uint8_t stored_state(sched::HandoffState state) {
  switch (state) {
    case sched::HandoffState::kMoved:
      return storage::kHandoffMoved;
    case sched::HandoffState::kReclaimed:
      return storage::kHandoffReclaimed;
    case sched::HandoffState::kMigrating:
      break;
  }
  return storage::kHandoffMigrating;
}

}  // namespace

Migration::Migration(asio::io_context& io, const Clock& clock, Tasks& tasks, Durability& durability,
                     Peers& peers, MigrationOptions options)
    : io_(io),
      clock_(clock),
      tasks_(tasks),
      durability_(durability),
      peers_(peers),
      options_(std::move(options)),
      balancer_(options_.balance, options_.seed),
      round_timer_(io),
      tick_timer_(io),
      grace_timer_(io),
      outcome_timer_(io),
      backlog_timer_(io) {}

sched::Status Migration::start() {
  auto loaded = durability_.load_migration();
  if (!loaded) return loaded.error();
  const Micros now = now_us();
  sched::Torus& torus = tasks_.torus();

  std::vector<sched::HandoffRecord> journal;
  std::set<std::string> migrating_ids;
  std::set<std::string> moved_ids;
  std::set<std::string> peers;
  for (const storage::HandoffRecord& r : loaded.value().journal) {
    journal.push_back({r.task_id, r.peer, r.epoch, state_of(r.state)});
    if (r.state == storage::kHandoffMigrating) migrating_ids.insert(r.task_id);
    if (r.state == storage::kHandoffMoved) moved_ids.insert(r.task_id);
    if (r.state != storage::kHandoffMoved) peers.insert(r.peer);
  }
  // A task stored migrating without a migrating journal entry: the crash came
  // between the two writes. Moved in the journal: it left (the two writes are
  // not atomic); else it never left: queued again.
  for (TaskKey key = 0; key < torus.task_count(); ++key) {
    if (!torus.exists(key) || torus.task(key).state != TaskState::kMigrating) continue;
    const std::string& id = torus.task(key).id;
    if (migrating_ids.contains(id)) continue;
    for (const sched::HandoffRecord& r : journal) {
      if (r.task_id == id && r.state == sched::HandoffState::kMoved) {
        (void)torus.begin_migration(key, tasks_.now_us(), tasks_.actions());
        (void)torus.finish_migration(key, r.peer, tasks_.now_us(), tasks_.actions());
      }
    }
    if (torus.task(key).state == TaskState::kMigrating) {
      (void)torus.abort_migration(key, tasks_.now_us(), tasks_.actions());
    }
  }
  sched::DonorActions donor_out;
  if (auto s = donor_.restore(journal, loaded.value().epoch_floor, now, donor_out); !s) return s;

  std::vector<sched::Fence> fences;
  for (const storage::FenceRecord& f : loaded.value().fences) {
    fences.push_back({f.task_id, f.donor, f.epoch});
  }
  std::vector<sched::HeldAdoption> held;
  for (TaskKey key = 0; key < torus.task_count(); ++key) {
    if (!torus.exists(key)) continue;
    const sched::Task& t = torus.task(key);
    if (t.adoption_epoch != 0 && t.state == TaskState::kHeld) {
      held.push_back({t.id, t.adopted_from, t.adoption_epoch});
    }
  }
  sched::ReceiverActions receiver_out;
  if (auto s = receiver_.restore(fences, held, now, receiver_out); !s) return s;
  for (const storage::OutcomeReport& r : loaded.value().outbox) outbox_.emplace(r.task_id, r);
  durability_.set_outcome_listener(
      lifetime_.guard([this](const storage::OutcomeReport& r) { owe(r); }));

  peers_.set_on_migration(
      lifetime_.guard([this](sched::MigrationMessage m) { on_message(std::move(m)); }));
  peers_.add_member_listener(lifetime_.guard([this](const gossip::Event& e) { on_member(e); }));
  tasks_.carry_out();
  run(std::move(donor_out));
  run(std::move(receiver_out), nullptr);
  // Peers of the journal that gossip reports alive meanwhile are asked; the
  // others are dead after the grace (their migrating tasks come back).
  journal_peers_.assign(peers.begin(), peers.end());
  grace_timer_.expires_after(std::chrono::microseconds(options_.restart_grace_us));
  grace_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec) return;
    for (const std::string& peer : journal_peers_) {
      bool alive = false;
      for (const gossip::Member& m : peers_.members()) {
        alive |= m.name == peer && gossip::is_live(m.state);
      }
      if (alive) continue;
      sched::DonorActions d;
      donor_.on_peer_dead(peer, now_us(), d);
      run(std::move(d));
    }
  }));
  arm_round();
  send_outcomes("");
  arm_backlog();
  return sched::ok_status();
}

void Migration::on_load_changed() { arm_round(); }

rpc::DrainView Migration::set_draining(bool draining) {
  if (draining && !draining_) arm_round();
  draining_ = draining;
  return drain_view(tasks_.torus(), draining_, options_.balancing ? &options_.balance : nullptr);
}

void Migration::arm_round() {
  if (round_armed_ || stopped_ || !options_.balancing) return;
  round_armed_ = true;
  const Micros now = now_us();
  const Micros due =
      last_round_us_ < 0 ? now : std::max(now, last_round_us_ + options_.round_interval_us);
  round_timer_.expires_after(std::chrono::microseconds(due - now));
  round_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    round_armed_ = false;
    if (!ec) round();
  }));
}

void Migration::round() {
  if (stopped_ || tasks_.shutting_down()) return;
  last_round_us_ = now_us();
  ++stats_.rounds;
  const sched::Torus& torus = tasks_.torus();
  const gossip::Load own = load_of(torus, true);
  // Draining, every queued task is in excess: none waits for a local slot.
  const sched::LocalLoad local{own.queued, own.slots, draining_ ? 0 : own.free_slots};
  std::vector<sched::PeerLoad> peers;
  for (const gossip::Member& m : peers_.members()) {
    if (m.name == peers_.name() || m.state != gossip::MemberState::kAlive || m.load_version == 0) {
      continue;
    }
    peers.push_back({m.name, m.load.queued, m.load.running, m.load.slots, m.load.free_slots,
                     m.load.top_queued_priority, m.load.accepting,
                     std::max<Micros>(0, now_us() - m.load_measured_us), m.load_version});
  }
  if (peers.empty()) return;
  std::vector<sched::MovableTask> movable;
  if (local.queued > local.free_slots || torus.queued_elsewhere() > 0) movable = movable_tasks();
  for (const sched::Offer& o : balancer_.push(local, std::move(movable), peers, now_us())) {
    offer(o);
  }
  if (auto pull = balancer_.pull(local, peers, now_us())) {
    send(pull->peer, {{}, {}, sched::WorkRequest{pull->slots}});
  }
}

void Migration::offer(const sched::Offer& o) {
  sched::Torus& torus = tasks_.torus();
  if (!torus.exists(o.key)) return;
  const std::string id = torus.task(o.key).id;
  auto task = migrating_task(id);
  if (!task) return;
  if (!torus.begin_migration(o.key, tasks_.now_us(), tasks_.actions())) return;
  sched::DonorActions out;
  if (!donor_.begin(id, o.peer, now_us(), out)) {
    (void)torus.abort_migration(o.key, tasks_.now_us(), tasks_.actions());
    balancer_.offer_ended(o.peer, o.key, false, now_us());
    tasks_.carry_out();
    return;
  }
  ++stats_.offers_made;
  tasks_.carry_out();
  run(std::move(out));
}

std::vector<sched::MovableTask> Migration::movable_tasks() const {
  // Oldest first (admission order). Enough tasks of the top queued priority
  // end the scan: the balancer offers highest priority first, at most
  // max_offers, so the rest of a long queue need not be looked at.
  const sched::Torus& torus = tasks_.torus();
  const int top = torus.top_queued_priority();
  const std::size_t enough = static_cast<std::size_t>(options_.balance.max_offers);
  std::vector<sched::MovableTask> movable;
  std::size_t at_top = 0;
  tasks_.for_each_admitted(0, [&](std::uint64_t, TaskKey key) {
    const sched::Task& t = torus.task(key);
    if (sched::may_migrate(t, t.hops, options_.balance) && travels(t.spec)) {
      movable.push_back(
          {key, t.spec.priority, t.spec.cpus, t.submitted_at_us, t.hops, !torus.runs_here(t)});
      at_top += t.spec.priority >= top;
    }
    return at_top < enough;
  });
  return movable;
}

std::optional<TaskKey> Migration::key_of(const std::string& task_id) const {
  return tasks_.torus().find(task_id);
}

std::optional<sched::MigratingTask> Migration::migrating_task(const std::string& task_id) const {
  auto key = key_of(task_id);
  if (!key) return std::nullopt;
  const sched::Task& t = tasks_.torus().task(*key);
  sched::MigratingTask m;
  m.id = t.id;
  m.spec = t.spec;
  m.spec.after.clear();  // met here already: none travel
  m.spec.after_kinds.clear();
  m.spec.hold = false;
  m.submitted_at_us = t.submitted_at_us;
  m.attempts = t.attempts;
  m.node_requeues = t.node_requeues;
  m.hops = t.hops + 1;
  return m;
}

void Migration::send(const std::string& to, sched::MigrationMessage message) {
  peers_.send_migration(to, std::move(message));
}

void Migration::on_message(sched::MigrationMessage message) {
  if (stopped_) return;
  const std::string from = message.from;
  // Only live members are dealt with: a name gossip does not know could
  // never be declared dead, so whatever was offered to it would wait for ever.
  if (!peers_.is_live_member(from)) {
    ++stats_.from_non_members;
    return;
  }
  const Micros now = now_us();
  if (const auto* offered = std::get_if<sched::HandoffOffer>(&message.body)) {
    on_offer(from, *offered);
  } else if (const auto* a = std::get_if<sched::HandoffAnswer>(&message.body)) {
    if (a->kind == sched::HandoffAnswerKind::kRefused)
      refusals_.add(RefusalSide::kByPeers, a->reason);
    sched::DonorActions out;
    donor_.on_answer(a->task_id, a->epoch, from, sched::answer_of(a->kind), a->reason, now, out);
    if (auto key = key_of(a->task_id)) {
      const bool accepted = a->kind == sched::HandoffAnswerKind::kAccepted ||
                            a->kind == sched::HandoffAnswerKind::kHave;
      // "busy" passes; labels, a missing program or directory will hold.
      const bool lasting = a->kind == sched::HandoffAnswerKind::kRefused && a->reason != "busy";
      balancer_.offer_ended(from, *key, accepted, now, lasting);
    }
    run(std::move(out));
  } else if (const auto* q = std::get_if<sched::HandoffQuery>(&message.body)) {
    // "have": adopted from that donor (held or not), not a task that left.
    auto key = key_of(q->task_id);
    const bool have = key && tasks_.torus().task(*key).adopted_from == from &&
                      tasks_.torus().task(*key).state != TaskState::kMoved;
    sched::ReceiverActions out;
    receiver_.on_query(q->task_id, from, q->epoch, have, out);
    run(std::move(out), nullptr);
  } else if (const auto* cq = std::get_if<sched::HandoffConfirmQuery>(&message.body)) {
    sched::DonorActions out;
    donor_.on_confirm_query(cq->task_id, cq->epoch, from, now, out);
    run(std::move(out));
  } else if (const auto* c = std::get_if<sched::HandoffConfirm>(&message.body)) {
    sched::ReceiverActions out;
    receiver_.on_confirm(c->task_id, from, c->epoch, c->go, now, out);
    run(std::move(out), nullptr);
  } else if (const auto* w = std::get_if<sched::WorkRequest>(&message.body)) {
    // At most one answer per peer per half pull interval (a peer that asks
    // more often costs a scan each time).
    Micros& answered = pull_answered_us_[from];
    if (!options_.balancing ||
        (answered > 0 && now - answered < options_.balance.pull_interval_us / 2)) {
      ++stats_.pulls_ignored;
      arm_tick();
      return;
    }
    answered = now;
    const gossip::Load own = load_of(tasks_.torus(), true);
    const sched::LocalLoad local{own.queued, own.slots, draining_ ? 0 : own.free_slots};
    for (const sched::Offer& o :
         balancer_.answer_pull(local, movable_tasks(), {from, w->slots}, now)) {
      offer(o);
    }
  } else if (const auto* report = std::get_if<sched::OutcomeReport>(&message.body)) {
    on_outcome(from, *report);
  } else if (const auto* ack = std::get_if<sched::OutcomeAck>(&message.body)) {
    auto owed = outbox_.find(ack->task_id);
    if (owed != outbox_.end() && owed->second.origin == from) {
      outbox_.erase(owed);
      ++stats_.outcomes_acked;
      storage::Batch batch;
      batch.delete_outcome(ack->task_id);
      durability_.store(std::move(batch), {});  // lost in a crash: sent again, acked again
    }
  }
  arm_tick();
}

std::optional<std::string> Migration::cannot_run(const sched::MigratingTask& task) const {
  if (tasks_.shutting_down()) return "shutting down";
  if (!options_.balancing) return "migration is off on this node (braidd --no-migrate)";
  if (draining_) return "draining";
  const sched::TorusStats s = tasks_.torus().stats();
  // Tasks waiting here for a node with their labels do not take its slots.
  const auto queued =
      static_cast<std::uint32_t>(s.count(TaskState::kQueued) - tasks_.torus().queued_elsewhere());
  const auto free_slots = static_cast<std::uint32_t>(std::max(0, s.slots - s.slots_busy));
  const auto slots = static_cast<std::uint32_t>(std::max(0, s.slots));
  if (!sched::accepts_offer({queued, slots, free_slots},
                            static_cast<std::uint32_t>(receiver_.held_count()), options_.balance)) {
    return "busy";  // at its target backlog (held adoptions counted)
  }
  if (auto fits = tasks_.torus().check(task.spec); !fits) return fits.error().message;
  if (auto why = missing_labels(tasks_.torus().labels(), task.spec)) return why;
  return missing_for(task.spec);
}

void Migration::on_offer(const std::string& from, const sched::HandoffOffer& offer) {
  const sched::Torus& torus = tasks_.torus();
  auto key = key_of(offer.task.id);
  const bool have = key && torus.task(*key).state != TaskState::kMoved;
  std::optional<std::string> why;
  if (!have && !receiver_.held(offer.task.id)) {
    // An id in this node's own id space is adopted only as one of its own
    // tasks coming back: any other would collide with its own submissions.
    const bool own_space = offer.task.id.starts_with(peers_.name() + ":");
    if (own_space && !key) {
      why = "the id " + offer.task.id + " is in this node's id space but not a task it moved";
    } else {
      why = cannot_run(offer.task);
    }
  }
  if (why) ++stats_.refused_by_us;
  sched::ReceiverActions out;
  receiver_.on_offer(offer.task.id, from, offer.epoch, have, why, now_us(), out);
  run(std::move(out), &offer.task);
}

void Migration::adopt(const sched::MigratingTask& task, const std::string& donor,
                      sched::Epoch epoch, storage::Batch& batch) {
  sched::Torus& torus = tasks_.torus();
  const auto known = key_of(task.id);
  if (known && torus.task(*known).state == TaskState::kHeld &&
      torus.task(*known).adoption_epoch != 0) {
    // A newer offer of a task already held from this donor: the new epoch.
    (void)torus.mark_adoption(*known, donor, epoch, task.hops, tasks_.actions());
    tasks_.carry_out();
    return;
  }
  sched::TaskSpec spec = task.spec;
  spec.hold = true;
  storage::Batch env;
  std::uint64_t record_no = 0;
  if (known) {
    // A task coming back (take_back): its environment is stored here already,
    // under the record's own id; where it went from here is stale now.
    spec.base_env = torus.task(*known).spec.base_env;
    sched::DonorActions stale;
    donor_.forget_moved(task.id, stale);
    for (const sched::DonorAction& a : stale)
      batch.delete_handoff(a.record.task_id, a.record.epoch);
  } else {
    record_no = torus.reserve_sequences(1);
    if (spec.base_env) {
      spec.base_env = std::make_shared<const sched::Environment>(
          sched::Environment{record_no, spec.base_env->entries});
      env.put_env(record_no, spec.base_env->entries);
      durability_.store(std::move(env), {});  // before the record that names it
    }
  }
  auto key = torus.submit_as(task.id, std::move(spec), tasks_.now_us(), tasks_.actions());
  if (!key) {
    spdlog::warn("migration: cannot adopt {} from {}: {}", task.id, donor, key.error().message);
    return;
  }
  if (!known) durability_.track(key.value(), record_no);
  (void)torus.mark_adoption(key.value(), donor, epoch, task.hops, tasks_.actions());
  ++stats_.adopted;
  tasks_.carry_out();
}

void Migration::run(sched::DonorActions actions) {
  storage::Batch batch;
  for (const sched::DonorAction& a : actions) {
    switch (a.kind) {
      case sched::DonorAction::Kind::kPersist:
        batch.put_handoff({a.record.task_id, a.record.peer, a.record.epoch,
                           stored_state(a.record.state), clock_.wall_us()});
        break;
      case sched::DonorAction::Kind::kErase:
        batch.delete_handoff(a.record.task_id, a.record.epoch);
        break;
      case sched::DonorAction::Kind::kPersistEpochs:
        batch.put_handoff_epoch_floor(a.record.epoch);
        break;
      default:
        break;
    }
  }
  then(std::move(batch), [this, actions = std::move(actions)] {
    sched::Torus& torus = tasks_.torus();
    for (const sched::DonorAction& a : actions) {
      const auto key = key_of(a.record.task_id);
      switch (a.kind) {
        case sched::DonorAction::Kind::kSendOffer:
          if (auto task = migrating_task(a.record.task_id)) {
            send(a.record.peer, {{}, {}, sched::HandoffOffer{a.record.epoch, std::move(*task)}});
          }
          break;
        case sched::DonorAction::Kind::kSendQuery:
          send(a.record.peer, {{}, {}, sched::HandoffQuery{a.record.task_id, a.record.epoch}});
          break;
        case sched::DonorAction::Kind::kSendConfirm:
          send(a.record.peer,
               {{}, {}, sched::HandoffConfirm{a.record.task_id, a.record.epoch, a.go}});
          break;
        case sched::DonorAction::Kind::kDropLocal:
          if (key)
            (void)torus.finish_migration(*key, a.record.peer, tasks_.now_us(), tasks_.actions());
          break;
        case sched::DonorAction::Kind::kRequeue:
          if (key) (void)torus.abort_migration(*key, tasks_.now_us(), tasks_.actions());
          break;
        case sched::DonorAction::Kind::kRecordRefusal:
          if (key) (void)torus.add_refusal(*key, a.record.peer, a.reason, tasks_.actions());
          break;
        default:
          break;
      }
    }
    tasks_.carry_out();
  });
  arm_tick();
}

void Migration::run(sched::ReceiverActions actions, const sched::MigratingTask* offered) {
  storage::Batch batch;
  for (const sched::ReceiverAction& a : actions) {
    if (a.kind == sched::ReceiverAction::Kind::kPersistFence) {
      batch.put_fence({a.fence.task_id, a.fence.epoch, a.fence.donor});
    } else if (a.kind == sched::ReceiverAction::Kind::kAdopt && offered != nullptr) {
      adopt(*offered, a.fence.donor, a.fence.epoch, batch);  // durable with this step's write
    }
  }
  then(std::move(batch), [this, actions = std::move(actions)] {
    sched::Torus& torus = tasks_.torus();
    for (const sched::ReceiverAction& a : actions) {
      const auto key = key_of(a.fence.task_id);
      switch (a.kind) {
        case sched::ReceiverAction::Kind::kSendAnswer:
          if (a.answer == sched::Answer::kRefused) refusals_.add(RefusalSide::kByUs, a.reason);
          send(a.fence.donor, {{},
                               {},
                               sched::HandoffAnswer{a.fence.task_id, a.fence.epoch,
                                                    sched::kind_of(a.answer), a.reason}});
          break;
        case sched::ReceiverAction::Kind::kSendConfirmQuery:
          send(a.fence.donor, {{}, {}, sched::HandoffConfirmQuery{a.fence.task_id, a.fence.epoch}});
          break;
        case sched::ReceiverAction::Kind::kRelease:
          if (key && torus.task(*key).adoption_epoch == a.fence.epoch) {
            (void)torus.confirm_adoption(*key, tasks_.now_us(), tasks_.actions());
          }
          break;
        case sched::ReceiverAction::Kind::kDiscard:
          // Back to the donor: a later offer of it is adopted again.
          if (key && torus.task(*key).adoption_epoch == a.fence.epoch) {
            (void)torus.discard_adoption(*key, tasks_.now_us(), tasks_.actions());
          }
          break;
        default:
          break;
      }
    }
    tasks_.carry_out();
  });
  arm_tick();
}

void Migration::then(storage::Batch batch, std::function<void()> effects) {
  auto step = std::make_shared<Step>();
  step->effects = std::move(effects);
  steps_.push_back(step);
  durability_.store(std::move(batch), lifetime_.guard([this, step](const sched::Status& stored) {
    if (!stored) {
      ++stats_.store_failures;
      stopped_ = true;
      spdlog::error("migration stops: cannot store: {}", stored.error().message);
      steps_.clear();
      return;
    }
    step->stored = true;
    drain_steps();
  }));
}

void Migration::drain_steps() {
  while (!steps_.empty() && steps_.front()->stored) {
    auto step = steps_.front();
    steps_.pop_front();
    step->effects();
  }
}

void Migration::on_member(const gossip::Event& event) {
  if (event.kind == gossip::Event::Kind::kRemoved) pull_answered_us_.erase(event.name);
  if (stopped_ || event.kind == gossip::Event::Kind::kRemoved) return;
  if (event.kind == gossip::Event::Kind::kLoad) {  // a peer's load: maybe a round
    arm_round();
    return;
  }
  const Micros now = now_us();
  sched::DonorActions d;
  sched::ReceiverActions r;
  if (event.state == gossip::MemberState::kDead || event.state == gossip::MemberState::kLeft) {
    donor_.on_peer_dead(event.name, now, d);
    receiver_.on_peer_dead(event.name, now, r);
  } else if (event.state == gossip::MemberState::kAlive) {
    donor_.on_peer_alive(event.name, now, d);
    receiver_.on_peer_alive(event.name, now, r);
    send_outcomes(event.name);
  }
  if (!d.empty()) run(std::move(d));
  if (!r.empty()) run(std::move(r), nullptr);
  arm_round();
}

void Migration::arm_tick() {
  const Micros due = std::min(donor_.next_tick_us(), receiver_.next_tick_us());
  if (due == sched::kNever || (tick_due_us_ >= 0 && tick_due_us_ <= due)) return;
  tick_due_us_ = due;
  tick_timer_.expires_after(std::chrono::microseconds(std::max<Micros>(0, due - now_us())));
  tick_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec) return;
    tick_due_us_ = -1;
    tick();
  }));
}

void Migration::tick() {
  if (stopped_) return;
  sched::DonorActions d;
  donor_.tick(now_us(), d);
  sched::ReceiverActions r;
  receiver_.tick(now_us(), r);
  if (!d.empty()) run(std::move(d));
  if (!r.empty()) run(std::move(r), nullptr);
  arm_tick();
}

}  // namespace braid::node

namespace braid::node {

void Migration::on_outcome(const std::string& from, const sched::OutcomeReport& report) {
  sched::Torus& torus = tasks_.torus();
  const auto key = key_of(report.task_id);
  const TaskState state = key ? torus.task(*key).state : TaskState::kCancelled;
  // Being offered here still: the handoff ends first (it moves, and this
  // applies at the executor's next try; or it stays, and ran twice).
  if (key && state == TaskState::kMigrating) return;
  if (key && state == TaskState::kMoved && report.executor == from &&
      sched::origin_of(report.task_id) == std::string_view(peers_.name())) {
    if (auto s = torus.apply_outcome(*key, report, tasks_.now_us(), tasks_.actions()); !s) {
      spdlog::warn("migration: outcome of {} from {}: {}", report.task_id, from, s.error().message);
    } else {
      ++stats_.outcomes_applied;
    }
    tasks_.carry_out();  // stores the end (unsynced); the synced write below covers it
    then(storage::Batch{}, [this, from, id = report.task_id] {
      send(from, {{}, {}, sched::OutcomeAck{id}});
    });
    return;
  }
  // A repeat of an outcome applied already (its ack was lost) is the task's
  // end here, from the same executor. Anything else is a task that ran
  // elsewhere while this node did not hold it as moved: counted. A task
  // purged since is not known: a repeat, most likely.
  const bool repeat = !key || (sched::is_terminal(state) && torus.task(*key).moved_to == from);
  if (!repeat) {
    ++stats_.outcomes_unexpected;
    spdlog::warn("migration: unexpected outcome of {} from {} (here: {})", report.task_id, from,
                 sched::to_string(state));
  }
  send(from, {{}, {}, sched::OutcomeAck{report.task_id}});  // nothing stored: at once
}

void Migration::owe(const storage::OutcomeReport& report) {
  outbox_.insert_or_assign(report.task_id, report);
  send_outcomes(report.origin);
}

void Migration::send_outcomes(const std::string& origin) {
  if (stopped_) return;
  for (const auto& [id, r] : outbox_) {
    if (!origin.empty() && r.origin != origin) continue;
    sched::OutcomeReport report;
    report.task_id = r.task_id;
    report.executor = peers_.name();
    report.state = static_cast<TaskState>(r.state);
    report.exit = r.exit;
    report.reason = r.reason;
    report.started_at_us = r.started_at_us;
    report.finished_at_us = r.finished_at_us;
    report.attempts = r.attempts;
    report.cpu_time_us = r.cpu_time_us;
    if (peers_.send_migration(r.origin, {{}, {}, std::move(report)})) ++stats_.outcomes_sent;
  }
  arm_outcome_retry();
}

void Migration::arm_outcome_retry() {
  if (outcome_timer_armed_ || outbox_.empty()) return;
  outcome_timer_armed_ = true;
  outcome_timer_.expires_after(std::chrono::microseconds(options_.outcome_retry_us));
  outcome_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    outcome_timer_armed_ = false;
    if (!ec) send_outcomes("");
  }));
}

void Migration::arm_backlog() {
  if (!options_.balancing) return;
  backlog_timer_.expires_after(std::chrono::microseconds(options_.backlog_refresh_us));
  backlog_timer_.async_wait(lifetime_.guard([this](const std::error_code& ec) {
    if (ec || stopped_) return;
    const sched::TorusStats s = tasks_.torus().stats();
    const std::uint64_t queued = s.count(TaskState::kQueued) - tasks_.torus().queued_elsewhere();
    const std::uint64_t free_slots =
        static_cast<std::uint64_t>(std::max(0, s.slots - s.slots_busy));
    if (queued > free_slots && options_.load) {
      peers_.set_load(options_.load(), /*republish=*/true);
      ++stats_.load_refreshes;
      arm_round();
    }
    // Tasks that cannot run here are offered again each second: a round
    // that found no peer (none known yet, or all refused lately) is not
    // followed by a load change here.
    if (tasks_.torus().queued_elsewhere() > 0) arm_round();
    arm_backlog();
  }));
}

rpc::MigrationCounters Migration::counters() const {
  const sched::DonorStats& d = donor_.stats();
  const sched::ReceiverStats& r = receiver_.stats();
  rpc::MigrationCounters c;
  c.enabled = options_.balancing;
  c.offers_made = stats_.offers_made;
  c.moved_away = d.moved;
  c.refused_by_peers = d.refused;
  c.reclaimed = d.reclaimed;
  c.adopted = stats_.adopted;
  c.refused_by_us = stats_.refused_by_us;
  c.unresolved = donor_.entries();
  c.held = receiver_.held_count();
  c.released = r.released;
  c.discarded = r.discarded;
  c.outcomes_owed = outbox_.size();
  c.outcomes_applied = stats_.outcomes_applied;
  c.outcomes_unexpected = stats_.outcomes_unexpected;
  c.forced_releases = r.forced;
  return c;
}

}  // namespace braid::node
