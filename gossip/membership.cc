#include "gossip/membership.h"

#include <utility>

namespace braid::gossip {
namespace {

bool final_state(MemberState s) { return s == MemberState::kDead || s == MemberState::kLeft; }

}  // namespace

bool overrides(MemberState known_state, Incarnation known_incarnation, MemberState state,
               Incarnation incarnation) {
  if (incarnation < known_incarnation) return false;
  if (incarnation == known_incarnation) {
    return static_cast<int>(state) > static_cast<int>(known_state);
  }
  if (state == MemberState::kSuspect && final_state(known_state)) return false;
  return true;
}

MembershipTable::MembershipTable(Member self) : self_(self.name) {
  count(self, +1);
  auto [it, inserted] = members_.emplace(self.name, std::move(self));
  self_member_ = &it->second;
}

void MembershipTable::count(const Member& m, int sign) {
  if (is_live(m.state)) live_ = static_cast<std::size_t>(static_cast<long long>(live_) + sign);
}

MembershipTable::Applied MembershipTable::apply(const std::string& name, MemberState state,
                                                Incarnation incarnation, const std::string& address,
                                                Micros now_us) {
  if (name == self_) return Applied::kIgnored;
  auto it = members_.find(name);
  if (it == members_.end()) {
    if (state != MemberState::kAlive || address.empty()) return Applied::kIgnored;
    Member m;
    m.name = name;
    m.address = address;
    m.incarnation = incarnation;
    m.state = state;
    m.state_since_us = now_us;
    count(m, +1);
    auto [pos, inserted] = members_.emplace(name, std::move(m));
    position_[name] = others_.size();
    others_.push_back(&pos->second);
    return Applied::kNew;
  }
  Member& m = it->second;
  if (!overrides(m.state, m.incarnation, state, incarnation)) return Applied::kIgnored;
  count(m, -1);
  m.state = state;
  m.incarnation = incarnation;
  m.state_since_us = now_us;
  if (state == MemberState::kAlive && !address.empty()) m.address = address;
  count(m, +1);
  return Applied::kChanged;
}

void MembershipTable::set(const std::string& name, MemberState state, Incarnation incarnation,
                          Micros now_us) {
  Member* m = find_mutable(name);
  if (m == nullptr) return;
  count(*m, -1);
  m->state = state;
  m->incarnation = incarnation;
  m->state_since_us = now_us;
  count(*m, +1);
}

// Hash lookups: find() is on every message's path, and names in a large
// cluster often share long prefixes (slow to compare in the ordered map).
const Member* MembershipTable::find(const std::string& name) const {
  if (name == self_) return self_member_;
  auto it = position_.find(name);
  return it == position_.end() ? nullptr : others_[it->second];
}

Member* MembershipTable::find_mutable(const std::string& name) {
  return const_cast<Member*>(std::as_const(*this).find(name));
}

void MembershipTable::erase(const std::string& name) {
  if (name == self_) return;
  auto it = members_.find(name);
  if (it == members_.end()) return;
  count(it->second, -1);
  auto pos = position_.find(name);
  const std::size_t index = pos->second;
  others_[index] = others_.back();
  position_[others_[index]->name] = index;
  others_.pop_back();
  position_.erase(name);
  members_.erase(it);
}

}  // namespace braid::gossip
