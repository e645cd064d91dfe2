#include "gossip/broadcast_queue.h"

#include <algorithm>
#include <cmath>

namespace braid::gossip {

int retransmit_limit(int retransmit_mult, std::size_t live_members) {
  const double scale = std::ceil(std::log10(static_cast<double>(live_members) + 1.0));
  return retransmit_mult * std::max(2, static_cast<int>(scale));
}

int membership_retransmit_limit(int retransmit_mult, std::size_t live_members) {
  return retransmit_limit(retransmit_mult, live_members);
}

BroadcastQueue::BroadcastQueue() = default;
BroadcastQueue::~BroadcastQueue() = default;
BroadcastQueue::BroadcastQueue(BroadcastQueue&&) noexcept = default;
BroadcastQueue& BroadcastQueue::operator=(BroadcastQueue&&) noexcept = default;

void BroadcastQueue::push(Update update) {
  Key key{update.name, update.kind == Update::Kind::kLoad};
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    order_.erase(it->second.get());
    by_key_.erase(it);
  }
  auto entry = std::make_unique<Entry>();
  entry->update = std::move(update);
  entry->id = next_id_++;
  order_.insert(entry.get());
  by_key_.emplace(std::move(key), std::move(entry));
}

void BroadcastQueue::fill(std::size_t budget_bytes, std::size_t max_count, Limits limits,
                          std::vector<Update>& out) {
  auto limit_of = [&limits](const Entry* e) {
    return e->update.kind == Update::Kind::kLoad ? limits.load : limits.membership;
  };
  std::vector<Entry*> sent;
  std::vector<Entry*> spent;
  std::size_t taken = 0;
  for (Entry* e : order_) {
    if (taken >= max_count) break;
    if (e->transmits >= limit_of(e)) {
      spent.push_back(e);
      continue;
    }
    const std::size_t bytes = encoded_size_bound(e->update);
    if (bytes > budget_bytes) continue;
    budget_bytes -= bytes;
    out.push_back(e->update);
    sent.push_back(e);
    ++taken;
  }
  for (Entry* e : sent) {
    order_.erase(e);
    if (++e->transmits >= limit_of(e)) {
      spent.push_back(e);
    } else {
      order_.insert(e);
    }
  }
  for (Entry* e : spent) {
    order_.erase(e);
    by_key_.erase(Key{e->update.name, e->update.kind == Update::Kind::kLoad});
  }
}

std::optional<int> BroadcastQueue::transmits(const std::string& name, Update::Kind kind) const {
  auto it = by_key_.find(Key{name, kind == Update::Kind::kLoad});
  if (it == by_key_.end()) return std::nullopt;
  return it->second->transmits;
}

}  // namespace braid::gossip
