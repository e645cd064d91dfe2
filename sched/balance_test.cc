#include "sched/balance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace braid::sched {
namespace {

constexpr Micros kMs = kMicrosPerMilli;

PeerLoad peer(std::string name, std::uint32_t queued, std::uint32_t free_slots,
              std::uint32_t slots = 8) {
  PeerLoad p;
  p.name = std::move(name);
  p.queued = queued;
  p.slots = slots;
  p.free_slots = free_slots;
  p.running = slots - free_slots;
  p.version = 1;
  return p;
}
PeerLoad idle(std::string name, std::uint32_t free_slots) {
  return peer(std::move(name), 0, free_slots);
}

// A node whose slots are all busy, with `queued` tasks waiting.
LocalLoad busy(std::uint32_t queued) { return LocalLoad{queued, 2, 0}; }

// n movable tasks, keys 0..n-1, the lower key queued earlier.
std::vector<MovableTask> tasks(int n, int priority = kPriorityDefault, int cpus = 1) {
  std::vector<MovableTask> v;
  for (int i = 0; i < n; ++i) {
    v.push_back({static_cast<TaskKey>(i), priority, cpus, i * kMs, 0});
  }
  return v;
}

std::map<std::string, int> per_peer(const std::vector<Offer>& offers) {
  std::map<std::string, int> n;
  for (const Offer& o : offers) ++n[o.peer];
  return n;
}

TEST(BalanceConfig, DefaultsAreValidAndLimitsNamed) {
  EXPECT_TRUE(validate_balance_config(BalanceConfig{}).ok());
  BalanceConfig c;
  c.hysteresis = 0;
  Status s = validate_balance_config(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "hysteresis must be 1..1000000, got 0");
  c = BalanceConfig{};
  c.choices = 0;
  EXPECT_FALSE(validate_balance_config(c).ok());
  c = BalanceConfig{};
  c.max_offers = kBalanceOffersMax + 1;
  EXPECT_FALSE(validate_balance_config(c).ok());
  c = BalanceConfig{};
  c.stale_after_us = 0;
  EXPECT_FALSE(validate_balance_config(c).ok());
}

TEST(MayMigrate, OnlyQueuedUnpinnedTasksUnderMaxHops) {
  const BalanceConfig config;  // max_hops 3
  Task task;
  task.state = TaskState::kQueued;
  EXPECT_TRUE(may_migrate(task, 0, config));
  EXPECT_TRUE(may_migrate(task, 2, config));
  EXPECT_FALSE(may_migrate(task, 3, config));
  for (TaskState s :
       {TaskState::kPending, TaskState::kHeld, TaskState::kRunning, TaskState::kStopped,
        TaskState::kMigrating, TaskState::kMoved, TaskState::kCompleted}) {
    task.state = s;
    EXPECT_FALSE(may_migrate(task, 0, config)) << to_string(s);
  }
  task.state = TaskState::kQueued;
  task.spec.pinned = true;
  EXPECT_FALSE(may_migrate(task, 0, config));
  task.spec.pinned = false;
  task.started_this_attempt = true;
  EXPECT_FALSE(may_migrate(task, 0, config));
}

TEST(Push, NothingWhenNoTaskWaits) {
  Balancer b(BalanceConfig{}, 1);
  // Two queued, two free slots: they start here.
  EXPECT_TRUE(b.push({2, 4, 2}, tasks(2), {idle("a", 8)}, 0).empty());
  EXPECT_TRUE(b.push({0, 2, 0}, {}, {idle("a", 8)}, 0).empty());
}

TEST(Push, NothingUnderHysteresis) {
  BalanceConfig c;
  c.hysteresis = 3;
  Balancer b(c, 1);
  // Local backlog 2, peer backlog -1: a gap of 3 < cpus 1 + hysteresis 3.
  EXPECT_TRUE(b.push(busy(2), tasks(2), {idle("a", 1)}, 0).empty());
  // Peer backlog -2: a gap of 4 is enough for one task (then 3 is not).
  EXPECT_EQ(b.push(busy(2), tasks(2), {idle("a", 2)}, 0).size(), 1u);
}

TEST(Push, PriorityTenGoesFirst) {
  Balancer b(BalanceConfig{}, 1);
  std::vector<MovableTask> movable = tasks(4);
  movable.push_back({99, kPriorityMax, 1, 50 * kMs, 0});  // the newest
  const std::vector<Offer> offers = b.push(busy(5), movable, {idle("a", 1)}, 100 * kMs);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].key, 99u);
}

