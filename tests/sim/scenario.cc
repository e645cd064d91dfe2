// The simulator's scenarios (tests/sim/scenario.h).
#include "tests/sim/scenario.h"

#include <chrono>
#include <functional>
#include <numeric>
#include <random>

#include "gossip/broadcast_queue.h"

namespace braid::sim {

namespace {

using gossip::kMicrosPerSecond;

class Run {
 public:
  explicit Run(const ScenarioOptions& options)
      : options_(options),
        cluster_(ClusterOptions{options.config, options.faults, options.seed}),
        log_(cluster_),
        wall_start_(std::chrono::steady_clock::now()) {
    cluster_.set_observer(&log_);
    cluster_.add_nodes(options.nodes);
    check_every_us_ = std::max<Micros>(options.config.probe_interval_us / 10, 1000);
  }

  ScenarioReport go() {
    const std::string& s = options_.scenario;
    if (s == "join") {
      join();
    } else if (s == "massjoin") {
      massjoin();
    } else if (s == "fail" || s == "load" || s == "idle") {
      if (converge()) phase(s);
    } else {
      report_.note = "unknown scenario " + s;
    }
    return finish(s);
  }

  std::vector<ScenarioReport> go(const std::vector<std::string>& phases) {
    std::vector<ScenarioReport> reports;
    const bool converged = converge();
    const ScenarioReport setup = report_;
    for (const std::string& name : phases) {
      report_ = setup;
      if (converged && !setup.gave_up) phase(name);
      reports.push_back(finish(name));
      if (report_.gave_up) break;
    }
    return reports;
  }

 private:
  void phase(const std::string& name) {
    report_.everywhere_us = -1;
    everywhere_missing_ = false;
    if (name == "fail") {
      fail();
    } else if (name == "load") {
      load();
    } else if (name == "idle") {
      idle();
    } else {
      report_.note = "unknown phase " + name;
    }
  }

  ScenarioReport finish(const std::string& name) {
    report_.scenario = name;
    report_.false_positives = log_.false_positives();
    report_.largest_message_bytes = cluster_.counters().largest_message_bytes;
    report_.counters = cluster_.counters();
    report_.trace_hash = cluster_.trace_hash();
    report_.sim_s = static_cast<double>(cluster_.now()) / 1e6;
    report_.wall_s = wall_elapsed_s();
    return report_;
  }

  double wall_elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
  }

  // Runs until done() or deadline (or the wall budget); whether done() held.
  bool run(const std::function<bool()>& done, Micros deadline_us) {
    if (options_.wall_budget_s <= 0) return cluster_.run_until(done, deadline_us, check_every_us_);
    return cluster_.run_until(
               [&] {
                 if (wall_elapsed_s() > options_.wall_budget_s) {
                   report_.gave_up = true;
                   return true;
                 }
                 return done();
               },
               deadline_us, check_every_us_) &&
           !report_.gave_up;
  }

  std::uint64_t bytes_now() const {
    std::uint64_t total = 0;
    for (NodeIndex i = 0; i < cluster_.size(); ++i) total += cluster_.bytes_sent(i);
    return total;
  }
  void window_begin() {
    window_bytes_ = bytes_now();
    window_start_us_ = cluster_.now();
  }
  void window_end() {
    std::size_t up = 0;
    for (NodeIndex i = 0; i < cluster_.size(); ++i) up += cluster_.up(i) ? 1 : 0;
    const double seconds = static_cast<double>(cluster_.now() - window_start_us_) / 1e6;
    if (up > 0 && seconds > 0) {
      report_.bytes_per_node_s =
          static_cast<double>(bytes_now() - window_bytes_) / static_cast<double>(up) / seconds;
    }
  }

  // Generous bound for the setup: joining plus dissemination at any size.
  Micros setup_deadline() const {
    return cluster_.now() + options_.stagger_us +
           std::max<Micros>(300 * kMicrosPerSecond, 300 * options_.config.probe_interval_us);
  }

