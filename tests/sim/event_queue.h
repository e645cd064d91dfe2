// The simulator's event queue on virtual time (microseconds). Entries are
// small: a kind, a node and a payload slot that the owner (sim::Cluster)
// interprets. Entries at the same time come out in the order they were
// pushed (a sequence number breaks ties), so a run is deterministic.
#pragma once

#include <cstdint>
#include <queue>
#include <vector>

#include "gossip/types.h"

namespace braid::sim {

using gossip::Micros;
using NodeIndex = std::uint32_t;

struct QueuedEvent {
  enum class Kind : std::uint8_t {
    kTick,      // call the node's tick() (skipped if no longer its due time)
    kDeliver,   // a message arrives (payload: the cluster's in-flight slot)
    kStallEnd,  // a stalled node resumes
    kAction,    // a scheduled callback (payload: the cluster's action slot)
  };
  Micros at_us = 0;
  std::uint64_t seq = 0;
  Kind kind = Kind::kTick;
  NodeIndex node = 0;
  std::uint32_t payload = 0;
};

class EventQueue {
 public:
  void push(Micros at_us, QueuedEvent::Kind kind, NodeIndex node, std::uint32_t payload = 0);
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // The earliest entry's time; empty() must be false.
  Micros next_us() const { return heap_.top().at_us; }
  // Removes and returns the earliest entry (ties: first pushed first).
  QueuedEvent pop();

 private:
  struct Later {
    bool operator()(const QueuedEvent& a, const QueuedEvent& b) const {
      return a.at_us != b.at_us ? a.at_us > b.at_us : a.seq > b.seq;
    }
  };
  std::priority_queue<QueuedEvent, std::vector<QueuedEvent>, Later> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace braid::sim
