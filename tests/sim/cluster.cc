// sim::Cluster (tests/sim/cluster.h).
#include "tests/sim/cluster.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace braid::sim {

namespace {
constexpr std::uint64_t kFnvPrime = 1099511628211ull;
}  // namespace

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), rng_(options_.seed), network_(options_.faults, rng_) {
  if (auto error = options_.config.validate()) {
    throw std::invalid_argument("gossip config: " + *error);
  }
}

Cluster::~Cluster() = default;

std::string Cluster::name_of(NodeIndex index) { return "n" + std::to_string(index); }

std::string Cluster::address_of(NodeIndex index) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "10.%u.%u.%u:7946", (index >> 16) & 255u,
                (index >> 8) & 255u, index & 255u);
  return buffer;
}

std::optional<NodeIndex> Cluster::index_of_name(const std::string& name) const {
  if (name.size() < 2 || name[0] != 'n') return std::nullopt;
  NodeIndex index = 0;
  for (std::size_t i = 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    index = index * 10 + static_cast<NodeIndex>(name[i] - '0');
  }
  if (index >= slots_.size() || name != name_of(index)) return std::nullopt;
  return index;
}

NodeIndex Cluster::add_nodes(std::size_t count) {
  const auto first = static_cast<NodeIndex>(slots_.size());
  slots_.resize(slots_.size() + count);
  for (NodeIndex i = first; i < slots_.size(); ++i) by_address_.emplace(address_of(i), i);
  return first;
}

void Cluster::mix(std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    trace_hash_ ^= (value >> (i * 8)) & 0xffu;
    trace_hash_ *= kFnvPrime;
  }
}

void Cluster::start(NodeIndex index, const std::vector<NodeIndex>& seeds) {
  Slot& slot = slots_.at(index);
  if (slot.status != NodeStatus::kNotStarted) throw std::logic_error("start: already started");
  const std::uint64_t node_seed = rng_();
  slot.node.emplace(options_.config, gossip::Self{name_of(index), address_of(index), 1}, node_seed,
                    now_us_);
  slot.status = NodeStatus::kUp;
  slot.started_us = now_us_;
  std::vector<std::string> addresses;
  for (NodeIndex seed : seeds) addresses.push_back(address_of(seed));
  slot.node->join(addresses, now_us_, outbox_);
  flush(index);
}

void Cluster::crash(NodeIndex index) {
  Slot& slot = slots_.at(index);
  if (!up(index)) return;
  slot.status = NodeStatus::kCrashed;
  slot.tick_at_us = -1;
  for (std::uint32_t held : slot.held) free_in_flight_.push_back(held);
  slot.held.clear();
  if (slot.stalled_until_us > now_us_) slot.stalls.back().second = now_us_;
}

void Cluster::restart(NodeIndex index) {
  Slot& slot = slots_.at(index);
  if (slot.status != NodeStatus::kCrashed && slot.status != NodeStatus::kLeft) {
    throw std::logic_error("restart: the node is not down");
  }
  std::vector<std::string> addresses;
  gossip::Incarnation incarnation = 1;
  if (slot.node) {
    for (const gossip::Member& member : slot.node->members()) {
      if (member.name != name_of(index)) addresses.push_back(member.address);
    }
    incarnation = slot.node->incarnation() + 1;
  }
  const std::uint64_t node_seed = rng_();
  slot.node.reset();
  slot.node.emplace(options_.config, gossip::Self{name_of(index), address_of(index), incarnation},
                    node_seed, now_us_);
  slot.status = NodeStatus::kUp;
  slot.started_us = now_us_;
  slot.node->join(addresses, now_us_, outbox_);
  flush(index);
}

void Cluster::stall(NodeIndex index, Micros duration_us) {
  Slot& slot = slots_.at(index);
  if (slot.status != NodeStatus::kUp) return;
  slot.status = NodeStatus::kStalled;
  slot.stalled_until_us = now_us_ + duration_us;
  slot.stalls.emplace_back(now_us_, slot.stalled_until_us);
  queue_.push(slot.stalled_until_us, QueuedEvent::Kind::kStallEnd, index);
}

void Cluster::leave(NodeIndex index) {
  Slot& slot = slots_.at(index);
  if (slot.status != NodeStatus::kUp) return;
  slot.node->leave(now_us_, outbox_);
  flush(index);
  at(now_us_ + options_.leave_linger_us, [this, index] {
    Slot& s = slots_[index];
    if (s.status == NodeStatus::kUp || s.status == NodeStatus::kStalled) {
      crash(index);
      s.status = NodeStatus::kLeft;
    }
  });
}

void Cluster::set_load(NodeIndex index, const gossip::Load& load) {
  Slot& slot = slots_.at(index);
  if (!slot.node || !up(index)) return;
  slot.node->set_load(load, now_us_);
  flush(index);  // set_load has no outbox, but its next tick may move
}

bool Cluster::stalled_during(NodeIndex index, Micros from_us, Micros to_us) const {
  for (const auto& [begin, end] : slots_[index].stalls) {
    if (begin <= to_us && end >= from_us) return true;
  }
  return false;
}

bool Cluster::converged() const {
  std::size_t up_count = 0;
  for (NodeIndex i = 0; i < slots_.size(); ++i) up_count += up(i) ? 1 : 0;
  for (NodeIndex i = 0; i < slots_.size(); ++i) {
    if (!up(i)) continue;
    if (slots_[i].node->alive_count() != up_count) return false;
  }
  return true;
}

