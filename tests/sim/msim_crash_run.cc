#include "tests/sim/msim_crash_run.h"

#include <variant>

#include "tests/sim/msim_check.h"

namespace braid::msim {
namespace {

class CrashRun {
 public:
  explicit CrashRun(const CrashRunOptions& options)
      : options_(options), world_(world_options(options)), rng_(world_.rng()) {}

  CrashRunResult run() {
    world_.start_all();
    const double rates[] = {0.0, 0.05, 0.2};
    sim::NetworkFaults faults = world_.network().faults();
    faults.drop_probability = rates[below(3)];
    faults.duplicate_probability = rates[below(3)];
    world_.network().set_faults(faults);
    crash_on_handoff_ = below(2) == 0 ? 0.0 : 0.02;
    world_.set_after_deliver([this](NodeIndex to, const sched::MigrationMessage& m) {
      const bool handoff = !std::holds_alternative<sched::WorkRequest>(m.body);
      if (handoff && faulty() && chance(crash_on_handoff_)) crash_for_a_while(to);
    });
    // Submissions.
    const std::size_t submitters = 1 + below(2);
    const std::size_t tasks = 20 + below(21);
    planned_ = tasks;
    for (std::size_t k = 0; k < tasks; ++k) {
      const Micros when = static_cast<Micros>(below(3 * kMicrosPerSecond));
      const NodeIndex to = static_cast<NodeIndex>(below(submitters));
      const Micros work = 50 * kMicrosPerMilli + static_cast<Micros>(below(950 * kMicrosPerMilli));
      world_.at(when, [this, to, work] { submit(to, work); });
    }
    // Faults.
    for (Micros t = next_fault(0); t < options_.fault_window_us; t = next_fault(t)) {
      world_.at(t, [this] { fault(); });
    }
    world_.run_until(options_.fault_window_us);
    heal();
    CrashRunResult result;
    const bool done = world_.run_until([this] { return submitted_all() && settled(world_); },
                                       options_.fault_window_us + options_.settle_deadline_us,
                                       100 * kMicrosPerMilli);
    result.settled_us = done ? world_.now() : -1;
    result.failure = done ? check_world(world_) : "did not settle: " + unsettled();
    result.tasks = world_.ledger().tasks().size();
    for (NodeIndex i = 0; i < world_.size(); ++i) {
      result.migrations += world_.node(i).counters().moved_out;
    }
    for (const auto& [id, t] : world_.ledger().tasks()) result.requeues += t.crash_lost;
    result.crashes = world_.counters().crashes;
    result.false_deaths = world_.counters().false_deaths;
    result.partitions = partitions_;
    return result;
  }

 private:
  static WorldOptions world_options(const CrashRunOptions& options) {
    WorldOptions w;
    w.nodes = options.nodes;
    w.seed = options.seed;
    w.node.balance.target_backlog = options.target_backlog;
    w.node.refuse_at_backlog = options.target_backlog;
    w.faults.delay_base_us = 100;
    w.faults.delay_jitter_us = 3 * kMicrosPerMilli;  // reorders handoff messages
    return w;
  }

  std::uint64_t below(std::uint64_t n) { return rng_() % n; }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  bool faulty() const { return world_.now() < options_.fault_window_us; }
  Micros next_fault(Micros t) {
    return t + 100 * kMicrosPerMilli + static_cast<Micros>(below(900 * kMicrosPerMilli));
  }

  void submit(NodeIndex to, Micros work) {
    if (!world_.node(to).up()) {  // a client retries until its node is back
      world_.at(world_.now() + 100 * kMicrosPerMilli, [this, to, work] { submit(to, work); });
      return;
    }
    world_.submit(to, work);
    ++submitted_;
  }
  bool submitted_all() const { return submitted_ == planned_; }