  // join: a converged cluster of all but `trials` nodes (at most half join);
  // then each of those
  // joins through node 0 in turn (the cluster settled in between), and the
  // delay is until each member learns it is alive: what an operator sees when
  // adding a node (Serf's "joins" of issue 10 §9).
  void join() {
    // At most half the nodes join, into a converged cluster of the others.
    const NodeIndex joiners = static_cast<NodeIndex>(
        std::clamp<std::size_t>(static_cast<std::size_t>(options_.trials), 1,
                                std::max<std::size_t>(1, cluster_.size() / 2)));
    if (!converge(cluster_.size() - joiners)) return;
    std::vector<std::size_t> facts;
    window_begin();
    for (NodeIndex j = static_cast<NodeIndex>(cluster_.size() - joiners); j < cluster_.size();
         ++j) {
      const std::size_t fact = log_.watch(FactKind::kAlive, j, cluster_.now(), 1);
      cluster_.start(j, {0});
      if (!run([&] { return log_.known_everywhere(fact); }, fact_deadline())) {
        report_.note = report_.gave_up ? "wall budget exceeded" : "a join was not known everywhere";
      }
      pool(facts, fact);
      if (report_.gave_up) break;
      if (!run([&] { return cluster_.converged(); }, setup_deadline())) break;
      cluster_.run_until(cluster_.now() + 10 * options_.config.probe_interval_us);
    }
    window_end();
    report_.learn = log_.delays(facts);
    report_.worst_tail = worst_tail(facts);
  }

  // massjoin: every node starts at once, joining through nodes 0, 1 and 2.
  void massjoin() {
    std::vector<std::size_t> facts;
    for (NodeIndex i = 0; i < cluster_.size(); ++i) {
      facts.push_back(log_.watch(FactKind::kAlive, i, 0, 1));
      std::vector<NodeIndex> seeds;
      for (NodeIndex s = 0; s < 3 && s < cluster_.size(); ++s) {
        if (s != i) seeds.push_back(s);
      }
      cluster_.start(i, seeds);
    }
    window_begin();
    const bool done = run([&] { return cluster_.converged(); }, setup_deadline());
    window_end();
    if (done) report_.converge_us = cluster_.now();
    if (!done) report_.note = report_.gave_up ? "wall budget exceeded" : "did not converge";
    report_.learn = log_.delays(facts);
    report_.worst_tail = worst_tail(facts);
    report_.everywhere_us = report_.learn.missing > 0 ? -1 : report_.learn.max_us;
  }

  // A converged cluster of the first `count` nodes (staggered join through
  // node 0; all nodes by default), settled so joining gossip is spent.
  bool converge(std::size_t count = 0) {
    if (count == 0) count = cluster_.size();
    Micros last_start = 0;
    std::uniform_int_distribution<Micros> offset(0, options_.stagger_us);
    for (NodeIndex i = 0; i < count; ++i) {
      const Micros start = i == 0 ? 0 : offset(cluster_.rng());
      last_start = std::max(last_start, start);
      std::vector<NodeIndex> seeds;
      if (i != 0) seeds.push_back(0);
      cluster_.at(start, [this, i, seeds] { cluster_.start(i, seeds); });
    }
    cluster_.run_until(last_start);
    if (!run([&] { return cluster_.converged(); }, setup_deadline())) {
      report_.note = report_.gave_up ? "wall budget exceeded in setup" : "setup did not converge";
      return false;
    }
    report_.converge_us = cluster_.now() - last_start;
    // Settled: the joining news is spent, so the phases measure only their
    // own. On a very lossy network the churn of suspicions and refutations
    // keeps queues busy for ever, so the wait is capped at a few lifetimes of
    // an update (its sends at gossip_fanout per round, three times over).
    const gossip::GossipConfig& c = options_.config;
    const auto limit = static_cast<Micros>(
        gossip::membership_retransmit_limit(c.membership_retransmit_mult, cluster_.size()));
    const Micros fanout = std::max(1, c.gossip_fanout);
    const Micros lifetime_us = (limit + fanout - 1) / fanout * c.gossip_interval_us;
    run([&] { return quiet(); }, cluster_.now() + 3 * lifetime_us);
    cluster_.run_until(cluster_.now() + 10 * options_.config.probe_interval_us);
    return true;
  }

  bool quiet() const {
    for (NodeIndex i = 0; i < cluster_.size(); ++i) {
      if (cluster_.up(i) && cluster_.node(i)->queued_updates() > 0) return false;
    }
    return true;
  }