void Cluster::at(Micros at_us, std::function<void()> action) {
  actions_.push_back(std::move(action));
  queue_.push(std::max(at_us, now_us_), QueuedEvent::Kind::kAction, 0,
              static_cast<std::uint32_t>(actions_.size() - 1));
}

std::uint32_t Cluster::store(InFlight&& in_flight) {
  if (!free_in_flight_.empty()) {
    const std::uint32_t slot = free_in_flight_.back();
    free_in_flight_.pop_back();
    in_flight_[slot] = std::move(in_flight);
    return slot;
  }
  in_flight_.push_back(std::move(in_flight));
  return static_cast<std::uint32_t>(in_flight_.size() - 1);
}

void Cluster::send(NodeIndex from, gossip::Outgoing&& outgoing) {
  ++counters_.messages_sent;
  const std::size_t bytes = gossip::encoded_size_bound(outgoing.message);
  slots_[from].bytes_sent += bytes;
  counters_.largest_message_bytes = std::max(counters_.largest_message_bytes, bytes);
  auto it = by_address_.find(outgoing.to_address);
  if (it == by_address_.end()) {
    ++counters_.dropped_unknown;
    return;
  }
  const NodeIndex to = it->second;
  const Route route = network_.route(from, to);
  for (int copy = 0; copy < route.copies; ++copy) {
    InFlight in_flight{from, to, {}};
    if (copy + 1 < route.copies) {
      in_flight.message = outgoing.message;
    } else {
      in_flight.message = std::move(outgoing.message);
    }
    const std::uint32_t slot = store(std::move(in_flight));
    queue_.push(now_us_ + route.delay_us[copy], QueuedEvent::Kind::kDeliver, to, slot);
  }
}

void Cluster::flush(NodeIndex index) {
  for (gossip::Outgoing& outgoing : outbox_.messages) send(index, std::move(outgoing));
  for (const gossip::Event& event : outbox_.events) {
    mix(now_us_);
    mix(index);
    mix(static_cast<std::uint64_t>(event.kind) << 8 | static_cast<std::uint64_t>(event.state));
    mix(event.incarnation);
    mix(std::hash<std::string>{}(event.name));
    if (observer_ != nullptr) observer_->on_event(index, event, now_us_);
  }
  outbox_.clear();
  Slot& slot = slots_[index];
  if (slot.status != NodeStatus::kUp) return;
  const Micros next = std::max(slot.node->next_tick_us(), now_us_);
  if (slot.tick_at_us < 0 || next < slot.tick_at_us) {
    slot.tick_at_us = next;
    queue_.push(next, QueuedEvent::Kind::kTick, index);
  }
}

void Cluster::deliver(std::uint32_t in_flight) {
  const NodeIndex to = in_flight_[in_flight].to;
  Slot& slot = slots_[to];
  if (slot.status == NodeStatus::kStalled) {
    ++counters_.held_by_stall;
    slot.held.push_back(in_flight);
    return;
  }
  const NodeIndex from = in_flight_[in_flight].from;
  gossip::Message message = std::move(in_flight_[in_flight].message);
  free_in_flight_.push_back(in_flight);
  if (slot.status != NodeStatus::kUp) {
    ++counters_.dropped_down;
    return;
  }
  if (auto error = gossip::validate_message(message)) {
    if (counters_.rejected++ == 0)
      counters_.first_rejection = *error + " (from " + name_of(from) + ")";
    return;
  }
  ++counters_.delivered;
  mix(now_us_);
  mix(std::uint64_t{from} << 32 | to);
  mix(message.body.index() << 8 | message.updates.size());
  slot.node->receive(message, now_us_, outbox_);
  flush(to);
}

void Cluster::on_tick(const QueuedEvent& event) {
  Slot& slot = slots_[event.node];
  if (slot.tick_at_us != event.at_us || slot.status != NodeStatus::kUp) return;
  slot.tick_at_us = -1;
  slot.node->tick(now_us_, outbox_);
  flush(event.node);
}

void Cluster::on_stall_end(const QueuedEvent& event) {
  Slot& slot = slots_[event.node];
  if (slot.status != NodeStatus::kStalled || slot.stalled_until_us != event.at_us) return;
  slot.status = NodeStatus::kUp;
  slot.tick_at_us = -1;
  // A SIGCONTed loop: its late timers first, then what waited in its sockets.
  slot.node->tick(now_us_, outbox_);
  flush(event.node);
  std::vector<std::uint32_t> held = std::move(slot.held);
  slot.held.clear();
  for (std::uint32_t in_flight : held) deliver(in_flight);
}

void Cluster::run_until(Micros until_us) {
  while (!queue_.empty() && queue_.next_us() <= until_us) {
    const QueuedEvent event = queue_.pop();
    now_us_ = std::max(now_us_, event.at_us);
    switch (event.kind) {
      case QueuedEvent::Kind::kTick:
        on_tick(event);
        break;
      case QueuedEvent::Kind::kDeliver:
        deliver(event.payload);
        break;
      case QueuedEvent::Kind::kStallEnd:
        on_stall_end(event);
        break;
      case QueuedEvent::Kind::kAction: {
        std::function<void()> action = std::move(actions_[event.payload]);
        action();
        break;
      }
    }
  }
  now_us_ = std::max(now_us_, until_us);
}

bool Cluster::run_until(const std::function<bool()>& done, Micros deadline_us,
                        Micros check_every_us) {
  while (true) {
    if (done()) return true;
    if (now_us_ >= deadline_us) return false;
    run_until(std::min(deadline_us, now_us_ + check_every_us));
  }
}

}  // namespace braid::sim
