// gossip::Node failure detection: the probe of each protocol period (ping,
// then ping-req through others, then suspicion), serving others' ping-reqs,
// suspicion timeouts, and Lifeguard's reaction to our own stalls.
#include <algorithm>

#include "gossip/node_state.h"

namespace braid::gossip {

void Node::State::probe_tick(Outbox& out) {
  if (probe && !probe->acked && !probe->indirect_sent && now_us >= probe->ack_deadline_us) {
    probe->indirect_sent = true;
    const Member* target = table.find(probe->target);
    if (target != nullptr && is_live(target->state)) {
      const std::string& target_name = probe->target;
      auto helpers = table.sample(rng, static_cast<std::size_t>(config.indirect_checks),
                                  [&target_name](const Member& m) {
                                    return m.state == MemberState::kAlive && m.name != target_name;
                                  });
      probe->expected_nacks = static_cast<int>(helpers.size());
      stats.indirect_probes += helpers.size();
      for (const Member* h : helpers) {
        send(h->address, PingReq{probe->seq, target->name, target->address}, out);
      }
    }
  }
  if (now_us >= next_probe_us) {
    finish_probe(out);
    start_probe(out);
  }
}

void Node::State::start_probe(Outbox& out) {
  next_probe_us = now_us + awareness.scale(config.probe_interval_us);
  auto probeable = [this](const std::string& name) {
    const Member* m = table.find(name);
    return m != nullptr && name != self.name && is_live(m->state);
  };
  auto members = [this] {
    std::vector<std::string> names;
    for (const auto& [name, m] : table.all()) {
      if (name != self.name && is_live(m.state)) names.push_back(name);
    }
    return names;
  };
  auto target = order.next(rng, probeable, members);
  if (!target) return;
  Probe p;
  p.target = *target;
  p.seq = new_seq();
  p.sent_us = now_us;
  p.ack_deadline_us = now_us + awareness.scale(config.probe_timeout_us);
  ++stats.probes;
  send(table.find(p.target)->address, Ping{p.seq, p.target}, out);
  probe = std::move(p);
}

void Node::State::finish_probe(Outbox& out) {
  if (!probe) return;
  Probe p = std::move(*probe);
  probe.reset();
  if (p.acked) return;
  const Member* target = table.find(p.target);
  if (target == nullptr || !is_live(target->state)) return;
  // Nobody answered for the target, and not every helper said so: our own
  // links are the likelier culprit (Lifeguard).
  if (p.expected_nacks == 0 || p.nacks < p.expected_nacks) awareness.apply(+1);
  if (claim(p.target, MemberState::kSuspect, target->incarnation, "", self.name, out)) {
    ++stats.suspicions_raised;
  }
}

void Node::State::on_ping(const Message& m, const Ping& ping, Outbox& out) {
  if (ping.target != self.name) {  // meant for whoever had this address before
    ++stats.messages_ignored;
    return;
  }
  send(m.from_address, Ack{ping.seq}, out);
}

void Node::State::on_ack(const Message& m, const Ack& ack, Outbox& out) {
  if (ack.seq == 0) return;  // a gossip round's carrier
  if (probe && probe->seq == ack.seq) {
    if (!probe->acked) {
      awareness.apply(-1);
      // The target's own answer (not one relayed by a ping-req helper).
      if (m.from == probe->target) out.probe_rtts_us.push_back(now_us - probe->sent_us);
    }
    probe->acked = true;
    return;
  }
  auto relay = relays.find(ack.seq);
  if (relay == relays.end()) {
    ++stats.messages_ignored;  // late, or not ours
    return;
  }
  const Relay r = relay->second;
  relays.erase(relay);
  send(r.requester_address, Ack{r.requester_seq}, out);
}

void Node::State::on_nack(const Nack& nack) {
  if (probe && probe->seq == nack.seq) {
    ++probe->nacks;
  } else {
    ++stats.messages_ignored;
  }
}

void Node::State::on_ping_req(const Message& m, const PingReq& req, Outbox& out) {
  if (req.target == self.name) {  // we are the target: answer for ourselves
    send(m.from_address, Ack{req.seq}, out);
    return;
  }
  // Only members we know, at the address we know: a requester cannot make
  // us connect wherever it likes.
  const Member* target = table.find(req.target);
  if (relays.size() >= kMaxRelays || target == nullptr || !is_live(target->state)) {
    ++stats.messages_ignored;
    return;
  }
  const std::uint32_t seq = new_seq();
  relays[seq] = Relay{m.from_address, req.seq, now_us + config.probe_timeout_us * 4 / 5};
  send(target->address, Ping{seq, req.target}, out);
}

void Node::State::relay_tick(Outbox& out) {
  for (auto it = relays.begin(); it != relays.end();) {
    if (it->second.nack_deadline_us > now_us) {
      ++it;
      continue;
    }
    send(it->second.requester_address, Nack{it->second.requester_seq}, out);
    it = relays.erase(it);
  }
}

void Node::State::suspicion_tick(Outbox& out) {
  while (!suspicion_deadlines.empty() && suspicion_deadlines.begin()->first <= now_us) {
    const auto [deadline, name] = *suspicion_deadlines.begin();
    suspicion_deadlines.erase(suspicion_deadlines.begin());
    auto it = suspicions.find(name);
    if (it == suspicions.end() || it->second.deadline_us() != deadline) continue;  // stale
    const Member* m = table.find(name);
    if (m == nullptr || m->state != MemberState::kSuspect) {
      suspicions.erase(it);
      continue;
    }
    if (claim(name, MemberState::kDead, m->incarnation, "", self.name, out)) {
      ++stats.deaths_declared;
    }
  }
}

// Our loop ran late: what timed out meanwhile may have been answered in
// messages we have not read yet. Count it against our own health, drop the
// probe in flight without a verdict, and give suspicions one more period.
void Node::State::on_stall() {
  awareness.apply(+1);
  probe.reset();
  next_probe_us = std::min(next_probe_us, now_us);
  const Micros grace_us = awareness.scale(config.probe_interval_us);
  for (auto& [name, suspicion] : suspicions) {
    if (suspicion.deadline_us() > now_us) continue;
    suspicion.postpone(now_us + grace_us);
    suspicion_deadlines.emplace(suspicion.deadline_us(), name);
  }
}

}  // namespace braid::gossip
