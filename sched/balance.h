// The balancing decision (issue 11 §1, docs/migration.md): which queued tasks
// this node offers to which peers (push), and which peer an idle node asks
// for work (pull). Pure: loads and time in, offers out. Its only randomness
// is a std::mt19937_64 it owns, seeded by the caller: one seed, one run.
//
// Units. A node's backlog is `queued - free_slots` (tasks minus slots, as the
// projections count them): > 0 means work waits there for a slot. Every node
// wants a backlog of target_backlog (0: its queue just fills its free slots;
// 1: one task waits ready for the next slot that frees, so the refill's
// latency is hidden). A peer's room is in slots, from its projection (age <
// stale_after, else unused), rounded to the nearest slot:
//   room = round(max(0, target - backlog) * (stale_after - age) / stale_after)
//          - promised_slots
//   backlog(peer) = queued + promised_slots - free_slots
// where promised_slots are the cpus of the tasks this node offered the peer
// that its figure does not show yet (see offer_ended).
//
// A task (cpus c) is offered to a peer only if all hold:
//   - the local backlog is > target (it drops by 1 with each offer of the round);
//   - the peer is accepting and its room is >= c (never to a full peer);
//   - local backlog - backlog(peer) >= c + hysteresis. With hysteresis >= 1 a
//     move never leaves the donor emptier than the receiver, so the same
//     task can never be worth moving back (no ping-pong).
// A receiver therefore ends a round with backlog <= target, the donor with >= target.
//
// Tasks that must leave (MovableTask::must_leave: this node's labels do not
// satisfy their constraints, so they never start here) are offered first,
// whatever the local backlog and without the backlog condition: to a peer
// with room >= c that has not refused that task within refusal_backoff_us
// (peers' labels are not gossiped, so a refusal is how a donor learns that
// a peer lacks them). LocalLoad::queued leaves them out (they never wait
// for a slot here), as the gossiped load does.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "sched/result.h"
#include "sched/task.h"
#include "sched/types.h"

namespace braid::sched {

// Named limits of a BalanceConfig (validate_balance_config checks them).
constexpr int kBalanceChoicesMax = 16;
constexpr int kBalanceOffersMax = 1024;
constexpr int kBalanceHopsMax = 100;
constexpr int kBalanceTargetBacklogMax = 1024;
constexpr Micros kBalanceDurationMaxUs = 3600 * kMicrosPerSecond;
// Promises held at once; at the limit push offers nothing until some end.
constexpr std::size_t kBalancePromisesMax = 1u << 16;

struct BalanceConfig {
  // Power of d choices: random peers compared per task, 1..kBalanceChoicesMax.
  int choices = 2;
  // Backlog difference, beyond the task's cpus, a move needs; >= 1 (see above).
  int hysteresis = 1;
  // Migrations a task may make in its life; 0 = never migrates.
  int max_hops = 3;
  // A projection this old is not used; younger ones' room is discounted.
  Micros stale_after_us = 3 * kMicrosPerSecond;
  // A promise not seen in the peer's figure is dropped after this long.
  Micros promise_ttl_us = 2 * kMicrosPerSecond;
  // Offers per push or answer_pull, 1..kBalanceOffersMax.
  int max_offers = 32;
  // Least time between two pull requests; 0 = every round. 100 ms, a round:
  // at 500 ms a node whose slot freed waited for it (tests/sim msim_scale:
  // makespan 1.30x the ideal against 1.13x).
  Micros pull_interval_us = 100 * kMicrosPerMilli;
  // The backlog every node aims at (see above), 0..kBalanceTargetBacklogMax:
  // a node pulls below it, offers above it, and refuses offers at it
  // (accepts_offer). Must be the same on every node of a cluster.
  int target_backlog = 0;
  // A task that must leave is not offered again to a peer that refused it
  // for this long (1 us..kBalanceDurationMaxUs).
  Micros refusal_backoff_us = 5 * kMicrosPerSecond;
  // This node's name: a peer entry under it (an old figure of ourselves in
  // the membership table) is never offered to or pulled from. Offering a
  // task to oneself would lose it (tests/sim found it).
  std::string self;
};

// The error names the field and its allowed range.
Status validate_balance_config(const BalanceConfig& config);

// One live peer's load projection (gossip::Load plus what the member knows).
struct PeerLoad {
  std::string name;
  std::uint32_t queued = 0;
  std::uint32_t running = 0;
  std::uint32_t slots = 0;
  std::uint32_t free_slots = 0;
  int top_queued_priority = -1;  // -1: nothing queued
  bool accepting = true;
  Micros age_us = 0;          // how long ago the peer measured this figure
  std::uint64_t version = 0;  // the figure's load version (higher: newer)
};

// This node's own load. queued counts every queued task, movable or not.
struct LocalLoad {
  std::uint32_t queued = 0;
  std::uint32_t slots = 0;
  std::uint32_t free_slots = 0;
};

// A queued task that may_migrate() allows to move.
struct MovableTask {
  TaskKey key = kNoTask;
  int priority = kPriorityDefault;
  int cpus = 1;  // >= 1
  Micros queued_since_us = 0;
  int hops = 0;  // migrations so far
  // This node never runs it (Torus::runs_here() is false: it lacks a node
  // label the task needs): offered whatever the local backlog (see above).
  bool must_leave = false;
};

// "Offer task `key` to `peer`": the handoff (sched/handoff.h) carries it out
// and reports the outcome with Balancer::offer_ended.
struct Offer {
  TaskKey key = kNoTask;
  std::string peer;
};

// "Send me up to `slots` slots of work", from an idle node to `peer`.
struct PullRequest {
  std::string peer;
  std::uint32_t slots = 0;
};

// Whether a task may migrate: queued and never started this attempt (so not
// pending, held, running or stopped), not pinned, not a member of a throttled array (its throttle
// is kept where the array is), and hops < max_hops.
bool may_migrate(const Task& task, int hops, const BalanceConfig& config);

// Whether a node whose load is `local`, holding `held` adoptions not yet
// released, takes one more offered task: its backlog, held ones counted, is
// below target_backlog. The receiver refuses other offers "busy": without
// this, hundreds of donors that saw the same idle node in stale projections
// flooded it (docs/migration.md).
bool accepts_offer(const LocalLoad& local, std::uint32_t held, const BalanceConfig& config);

class Balancer final {
 public:
  // Requires validate_balance_config(config).ok().
  Balancer(BalanceConfig config, std::uint64_t seed);

