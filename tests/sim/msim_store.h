// msim::Store: what one simulated node keeps across a crash (issue 11 §6).
// It holds exactly what the machines told the node to persist, and nothing
// else: the torus's kPersist records (a copy of the task at that moment),
// the id sequence, the handoff donor's journal and epoch floor, the
// receiver's fences and held adoptions, and the outcome outbox. A crash
// loses every other byte of the node; a restart rebuilds from this alone.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "sched/handoff.h"
#include "sched/migration_message.h"
#include "sched/task.h"

namespace braid::msim {

// A task the receiver stores held (kAdopt): the adoption and the offered task.
struct HeldTask {
  sched::HeldAdoption adoption;
  sched::MigratingTask task;
};

struct Store {
  std::map<std::string, sched::Task> tasks;  // by id: the last kPersist of each
  std::uint64_t next_sequence = 1;           // the torus's, after each submission
  // The donor's journal by (task id, epoch), and its epoch floor.
  std::map<std::pair<std::string, sched::Epoch>, sched::HandoffRecord> journal;
  sched::Epoch epoch_floor = 0;
  // The receiver's fences by (task id, donor), and its held adoptions by task id.
  std::map<std::pair<std::string, std::string>, sched::Epoch> fences;
  std::map<std::string, HeldTask> held;
  // Outcome reports of tasks this node ran for another origin, until acked;
  // and the ids whose report was acked (never reported again).
  std::map<std::string, sched::OutcomeReport> outbox;
  std::set<std::string> reported;
};

}  // namespace braid::msim