  // The deadline for one fact to spread: the longest Lifeguard suspicion
  // (one accuser) plus dissemination, doubled, at least duration_us.
  Micros fact_deadline() const {
    const gossip::GossipConfig& c = options_.config;
    const Micros suspicion =
        c.probe_interval_us * c.suspicion_mult * 4 * c.suspicion_max_timeout_mult;  // log10(n) <= 4
    return cluster_.now() + std::max(options_.duration_us, 2 * suspicion + 60 * kMicrosPerSecond);
  }

  double worst_tail(const std::vector<std::size_t>& facts) const {
    double worst = 0;
    for (std::size_t fact : facts) {
      const Summary one = log_.delays(fact);
      if (one.median_us > 0) {
        worst =
            std::max(worst, static_cast<double>(one.max_us) / static_cast<double>(one.median_us));
      }
    }
    return worst;
  }

  void pool(std::vector<std::size_t>& facts, std::size_t fact) {
    facts.push_back(fact);
    const Micros everywhere = log_.everywhere_after_us(fact);
    if (everywhere < 0) {
      report_.everywhere_us = -1;
      everywhere_missing_ = true;
    } else if (!everywhere_missing_) {
      report_.everywhere_us = std::max(report_.everywhere_us, everywhere);
    }
  }

  void fail() {
    std::vector<std::size_t> facts;
    window_begin();
    std::uniform_int_distribution<NodeIndex> pick(1, static_cast<NodeIndex>(cluster_.size() - 1));
    for (int trial = 0; trial < options_.trials && cluster_.size() > 1; ++trial) {
      NodeIndex victim = pick(cluster_.rng());
      for (int tries = 0; !cluster_.up(victim) && tries < 1000; ++tries)
        victim = pick(cluster_.rng());
      if (!cluster_.up(victim)) break;
      cluster_.crash(victim);
      const std::size_t fact = log_.watch(FactKind::kDead, victim, cluster_.now());
      if (!run([&] { return log_.known_everywhere(fact); }, fact_deadline())) {
        report_.note =
            report_.gave_up ? "wall budget exceeded" : "a death was not known everywhere";
      }
      pool(facts, fact);
      if (report_.gave_up) break;
      cluster_.run_until(cluster_.now() + 5 * options_.config.probe_interval_us);
    }
    window_end();
    report_.learn = log_.delays(facts);
    report_.worst_tail = worst_tail(facts);
  }

  void load() {
    std::vector<std::size_t> facts;
    window_begin();
    std::uniform_int_distribution<NodeIndex> pick(0, static_cast<NodeIndex>(cluster_.size() - 1));
    for (int trial = 0; trial < options_.trials; ++trial) {
      const NodeIndex origin = pick(cluster_.rng());
      gossip::Load load;
      load.queued = 4000 + static_cast<std::uint32_t>(trial);  // the marker
      load.running = 8;
      load.slots = 8;
      load.top_queued_priority = 5;
      cluster_.set_load(origin, load);
      const auto self = cluster_.node(origin)->member(Cluster::name_of(origin));
      const std::uint64_t version = self ? self->load_version : 1;
      const std::size_t fact = log_.watch(FactKind::kLoad, origin, cluster_.now(), version);
      if (!run([&] { return log_.known_everywhere(fact); }, fact_deadline())) {
        report_.note = report_.gave_up ? "wall budget exceeded" : "a load was not known everywhere";
      }
      pool(facts, fact);
      if (report_.gave_up) break;
      cluster_.run_until(cluster_.now() + 2 * options_.config.probe_interval_us);
    }
    window_end();
    report_.learn = log_.delays(facts);
    report_.worst_tail = worst_tail(facts);
  }

  void idle() {
    window_begin();
    run([] { return false; }, cluster_.now() + options_.duration_us);
    window_end();
  }

  const ScenarioOptions& options_;
  Cluster cluster_;
  FactLog log_;
  std::chrono::steady_clock::time_point wall_start_;
  Micros check_every_us_ = 0;
  ScenarioReport report_;
  std::uint64_t window_bytes_ = 0;
  Micros window_start_us_ = 0;
  bool everywhere_missing_ = false;
};

}  // namespace

ScenarioReport run_scenario(const ScenarioOptions& options) { return Run(options).go(); }

std::vector<ScenarioReport> run_phases(const ScenarioOptions& options,
                                       const std::vector<std::string>& phases) {
  return Run(options).go(phases);
}

}  // namespace braid::sim
