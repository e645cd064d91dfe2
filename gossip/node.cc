// gossip::Node: life cycle, timers, sending and sync pages. Failure detection
// is in node_probe.cc, applying peers' claims in node_merge.cc.
#include "gossip/node.h"

#include <algorithm>

#include "gossip/node_state.h"
#include "sched/check.h"

namespace braid::gossip {
namespace {

Member self_member(const Self& self, Micros now_us) {
  Member m;
  m.name = self.name;
  m.address = self.address;
  m.incarnation = self.incarnation;
  m.state = MemberState::kAlive;
  m.state_since_us = now_us;
  m.load_incarnation = self.incarnation;
  return m;
}

Micros uniform_us(std::mt19937_64& rng, Micros below_us) {
  if (below_us <= 0) return 0;
  return std::uniform_int_distribution<Micros>(0, below_us - 1)(rng);
}

std::uint32_t age_ms(Micros now_us, Micros measured_us) {
  const Micros age_us = std::max<Micros>(0, now_us - measured_us);
  return static_cast<std::uint32_t>(std::min<Micros>(age_us / kMicrosPerMilli, kLoadAgeMaxMs));
}

}  // namespace

Node::State::State(GossipConfig config_in, Self self_in, std::uint64_t seed, Micros now)
    : config(config_in),
      self(std::move(self_in)),
      rng(seed),
      table(self_member(self, now)),
      awareness(config.awareness_max),
      now_us(now) {
  // Random phases, so that nodes started together do not probe in lockstep.
  next_probe_us = now + uniform_us(rng, config.probe_interval_us);
  next_gossip_us = now + uniform_us(rng, config.gossip_interval_us);
  next_sync_us = now + config.sync_interval_us + uniform_us(rng, config.sync_interval_us);
  next_reconnect_us = now + config.reconnect_interval_us;
}

std::uint32_t Node::State::new_seq() {
  if (++last_seq == 0) ++last_seq;  // 0 is the gossip-only Ack
  return last_seq;
}

// Eager push: news goes out at the next tick instead of waiting for the
// gossip timer, so a hop costs the network's delay rather than half a gossip
// interval on average. Membership news (a join, a suspicion, a death, a
// leave) is flooded: sent at once to as many members as its retransmit limit
// allows. That is the same number of sends as spreading them over several
// rounds, but the first wave reaches nearly everyone, so the last node to
// learn is not a straggler that waited for later rounds. Floods are
// rate-limited to the message rate of ordinary rounds (one per
// limit / fanout gossip intervals). Other news (load, and membership news
// past that rate) goes out early only when it finds the queue empty (a quiet
// node), at most once per quarter interval; under churn (a lossy network's
// stream of suspicions and refutations, a busy node's loads) it waits for the
// ordinary rounds, which batch it. So a node sends at most twice the
// messages of ordinary rounds, whatever it hears.
void Node::State::enqueue(Update update) {
  const bool membership = update.kind != Update::Kind::kLoad;
  const bool was_quiet = queue.empty();
  queue.push(std::move(update));
  if (membership && now_us >= next_flood_us) {
    flood_pending = true;
    next_gossip_us = std::min(next_gossip_us, now_us);
    return;
  }
  if (!was_quiet) return;  // churn: the ordinary rounds batch it
  const Micros earliest =
      last_gossip_us < 0 ? now_us : last_gossip_us + config.gossip_interval_us / 4;
  next_gossip_us = std::min(next_gossip_us, std::max(now_us, earliest));
}

void Node::State::send(const std::string& to, decltype(Message::body) body, Outbox& out) {
  Outgoing o;
  o.to_address = to;
  Message& m = o.message;
  m.from = self.name;
  m.from_address = self.address;
  m.from_incarnation = self.incarnation;
  m.body = std::move(body);
  const std::size_t base = encoded_size_without_updates(m);
  if (base < kMaxMessageBytes) {
    queue.fill(kMaxMessageBytes - base, kMaxUpdatesPerMessage,
               BroadcastQueue::Limits{membership_retransmit_limit(config.membership_retransmit_mult,
                                                                  table.live_count()),
                                      retransmit_limit(config.retransmit_mult, table.live_count())},
               m.updates);
  }
  for (Update& u : m.updates) {  // a load's age is the figure's age now
    if (u.kind != Update::Kind::kLoad) continue;
    const Member* member = table.find(u.name);
    if (member != nullptr && member->load_version == u.load_version &&
        member->load_incarnation == u.incarnation) {
      u.load_age_ms = age_ms(now_us, member->load_measured_us);
    }
  }
  const std::size_t bytes = encoded_size_bound(m);
  ++stats.messages_sent;
  stats.bytes_sent += bytes;
  stats.largest_message_bytes = std::max(stats.largest_message_bytes, bytes);
  out.messages.push_back(std::move(o));
}

Micros Node::State::earliest_due() const {
  Micros due = next_gossip_us;
  if (!left) {
    due = std::min({due, next_probe_us, next_sync_us, next_reconnect_us});
    if (probe && !probe->acked && !probe->indirect_sent)
      due = std::min(due, probe->ack_deadline_us);
  }
  if (joining) due = std::min(due, next_join_us);
  if (!suspicion_deadlines.empty()) due = std::min(due, suspicion_deadlines.begin()->first);
  if (!reclaims.empty()) due = std::min(due, reclaims.begin()->first);
  for (const auto& [seq, relay] : relays) due = std::min(due, relay.nack_deadline_us);
  return due;
}

void Node::State::gossip_round(Outbox& out) {
  if (queue.empty()) return;
  const Micros now = now_us;
  last_gossip_us = now;
  const Micros to_dead_us = config.gossip_to_dead_us;
  std::size_t fanout = static_cast<std::size_t>(config.gossip_fanout);
  if (flood_pending && fanout > 0) {
    const auto limit = static_cast<std::size_t>(
        membership_retransmit_limit(config.membership_retransmit_mult, table.live_count()));
    const auto rounds = static_cast<Micros>((limit + fanout - 1) / fanout);
    next_flood_us = now + rounds * config.gossip_interval_us;
    fanout = std::max(fanout, limit);
  }
  flood_pending = false;
  auto targets = table.sample(rng, fanout, [now, to_dead_us](const Member& m) {
    return is_live(m.state) || now - m.state_since_us < to_dead_us;
  });
  for (const Member* m : targets) {
    if (queue.empty()) break;
    send(m->address, Ack{0}, out);
  }
}

// One page: ourselves first, the recipient's entry next, then members in
// name order after the cursor (from_cursor), or from the first-th other
// member (a join reply's pages).
std::vector<SyncMember> Node::State::sync_page(bool from_cursor, std::size_t& first, bool& more,
                                               const std::string& recipient) {
  std::vector<SyncMember> page;
  auto add = [&](const Member& m) {
    SyncMember s;
    s.name = m.name;
    s.address = m.address;
    s.incarnation = m.incarnation;
    s.state = m.state;
    if (m.load_version > 0) {
      s.load = m.load;
      s.load_version = m.load_version;
      s.load_age_ms = age_ms(now_us, m.load_measured_us);
      s.load_incarnation = m.load_incarnation;
    }
    page.push_back(std::move(s));
  };
  add(*table.find(self.name));
  const Member* them =
      recipient.empty() || recipient == self.name ? nullptr : table.find(recipient);
  if (them != nullptr) add(*them);
  const auto& all = table.all();
  more = false;
  if (from_cursor) {
    auto it = all.upper_bound(sync_cursor);
    for (std::size_t seen = 0; seen < all.size() && page.size() < kMaxSyncMembers; ++seen) {
      if (it == all.end()) it = all.begin();
      if (it->first != self.name && it->first != recipient) {
        add(it->second);
        sync_cursor = it->first;
      }
      ++it;
    }
    return page;
  }
  // Members other than us and the recipient, from index `first` on; `first`
  // moves past what this page took.
  std::size_t index = 0;
  for (const auto& [name, m] : all) {
    if (name == self.name || (them != nullptr && name == recipient)) continue;
    if (index++ < first) continue;
    if (page.size() == kMaxSyncMembers) {
      more = true;
      break;
    }
    add(m);
    ++first;
  }
  return page;
}

void Node::State::send_sync(const std::string& to, bool join, bool reply, Outbox& out,
                            const std::string& recipient) {
  bool more = false;
  if (!join || !reply) {
    std::size_t unused = 0;
    send(to, Sync{join, reply, sync_page(true, unused, more, recipient)}, out);
    return;
  }
  // A join's reply: the whole table, page by page, up to join_reply_max_pages.
  std::size_t first = 0;
  for (int page = 0; page < config.join_reply_max_pages; ++page) {
    send(to, Sync{join, reply, sync_page(false, first, more, recipient)}, out);
    if (!more) break;
  }
}

void Node::State::reclaim(Outbox& out) {
  while (!reclaims.empty() && reclaims.begin()->first <= now_us) {
    const std::string name = reclaims.begin()->second;
    reclaims.erase(reclaims.begin());
    const Member* m = table.find(name);
    if (m == nullptr || name == self.name || is_live(m->state) ||
        m->state_since_us + config.reclaim_after_us > now_us) {
      continue;  // stale: it came back, or changed state since
    }
    Event e{Event::Kind::kRemoved, name, m->state, m->incarnation};
    suspicions.erase(name);
    table.erase(name);
    out.events.push_back(std::move(e));
  }
}

Node::Node(GossipConfig config, Self self, std::uint64_t seed, Micros now_us) {
  BRAID_CHECK(!config.validate().has_value(), config.validate().value_or(""));
  BRAID_CHECK(valid_name(self.name), self.name);
  BRAID_CHECK(valid_address(self.address), self.address);
  state_ = std::make_unique<State>(config, std::move(self), seed, now_us);
}

Node::~Node() = default;
Node::Node(Node&&) noexcept = default;
Node& Node::operator=(Node&&) noexcept = default;

void Node::join(const std::vector<std::string>& addresses, Micros now_us, Outbox& out) {
  State& s = *state_;
  s.now_us = std::max(s.now_us, now_us);
  if (s.left) return;
  s.seeds.clear();
  for (const std::string& a : addresses) {
    if (a != s.self.address && std::find(s.seeds.begin(), s.seeds.end(), a) == s.seeds.end()) {
      s.seeds.push_back(a);
    }
  }
  s.joining = !s.seeds.empty();
  if (!s.joining) return;
  s.enqueue(s.membership_update(*s.table.find(s.self.name), ""));
  for (const std::string& a : s.seeds) s.send_sync(a, true, false, out);
  s.join_backoff_us = s.config.join_retry_min_us;
  s.next_join_us = s.now_us + s.join_backoff_us;
}

void Node::leave(Micros now_us, Outbox& out) {
  State& s = *state_;
  s.now_us = std::max(s.now_us, now_us);
  if (s.left) return;
  s.left = true;
  s.joining = false;
  s.probe.reset();
  s.table.set(s.self.name, MemberState::kLeft, s.self.incarnation, s.now_us);
  s.enqueue(s.membership_update(*s.table.find(s.self.name), ""));
  out.events.push_back(
      Event{Event::Kind::kState, s.self.name, MemberState::kLeft, s.self.incarnation});
  auto targets = s.table.sample(s.rng, static_cast<std::size_t>(s.config.gossip_fanout),
                                [](const Member& m) { return is_live(m.state); });
  for (const Member* m : targets) s.send(m->address, Ack{0}, out);
}

void Node::receive(const Message& message, Micros now_us, Outbox& out) {
  State& s = *state_;
  s.now_us = std::max(s.now_us, now_us);
  ++s.stats.messages_received;
  s.stats.bytes_received += encoded_size_bound(message);
  if (message.from == s.self.name) {  // a name collision, or our own echo
    ++s.stats.messages_ignored;
    return;
  }
  // The message is evidence that its sender is alive at its incarnation.
  s.claim(message.from, MemberState::kAlive, message.from_incarnation, message.from_address, "",
          out);
  for (const Update& u : message.updates) s.apply_update(u, out);
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Ping>) {
          s.on_ping(message, body, out);
        } else if constexpr (std::is_same_v<T, Ack>) {
          s.on_ack(message, body, out);
        } else if constexpr (std::is_same_v<T, PingReq>) {
          s.on_ping_req(message, body, out);
        } else if constexpr (std::is_same_v<T, Nack>) {
          s.on_nack(body);
        } else {
          s.merge_sync(message, body, out);
        }
      },
      message.body);
}

