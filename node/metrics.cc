#include "node/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <sstream>
#include <utility>
#include <vector>

#include "gossip/types.h"
#include "node/durability.h"
#include "node/memory_probe.h"
#include "node/migration.h"
#include "node/peers.h"
#include "node/peers_glue.h"
#include "node/proc_stat.h"
#include "node/submissions.h"
#include "node/tasks.h"

namespace braid::node {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

double seconds(sched::Micros us) { return static_cast<double>(us) / 1e6; }
double num(std::uint64_t v) { return static_cast<double>(v); }

struct Families {
  std::vector<MetricFamily> all;

  MetricFamily& family(std::string name, std::string help, MetricType type) {
    all.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
    return all.back();
  }
  // One series; `labels` are (name, value) pairs.
  void add(MetricFamily& f, double value, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    f.metric.push_back(std::move(m));
  }
  void counter(std::string name, std::string help, double value) {
    add(family(std::move(name), std::move(help), MetricType::Counter), value);
  }
  void gauge(std::string name, std::string help, double value) {
    add(family(std::move(name), std::move(help), MetricType::Gauge), value);
  }
  void histogram(std::string name, std::string help, const HistogramBounds& bounds,
                 const HistogramSnapshot& s) {
    MetricFamily& f = family(std::move(name), std::move(help), MetricType::Histogram);
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.upper_seconds.size(); ++i) {
      if (i < s.counts.size()) cumulative += s.counts[i];
      m.histogram.bucket.push_back({cumulative, i < bounds.upper_seconds.size()
                                                    ? bounds.upper_seconds[i]
                                                    : std::numeric_limits<double>::infinity()});
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = seconds(static_cast<sched::Micros>(s.sum_us));
    f.metric.push_back(std::move(m));
  }
};

constexpr std::array kPolicies = {sched::Policy::kRoundRobin, sched::Policy::kPriority,
                                  sched::Policy::kFair};

}  // namespace

std::string render_metrics(const MetricsSnapshot& s) {
  Families out;
  const sched::TorusStats& t = s.torus;

  // Tasks
  MetricFamily& tasks =
      out.family("braid_tasks", "Tasks this node holds, by state.", MetricType::Gauge);
  for (std::size_t i = 0; i < sched::kTaskStates; ++i) {
    const auto state = static_cast<sched::TaskState>(i);
    out.add(tasks, num(t.count(state)), {{"state", std::string(sched::to_string(state))}});
  }
  out.counter("braid_tasks_submitted_total", "Tasks accepted by submit on this node.",
              num(s.submitted));
  MetricFamily& completed =
      out.family("braid_tasks_completed_total", "Tasks that reached a terminal state here.",
                 MetricType::Counter);
  out.add(completed, num(t.ended_completed), {{"outcome", "succeeded"}});
  out.add(completed, num(t.ended_failed), {{"outcome", "failed"}});
  out.add(completed, num(t.ended_cancelled), {{"outcome", "cancelled"}});
  out.counter("braid_tasks_cancelled_total", "Cancel requests that ended a task.", num(t.cancels));
  out.counter("braid_tasks_retried_total",
              "Attempts started again after a failure (retries and node requeues).",
              num(t.retries + s.node_requeues));
  out.counter("braid_context_switches_total", "Switch-ins onto a slot (starts and resumes).",
              num(t.context_switches));
  out.counter("braid_preemptions_total", "Running tasks stopped by the scheduler.",
              num(t.preemptions));
  out.counter("braid_tasks_scheduled_total", "Attempts started.", num(t.total_scheduled));
  out.gauge("braid_slots", "CPU slots of the node.", t.slots);
  out.gauge("braid_slots_busy", "Slots held by running tasks.", t.slots_busy);

  // Timing
  out.histogram("braid_schedule_decision_seconds",
                "Time of one torus decision (an input and its actions).", decision_bounds(),
                s.decision);
  out.histogram("braid_queue_wait_seconds", "Submit (or adoption) to first start.",
                queue_wait_bounds(), s.queue_wait);
  out.histogram("braid_time_slice_error_seconds",
                "Distance of a preempted slice from a whole number of quanta.", short_bounds(),
                s.slice_error);

  // Policy
  MetricFamily& policy_seconds =
      out.family("braid_policy_seconds_total", "Wall time the node ran under each policy.",
                 MetricType::Counter);
  MetricFamily& policy =
      out.family("braid_policy", "1 for the current policy, else 0.", MetricType::Gauge);
  for (const sched::Policy p : kPolicies) {
    const std::string name(sched::to_string(p));
    out.add(policy_seconds, seconds(s.policy_us[static_cast<std::size_t>(p)]), {{"policy", name}});
    out.add(policy, t.policy == p ? 1 : 0, {{"policy", name}});
  }
  out.gauge("braid_quantum_seconds", "The current quantum.", seconds(t.quantum_micros));

  // Cluster
  const rpc::MigrationCounters& m = s.migration;
  out.counter("braid_migrations_in_total", "Tasks adopted from peers.", num(m.adopted));
  out.counter("braid_migrations_out_total", "Tasks moved away to peers.", num(m.moved_away));
  out.gauge("braid_handoffs_unresolved",
            "Donor handoffs not yet confirmed (migrating or reclaimed).", num(m.unresolved));
  out.gauge("braid_handoffs_held", "Adoptions awaiting the donor's confirmation.", num(m.held));
  MetricFamily& refusals =
      out.family("braid_migration_refusals_total", "Refused handoff offers, by side and reason.",
                 MetricType::Counter);
  for (const RefusalSide side : {RefusalSide::kByPeers, RefusalSide::kByUs}) {
    for (std::size_t r = 0; r < kRefusalReasons; ++r) {
      const auto reason = static_cast<RefusalReason>(r);
      out.add(refusals, num(s.refusals.at(side, reason)),
              {{"reason", std::string(to_string(reason))}, {"side", std::string(to_string(side))}});
    }
  }
  out.counter("braid_tasks_run_twice_total",
              "Outcomes of tasks that had already run elsewhere (false death), and forced "
              "releases.",
              num(m.outcomes_unexpected + m.forced_releases));
  MetricFamily& members =
      out.family("braid_gossip_members", "Members this node knows, itself included, by state.",
                 MetricType::Gauge);
  for (int i = 0; i < gossip::kMemberStates; ++i) {
    out.add(members, num(s.members[static_cast<std::size_t>(i)]),
            {{"state", std::string(gossip::to_string(static_cast<gossip::MemberState>(i)))}});
  }
  out.histogram("braid_gossip_probe_rtt_seconds", "Round trip of a direct probe (ping to ack).",
                short_bounds(), s.probe_rtt);
  out.counter("braid_gossip_messages_sent_total", "Gossip messages sent.",
              num(s.gossip.messages_sent));
  out.counter("braid_gossip_messages_received_total", "Gossip messages received.",
              num(s.gossip.messages_received));
  out.counter("braid_gossip_bytes_sent_total", "Encoded bytes of the messages sent to peers.",
              num(s.gossip.bytes_sent));
  out.counter("braid_gossip_bytes_received_total",
              "Encoded bytes of the messages received from peers.", num(s.gossip.bytes_received));

  // Node
  out.histogram("braid_store_write_seconds", "One RocksDB write of a round, without sync.",
                short_bounds(), s.store_write);
  out.histogram("braid_store_sync_seconds",
                "One synced RocksDB write of a round (the write and its WAL sync).", short_bounds(),
                s.store_sync);
  MetricFamily& mode =
      out.family("braid_executor_mode", "1 for the executor in use.", MetricType::Gauge);
  for (const char* name : {"cgroup", "signals"}) {
    out.add(mode, s.executor_mode == name ? 1 : 0, {{"mode", name}});
  }
  out.gauge("braid_draining", "1 while braid drain runs.", s.draining ? 1 : 0);
  out.counter("braid_process_cpu_seconds_total", "braidd's own CPU (user and system).",
              seconds(s.process_cpu_us));
  out.gauge("braid_process_resident_memory_bytes", "braidd's own resident memory.",
            num(s.process_rss_bytes));
  out.gauge("braid_uptime_seconds", "Since braidd started.", seconds(s.uptime_us));

  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, out.all);
  return text.str();
}

