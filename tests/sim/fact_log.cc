// sim::FactLog (tests/sim/fact_log.h).
#include "tests/sim/fact_log.h"

#include <algorithm>
#include <cstdio>

namespace braid::sim {

FactLog::FactLog(const Cluster& cluster)
    : cluster_(cluster),
      // The longest a stale suspicion of a stalled node can take to time out
      // and spread: the maximum Lifeguard timeout at 10 000 nodes, plus a margin.
      stall_grace_us_(cluster.config().probe_interval_us * cluster.config().suspicion_mult * 4 *
                          cluster.config().suspicion_max_timeout_mult +
                      10 * gossip::kMicrosPerSecond) {}

std::size_t FactLog::watch(FactKind kind, NodeIndex subject, Micros since_us,
                           std::uint64_t at_least) {
  Fact fact;
  fact.kind = kind;
  fact.subject = subject;
  fact.since_us = since_us;
  fact.at_least = at_least;
  fact.learned_us.assign(cluster_.size(), -1);
  if (kind == FactKind::kLoad) {  // observers that already know it (e.g. the origin)
    for (NodeIndex o = 0; o < cluster_.size(); ++o) {
      const gossip::Node* node = cluster_.node(o);
      if (node == nullptr || !cluster_.up(o)) continue;
      auto member = node->member(Cluster::name_of(subject));
      if (member && member->load_version >= at_least) fact.learned_us[o] = since_us;
    }
  }
  facts_.push_back(std::move(fact));
  if (by_subject_.size() <= subject) by_subject_.resize(subject + 1);
  by_subject_[subject].push_back(facts_.size() - 1);
  return facts_.size() - 1;
}

void FactLog::on_event(NodeIndex observer, const gossip::Event& event, Micros now_us) {
  if (event.kind == gossip::Event::Kind::kRemoved) return;
  const std::optional<NodeIndex> subject = cluster_.index_of_name(event.name);
  if (!subject || *subject == observer) return;
  check_false_positive(observer, *subject, event, now_us);
  if (*subject < by_subject_.size() && !by_subject_[*subject].empty()) {
    learn(observer, *subject, event, now_us);
  }
}

void FactLog::learn(NodeIndex observer, NodeIndex subject, const gossip::Event& event,
                    Micros now_us) {
  const bool alive_like =
      event.state == gossip::MemberState::kAlive || event.state == gossip::MemberState::kSuspect;
  for (std::size_t id : by_subject_[subject]) {
    Fact& fact = facts_[id];
    if (observer >= fact.learned_us.size() || fact.learned_us[observer] >= 0) continue;
    bool learned = false;
    switch (fact.kind) {
      case FactKind::kAlive:
        learned = event.kind != gossip::Event::Kind::kLoad && alive_like &&
                  event.incarnation >= fact.at_least;
        break;
      case FactKind::kDead:
        learned =
            event.kind != gossip::Event::Kind::kLoad && event.state == gossip::MemberState::kDead;
        break;
      case FactKind::kLeft:
        learned =
            event.kind != gossip::Event::Kind::kLoad && event.state == gossip::MemberState::kLeft;
        break;
      case FactKind::kLoad:
        if (event.kind == gossip::Event::Kind::kLoad) {
          auto member = cluster_.node(observer)->member(event.name);
          learned = member && member->load_version >= fact.at_least;
        }
        break;
    }
    if (learned) fact.learned_us[observer] = now_us;
  }
}

void FactLog::check_false_positive(NodeIndex observer, NodeIndex subject,
                                   const gossip::Event& event, Micros now_us) {
  if (event.kind == gossip::Event::Kind::kLoad) return;
  const bool dead = event.state == gossip::MemberState::kDead;
  const bool suspect = event.state == gossip::MemberState::kSuspect;
  if (!dead && !suspect) return;
  if (!cluster_.up(subject)) return;
  const gossip::Node* node = cluster_.node(subject);
  // A death of an earlier run (before a restart) is the truth about that run.
  if (node == nullptr || event.incarnation < node->self().incarnation) return;
  const bool stalled = cluster_.stalled_during(subject, now_us - stall_grace_us_, now_us);
  if (suspect) {
    ++(stalled ? false_positives_.stalled_suspect_events : false_positives_.suspect_events);
    return;
  }
  if (stalled) {
    ++false_positives_.stalled_dead_events;
    return;
  }
  ++false_positives_.dead_events;
  if (dead_subjects_.emplace(subject, event.incarnation).second) {
    ++false_positives_.dead_subjects;
  }
  if (false_positives_.first.empty()) {
    char buffer[160];
    std::snprintf(buffer, sizeof(buffer), "%s (incarnation %llu) declared dead by %s at %.3f s",
                  event.name.c_str(), static_cast<unsigned long long>(event.incarnation),
                  Cluster::name_of(observer).c_str(), static_cast<double>(now_us) / 1e6);
    false_positives_.first = buffer;
  }
}

bool FactLog::known_everywhere(std::size_t id) const {
  const Fact& fact = facts_[id];
  for (NodeIndex o = 0; o < cluster_.size(); ++o) {
    if (o == fact.subject || !cluster_.up(o)) continue;
    if (o >= fact.learned_us.size() || fact.learned_us[o] < 0) return false;
  }
  return true;
}

void FactLog::collect(std::size_t id, std::vector<Micros>& values, std::size_t& missing) const {
  const Fact& fact = facts_[id];
  for (NodeIndex o = 0; o < cluster_.size(); ++o) {
    if (o == fact.subject || !cluster_.up(o)) continue;
    // A node that started after a join learns of it by joining, not by gossip.
    if (fact.kind == FactKind::kAlive && cluster_.started_us(o) > fact.since_us) continue;
    if (o >= fact.learned_us.size() || fact.learned_us[o] < 0) {
      ++missing;
      continue;
    }
    values.push_back(std::max<Micros>(0, fact.learned_us[o] - fact.since_us));
  }
}

Summary FactLog::delays(std::size_t id) const { return delays(std::vector<std::size_t>{id}); }

Summary FactLog::delays(const std::vector<std::size_t>& ids) const {
  std::vector<Micros> values;
  std::size_t missing = 0;
  for (std::size_t id : ids) collect(id, values, missing);
  return summarize(std::move(values), missing);
}

Micros FactLog::everywhere_after_us(std::size_t id) const {
  Summary summary = delays(id);
  return summary.missing > 0 ? -1 : summary.max_us;
}

}  // namespace braid::sim
