#include "tests/sim/msim_check.h"

#include <unordered_map>
#include <vector>

namespace braid::msim {

using sched::TaskState;

namespace {

std::string origin_of(const std::string& id) { return id.substr(0, id.rfind(':')); }

const sched::Task* record_at(const World& world, NodeIndex i, const std::string& id) {
  const auto& tasks = world.node(i).store().tasks;
  const auto it = tasks.find(id);
  return it == tasks.end() ? nullptr : &it->second;
}

std::optional<NodeIndex> index_of(const World& world, const std::string& name) {
  return world.index_of(name);
}

// `holders`: the nodes whose store has a record of the task.
std::string check_task(const World& world, const std::string& id, const TaskLedger& t,
                       const std::vector<NodeIndex>& holders) {
  const std::string where = "task " + id + ": ";
  if (t.completions != 1) return where + "completed " + std::to_string(t.completions) + " times";
  if (t.concurrent != 0) return where + "ran on two nodes at once";
  if (t.starts != 1 + t.crash_lost) {
    return where + "started " + std::to_string(t.starts) + " times, " +
           std::to_string(t.crash_lost) + " lost to crashes";
  }
  const std::optional<NodeIndex> origin = index_of(world, origin_of(id));
  const sched::Task* home = origin ? record_at(world, *origin, id) : nullptr;
  if (home == nullptr) return where + "its origin has no record";
  if (home->state != TaskState::kCompleted) {
    return where + "its origin has it " + std::string(sched::to_string(home->state));
  }
  if (t.executor != origin_of(id) && home->moved_to != t.executor) {
    return where + "ran on " + t.executor + " but its origin says " + home->moved_to;
  }
  for (NodeIndex i : holders) {
    const sched::Task* r = record_at(world, i, id);
    if (r == nullptr) continue;
    const std::string name = World::name_of(i);
    if (r->state != TaskState::kMoved) {
      if (name != t.executor && name != origin_of(id)) {
        return where + name + " holds it " + std::string(sched::to_string(r->state));
      }
      continue;
    }
    // Follow the forwarding pointers from here.
    NodeIndex at = i;
    for (std::size_t hop = 0;; ++hop) {
      const sched::Task* here = record_at(world, at, id);
      if (here == nullptr) return where + "a pointer leads to " + World::name_of(at) + ", empty";
      if (here->state != TaskState::kMoved) {
        if (World::name_of(at) != t.executor) {
          return where + "the pointers from " + name + " end at " + World::name_of(at) +
                 ", not at the executor " + t.executor;
        }
        break;
      }
      const std::optional<NodeIndex> next = index_of(world, here->moved_to);
      if (!next || hop > world.size()) return where + "the pointers from " + name + " loop";
      at = *next;
    }
  }
  return "";
}

}  // namespace

std::string check_world(const World& world) {
  if (world.ledger().violations() > 0) {
    return "violation (" + std::to_string(world.ledger().violations()) +
           "): " + world.ledger().first_violation();
  }
  std::unordered_map<std::string, std::vector<NodeIndex>> holders;
  for (NodeIndex i = 0; i < world.size(); ++i) {
    for (const auto& [id, task] : world.node(i).store().tasks) holders[id].push_back(i);
  }
  const std::vector<NodeIndex> none;
  for (const auto& [id, t] : world.ledger().tasks()) {
    const auto h = holders.find(id);
    std::string failure = check_task(world, id, t, h == holders.end() ? none : h->second);
    if (!failure.empty()) return failure;
  }
  return "";
}

bool settled(const World& world) {
  for (NodeIndex i = 0; i < world.size(); ++i) {
    if (!world.node(i).settled() || world.declared_dead(i)) return false;
  }
  for (const auto& [id, t] : world.ledger().tasks()) {
    const std::optional<NodeIndex> origin = index_of(world, origin_of(id));
    const sched::Task* home = origin ? record_at(world, *origin, id) : nullptr;
    if (home == nullptr || !sched::is_terminal(home->state)) return false;
  }
  return true;
}

}  // namespace braid::msim
