#include "sched/balance.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "sched/check.h"

namespace braid::sched {
namespace {

Status in_range(const char* field, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (value >= lo && value <= hi) return ok_status();
  return Error{std::string(field) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) +
               ", got " + std::to_string(value)};
}

std::int64_t backlog_of(std::uint32_t queued, std::uint32_t free_slots) {
  return static_cast<std::int64_t>(queued) - static_cast<std::int64_t>(free_slots);
}

// Heap order: the top is the task to offer first.
bool offered_later(const MovableTask& a, const MovableTask& b) {
  if (a.priority != b.priority) return a.priority < b.priority;
  if (a.queued_since_us != b.queued_since_us) return a.queued_since_us > b.queued_since_us;
  return a.key > b.key;
}

}  // namespace

Status validate_balance_config(const BalanceConfig& c) {
  const Status checks[] = {
      in_range("choices", c.choices, 1, kBalanceChoicesMax),
      // 0 would let a task move back at once (ping-pong).
      in_range("hysteresis", c.hysteresis, 1, 1'000'000),
      in_range("max_hops", c.max_hops, 0, kBalanceHopsMax),
      in_range("stale_after_us", c.stale_after_us, 1, kBalanceDurationMaxUs),
      in_range("promise_ttl_us", c.promise_ttl_us, 1, kBalanceDurationMaxUs),
      in_range("max_offers", c.max_offers, 1, kBalanceOffersMax),
      in_range("pull_interval_us", c.pull_interval_us, 0, kBalanceDurationMaxUs),
      in_range("refusal_backoff_us", c.refusal_backoff_us, 1, kBalanceDurationMaxUs),
      in_range("target_backlog", c.target_backlog, 0, kBalanceTargetBacklogMax),
  };
  for (const Status& s : checks) {
    if (!s) return s;
  }
  return ok_status();
}

bool may_migrate(const Task& task, int hops, const BalanceConfig& config) {
  // A member of a throttled array stays: the throttle (at most K of the
  // array started at once) is kept by the node that holds the array.
  return task.state == TaskState::kQueued && !task.started_this_attempt && !task.spec.pinned &&
         task.spec.array_throttle == 0 && hops < config.max_hops;
}

bool accepts_offer(const LocalLoad& local, std::uint32_t held, const BalanceConfig& config) {
  return backlog_of(local.queued, local.free_slots) + static_cast<std::int64_t>(held) <
         config.target_backlog;
}

bool Balancer::wants_push(const LocalLoad& local) const {
  return backlog_of(local.queued, local.free_slots) > config_.target_backlog;
}

Balancer::Balancer(BalanceConfig config, std::uint64_t seed)
    : config_(std::move(config)), rng_(seed) {
  const Status valid = validate_balance_config(config_);
  BRAID_CHECK(valid.ok(), valid.error().message);
}

std::vector<Offer> Balancer::push(const LocalLoad& local, std::vector<MovableTask> movable,
                                  const std::vector<PeerLoad>& peers, Micros now_us) {
  forget_expired(now_us);
  forget_shown(peers, now_us);
  std::vector<Candidate> pool;
  const bool any_leaving = std::any_of(movable.begin(), movable.end(),
                                       [](const MovableTask& t) { return t.must_leave; });
  for (const PeerLoad& p : peers) {
    const Micros age_us = std::max<Micros>(0, p.age_us);
    if (!p.accepting || p.name == config_.self) continue;
    const std::int64_t promised = promised_now(p.name, false);
    const std::int64_t free_room =
        std::max<std::int64_t>(0, config_.target_backlog - backlog_of(p.queued, p.free_slots));
    if (age_us >= config_.stale_after_us) {
      if (any_leaving && free_room - promised >= 1) {
        pool.push_back({p.name, free_room - promised, backlog_of(p.queued, p.free_slots) + promised,
                        p.version, /*stale=*/true});
      }
      continue;
    }
    // Rounded: a room of 1 seen 300 ms ago is still 1 (floor made it 0, and a
    // peer that wants one task was never offered one). Both factors are
    // bounded (uint32 and kBalanceDurationMaxUs): no overflow.
    const std::int64_t room =
        (free_room * (config_.stale_after_us - age_us) * 2 + config_.stale_after_us) /
            (2 * config_.stale_after_us) -
        promised;
    if (room < 1) continue;
    pool.push_back({p.name, room, backlog_of(p.queued, p.free_slots) + promised, p.version});
  }
  return place(backlog_of(local.queued, local.free_slots), config_.target_backlog,
               std::move(movable), std::move(pool), now_us);
}

std::vector<Offer> Balancer::answer_pull(const LocalLoad& local, std::vector<MovableTask> movable,
                                         const PullRequest& from, Micros now_us) {
  forget_expired(now_us);
  const std::int64_t unanswered = promised_now(from.peer, true);
  const std::int64_t slots = from.slots;
  std::vector<Candidate> pool{
      {from.peer, slots - unanswered, config_.target_backlog - slots + unanswered, 0}};
  // A pull is answered down to a backlog of 0, not to the target: an idle
  // asker runs the task now, while here it would wait for a slot.
  return place(backlog_of(local.queued, local.free_slots), 0, std::move(movable), std::move(pool),
               now_us);
}

