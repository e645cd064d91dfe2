// Peers: this node's place in the cluster (issue 10). Owns the gossip
// protocol (gossip::Node, pure) and its transport (rpc::PeerTransport), and
// drives them on the daemon's loop:
//  - the protocol's timers are one Asio timer at gossip::Node::next_tick_us(),
//    on the injected clock's monotonic time;
//  - received messages go to the protocol, its outbox to the transport;
//  - membership changes are handed to `persist` as a storage::Batch for the
//    members family (unsynced: a crash may lose the last few, and the next
//    start still has the seeds and the rest), so a restarted node rejoins
//    through the members it knew, without its seeds;
//  - set_load() publishes this node's load projection; it is gossiped only
//    when it changed.
// Single-threaded: everything on the loop's thread.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gossip/node.h"
#include "node/clock.h"
#include "rpc/peer_transport.h"
#include "sched/result.h"
#include "storage/store.h"

namespace braid::node {

struct PeersOptions {
  std::string name;
  std::string listen;             // "HOST:PORT"; port 0 picks one (tests)
  std::string advertise;          // the address peers reach us at; default: listen's
  std::vector<std::string> join;  // seeds
  std::string secret;             // empty: none (loopback, or --insecure)
  // Above every earlier run's (braidd's meta); raised above this node's own
  // stored member record, which keeps the refutations of earlier runs.
  gossip::Incarnation incarnation = 1;
  gossip::GossipConfig gossip = gossip::GossipConfig::lan();
  rpc::PeerFaults faults;  // tests only
  std::uint64_t seed = 0;  // 0: from the clock
};

class Peers {
 public:
  using Persist = std::function<void(storage::Batch)>;

  // Binds the listener (an Error names the address and why) and starts
  // joining through the seeds and the `known` members of an earlier run.
  static sched::Result<std::unique_ptr<Peers>> start(asio::io_context& io, const Clock& clock,
                                                     PeersOptions options,
                                                     std::vector<storage::MemberRecord> known,
                                                     Persist persist);
  ~Peers();
  Peers(const Peers&) = delete;
  Peers& operator=(const Peers&) = delete;

  void set_load(const gossip::Load& load, bool republish = false);  // gossip::Node::set_load
  std::vector<gossip::Member> members() const;
  const std::string& address() const;  // what we advertise
  const std::string& name() const { return options_.name; }
  const gossip::NodeStats& gossip_stats() const;
  int health_score() const { return node_->health_score(); }
  // How late the loop ran the gossip timer (lateness = fire time - due time):
  // a measure of braidd's loop responsiveness under its own tasks.
  struct TimerStats {
    std::uint64_t fires = 0;
    std::uint64_t late_10ms = 0;  // fired more than 10 ms late
    sched::Micros late_max_us = 0;
  };
  const TimerStats& timer_stats() const { return timer_stats_; }
  rpc::PeerTransportStats transport_stats() const;
  // Gossips that we leave; `done` runs once the leave had a moment to spread
  // (at most a few gossip intervals), or at once when alone.
  void leave(std::function<void()> done);
  void set_faults(rpc::PeerFaults faults);  // tests

  // Migration (node/migration.h): messages to a member by name (dropped if
  // it is not a known live member), and the ones that arrive.
  bool send_migration(const std::string& to_name, sched::MigrationMessage message);
  bool is_live_member(const std::string& name) const;  // known, alive or suspect; not us
  void set_on_migration(std::function<void(sched::MigrationMessage)> on_migration);
  // Questions to a member by name (rpc/peer_query.h, answered through
  // `done` once, from a fresh handler): an Error without asking when it is
  // not a known live member. And how this node answers them.
  void read_log(const std::string& to_name, rpc::PeerLogRequest request,
                std::chrono::milliseconds deadline, rpc::PeerTransport::OnLogAnswer done);
  void list_tasks(const std::string& to_name, rpc::PeerListRequest request,
                  std::chrono::milliseconds deadline, rpc::PeerTransport::OnListAnswer done);
  void set_query_handlers(rpc::PeerTransport::QueryHandlers handlers);
  // Membership changes of other members (joined, state), after the table
  // changed (send_migration() may be called from a listener).
  void add_member_listener(std::function<void(const gossip::Event&)> listener);
  // The round trip of each direct probe answered by its target (metrics).
  void set_probe_rtt_listener(std::function<void(sched::Micros)> listener) {
    probe_rtt_listener_ = std::move(listener);
  }

 private:
  Peers(asio::io_context& io, const Clock& clock, PeersOptions options, Persist persist);
  void on_message(gossip::Message message);
  // The live member's address, or why there is none.
  sched::Result<std::string> live_address(const std::string& name) const;
  void flush();  // sends the outbox, persists what changed, re-arms the timer
  void arm_timer();
  sched::Micros now_us() const { return clock_.monotonic_us(); }

  asio::io_context& io_;
  const Clock& clock_;
  PeersOptions options_;
  Persist persist_;
  std::unique_ptr<rpc::PeerTransport> transport_;
  std::unique_ptr<gossip::Node> node_;
  gossip::Outbox outbox_;
  asio::steady_timer timer_;
  sched::Micros timer_due_us_ = 0;
  bool timer_armed_ = false;
  TimerStats timer_stats_;
  std::vector<std::function<void(const gossip::Event&)>> member_listeners_;
  std::function<void(sched::Micros)> probe_rtt_listener_;
  bool leaving_ = false;
  gossip::Incarnation stored_self_incarnation_ = 0;  // the last one flush() stored
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace braid::node