void Node::tick(Micros now_us, Outbox& out) {
  State& s = *state_;
  const Micros due = s.earliest_due();
  s.now_us = std::max(s.now_us, now_us);
  if (s.now_us - due > s.config.stall_threshold_us) s.on_stall();
  if (s.joining && s.now_us >= s.next_join_us) {
    for (const std::string& a : s.seeds) s.send_sync(a, true, false, out);
    s.join_backoff_us = std::min(2 * s.join_backoff_us, s.config.join_retry_max_us);
    s.next_join_us = s.now_us + s.join_backoff_us;
  }
  if (!s.left) s.probe_tick(out);
  s.relay_tick(out);
  s.suspicion_tick(out);
  if (s.now_us >= s.next_gossip_us) {
    s.gossip_round(out);
    s.next_gossip_us = s.now_us + s.config.gossip_interval_us;
  }
  if (!s.left && s.now_us >= s.next_sync_us) {
    auto peer =
        s.table.sample(s.rng, 1, [](const Member& m) { return m.state == MemberState::kAlive; });
    if (!peer.empty()) s.send_sync(peer.front()->address, false, false, out, peer.front()->name);
    s.next_sync_us = s.now_us + s.config.sync_interval_us;
  }
  if (!s.left && s.now_us >= s.next_reconnect_us) {
    auto dead =
        s.table.sample(s.rng, 1, [](const Member& m) { return m.state == MemberState::kDead; });
    if (!dead.empty()) s.send_sync(dead.front()->address, false, false, out, dead.front()->name);
    s.next_reconnect_us = s.now_us + s.config.reconnect_interval_us;
  }
  s.reclaim(out);
}