  // Whether this node has work to offer (backlog > target_backlog): push;
  // else pull (which decides itself whether to ask).
  bool wants_push(const LocalLoad& local) const;

  // This round's offers, at most max_offers, each task at most once: movable
  // tasks highest priority first, then oldest (queued_since_us), then lowest
  // key, those that must leave before all others; tasks with hops >=
  // max_hops are skipped. Each goes to the peer with
  // the most room among `choices` random peers where it may go (see above),
  // and counts as promised to it. Peers listed twice are not supported.
  std::vector<Offer> push(const LocalLoad& local, std::vector<MovableTask> movable,
                          const std::vector<PeerLoad>& peers, Micros now_us);

  // A node under its target (target_backlog 0: free slots and nothing
  // queued; else backlog < target) asks for work: of `choices` random peers
  // with a fresh projection, a backlog > 0 and backlog(peer) - local backlog
  // >= 1 + hysteresis, the one with the largest backlog (then highest top
  // queued priority) for target - backlog slots (target 0: local.free_slots).
  // At most one request per pull_interval_us; no candidate: nullopt, and the
  // next round may ask.
  std::optional<PullRequest> pull(const LocalLoad& local, const std::vector<PeerLoad>& peers,
                                  Micros now_us);

  // `from` asked us for work: push toward it alone, as toward a fresh peer
  // `from.slots` under the target (backlog target - slots), less the offers
  // to it still unanswered (accepted ones are in its figure already), while
  // the local backlog is > 0 (not > target: the asker runs it sooner).
  std::vector<Offer> answer_pull(const LocalLoad& local, std::vector<MovableTask> movable,
                                 const PullRequest& from, Micros now_us);

  // The outcome of an offer. Refused or failed: the promise is withdrawn at
  // once; a task that must leave, or one the peer refused for good
  // (`lasting`: labels, a missing program or directory; not "busy", not a
  // lost offer), is not offered to that peer again for refusal_backoff_us.
  // Accepted: it stays until a projection of the peer with a newer
  // version than at the offer, measured (now - age) at or after this call,
  // shows it, or promise_ttl_us after this call.
  void offer_ended(const std::string& peer, TaskKey key, bool accepted, Micros now_us,
                   bool lasting = false);

  // Slots (the tasks' cpus) promised to `peer` and not expired at now_us.
  std::uint32_t promised_slots(const std::string& peer, Micros now_us) const;

  const BalanceConfig& config() const { return config_; }

 private:
  struct Promise {
    TaskKey key;
    int cpus;
    Micros since_us;  // offered, or accepted once accepted
    bool accepted;
    std::uint64_t version_at_offer;  // 0: unknown (answer_pull)
    bool must_leave;
  };
  // A peer refused a task that must leave: not offered it again until.
  struct Refused {
    TaskKey key;
    std::string peer;
    Micros until_us;
  };
  // A peer a task may go to this round; room and backlog as defined above.
  struct Candidate {
    std::string name;
    std::int64_t room_slots;
    std::int64_t backlog;
    std::uint64_t version;
    // Its projection is older than stale_after_us: only tasks that must
    // leave go there (an idle peer gossips no news, and a task that cannot
    // run here has nowhere else to wait; a wrong guess is one refusal).
    bool stale = false;
  };

  void forget_expired(Micros now_us);
  void forget_shown(const std::vector<PeerLoad>& peers, Micros now_us);
  std::int64_t promised_now(const std::string& peer, bool unanswered_only) const;
  // Offers while the local backlog is > keep_backlog.
  std::vector<Offer> place(std::int64_t local_backlog, std::int64_t keep_backlog,
                           std::vector<MovableTask> movable, std::vector<Candidate> pool,
                           Micros now_us);
  // A peer for the task, among `choices` random fitting ones; a peer that
  // refused it lately is never chosen (task.must_leave: only room counts).
  std::optional<std::size_t> choose(std::vector<Candidate>& pool, const MovableTask& task,
                                    std::int64_t local_backlog);
  bool fits(const Candidate& c, int cpus, std::int64_t local_backlog) const;
  bool refused_lately(TaskKey key, const std::string& peer) const;
  void promise(Candidate& peer, const MovableTask& task, Micros now_us, std::vector<Offer>& offers);
  std::uint64_t below(std::uint64_t n);  // uniform in [0, n), n > 0

  BalanceConfig config_;
  std::mt19937_64 rng_;
  std::unordered_map<std::string, std::vector<Promise>> promises_;
  std::size_t promise_count_ = 0;
  std::vector<Refused> refused_;  // at most kBalancePromisesMax, oldest dropped first
  std::optional<Micros> last_pull_us_;
};

}  // namespace braid::sched