std::optional<PullRequest> Balancer::pull(const LocalLoad& local,
                                          const std::vector<PeerLoad>& peers, Micros now_us) {
  forget_expired(now_us);
  forget_shown(peers, now_us);
  const std::int64_t local_backlog = backlog_of(local.queued, local.free_slots);
  if (config_.target_backlog == 0 ? local.queued > 0 || local.free_slots == 0
                                  : local_backlog >= config_.target_backlog) {
    return std::nullopt;
  }
  if (last_pull_us_ && now_us - *last_pull_us_ < config_.pull_interval_us) return std::nullopt;
  std::vector<const PeerLoad*> pool;
  for (const PeerLoad& p : peers) {
    if (std::max<Micros>(0, p.age_us) >= config_.stale_after_us || p.name == config_.self) continue;
    const std::int64_t backlog = backlog_of(p.queued, p.free_slots) + promised_now(p.name, false);
    if (backlog > 0 && backlog - local_backlog >= 1 + config_.hysteresis) pool.push_back(&p);
  }
  const PeerLoad* best = nullptr;
  std::int64_t best_backlog = 0;
  for (std::size_t i = 0; i < pool.size() && i < static_cast<std::size_t>(config_.choices); ++i) {
    std::swap(pool[i], pool[i + below(pool.size() - i)]);
    const PeerLoad& p = *pool[i];
    const std::int64_t backlog = backlog_of(p.queued, p.free_slots) + promised_now(p.name, false);
    if (best == nullptr || backlog > best_backlog ||
        (backlog == best_backlog && p.top_queued_priority > best->top_queued_priority)) {
      best = &p;
      best_backlog = backlog;
    }
  }
  if (best == nullptr) return std::nullopt;
  last_pull_us_ = now_us;
  const std::int64_t wanted = config_.target_backlog - local_backlog;
  return PullRequest{best->name, static_cast<std::uint32_t>(wanted)};
}

std::vector<Offer> Balancer::place(std::int64_t local_backlog, std::int64_t keep_backlog,
                                   std::vector<MovableTask> movable, std::vector<Candidate> pool,
                                   Micros now_us) {
  std::vector<Offer> offers;
  // First the tasks that must leave, whatever the backlog (see balance.h).
  const auto normal = std::stable_partition(movable.begin(), movable.end(),
                                            [](const MovableTask& t) { return t.must_leave; });
  std::vector<MovableTask> leaving(movable.begin(), normal);
  movable.erase(movable.begin(), normal);
  std::sort(leaving.begin(), leaving.end(),
            [](const MovableTask& a, const MovableTask& b) { return offered_later(b, a); });
  for (const MovableTask& task : leaving) {
    if (pool.empty() || offers.size() >= static_cast<std::size_t>(config_.max_offers) ||
        promise_count_ >= kBalancePromisesMax) {
      break;
    }
    BRAID_CHECK(task.cpus >= 1, task.key, task.cpus);
    if (task.hops >= config_.max_hops) continue;
    if (const std::optional<std::size_t> chosen = choose(pool, task, local_backlog)) {
      promise(pool[*chosen], task, now_us, offers);
    }
  }
  std::make_heap(movable.begin(), movable.end(), offered_later);
  // Rooms only shrink and the local backlog only drops during a round, so a
  // task size no peer fits rules out every task at least that large.
  int unplaceable_cpus = std::numeric_limits<int>::max();
  while (local_backlog > keep_backlog && !movable.empty() && !pool.empty() &&
         offers.size() < static_cast<std::size_t>(config_.max_offers) &&
         promise_count_ < kBalancePromisesMax) {
    std::pop_heap(movable.begin(), movable.end(), offered_later);
    const MovableTask task = movable.back();
    movable.pop_back();
    BRAID_CHECK(task.cpus >= 1, task.key, task.cpus);
    if (task.hops >= config_.max_hops || task.cpus >= unplaceable_cpus) continue;
    const std::optional<std::size_t> chosen = choose(pool, task, local_backlog);
    if (!chosen) {
      // No peer fits its size, unless a refusal of this very task is why.
      const bool refused = std::any_of(refused_.begin(), refused_.end(),
                                       [&](const Refused& r) { return r.key == task.key; });
      if (!refused) unplaceable_cpus = task.cpus;
      continue;
    }
    promise(pool[*chosen], task, now_us, offers);
    local_backlog -= 1;
  }
  return offers;
}

void Balancer::promise(Candidate& peer, const MovableTask& task, Micros now_us,
                       std::vector<Offer>& offers) {
  peer.room_slots -= task.cpus;
  peer.backlog += task.cpus;
  promises_[peer.name].push_back(
      {task.key, task.cpus, now_us, false, peer.version, task.must_leave});
  ++promise_count_;
  offers.push_back({task.key, peer.name});
}