std::size_t Node::queued_updates() const { return state_->queue.size(); }

Micros Node::next_tick_us() const { return std::max(state_->now_us, state_->earliest_due()); }

void Node::set_load(const Load& load, Micros now_us, bool republish) {
  State& s = *state_;
  s.now_us = std::max(s.now_us, now_us);
  Member& me = *s.table.find_mutable(s.self.name);
  me.load_measured_us = s.now_us;  // an unchanged figure is fresh again
  if (!republish && me.load_version > 0 && me.load == load &&
      me.load_incarnation == s.self.incarnation) {
    return;
  }
  me.load = load;
  ++me.load_version;
  me.load_incarnation = s.self.incarnation;
  Update u;
  u.kind = Update::Kind::kLoad;
  u.name = s.self.name;
  u.incarnation = s.self.incarnation;
  u.load = load;
  u.load_version = me.load_version;
  s.enqueue(std::move(u));
}

const Self& Node::self() const { return state_->self; }
Incarnation Node::incarnation() const { return state_->self.incarnation; }

std::vector<Member> Node::members() const {
  std::vector<Member> all;
  all.reserve(state_->table.size());
  for (const auto& [name, m] : state_->table.all()) all.push_back(m);
  return all;
}

std::optional<Member> Node::member(const std::string& name) const {
  const Member* m = state_->table.find(name);
  if (m == nullptr) return std::nullopt;
  return *m;
}

std::size_t Node::alive_count() const { return state_->table.live_count(); }
int Node::health_score() const { return state_->awareness.score(); }
const NodeStats& Node::stats() const { return state_->stats; }
const GossipConfig& Node::config() const { return state_->config; }

}  // namespace braid::gossip