TEST(Push, LonePriorityTenTaskOnBusyNodeMovesToIdlePeer) {
  Balancer b(BalanceConfig{}, 1);
  const std::vector<Offer> offers =
      b.push(busy(1), {{7, kPriorityMax, 1, 0, 0}}, {idle("a", 2)}, 0);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].key, 7u);
  EXPECT_EQ(offers[0].peer, "a");
}

TEST(Push, OldestFirstWithinPriority) {
  Balancer b(BalanceConfig{}, 1);
  std::vector<MovableTask> movable = tasks(5);
  std::reverse(movable.begin(), movable.end());
  const std::vector<Offer> offers = b.push(busy(5), movable, {idle("a", 2)}, 0);
  ASSERT_EQ(offers.size(), 2u);
  EXPECT_EQ(offers[0].key, 0u);
  EXPECT_EQ(offers[1].key, 1u);
}

TEST(Push, SpreadsOverIdlePeers) {
  std::vector<PeerLoad> peers;
  for (int i = 0; i < 8; ++i) peers.push_back(idle("p" + std::to_string(i), 8));
  Balancer b(BalanceConfig{}, 7);
  const auto n = per_peer(b.push(busy(16), tasks(16), peers, 0));
  EXPECT_GE(n.size(), 5u);
  for (const auto& [name, count] : n) EXPECT_LE(count, 4) << name;
  // Donors with the same view do not all pick the same first peer.
  std::set<std::string> first;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    Balancer d(BalanceConfig{}, seed);
    first.insert(d.push(busy(1), tasks(1), peers, 0).at(0).peer);
  }
  EXPECT_GE(first.size(), 3u);
}

TEST(Push, NeverToFullNonAcceptingOrStalePeer) {
  const BalanceConfig c;
  PeerLoad closed = idle("closed", 8);
  closed.accepting = false;
  PeerLoad stale = idle("stale", 8);
  stale.age_us = c.stale_after_us;
  const std::vector<PeerLoad> peers = {peer("full", 0, 0), peer("busy", 3, 1), closed, stale,
                                       idle("good", 2)};
  for (std::uint64_t seed = 0; seed < 50; ++seed) {
    Balancer b(c, seed);
    const auto n = per_peer(b.push(busy(20), tasks(20), peers, 0));
    EXPECT_EQ(n, (std::map<std::string, int>{{"good", 2}})) << "seed " << seed;
  }
}

TEST(Push, NeverToItselfNorPullsFromItself) {
  BalanceConfig c;
  c.self = "me";
  Balancer b(c, 1);
  // An old figure of ourselves, idle, among the peers: never a receiver.
  EXPECT_TRUE(b.push(busy(10), tasks(10), {idle("me", 4)}, 0).empty());
  PeerLoad loaded_self = peer("me", 10, 0);
  EXPECT_FALSE(b.pull(LocalLoad{0, 2, 2}, {loaded_self}, 0).has_value());
  BalanceConfig other;
  Balancer control(other, 1);  // the same figure under another name is used
  EXPECT_EQ(control.push(busy(10), tasks(10), {idle("me", 4)}, 0).size(), 4u);
}

TEST(Push, YoungProjectionRoomIsDiscounted) {
  const BalanceConfig c;
  PeerLoad half = idle("a", 4);
  half.age_us = c.stale_after_us / 2;
  Balancer b(c, 1);
  EXPECT_EQ(b.push(busy(10), tasks(10), {half}, 0).size(), 2u);
}

TEST(Push, PromisesStopRepeatedRoundsFloodingOnePeer) {
  Balancer b(BalanceConfig{}, 1);
  const std::vector<PeerLoad> peers = {idle("a", 3)};
  EXPECT_EQ(b.push(busy(10), tasks(10), peers, 0).size(), 3u);
  EXPECT_EQ(b.promised_slots("a", 0), 3u);
  // The same projection again (its version has not moved): no more room.
  EXPECT_TRUE(b.push(busy(10), tasks(10), peers, 100 * kMs).empty());
}

