// The membership table: what this node knows of every member, itself
// included, and the SWIM precedence rules that decide whether a claim about
// a member (state, incarnation) replaces what is known (gossip/types.h):
//  - a lower incarnation never does;
//  - for the same incarnation, left > dead > suspect > alive;
//  - a higher incarnation does, except that suspect does not override dead
//    or left: only the member itself, alive with a higher incarnation (a
//    restart), or a later dead or left, does.
// A member is new to the table only through an alive claim with an address.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "gossip/types.h"

namespace braid::gossip {

// Whether a claim (state, incarnation) replaces the known (state, incarnation).
bool overrides(MemberState known_state, Incarnation known_incarnation, MemberState state,
               Incarnation incarnation);

// alive or suspect: probed, counted in the cluster size.
inline bool is_live(MemberState state) {
  return state == MemberState::kAlive || state == MemberState::kSuspect;
}

class MembershipTable {
 public:
  enum class Applied : std::uint8_t { kIgnored, kNew, kChanged };

  explicit MembershipTable(Member self);

  // Applies a claim about a member other than self (the node handles claims
  // about itself: refutation). address: the member's, for alive claims (a
  // new member needs one; a known member's is replaced by a non-empty one).
  Applied apply(const std::string& name, MemberState state, Incarnation incarnation,
                const std::string& address, Micros now_us);
  // Sets a known member's state and incarnation unconditionally (ourselves).
  void set(const std::string& name, MemberState state, Incarnation incarnation, Micros now_us);

  const Member* find(const std::string& name) const;
  Member* find_mutable(const std::string& name);
  // Forgets a member (not self).
  void erase(const std::string& name);

  const std::map<std::string, Member>& all() const { return members_; }
  std::size_t size() const { return members_.size(); }
  std::size_t live_count() const { return live_; }  // self included

  // Up to count distinct members other than self for which pick(member)
  // holds, chosen at random with rng.
  template <typename Pick>
  std::vector<const Member*> sample(std::mt19937_64& rng, std::size_t count, Pick pick) const;

 private:
  void count(const Member& m, int sign);
  std::string self_;
  const Member* self_member_ = nullptr;
  std::map<std::string, Member> members_;
  // Random access for sampling: others_ holds every member but self;
  // position_ maps a name to its index there.
  std::vector<const Member*> others_;
  std::unordered_map<std::string, std::size_t> position_;
  std::size_t live_ = 0;
};

template <typename Pick>
std::vector<const Member*> MembershipTable::sample(std::mt19937_64& rng, std::size_t count,
                                                   Pick pick) const {
  std::vector<const Member*> chosen;
  if (count == 0 || others_.empty()) return chosen;
  constexpr std::size_t kScanBelow = 64;
  if (others_.size() <= kScanBelow) {
    std::vector<const Member*> eligible;
    for (const Member* m : others_) {
      if (pick(*m)) eligible.push_back(m);
    }
    for (std::size_t i = 0; i < eligible.size() && chosen.size() < count; ++i) {
      std::uniform_int_distribution<std::size_t> d(i, eligible.size() - 1);
      std::swap(eligible[i], eligible[d(rng)]);
      chosen.push_back(eligible[i]);
    }
    return chosen;
  }
  // memberlist's kRandomNodes: random picks, at most 3 x n tries.
  std::uniform_int_distribution<std::size_t> d(0, others_.size() - 1);
  for (std::size_t tries = 0; tries < 3 * others_.size() && chosen.size() < count; ++tries) {
    const Member* m = others_[d(rng)];
    if (!pick(*m) || std::find(chosen.begin(), chosen.end(), m) != chosen.end()) continue;
    chosen.push_back(m);
  }
  return chosen;
}

}  // namespace braid::gossip
