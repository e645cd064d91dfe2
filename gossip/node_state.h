// gossip::Node's state, shared by its implementation files (node.cc: life
// cycle, timers and sending; node_probe.cc: failure detection; node_merge.cc:
// applying what peers claim). Internal: only gossip/*.cc include it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gossip/awareness.h"
#include "gossip/broadcast_queue.h"
#include "gossip/membership.h"
#include "gossip/node.h"
#include "gossip/probe_order.h"
#include "gossip/suspicion.h"

namespace braid::gossip {

// The probe of this protocol period.
struct Probe {
  std::string target;
  std::uint32_t seq = 0;
  Micros sent_us = 0;          // when the ping went out
  Micros ack_deadline_us = 0;  // then indirect probes
  bool acked = false;
  bool indirect_sent = false;
  int expected_nacks = 0;
  int nacks = 0;
};

// A ping-req we serve: our ping's seq -> whom to answer.
struct Relay {
  std::string requester_address;
  std::uint32_t requester_seq = 0;
  Micros nack_deadline_us = 0;
};

// At most this many ping-reqs served at once (a flood is dropped).
constexpr std::size_t kMaxRelays = 1024;

using Deadlines = std::set<std::pair<Micros, std::string>>;

struct Node::State {
  State(GossipConfig config, Self self, std::uint64_t seed, Micros now_us);

  GossipConfig config;
  Self self;
  std::mt19937_64 rng;
  NodeStats stats;
  MembershipTable table;
  BroadcastQueue queue;
  Awareness awareness;
  ProbeOrder order;

  std::map<std::string, Suspicion> suspicions;
  Deadlines suspicion_deadlines;  // (deadline, name); stale entries are skipped
  Deadlines reclaims;             // (forget at, name); stale entries are skipped

  std::optional<Probe> probe;
  std::map<std::uint32_t, Relay> relays;
  std::uint32_t last_seq = 0;

  Micros now_us = 0;
  Micros next_probe_us = 0;
  Micros next_gossip_us = 0;
  Micros last_gossip_us = -1;  // the last gossip round that sent; -1: none yet
  bool flood_pending = false;  // membership news to flood at the next round
  Micros next_flood_us = 0;    // floods are rate-limited (see enqueue)
  Micros next_sync_us = 0;
  Micros next_reconnect_us = 0;

  bool joining = false;
  std::vector<std::string> seeds;
  Micros next_join_us = 0;
  Micros join_backoff_us = 0;

  bool left = false;
  std::string sync_cursor;  // the last member a sync page carried

  // node.cc
  std::uint32_t new_seq();
  // Sends body to `to` with as many queued updates as fit.
  void send(const std::string& to, decltype(Message::body) body, Outbox& out);
  void enqueue(Update update);
  Micros earliest_due() const;
  // Sends the queued updates to gossip_fanout members, or to as many as an
  // update's retransmit limit when membership news is pending (flood_pending).
  void gossip_round(Outbox& out);
  // `recipient` (a member's name, or empty): its own entry as we see it
  // rides along, so that a member we hold suspect or dead learns it and
  // refutes, even across a healed partition.
  void send_sync(const std::string& to, bool join, bool reply, Outbox& out,
                 const std::string& recipient = "");
  std::vector<SyncMember> sync_page(bool from_cursor, std::size_t& first, bool& more,
                                    const std::string& recipient = "");
  void reclaim(Outbox& out);

  // node_probe.cc
  void probe_tick(Outbox& out);
  void start_probe(Outbox& out);
  void finish_probe(Outbox& out);
  void on_ping(const Message& m, const Ping& ping, Outbox& out);
  void on_ack(const Message& m, const Ack& ack, Outbox& out);
  void on_nack(const Nack& nack);
  void on_ping_req(const Message& m, const PingReq& req, Outbox& out);
  void relay_tick(Outbox& out);
  void suspicion_tick(Outbox& out);
  void on_stall();

  // node_merge.cc
  // A claim about a member; accuser for suspect and dead. Returns whether it
  // changed what we know (or confirmed a suspicion).
  bool claim(const std::string& name, MemberState state, Incarnation incarnation,
             const std::string& address, const std::string& accuser, Outbox& out);
  void claim_about_self(MemberState state, Incarnation incarnation, Outbox& out);
  void refute(Incarnation above, Outbox& out);
  void load_claim(const std::string& name, Incarnation incarnation, const Load& load,
                  std::uint64_t version, std::uint32_t age_ms, Outbox& out);
  void apply_update(const Update& update, Outbox& out);
  void merge_sync(const Message& m, const Sync& sync, Outbox& out);
  void check_suspect_soon(const std::string& name);
  void start_suspicion(const std::string& name, const std::string& accuser);
  Update membership_update(const Member& m, const std::string& accuser) const;
};

}  // namespace braid::gossip