TEST(Push, PromisesCountCpus) {
  Balancer b(BalanceConfig{}, 1);
  const std::vector<Offer> offers =
      b.push(busy(10), tasks(10, kPriorityDefault, 2), {idle("a", 5)}, 0);
  EXPECT_EQ(offers.size(), 2u);
  EXPECT_EQ(b.promised_slots("a", 0), 4u);
}

TEST(Push, RefusedOfferFreesItsPromise) {
  Balancer b(BalanceConfig{}, 1);
  const std::vector<PeerLoad> peers = {idle("a", 3)};
  const std::vector<Offer> offers = b.push(busy(10), tasks(10), peers, 0);
  ASSERT_EQ(offers.size(), 3u);
  b.offer_ended("a", offers[0].key, /*accepted=*/false, 10 * kMs);
  b.offer_ended("a", offers[1].key, /*accepted=*/true, 10 * kMs);
  EXPECT_EQ(b.promised_slots("a", 10 * kMs), 2u);
  std::vector<MovableTask> again = tasks(10);
  const std::vector<Offer> retry = b.push(busy(10), again, peers, 20 * kMs);
  ASSERT_EQ(retry.size(), 1u);
}

TEST(Push, AcceptedPromiseLastsUntilTheFigureShowsIt) {
  Balancer b(BalanceConfig{}, 1);
  ASSERT_EQ(b.push(busy(10), tasks(1), {idle("a", 3)}, 0).size(), 1u);
  b.offer_ended("a", 0, /*accepted=*/true, 100 * kMs);
  // A newer version measured before the acceptance does not show it yet.
  PeerLoad before = idle("a", 3);
  before.version = 2;
  before.age_us = 150 * kMs;
  b.push(busy(0), {}, {before}, 200 * kMs);
  EXPECT_EQ(b.promised_slots("a", 200 * kMs), 1u);
  // The same version, measured later, is still the old figure.
  PeerLoad same = idle("a", 3);
  b.push(busy(0), {}, {same}, 300 * kMs);
  EXPECT_EQ(b.promised_slots("a", 300 * kMs), 1u);
  // A newer version measured after it does.
  PeerLoad after = peer("a", 1, 3);
  after.version = 3;
  after.age_us = 10 * kMs;
  b.push(busy(0), {}, {after}, 300 * kMs);
  EXPECT_EQ(b.promised_slots("a", 300 * kMs), 0u);
}

TEST(Push, PromisesExpireAfterTtl) {
  const BalanceConfig c;
  Balancer b(c, 1);
  const std::vector<PeerLoad> peers = {idle("a", 2)};
  ASSERT_EQ(b.push(busy(10), tasks(10), peers, 0).size(), 2u);
  b.offer_ended("a", 0, /*accepted=*/true, 50 * kMs);  // ttl counts from here
  EXPECT_EQ(b.promised_slots("a", c.promise_ttl_us - 1), 2u);
  EXPECT_EQ(b.promised_slots("a", c.promise_ttl_us), 1u);
  EXPECT_EQ(b.promised_slots("a", c.promise_ttl_us + 50 * kMs), 0u);
  EXPECT_EQ(b.push(busy(10), tasks(10), peers, c.promise_ttl_us + 50 * kMs).size(), 2u);
}

TEST(Push, AtMostMaxOffersAndNoTaskPastMaxHops) {
  std::vector<PeerLoad> peers;
  for (int i = 0; i < 100; ++i) peers.push_back(idle("p" + std::to_string(i), 8));
  Balancer b(BalanceConfig{}, 1);
  EXPECT_EQ(b.push(busy(500), tasks(500), peers, 0).size(), 32u);
  std::vector<MovableTask> movable = tasks(2, kPriorityMax);
  movable[0].hops = 3;
  const std::vector<Offer> offers = b.push(busy(2), movable, peers, 0);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].key, 1u);
}

TEST(Push, TaskTooLargeForEveryPeerLetsSmallerOnesGo) {
  Balancer b(BalanceConfig{}, 1);
  std::vector<MovableTask> movable = tasks(3);
  movable.push_back({9, kPriorityMax, 4, 0, 0});
  const std::vector<Offer> offers = b.push(busy(4), movable, {idle("a", 2), idle("b", 3)}, 0);
  EXPECT_EQ(offers.size(), 3u);
  for (const Offer& o : offers) EXPECT_NE(o.key, 9u);
}

