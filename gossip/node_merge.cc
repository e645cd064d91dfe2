// gossip::Node: applying what peers claim (piggybacked updates, sync pages,
// a message's sender) to the membership table by the precedence rules,
// refuting claims about ourselves, suspicion bookkeeping, and loads.
#include <algorithm>

#include "gossip/node_state.h"

namespace braid::gossip {
namespace {

MemberState state_of(Update::Kind kind) {
  switch (kind) {
    case Update::Kind::kSuspect:
      return MemberState::kSuspect;
    case Update::Kind::kDead:
      return MemberState::kDead;
    case Update::Kind::kLeft:
      return MemberState::kLeft;
    default:
      return MemberState::kAlive;
  }
}

Update::Kind kind_of(MemberState state) {
  switch (state) {
    case MemberState::kSuspect:
      return Update::Kind::kSuspect;
    case MemberState::kDead:
      return Update::Kind::kDead;
    case MemberState::kLeft:
      return Update::Kind::kLeft;
    default:
      return Update::Kind::kAlive;
  }
}

}  // namespace

Update Node::State::membership_update(const Member& m, const std::string& accuser) const {
  Update u;
  u.kind = kind_of(m.state);
  u.name = m.name;
  u.incarnation = m.incarnation;
  if (u.kind == Update::Kind::kAlive) u.address = m.address;
  if (u.kind == Update::Kind::kSuspect || u.kind == Update::Kind::kDead) {
    u.accuser = accuser.empty() ? self.name : accuser;
  }
  return u;
}

void Node::State::start_suspicion(const std::string& name, const std::string& accuser) {
  auto [it, inserted] = suspicions.insert_or_assign(
      name, Suspicion(now_us, suspicion_bounds(config, table.live_count()), accuser));
  suspicion_deadlines.emplace(it->second.deadline_us(), name);
}

// Lifeguard's suspicion shrinks only as independent accusers confirm it, and
// without help a suspect is probed by about one member per probe interval, so
// the confirmations (and the detection time) have a long tail. A member that
// hears of a new suspicion therefore probes the suspect next with a
// probability that makes about 2 x suspicion_confirmations members do so:
// a dead member is confirmed within about one interval, a live one gets more
// chances to answer, and the extra probes do not grow with the cluster.
void Node::State::check_suspect_soon(const std::string& name) {
  const std::size_t others = table.live_count() > 1 ? table.live_count() - 1 : 1;
  const double p = std::min(
      1.0, 2.0 * static_cast<double>(config.suspicion_confirmations) / static_cast<double>(others));
  if (std::uniform_real_distribution<double>(0, 1)(rng) < p) order.probe_next(name);
}

bool Node::State::claim(const std::string& name, MemberState state, Incarnation incarnation,
                        const std::string& address, const std::string& accuser, Outbox& out) {
  if (name == self.name) {
    claim_about_self(state, incarnation, out);
    return false;
  }
  const Member* before = table.find(name);
  const bool was_live = before != nullptr && is_live(before->state);
  const MembershipTable::Applied applied = table.apply(name, state, incarnation, address, now_us);
  const Member* m = table.find(name);
  if (applied == MembershipTable::Applied::kIgnored) {
    // The same suspicion from another accuser: Lifeguard's confirmation,
    // passed on so that others can count it too.
    if (m != nullptr && state == MemberState::kSuspect && m->state == MemberState::kSuspect &&
        incarnation == m->incarnation) {
      auto it = suspicions.find(name);
      if (it != suspicions.end() && it->second.confirm(accuser)) {
        suspicion_deadlines.emplace(it->second.deadline_us(), name);
        enqueue(membership_update(*m, accuser));
        return true;
      }
    }
    return false;
  }
  const Event::Kind kind =
      applied == MembershipTable::Applied::kNew ? Event::Kind::kJoined : Event::Kind::kState;
  out.events.push_back(Event{kind, name, m->state, m->incarnation});
  enqueue(membership_update(*m, accuser));
  if (m->state == MemberState::kSuspect) {
    start_suspicion(name, accuser);
    if (accuser != self.name) check_suspect_soon(name);
  } else {
    suspicions.erase(name);
  }
  if (!is_live(m->state)) reclaims.emplace(now_us + config.reclaim_after_us, name);
  if (is_live(m->state) && !was_live) order.add(name, rng);
  return true;
}

void Node::State::claim_about_self(MemberState state, Incarnation incarnation, Outbox& out) {
  if (left) return;
  const bool stale_alive = state == MemberState::kAlive && incarnation > self.incarnation;
  const bool accused = state != MemberState::kAlive && incarnation >= self.incarnation;
  if (stale_alive || accused) refute(incarnation, out);
}

void Node::State::refute(Incarnation above, Outbox& out) {
  // The edge refuses incarnations above kIncarnationMax; saturate anyway.
  self.incarnation = std::min(above, kIncarnationMax) + 1;
  table.set(self.name, MemberState::kAlive, self.incarnation, now_us);
  ++stats.refutations;
  awareness.apply(+1);  // being suspected hints that we are the slow one
  enqueue(membership_update(*table.find(self.name), ""));
  out.events.push_back(
      Event{Event::Kind::kState, self.name, MemberState::kAlive, self.incarnation});
}

void Node::State::load_claim(const std::string& name, Incarnation incarnation, const Load& load,
                             std::uint64_t version, std::uint32_t age_ms, Outbox& out) {
  if (name == self.name || version == 0) return;
  Member* m = table.find_mutable(name);
  if (m == nullptr) return;
  const Micros measured_us = now_us - static_cast<Micros>(age_ms) * kMicrosPerMilli;
  const bool newer = incarnation > m->load_incarnation ||
                     (incarnation == m->load_incarnation && version > m->load_version);
  if (!newer) {
    if (incarnation == m->load_incarnation && version == m->load_version) {
      m->load_measured_us = std::max(m->load_measured_us, measured_us);  // a fresher reading
    }
    return;
  }
  const bool changed = !(m->load == load) || m->load_version == 0;
  m->load = load;
  m->load_version = version;
  m->load_incarnation = incarnation;
  m->load_measured_us = measured_us;
  Update u;
  u.kind = Update::Kind::kLoad;
  u.name = name;
  u.incarnation = incarnation;
  u.load = load;
  u.load_version = version;
  u.load_age_ms = age_ms;
  enqueue(std::move(u));
  if (changed) out.events.push_back(Event{Event::Kind::kLoad, name, m->state, m->incarnation});
}

void Node::State::apply_update(const Update& u, Outbox& out) {
  if (u.kind == Update::Kind::kLoad) {
    load_claim(u.name, u.incarnation, u.load, u.load_version, u.load_age_ms, out);
    return;
  }
  claim(u.name, state_of(u.kind), u.incarnation, u.address, u.accuser, out);
}

// A sync page. Dead is taken as suspect (memberlist's push-pull): the member
// gets a suspicion period in which to refute, rather than our trusting an
// old table.
void Node::State::merge_sync(const Message& m, const Sync& sync, Outbox& out) {
  for (const SyncMember& s : sync.members) {
    const MemberState state = s.state == MemberState::kDead ? MemberState::kSuspect : s.state;
    claim(s.name, state, s.incarnation, state == MemberState::kAlive ? s.address : "", m.from, out);
    if (s.load_version > 0) {
      load_claim(s.name, s.load_incarnation, s.load, s.load_version, s.load_age_ms, out);
    }
  }
  if (sync.reply) {
    joining = false;
  } else {
    send_sync(m.from_address, sync.join, true, out, m.from);
  }
}

}  // namespace braid::gossip
