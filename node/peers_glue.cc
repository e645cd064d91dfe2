#include "node/peers_glue.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/durability.h"

namespace braid::node {

PeersOptions peers_options(const DaemonConfig& config, std::uint64_t incarnation) {
  PeersOptions o;
  o.name = config.name;
  o.listen = config.listen;
  o.advertise = config.advertise;
  o.join = config.join;
  o.secret = config.cluster_secret;
  o.incarnation = std::max<std::uint64_t>(1, incarnation);
  o.gossip = config.gossip_profile == "fast"         ? gossip::GossipConfig::fast()
             : config.gossip_profile == "memberlist" ? gossip::GossipConfig::memberlist()
                                                     : gossip::GossipConfig::lan();
  o.faults.drop_permille = config.peer_drop_permille;
  return o;
}

gossip::Load load_of(const sched::Torus& torus, bool accepting) {
  const sched::TorusStats s = torus.stats();
  gossip::Load load;
  // Tasks waiting for a node with their labels never take a slot here.
  load.queued = static_cast<std::uint32_t>(std::min<std::uint64_t>(
      s.count(sched::TaskState::kQueued) - torus.queued_elsewhere(), gossip::kLoadCountMax));
  load.running = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(s.count(sched::TaskState::kRunning), gossip::kLoadCountMax));
  load.blocked = std::min(s.blocked, load.running);
  load.slots = static_cast<std::uint32_t>(std::max(0, s.slots));
  load.free_slots = static_cast<std::uint32_t>(std::max(0, s.slots - s.slots_busy));
  load.top_queued_priority = torus.top_queued_priority();
  load.accepting = accepting;
  return load;
}

rpc::PeersView peers_view(const Peers& peers, const Clock& clock) {
  rpc::PeersView view;
  view.listen = peers.address();
  const gossip::NodeStats& g = peers.gossip_stats();
  const rpc::PeerTransportStats t = peers.transport_stats();
  view.gossip = rpc::GossipCounters{g.messages_sent,     g.messages_received, t.bytes_sent,
                                    t.bytes_received,    t.dropped,           g.probes,
                                    g.suspicions_raised, g.deaths_declared,   g.refutations,
                                    t.refused_auth,      t.invalid,           peers.health_score()};
  const Peers::TimerStats timer = peers.timer_stats();
  view.gossip.timer_fires = timer.fires;
  view.gossip.timer_late_10ms = timer.late_10ms;
  view.gossip.timer_late_max_us = static_cast<std::uint64_t>(timer.late_max_us);
  const sched::Micros now_us = clock.monotonic_us();
  for (const gossip::Member& m : peers.members()) {
    rpc::PeerView v;
    v.name = m.name;
    v.address = m.address;
    v.state = std::string(gossip::to_string(m.state));
    v.incarnation = m.incarnation;
    v.queued = m.load.queued;
    v.running = m.load.running;
    v.blocked = m.load.blocked;
    v.slots = m.load.slots;
    v.free_slots = m.load.free_slots;
    v.top_queued_priority = m.load.top_queued_priority;
    v.accepting = m.load.accepting;
    v.age_us = m.load_version == 0 ? -1 : std::max<sched::Micros>(0, now_us - m.load_measured_us);
    v.is_self = m.name == peers.name();
    view.members.push_back(std::move(v));
  }
  return view;
}

sched::Result<std::unique_ptr<Peers>> start_peers(asio::io_context& io, const Clock& clock,
                                                  const DaemonConfig& config,
                                                  Durability& durability) {
  if (config.listen == "off") {
    spdlog::info("peers: --listen off, this node runs alone");
    return std::unique_ptr<Peers>();
  }
  auto known = durability.stored_members();
  if (!known) {
    spdlog::warn("peers: stored members unreadable ({}); joining through the seeds only",
                 known.error().message);
  }
  auto started = Peers::start(
      io, clock, peers_options(config, durability.incarnation()),
      known ? std::move(known).value() : std::vector<storage::MemberRecord>{},
      [&durability](storage::Batch batch) { durability.store_members(std::move(batch)); });
  if (started) return started;
  if (config.listen_given) return started.error();
  spdlog::warn("peers: {} (the default --listen); this node runs without peers",
               started.error().message);
  return std::unique_ptr<Peers>();
}

}  // namespace braid::node