TEST(Pull, AsksTheMostLoadedOfItsChoices) {
  const std::vector<PeerLoad> peers = {idle("idle", 4), peer("light", 2, 0), peer("heavy", 9, 0),
                                       peer("stale", 50, 0)};
  std::vector<PeerLoad> with_stale = peers;
  with_stale[3].age_us = BalanceConfig{}.stale_after_us;
  BalanceConfig all;
  all.choices = kBalanceChoicesMax;
  Balancer b(all, 1);
  const std::optional<PullRequest> r = b.pull({0, 4, 3}, with_stale, 0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->peer, "heavy");
  EXPECT_EQ(r->slots, 3u);
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    Balancer d(BalanceConfig{}, seed);
    const std::optional<PullRequest> q = d.pull({0, 4, 3}, with_stale, 0);
    ASSERT_TRUE(q);
    EXPECT_TRUE(q->peer == "heavy" || q->peer == "light") << q->peer;
  }
}

TEST(Pull, RespectsPullInterval) {
  const BalanceConfig c;  // 100 ms
  Balancer b(c, 1);
  const std::vector<PeerLoad> peers = {peer("heavy", 9, 0)};
  EXPECT_TRUE(b.pull({0, 2, 2}, peers, 0));
  EXPECT_FALSE(b.pull({0, 2, 2}, peers, 50 * kMs));
  EXPECT_FALSE(b.pull({0, 2, 2}, peers, c.pull_interval_us - 1));
  EXPECT_TRUE(b.pull({0, 2, 2}, peers, c.pull_interval_us));
}

TEST(Pull, OnlyAnIdleNodeAsksAndOnlyALoadedPeer) {
  Balancer b(BalanceConfig{}, 1);
  const std::vector<PeerLoad> heavy = {peer("heavy", 9, 0)};
  EXPECT_FALSE(b.pull({1, 2, 1}, heavy, 0));                            // something queued
  EXPECT_FALSE(b.pull({0, 2, 0}, heavy, 0));                            // no free slot
  EXPECT_FALSE(b.pull({0, 2, 2}, {idle("a", 2), peer("b", 2, 2)}, 0));  // nobody waits
  EXPECT_TRUE(b.pull({0, 2, 2}, heavy, 1));  // a failed round did not use the interval
}

TEST(AnswerPull, OffersAtMostTheAskersSlots) {
  Balancer b(BalanceConfig{}, 1);
  const std::vector<Offer> offers = b.answer_pull(busy(20), tasks(20), {"asker", 3}, 0);
  EXPECT_EQ(per_peer(offers), (std::map<std::string, int>{{"asker", 3}}));
  std::vector<MovableTask> wide = tasks(5, kPriorityMax, 2);
  wide.push_back({50, kPriorityMin, 1, 0, 0});
  Balancer w(BalanceConfig{}, 1);
  EXPECT_EQ(w.answer_pull(busy(6), wide, {"asker", 3}, 0).size(), 2u);  // 2 cpus + 1 cpu
  EXPECT_EQ(w.promised_slots("asker", 0), 3u);
}

TEST(AnswerPull, CountsOffersStillUnanswered) {
  Balancer b(BalanceConfig{}, 1);
  const std::vector<Offer> sent = b.push(busy(20), tasks(20), {idle("asker", 2)}, 0);
  ASSERT_EQ(sent.size(), 2u);
  b.offer_ended("asker", sent[0].key, /*accepted=*/true, 5 * kMs);  // in its figure now
  std::vector<MovableTask> rest = tasks(20);
  rest.erase(rest.begin(), rest.begin() + 2);
  EXPECT_EQ(b.answer_pull(busy(18), rest, {"asker", 3}, 10 * kMs).size(), 2u);
}

