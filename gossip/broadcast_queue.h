// The queue of updates waiting to be piggybacked (SWIM dissemination). Each
// update is sent at most retransmit_limit times, least-sent first and, among
// equally sent ones, newest first (memberlist's TransmitLimitedQueue). An
// update about member X supersedes a queued one about X on the same topic:
// membership (alive, suspect, dead, left) and load are separate topics, so
// a load change never pushes a join out of the queue.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gossip/message.h"

namespace braid::gossip {

// retransmit_mult x max(2, ceil(log10(n + 1))): how often one update is sent
// in a cluster of n live members. The floor of 2 keeps clusters under 10
// members as safe as those under 100: with k sends a member misses an update
// with probability ~e^-k (memberlist's log10 alone gives 4 sends there,
// which a 20% loss turned into misses that waited for a push-pull sync).
int retransmit_limit(int retransmit_mult, std::size_t live_members);
// The same for a membership update (retransmit_mult is then
// membership_retransmit_mult: 12 sends below 100 members at the default 6).
int membership_retransmit_limit(int retransmit_mult, std::size_t live_members);

class BroadcastQueue {
 public:
  BroadcastQueue();
  ~BroadcastQueue();
  BroadcastQueue(BroadcastQueue&&) noexcept;
  BroadcastQueue& operator=(BroadcastQueue&&) noexcept;

  // Queues update (sent 0 times so far), replacing a queued update about the
  // same member and topic.
  void push(Update update);
  // How often an update is sent, by topic.
  struct Limits {
    int membership = 0;
    int load = 0;
  };
  // Appends to out at most max_count updates (least-sent, then newest first)
  // whose encoded_size_bound()s add up to at most budget_bytes, counts each
  // as sent once, and drops the ones sent as often as their topic's limit
  // (and any already past it, which a shrinking cluster lowers).
  void fill(std::size_t budget_bytes, std::size_t max_count, Limits limits,
            std::vector<Update>& out);
  std::size_t size() const { return by_key_.size(); }
  bool empty() const { return by_key_.empty(); }
  // How often the queued update about name on the topic of kind was sent, or
  // nullopt if none is queued.
  std::optional<int> transmits(const std::string& name, Update::Kind kind) const;

 private:
  struct Entry {
    Update update;
    int transmits = 0;
    std::uint64_t id = 0;  // push order: higher is newer
  };
  struct Order {
    bool operator()(const Entry* a, const Entry* b) const {
      if (a->transmits != b->transmits) return a->transmits < b->transmits;
      return a->id > b->id;
    }
  };
  using Key = std::pair<std::string, bool>;  // name, is load
  std::map<Key, std::unique_ptr<Entry>> by_key_;
  std::set<Entry*, Order> order_;
  std::uint64_t next_id_ = 1;
};

}  // namespace braid::gossip