sched::Micros process_cpu_us() {
  const std::optional<ProcStat> s = read_proc_stat(::getpid());
  return s ? clock_ticks_to_us(s->utime_ticks + s->stime_ticks) : 0;
}

std::uint64_t process_rss_bytes() { return read_rss_bytes(::getpid()).value_or(0); }

Metrics::Metrics(const Tasks& tasks, const Submissions& submissions, const Durability& durability)
    : tasks_(tasks), submissions_(submissions), durability_(durability) {}

void Metrics::set_peers(Peers* peers, const Clock* clock) {
  peers_ = peers;
  clock_ = clock;
  if (peers_ != nullptr) {
    peers_->set_probe_rtt_listener(
        lifetime_.guard([this](sched::Micros rtt_us) { probe_rtt_.observe_us(rtt_us); }));
  }
}

MetricsSnapshot Metrics::snapshot() const {
  MetricsSnapshot s;
  s.torus = tasks_.torus().stats();
  s.executor_mode = std::string(tasks_.executor().mode_name());
  s.uptime_us = tasks_.uptime_us();
  s.policy_us = tasks_.policy_time_us();
  s.decision = tasks_.decision_times();
  s.queue_wait = tasks_.queue_waits();
  s.slice_error = tasks_.slice_errors();
  s.draining = draining_ != nullptr && *draining_;
  s.process_cpu_us = process_cpu_us();
  s.process_rss_bytes = process_rss_bytes();
  if (peers_ != nullptr && clock_ != nullptr) {
    const rpc::PeersView view = peers_view(*peers_, *clock_);
    s.gossip = view.gossip;
    for (const gossip::Member& member : peers_->members()) {
      ++s.members[static_cast<std::size_t>(member.state)];
    }
    s.probe_rtt = probe_rtt_.snapshot();
  } else {
    // A node without peers knows one member, itself, alive.
    s.members[static_cast<std::size_t>(gossip::MemberState::kAlive)] = 1;
  }
  if (migration_ != nullptr) {
    s.migration = migration_->counters();
    s.refusals = migration_->refusals();
  }
  s.submitted = submissions_.admitted_total();
  s.node_requeues = durability_.requeued_at_start();
  s.store_write = durability_.store_write_times();
  s.store_sync = durability_.store_sync_times();
  return s;
}

}  // namespace braid::node