TEST(TargetBacklog, OffersFillEachPeerUpToTheTargetAndKeepTheDonorsOwn) {
  BalanceConfig c;
  c.target_backlog = 1;
  Balancer b(c, 1);
  // A peer with 2 free slots has room for 3 (2 to run, 1 waiting); one with
  // both slots busy and nothing queued, for 1.
  const std::vector<Offer> offers =
      b.push(busy(6), tasks(6), {idle("free", 2), peer("full", 0, 0)}, 0);
  EXPECT_EQ(per_peer(offers), (std::map<std::string, int>{{"free", 3}, {"full", 1}}));
  EXPECT_FALSE(b.wants_push(LocalLoad{3, 2, 2}));  // backlog 1: the target
  EXPECT_TRUE(b.wants_push(LocalLoad{4, 2, 2}));
  // A donor at backlog 2 gives one task only (it keeps its target of 1).
  Balancer d(c, 1);
  EXPECT_EQ(d.push(busy(2), tasks(2), {idle("a", 2), idle("b", 2)}, 0).size(), 1u);
}

TEST(TargetBacklog, ANodeUnderItsTargetPullsWhatItLacks) {
  BalanceConfig c;
  c.target_backlog = 1;
  Balancer b(c, 1);
  const std::vector<PeerLoad> heavy = {peer("heavy", 9, 0)};
  const std::optional<PullRequest> busy_slots = b.pull({0, 2, 0}, heavy, 0);  // backlog 0
  ASSERT_TRUE(busy_slots);
  EXPECT_EQ(busy_slots->slots, 1u);
  Balancer idle_node(c, 1);
  const std::optional<PullRequest> all_free = idle_node.pull({0, 2, 2}, heavy, 0);
  ASSERT_TRUE(all_free);
  EXPECT_EQ(all_free->slots, 3u);
  Balancer at_target(c, 1);
  EXPECT_FALSE(at_target.pull({1, 2, 0}, heavy, 0));
  // Nobody pulls a peer that is only at the target, unless it is idle.
  Balancer near(c, 1);
  EXPECT_FALSE(near.pull({0, 2, 0}, {peer("p", 1, 0)}, 0));
  EXPECT_TRUE(near.pull({0, 2, 2}, {peer("p", 1, 0)}, 0));
}

TEST(TargetBacklog, APullIsAnsweredFromTheDonorsOwnTargetToo) {
  BalanceConfig c;
  c.target_backlog = 1;
  Balancer b(c, 1);
  // Backlog 1 (the target), asked by an idle node (2 free slots, so 3 short
  // of the target): its waiting task goes, where it starts at once.
  EXPECT_EQ(b.answer_pull(busy(1), tasks(1), {"idle", 3}, 0).size(), 1u);
  // Asked by a node at backlog 0 (1 short): 1 - 0 < 1 + hysteresis, it stays.
  Balancer k(c, 1);
  EXPECT_TRUE(k.answer_pull(busy(1), tasks(1), {"busy", 1}, 0).empty());
}

TEST(TargetBacklog, AcceptsOfferBelowTheTargetHeldOnesCounted) {
  BalanceConfig c;
  EXPECT_TRUE(accepts_offer({0, 2, 1}, 0, c));
  EXPECT_FALSE(accepts_offer({0, 2, 1}, 1, c));
  EXPECT_FALSE(accepts_offer({0, 2, 0}, 0, c));
  c.target_backlog = 1;
  EXPECT_TRUE(accepts_offer({0, 2, 0}, 0, c));
  EXPECT_FALSE(accepts_offer({1, 2, 0}, 0, c));
  EXPECT_FALSE(accepts_offer({0, 2, 0}, 1, c));
}

TEST(Push, RoomOfOneSeenAWhileAgoIsStillOne) {
  const BalanceConfig c;
  PeerLoad p = idle("a", 1);
  p.age_us = 300 * kMs;  // a tenth of stale_after: floor(0.9) was 0
  Balancer b(c, 1);
  EXPECT_EQ(b.push(busy(10), tasks(10), {p}, 0).size(), 1u);
  p.age_us = c.stale_after_us * 2 / 3;  // 0.33 of it left: rounds to 0
  Balancer old(c, 1);
  EXPECT_TRUE(old.push(busy(10), tasks(10), {p}, 0).empty());
}

