// torus-demo: six CPU-bound tasks (1 s of CPU each, priorities 2..7) time-sliced
// on 2 slots at a 10 ms quantum under each policy, on virtual time. Prints what
// an operator would look at: CPU shares half-way, finish times, preemptions.
#include <cstdio>
#include <string>
#include <vector>

#include "sched/sim_node.h"

namespace {

using braid::sched::Micros;
using braid::sched::Policy;
using braid::sched::SimBehaviour;
using braid::sched::SimNode;
using braid::sched::TaskKey;
using braid::sched::TaskSpec;
using braid::sched::TorusConfig;

constexpr Micros kMs = 1000;

void run(Policy policy) {
  TorusConfig config;
  config.node_name = "demo";
  config.slots = 2;
  config.policy = policy;
  SimNode node(config);
  std::vector<TaskKey> keys;
  for (int i = 0; i < 6; ++i) {
    TaskSpec spec;
    spec.argv = {"busy-loop"};
    spec.name = "busy-" + std::to_string(i);
    spec.priority = 2 + i;
    keys.push_back(node.submit(spec, SimBehaviour{1000 * kMs, {0}, false}).value());
  }
  node.run_for(1500 * kMs);
  std::vector<Micros> cpu_at_half;
  for (TaskKey key : keys) cpu_at_half.push_back(node.torus().task(key).cpu_time_us);
  node.run_until_idle(60'000 * kMs);

  const auto stats = node.torus().stats();
  std::printf("\n== %s: 6 tasks x 1s CPU on 2 slots, quantum 10ms ==\n",
              std::string(to_string(policy)).c_str());
  std::printf("%-8s %-8s %4s %14s %12s %12s\n", "ID", "NAME", "PRIO", "CPU@1.5s(ms)",
              "FINISHED(ms)", "PREEMPTIONS");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& t = node.torus().task(keys[i]);
    std::printf("%-8s %-8s %4d %14lld %12lld %12d\n", t.id.c_str(), t.spec.name.c_str(),
                t.spec.priority, static_cast<long long>(cpu_at_half[i] / kMs),
                static_cast<long long>(t.finished_at_us / kMs), t.preemptions);
  }
  std::printf("total_scheduled=%llu context_switches=%llu preemptions=%llu completed=%llu\n",
              static_cast<unsigned long long>(stats.total_scheduled),
              static_cast<unsigned long long>(stats.context_switches),
              static_cast<unsigned long long>(stats.preemptions),
              static_cast<unsigned long long>(stats.count(braid::sched::TaskState::kCompleted)));
}

}  // namespace

int main() {
  std::printf("braid torus demo (virtual time; real processes arrive with braidd)\n");
  for (Policy policy : {Policy::kRoundRobin, Policy::kPriority, Policy::kFair}) run(policy);
  return 0;
}