bool Balancer::refused_lately(TaskKey key, const std::string& peer) const {
  return std::any_of(refused_.begin(), refused_.end(),
                     [&](const Refused& r) { return r.key == key && r.peer == peer; });
}

bool Balancer::fits(const Candidate& c, int cpus, std::int64_t local_backlog) const {
  return c.room_slots >= cpus && local_backlog - c.backlog >= cpus + config_.hysteresis;
}

// Draws peers without replacement until `choices` of them fit the task (or
// the pool is spent) and keeps the one with the most room; the first drawn
// wins ties. A peer that no longer fits even one cpu leaves the pool. A task
// that must leave (`leaving`) needs room only, from a peer that has not
// refused it lately.
std::optional<std::size_t> Balancer::choose(std::vector<Candidate>& pool, const MovableTask& task,
                                            std::int64_t local_backlog) {
  std::optional<std::size_t> best;
  int fitting = 0;
  std::size_t i = 0;
  while (i < pool.size() && fitting < config_.choices) {
    std::swap(pool[i], pool[i + below(pool.size() - i)]);
    if (task.must_leave ? pool[i].room_slots < 1
                        : pool[i].stale || !fits(pool[i], 1, local_backlog)) {
      if (i + 1 < pool.size()) pool[i] = std::move(pool.back());
      pool.pop_back();
      continue;
    }
    const bool fit = (task.must_leave ? pool[i].room_slots >= task.cpus
                                      : fits(pool[i], task.cpus, local_backlog)) &&
                     !refused_lately(task.key, pool[i].name);
    if (fit) {
      ++fitting;
      if (!best || pool[i].room_slots > pool[*best].room_slots) best = i;
    }
    ++i;
  }
  return best;
}

void Balancer::offer_ended(const std::string& peer, TaskKey key, bool accepted, Micros now_us,
                           bool lasting) {
  const auto it = promises_.find(peer);
  if (it == promises_.end()) return;
  std::vector<Promise>& list = it->second;
  const auto p = std::find_if(list.begin(), list.end(),
                              [&](const Promise& x) { return x.key == key && !x.accepted; });
  if (p == list.end()) return;
  if (accepted) {
    p->accepted = true;
    p->since_us = now_us;
    return;
  }
  // The task is not offered to that peer again for the backoff (each offer
  // is a journal write): a refusal that will hold (review16: a labelled
  // task was offered to an unlabelled peer every round), or any refusal of
  // a task that has nowhere else to go. Busy and lost offers pass.
  if (lasting || p->must_leave) {
    if (refused_.size() >= kBalancePromisesMax) refused_.erase(refused_.begin());
    refused_.push_back({key, peer, now_us + config_.refusal_backoff_us});
  }
  list.erase(p);
  --promise_count_;
  if (list.empty()) promises_.erase(it);
}

std::uint32_t Balancer::promised_slots(const std::string& peer, Micros now_us) const {
  const auto it = promises_.find(peer);
  if (it == promises_.end()) return 0;
  std::uint32_t slots = 0;
  for (const Promise& p : it->second) {
    if (now_us - p.since_us < config_.promise_ttl_us) slots += static_cast<std::uint32_t>(p.cpus);
  }
  return slots;
}

std::int64_t Balancer::promised_now(const std::string& peer, bool unanswered_only) const {
  const auto it = promises_.find(peer);
  if (it == promises_.end()) return 0;
  std::int64_t slots = 0;
  for (const Promise& p : it->second) {
    if (!unanswered_only || !p.accepted) slots += p.cpus;
  }
  return slots;
}

void Balancer::forget_expired(Micros now_us) {
  std::erase_if(refused_, [&](const Refused& r) { return now_us >= r.until_us; });
  for (auto it = promises_.begin(); it != promises_.end();) {
    std::vector<Promise>& list = it->second;
    const std::size_t before = list.size();
    std::erase_if(list,
                  [&](const Promise& p) { return now_us - p.since_us >= config_.promise_ttl_us; });
    promise_count_ -= before - list.size();
    it = list.empty() ? promises_.erase(it) : std::next(it);
  }
}

void Balancer::forget_shown(const std::vector<PeerLoad>& peers, Micros now_us) {
  for (const PeerLoad& peer : peers) {
    const auto it = promises_.find(peer.name);
    if (it == promises_.end()) continue;
    const Micros measured_us = now_us - std::max<Micros>(0, peer.age_us);
    std::vector<Promise>& list = it->second;
    const std::size_t before = list.size();
    std::erase_if(list, [&](const Promise& p) {
      return p.accepted && peer.version > p.version_at_offer && measured_us >= p.since_us;
    });
    promise_count_ -= before - list.size();
    if (list.empty()) promises_.erase(it);
  }
}

std::uint64_t Balancer::below(std::uint64_t n) {
  // Modulo, not uniform_int_distribution: the same draws on every standard
  // library, so a seed replays anywhere; the bias (n / 2^64) is negligible.
  return rng_() % n;
}

}  // namespace braid::sched