// Two nodes whose backlogs differ by one: neither pushes to the other, nor
// does an idle one pull.
TEST(NoPingPong, BacklogsDifferingByOneMoveNothing) {
  for (std::uint32_t slots = 1; slots <= 4; ++slots) {
    for (std::uint32_t a_queued = 0; a_queued <= 6; ++a_queued) {
      for (std::uint32_t a_free = 0; a_free <= slots; ++a_free) {
        for (std::uint32_t b_queued = 0; b_queued <= 6; ++b_queued) {
          for (std::uint32_t b_free = 0; b_free <= slots; ++b_free) {
            const std::int64_t a = std::int64_t{a_queued} - a_free;
            const std::int64_t d = std::int64_t{b_queued} - b_free;
            if (a - d != 1 && d - a != 1) continue;
            Balancer node_a(BalanceConfig{}, a_queued * 100 + b_queued);
            const LocalLoad local{a_queued, slots, a_free};
            EXPECT_TRUE(node_a
                            .push(local, tasks(static_cast<int>(a_queued)),
                                  {peer("b", b_queued, b_free, slots)}, 0)
                            .empty())
                << "a " << a_queued << "/" << a_free << " b " << b_queued << "/" << b_free;
            EXPECT_FALSE(node_a.pull(local, {peer("b", b_queued, b_free, slots)}, 0));
          }
        }
      }
    }
  }
}

// Random loads: offers fit each peer's room (its figure, discounted, less
// earlier promises) and never leave a receiver with a larger backlog than
// the donor's after the round; the donor keeps its target backlog.
TEST(Property, OffersFitRoomAndNeverOverloadReceivers) {
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    std::mt19937_64 rng(seed);
    auto draw = [&](std::uint64_t n) { return static_cast<std::uint32_t>(rng() % n); };
    BalanceConfig c;
    c.target_backlog = static_cast<int>(draw(3));
    LocalLoad local;
    local.slots = 1 + draw(8);
    local.free_slots = draw(local.slots + 1);
    local.queued = draw(60);
    std::vector<MovableTask> movable;
    for (std::uint32_t i = 0; i < local.queued; ++i) {
      if (draw(4) == 0) continue;  // pinned or pending: not movable
      movable.push_back({i, static_cast<int>(draw(11)), 1 + static_cast<int>(draw(3)),
                         static_cast<Micros>(draw(1000)), static_cast<int>(draw(4))});
    }
    std::vector<PeerLoad> peers;
    const std::uint32_t n_peers = draw(12);
    for (std::uint32_t i = 0; i < n_peers; ++i) {
      PeerLoad p = peer("p" + std::to_string(i), draw(10), 0, 1 + draw(8));
      p.free_slots = draw(p.slots + 1);
      p.accepting = draw(6) != 0;
      p.age_us = static_cast<Micros>(draw(4)) * kMicrosPerSecond;  // 3 s: stale
      peers.push_back(p);
    }
    Balancer b(c, seed);
    std::map<std::string, std::int64_t> given;  // slots offered, both rounds
    std::set<TaskKey> offered;
    std::int64_t local_backlog = std::int64_t{local.queued} - local.free_slots;
    for (int round = 0; round < 2; ++round) {
      const std::vector<Offer> offers = b.push(local, movable, peers, round * 100 * kMs);
      ASSERT_LE(offers.size(), static_cast<std::size_t>(c.max_offers));
      for (const Offer& o : offers) {
        const auto t = std::find_if(movable.begin(), movable.end(),
                                    [&](const MovableTask& m) { return m.key == o.key; });
        ASSERT_NE(t, movable.end());
        ASSERT_LT(t->hops, c.max_hops);
        given[o.peer] += t->cpus;
        offered.insert(o.key);
        movable.erase(t);
        --local.queued;
        --local_backlog;
      }
    }
    if (!offered.empty()) {
      ASSERT_GE(local_backlog, c.target_backlog) << "seed " << seed;
    }
    for (const PeerLoad& p : peers) {
      if (!given.count(p.name)) continue;
      ASSERT_TRUE(p.accepting) << "seed " << seed;
      ASSERT_LT(p.age_us, c.stale_after_us) << "seed " << seed;
      const std::int64_t room = c.target_backlog + std::int64_t{p.free_slots} - p.queued;
      const Micros fresh_us = c.stale_after_us - p.age_us;
      ASSERT_LE(given[p.name], (room * fresh_us * 2 + c.stale_after_us) / (2 * c.stale_after_us))
          << "seed " << seed << " peer " << p.name;
      ASSERT_LE(std::int64_t{p.queued} - p.free_slots + given[p.name], local_backlog)
          << "seed " << seed << " peer " << p.name;
    }
  }
}

}  // namespace
}  // namespace braid::sched
