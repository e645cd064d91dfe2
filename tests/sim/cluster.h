// sim::Cluster: many gossip::Node instances in one process on virtual time,
// wired through the simulated network (tests/sim/network.h). One seed
// drives the whole run: one std::mt19937_64 makes every fault decision and
// draws each node's own seed when the node starts, so a run replays exactly.
//
// Nodes are slots with a fixed name ("n<index>") and address; a slot's
// gossip::Node is created by start() and by restart(). The cluster calls
// tick() at each node's next_tick_us(), delivers messages by address after
// gossip::validate_message() (rejections are counted, not delivered), sends
// what each Outbox holds and hands every Outbox event to the observer.
//
// Lifecycle faults:
//  - crash: the node stops: no ticks, inbound messages dropped;
//  - restart: a new Node with the same name and address and a higher
//    incarnation joins through the members its previous run knew;
//  - stall: ticks and deliveries are held for a while, then all happen late
//    (a SIGSTOPped daemon: its timers first, then the buffered messages);
//  - leave: gossip::Node::leave(), then the node stops after leave_linger_us.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gossip/node.h"
#include "tests/sim/event_queue.h"
#include "tests/sim/network.h"

namespace braid::sim {

enum class NodeStatus : std::uint8_t { kNotStarted, kUp, kStalled, kCrashed, kLeft };

struct ClusterOptions {
  gossip::GossipConfig config = gossip::GossipConfig::fast();
  NetworkFaults faults;
  std::uint64_t seed = 1;
  Micros leave_linger_us = 1 * gossip::kMicrosPerSecond;
};

// Sees every Outbox event of every node, as it happens.
class ClusterObserver {
 public:
  virtual ~ClusterObserver() = default;
  virtual void on_event(NodeIndex observer, const gossip::Event& event, Micros now_us) = 0;
};

struct ClusterCounters {
  std::uint64_t messages_sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t rejected = 0;             // failed validate_message(): a bug in the sender
  std::uint64_t dropped_down = 0;         // to a crashed, left or not started node
  std::uint64_t dropped_unknown = 0;      // to an address no node has
  std::uint64_t held_by_stall = 0;        // delivered late because the receiver was stalled
  std::size_t largest_message_bytes = 0;  // encoded_size_bound, over the whole run
  std::string first_rejection;            // why, and from whom
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Adds `count` slots (not started); returns the first new index.
  NodeIndex add_nodes(std::size_t count);
  std::size_t size() const { return slots_.size(); }
  static std::string name_of(NodeIndex index);
  static std::string address_of(NodeIndex index);
  std::optional<NodeIndex> index_of_name(const std::string& name) const;

  // Lifecycle, now (see the file comment).
  void start(NodeIndex index, const std::vector<NodeIndex>& seeds);
  void crash(NodeIndex index);
  void restart(NodeIndex index);
  void stall(NodeIndex index, Micros duration_us);
  void leave(NodeIndex index);
  void set_load(NodeIndex index, const gossip::Load& load);

  // Runs `action` at virtual time at_us (>= now).
  void at(Micros at_us, std::function<void()> action);
  // Processes every event up to and including until_us; now() is until_us after.
  void run_until(Micros until_us);
  // Runs until `done()` holds (checked every check_every_us) or deadline_us;
  // whether it held.
  bool run_until(const std::function<bool()>& done, Micros deadline_us, Micros check_every_us);
  Micros now() const { return now_us_; }

  NodeStatus status(NodeIndex index) const { return slots_[index].status; }
  bool up(NodeIndex index) const {
    return status(index) == NodeStatus::kUp || status(index) == NodeStatus::kStalled;
  }
  // The node's protocol state, if it ever started (a crashed node keeps its last one).
  const gossip::Node* node(NodeIndex index) const {
    return slots_[index].node ? &*slots_[index].node : nullptr;
  }
  // When the node's current run started (start or restart).
  Micros started_us(NodeIndex index) const { return slots_[index].started_us; }
  // Whether the node was stalled at some time in [from_us, to_us].
  bool stalled_during(NodeIndex index, Micros from_us, Micros to_us) const;
  // Every up node sees every up node alive (or suspect), and nothing else alive.
  bool converged() const;

  void set_observer(ClusterObserver* observer) { observer_ = observer; }
  Network& network() { return network_; }
  const ClusterCounters& counters() const { return counters_; }
  // encoded_size_bound bytes this slot sent, over all its runs.
  std::uint64_t bytes_sent(NodeIndex index) const { return slots_[index].bytes_sent; }
  // A hash of everything that happened (deliveries and events, with their
  // times): equal for two runs exactly when they replayed the same.
  std::uint64_t trace_hash() const { return trace_hash_; }
  const gossip::GossipConfig& config() const { return options_.config; }
  std::mt19937_64& rng() { return rng_; }

 private:
  struct Slot {
    std::optional<gossip::Node> node;
    NodeStatus status = NodeStatus::kNotStarted;
    Micros tick_at_us = -1;  // the pending tick event's time, -1: none
    Micros stalled_until_us = 0;
    std::vector<std::uint32_t> held;  // in-flight slots that arrived during a stall
    std::vector<std::pair<Micros, Micros>> stalls;
    std::uint64_t bytes_sent = 0;
    Micros started_us = 0;  // of the current run (start or restart)
  };
  struct InFlight {
    NodeIndex from = 0;
    NodeIndex to = 0;
    gossip::Message message;
  };

  void flush(NodeIndex index);  // sends the outbox, reports its events, reschedules the tick
  void send(NodeIndex from, gossip::Outgoing&& outgoing);
  void deliver(std::uint32_t in_flight);
  void on_tick(const QueuedEvent& event);
  void on_stall_end(const QueuedEvent& event);
  std::uint32_t store(InFlight&& in_flight);
  void mix(std::uint64_t value);

  ClusterOptions options_;
  std::mt19937_64 rng_;
  Network network_;
  EventQueue queue_;
  Micros now_us_ = 0;
  std::vector<Slot> slots_;
  std::unordered_map<std::string, NodeIndex> by_address_;
  std::vector<InFlight> in_flight_;
  std::vector<std::uint32_t> free_in_flight_;
  std::vector<std::function<void()>> actions_;
  gossip::Outbox outbox_;
  ClusterObserver* observer_ = nullptr;
  ClusterCounters counters_;
  std::uint64_t trace_hash_ = 14695981039346656037ull;
};

}  // namespace braid::sim
