// SWIM's probe order: a shuffled round-robin over the members, so every live
// member is probed once per pass (bounded detection time) in an order no
// one can predict. A pass ends -> the next is a fresh shuffle of the members
// then live; a member added mid-pass goes to a random position.
#pragma once

#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace braid::gossip {

class ProbeOrder {
 public:
  // Inserts name at a random position (duplicates are harmless: the next
  // reshuffle drops them).
  void add(const std::string& name, std::mt19937_64& rng);
  // The next name for which probeable() holds; at the end of a pass the
  // order becomes a shuffle of members(). nullopt: nobody to probe.
  std::optional<std::string> next(std::mt19937_64& rng,
                                  const std::function<bool(const std::string&)>& probeable,
                                  const std::function<std::vector<std::string>()>& members);
  // Makes name the next one probed: its later place in this pass moves
  // forward (or, if it was probed already this pass, it is probed once
  // more). At most once per name per pass, so hearsay about one member can
  // never crowd out the others or grow the order.
  void probe_next(const std::string& name);
  std::size_t size() const { return order_.size(); }

 private:
  std::vector<std::string> order_;
  std::size_t index_ = 0;
  std::set<std::string> brought_forward_;  // this pass; cleared at each reshuffle
};

}  // namespace braid::gossip
