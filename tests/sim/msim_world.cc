#include "tests/sim/msim_world.h"

#include <algorithm>
#include <utility>

namespace braid::msim {

using sim::QueuedEvent;

World::World(WorldOptions options)
    : options_(std::move(options)), rng_(options_.seed), network_(options_.faults, rng_) {
  const std::size_t n = options_.nodes;
  for (NodeIndex i = 0; i < n; ++i) {
    nodes_.push_back(std::make_unique<Node>(name_of(i), options_.node, rng_(), ledger_, *this));
    by_name_[name_of(i)] = i;
  }
  tick_at_.assign(n, -1);
  crash_gen_.assign(n, 0);
  published_.resize(n);
  versions_.assign(n, 0);
  idle_since_.assign(n, -1);
}

World::~World() = default;

void World::start_all() {
  for (NodeIndex i = 0; i < size(); ++i) {
    nodes_[i]->start(now_us_);
    flush(i);
  }
}

std::string World::submit(NodeIndex i, Micros work_us) {
  std::string id = nodes_[i]->submit(work_us, now_us_);
  flush(i);
  return id;
}

void World::crash(NodeIndex i) {
  if (!nodes_[i]->up()) return;
  nodes_[i]->crash();
  ++counters_.crashes;
  const std::uint64_t gen = ++crash_gen_[i];
  idle_since_[i] = -1;
  flush(i);
  at(now_us_ + options_.detect_dead_us, [this, i, gen] {
    if (!nodes_[i]->up() && crash_gen_[i] == gen && !declared_dead_.contains(i)) declare_dead(i);
  });
}

void World::restart(NodeIndex i) {
  if (nodes_[i]->up()) return;
  nodes_[i]->restart(now_us_, dead_names(i));
  flush(i);
  const std::uint64_t gen = crash_gen_[i];
  at(now_us_ + options_.detect_alive_us, [this, i, gen] {
    if (nodes_[i]->up() && declared_dead_.contains(i)) declare_alive(i);
    // Its own gossip, rejoined, reports every live member (first seen).
    if (!nodes_[i]->up() || crash_gen_[i] != gen) return;
    for (NodeIndex j = 0; j < size(); ++j) {
      if (j != i && !declared_dead_.contains(j)) nodes_[i]->on_peer_alive(name_of(j), now_us_);
    }
    flush(i);
  });
}

void World::false_death(NodeIndex i, Micros duration_us) {
  if (!nodes_[i]->up() || declared_dead_.contains(i)) return;
  declare_dead(i);
  at(now_us_ + duration_us, [this, i] {
    if (nodes_[i]->up() && declared_dead_.contains(i)) declare_alive(i);
  });
}

std::vector<std::string> World::dead_names(NodeIndex except) const {
  std::vector<std::string> names;
  for (NodeIndex d : declared_dead_) {
    if (d != except) names.push_back(name_of(d));
  }
  return names;
}

void World::declare_dead(NodeIndex i) {
  if (nodes_[i]->up()) ++counters_.false_deaths;
  declared_dead_.insert(i);
  for (NodeIndex j = 0; j < size(); ++j) {
    if (j == i || !nodes_[j]->up()) continue;
    nodes_[j]->on_peer_dead(name_of(i), now_us_);
    flush(j);
  }
}

void World::declare_alive(NodeIndex i) {
  declared_dead_.erase(i);
  for (NodeIndex j = 0; j < size(); ++j) {
    if (j == i || !nodes_[j]->up()) continue;
    nodes_[j]->on_peer_alive(name_of(i), now_us_);
    flush(j);
  }
}

void World::flush(NodeIndex i) {
  Node& node = *nodes_[i];
  for (Outgoing& out : node.outgoing()) {
    ++counters_.messages_sent;
    const auto to = by_name_.find(out.to);
    if (to == by_name_.end()) continue;
    const sim::Route route = network_.route(i, to->second);
    for (int c = 0; c < route.copies; ++c) {
      std::uint32_t slot;
      if (free_in_flight_.empty()) {
        slot = static_cast<std::uint32_t>(in_flight_.size());
        in_flight_.emplace_back();
      } else {
        slot = free_in_flight_.back();
        free_in_flight_.pop_back();
      }
      in_flight_[slot] = {to->second, c + 1 < route.copies ? out.message : std::move(out.message)};
      queue_.push(now_us_ + route.delay_us[c], QueuedEvent::Kind::kDeliver, to->second, slot);
    }
  }
  node.outgoing().clear();
  // Its load, published when it changed.
  sched::PeerLoad load = node.load();
  std::deque<Published>& history = published_[i];
  if (node.up()) {
    const bool changed = history.empty() || history.back().load.queued != load.queued ||
                         history.back().load.running != load.running ||
                         history.back().load.free_slots != load.free_slots ||
                         history.back().load.top_queued_priority != load.top_queued_priority;
    if (changed) {
      load.version = ++versions_[i];
      history.push_back({now_us_, std::move(load)});
      while (history.size() > 1 && history[1].at_us <= now_us_ - options_.projection_delay_us) {
        history.pop_front();
      }
    }
    // Idle gaps.
    const sched::PeerLoad& l = history.back().load;
    const bool idle = l.queued == 0 && l.running == 0;
    if (idle && idle_since_[i] < 0) idle_since_[i] = now_us_;
    if (!idle && idle_since_[i] >= 0) {
      idle_gaps_.push_back(now_us_ - idle_since_[i]);
      idle_since_[i] = -1;
    }
  }
  const Micros wake = node.next_wake_us();
  if (wake != sched::kNever && std::max(wake, now_us_) != tick_at_[i]) {
    tick_at_[i] = std::max(wake, now_us_);
    queue_.push(tick_at_[i], QueuedEvent::Kind::kTick, i);
  }
}

void World::restart_idle_gaps() {
  idle_gaps_.clear();
  for (Micros& since : idle_since_) {
    if (since >= 0) since = now_us_;
  }
}

const std::vector<sched::PeerLoad>& World::peers(const std::string& observer, Micros now_us) {
  if (snapshot_built_us_ < 0 || now_us >= snapshot_built_us_ + options_.projection_period_us) {
    snapshot_.clear();
    snapshot_measured_us_.clear();
    snapshot_index_.clear();
    const Micros seen_before = now_us - options_.projection_delay_us;
    for (NodeIndex i = 0; i < size(); ++i) {
      if (declared_dead_.contains(i)) continue;
      const std::deque<Published>& history = published_[i];
      for (auto it = history.rbegin(); it != history.rend(); ++it) {
        if (it->at_us > seen_before) continue;
        snapshot_index_[it->load.name] = snapshot_.size();
        snapshot_.push_back(it->load);
        snapshot_measured_us_.push_back(it->at_us);
        break;
      }
    }
    snapshot_built_us_ = now_us;
    if (options_.view_sample > 0) {
      groups_.assign(3, {});
      const std::int64_t target = options_.node.balance.target_backlog;
      for (std::size_t k = 0; k < snapshot_.size(); ++k) {
        const std::int64_t backlog = static_cast<std::int64_t>(snapshot_[k].queued) -
                                     static_cast<std::int64_t>(snapshot_[k].free_slots);
        groups_[backlog < target ? 0 : backlog < target + 2 ? 1 : 2].push_back(k);
      }
      for (std::vector<std::size_t>& g : groups_) {
        for (std::size_t k = g.size(); k > 1; --k) std::swap(g[k - 1], g[rng_() % k]);
      }
    }
  }
  if (options_.view_sample > 0) {
    view_.clear();
    for (const std::vector<std::size_t>& g : groups_) {
      const std::size_t take = std::min(g.size(), options_.view_sample);
      const std::size_t offset = g.empty() ? 0 : rng_() % g.size();
      for (std::size_t j = 0; j < take; ++j) {
        const std::size_t k = g[(offset + j) % g.size()];
        if (snapshot_[k].name == observer) continue;
        view_.push_back(snapshot_[k]);
        view_.back().age_us = now_us - snapshot_measured_us_[k];
        view_.back().accepting = true;
      }
    }
    return view_;
  }
  for (std::size_t k = 0; k < snapshot_.size(); ++k) {
    snapshot_[k].age_us = now_us - snapshot_measured_us_[k];
    snapshot_[k].accepting = true;
  }
  // The observer's own (old) figure must not look like a peer: stale, not accepting.
  if (const auto it = snapshot_index_.find(observer); it != snapshot_index_.end()) {
    snapshot_[it->second].age_us = sched::kNever / 2;
    snapshot_[it->second].accepting = false;
  }
  return snapshot_;
}

void World::deliver(std::uint32_t slot) {
  InFlight msg = std::move(in_flight_[slot]);
  free_in_flight_.push_back(slot);
  Node& node = *nodes_[msg.to];
  if (!node.up()) {
    ++counters_.dropped_down;
    return;
  }
  ++counters_.delivered;
  node.receive(msg.message, now_us_);
  flush(msg.to);
  if (after_deliver_) after_deliver_(msg.to, msg.message);
}

void World::at(Micros at_us, std::function<void()> action) {
  std::uint32_t slot;
  if (free_actions_.empty()) {
    slot = static_cast<std::uint32_t>(actions_.size());
    actions_.emplace_back();
  } else {
    slot = free_actions_.back();
    free_actions_.pop_back();
  }
  actions_[slot] = std::move(action);
  queue_.push(std::max(at_us, now_us_), QueuedEvent::Kind::kAction, 0, slot);
}

void World::run_until(Micros until_us) {
  while (!queue_.empty() && queue_.next_us() <= until_us) {
    const QueuedEvent e = queue_.pop();
    now_us_ = std::max(now_us_, e.at_us);
    switch (e.kind) {
      case QueuedEvent::Kind::kTick:
        if (e.at_us != tick_at_[e.node]) break;
        tick_at_[e.node] = -1;
        nodes_[e.node]->wake(now_us_);
        flush(e.node);
        break;
      case QueuedEvent::Kind::kDeliver:
        deliver(e.payload);
        break;
      case QueuedEvent::Kind::kAction: {
        std::function<void()> action = std::move(actions_[e.payload]);
        free_actions_.push_back(e.payload);
        action();
        break;
      }
      case QueuedEvent::Kind::kStallEnd:
        break;
    }
  }
  now_us_ = std::max(now_us_, until_us);
}

bool World::run_until(const std::function<bool()>& done, Micros deadline_us,
                      Micros check_every_us) {
  while (!done()) {
    if (now_us_ >= deadline_us) return false;
    run_until(std::min(deadline_us, now_us_ + check_every_us));
  }
  return true;
}

}  // namespace braid::msim
