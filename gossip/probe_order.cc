#include "gossip/probe_order.h"

#include <algorithm>

namespace braid::gossip {

void ProbeOrder::add(const std::string& name, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::size_t> d(0, order_.size());
  const std::size_t pos = d(rng);
  order_.insert(order_.begin() + static_cast<std::ptrdiff_t>(pos), name);
  if (pos < index_) ++index_;
}

void ProbeOrder::probe_next(const std::string& name) {
  if (!brought_forward_.insert(name).second) return;
  const auto next = order_.begin() + static_cast<std::ptrdiff_t>(index_);
  const auto later = std::find(next, order_.end(), name);
  if (later != order_.end()) {
    std::rotate(next, later, later + 1);  // the rest keeps its order
  } else {
    order_.insert(next, name);
  }
}

std::optional<std::string> ProbeOrder::next(
    std::mt19937_64& rng, const std::function<bool(const std::string&)>& probeable,
    const std::function<std::vector<std::string>()>& members) {
  for (int pass = 0; pass < 2; ++pass) {
    while (index_ < order_.size()) {
      const std::string& name = order_[index_++];
      if (probeable(name)) return name;
    }
    order_ = members();
    std::shuffle(order_.begin(), order_.end(), rng);
    index_ = 0;
    brought_forward_.clear();
  }
  return std::nullopt;
}

}  // namespace braid::gossip