  void crash_for_a_while(NodeIndex i) {
    if (!world_.node(i).up()) return;
    world_.crash(i);
    const Micros down = 50 * kMicrosPerMilli + static_cast<Micros>(below(4 * kMicrosPerSecond));
    world_.at(world_.now() + down, [this, i] { world_.restart(i); });
  }

  void fault() {
    const NodeIndex i = static_cast<NodeIndex>(below(world_.size()));
    switch (below(4)) {
      case 0:
        crash_for_a_while(i);
        break;
      case 1: {  // a partition between two random halves, for a while
        std::vector<NodeIndex> a, b;
        for (NodeIndex j = 0; j < world_.size(); ++j) (below(2) == 0 ? a : b).push_back(j);
        world_.network().partition(a, b);
        ++partitions_;
        const Micros lasts =
            200 * kMicrosPerMilli + static_cast<Micros>(below(3 * kMicrosPerSecond));
        world_.at(world_.now() + lasts, [this, a, b] {
          for (NodeIndex x : a) {
            for (NodeIndex y : b) {
              world_.network().unblock(x, y);
              world_.network().unblock(y, x);
            }
          }
        });
        break;
      }
      case 2:
        world_.false_death(
            i, 100 * kMicrosPerMilli + static_cast<Micros>(below(3 * kMicrosPerSecond)));
        break;
      default:
        break;  // a quiet moment
    }
  }

  void heal() {
    sim::NetworkFaults faults = world_.network().faults();
    faults.drop_probability = 0;
    faults.duplicate_probability = 0;
    world_.network().set_faults(faults);
    world_.network().heal();
    for (NodeIndex i = 0; i < world_.size(); ++i) world_.restart(i);
  }

  std::string unsettled() const {
    for (NodeIndex i = 0; i < world_.size(); ++i) {
      const Node& n = world_.node(i);
      if (!n.up()) return n.name() + " is down";
      if (world_.declared_dead(i)) return n.name() + " is declared dead";
      if (!n.settled()) {
        return n.name() + ": " + std::to_string(n.donor().entries()) + " handoffs, " +
               std::to_string(n.store().held.size()) + " held, " +
               std::to_string(n.store().outbox.size()) + " outcomes unacked";
      }
    }
    for (const auto& [id, t] : world_.ledger().tasks()) {
      if (t.completions == 0) return "task " + id + " never completed:" + whereabouts(id);
    }
    return "an origin does not know an outcome";
  }

  // Where each node has the task: its record's state, held, journal entries.
  std::string whereabouts(const std::string& id) const {
    std::string s;
    for (NodeIndex i = 0; i < world_.size(); ++i) {
      const Store& store = world_.node(i).store();
      std::string here;
      if (const auto it = store.tasks.find(id); it != store.tasks.end()) {
        here += " " + std::string(sched::to_string(it->second.state));
        if (!it->second.moved_to.empty()) here += "->" + it->second.moved_to;
      }
      if (const auto it = store.held.find(id); it != store.held.end()) {
        here += " held(" + it->second.adoption.donor + "," +
                std::to_string(it->second.adoption.epoch) + ")";
      }
      for (const auto& [key, r] : store.journal) {
        if (key.first == id) {
          here += " " + std::string(sched::to_string(r.state)) + "(" + r.peer + "," +
                  std::to_string(r.epoch) + ")";
        }
      }
      for (const auto& [key, epoch] : store.fences) {
        if (key.first == id) here += " fence(" + key.second + "," + std::to_string(epoch) + ")";
      }
      if (!here.empty()) s += " [" + world_.node(i).name() + ":" + here + "]";
    }
    return s;
  }

  CrashRunOptions options_;
  World world_;
  std::mt19937_64& rng_;
  double crash_on_handoff_ = 0;
  std::uint64_t partitions_ = 0;
  std::size_t submitted_ = 0;
  std::size_t planned_ = 0;
};

}  // namespace

CrashRunResult crash_run(const CrashRunOptions& options) { return CrashRun(options).run(); }

}  // namespace braid::msim
