// gossip::Node: one member's SWIM + Lifeguard protocol state machine. Pure,
// like sched::Torus: time and messages go in, messages and events come out
// through an Outbox; no sockets, no clock reads, no threads. Randomness comes
// from a seeded generator owned by the node, so a run replays exactly.
//
// The caller (braidd's peers part, or the simulator):
//  - calls tick(now) at next_tick_us() (late calls are fine and are how the
//    node notices that its own loop stalled: Lifeguard local health);
//  - hands every received message to receive() after validate_message();
//  - sends every Outgoing of the outbox and consumes its events.
//
// Protocol (docs/gossip.md):
//  - every probe_interval (scaled by local health), ping the next member of
//    a shuffled round-robin order; no ack within probe_timeout: ping-req
//    through indirect_checks others, who answer ack or nack; still nothing
//    by the end of the interval: the member is suspected;
//  - suspicion lasts a Lifeguard timeout that shrinks with independent
//    accusers; then dead. A member refutes a suspicion or death of itself by
//    gossiping alive with a higher incarnation;
//  - leave() gossips left; a left member is not probed or suspected again;
//  - updates (alive, suspect, dead, left, load) piggyback on every message,
//    each retransmitted retransmit_mult x max(2, ceil(log10(n+1))) times, newest
//    and least-sent first, within the message size bound;
//  - every sync_interval a push-pull sync of one page of the table with one
//    random live member heals partitions; joining sends a join sync to the
//    seeds, retried with backoff until one answers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gossip/config.h"
#include "gossip/message.h"
#include "gossip/types.h"

namespace braid::gossip {

struct Event {
  enum class Kind : std::uint8_t {
    kJoined,   // a member new to us (state alive or suspect)
    kState,    // a known member's state or incarnation changed
    kLoad,     // a member's load changed (newer version)
    kRemoved,  // a dead or left member forgotten after reclaim_after
  };
  Kind kind = Kind::kJoined;
  std::string name;
  MemberState state = MemberState::kAlive;
  Incarnation incarnation = 0;
};

struct Outbox {
  std::vector<Outgoing> messages;
  std::vector<Event> events;
  // Round trips of direct probes answered by their target (ping -> ack),
  // from the now_us given to the node: the caller may record them (metrics).
  std::vector<Micros> probe_rtts_us;
  void clear() {
    messages.clear();
    events.clear();
    probe_rtts_us.clear();
  }
};

// Counters for stats and metrics.
struct NodeStats {
  std::uint64_t probes = 0;
  std::uint64_t indirect_probes = 0;
  std::uint64_t suspicions_raised = 0;  // by this node
  std::uint64_t deaths_declared = 0;    // by this node's suspicion timeouts
  std::uint64_t refutations = 0;        // of suspicions or deaths of this node
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_sent = 0;  // encoded_size_bound of what was sent
  std::uint64_t bytes_received = 0;
  std::uint64_t messages_ignored = 0;     // stale, misaddressed, from a forgotten peer
  std::size_t largest_message_bytes = 0;  // sent
};

struct Self {
  std::string name;
  std::string address;
  // Start above every incarnation this node had before (braidd stores it),
  // so that a restart refutes its own death.
  Incarnation incarnation = 1;
};

class Node {
 public:
  // config must validate(); self.name and self.address must be valid.
  Node(GossipConfig config, Self self, std::uint64_t seed, Micros now_us);
  ~Node();
  Node(Node&&) noexcept;
  Node& operator=(Node&&) noexcept;

  // Starts (or restarts) joining through these addresses (seeds, or members
  // known from a previous run): a join sync to each, retried with backoff
  // until one answers. Addresses equal to our own are skipped.
  void join(const std::vector<std::string>& addresses, Micros now_us, Outbox& out);
  // Leaves gracefully: gossips left (to gossip_fanout members at once); the
  // node stops probing. Not reversible (a restart joins with a higher
  // incarnation).
  void leave(Micros now_us, Outbox& out);
  // A validated message from a peer.
  void receive(const Message& message, Micros now_us, Outbox& out);
  // Runs what is due at now_us.
  void tick(Micros now_us, Outbox& out);
  // When tick() next has work; never earlier than the last now passed in.
  Micros next_tick_us() const;
  // Our own load; a change bumps its version and is gossiped. `republish`:
  // gossiped as a new version even if unchanged (peers skip old figures).
  void set_load(const Load& load, Micros now_us, bool republish = false);

  const Self& self() const;
  Incarnation incarnation() const;  // rises with refutations
  // Every known member, ourselves included, in name order.
  std::vector<Member> members() const;
  std::optional<Member> member(const std::string& name) const;
  std::size_t alive_count() const;     // alive + suspect, ourselves included
  int health_score() const;            // Lifeguard local health, 0 = healthy
  std::size_t queued_updates() const;  // news still to piggyback (0: quiet)
  const NodeStats& stats() const;
  const GossipConfig& config() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace braid::gossip
