// What nodes say to each other to move tasks (issue 11, docs/migration.md):
// handoff offers, answers and queries, outcome reports to a task's origin
// and their acknowledgements, and requests for work. Plain values: the peer
// transport converts them at the edge (rpc/migration_convert.h) and checks
// every field with validate() before the node sees them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "sched/task.h"
#include "sched/types.h"

namespace braid::sched {

// A migration message's bound, encoded (a task spec with its environment
// and arguments must fit): a task whose offer would be larger stays where
// it is. Also what a peer connection reads at most per message.
constexpr std::size_t kMaxMigrationMessageBytes = 1024 * 1024;
constexpr std::size_t kMaxReasonBytes = 1024;
constexpr std::uint32_t kMaxRequestedSlots = 100'000;

// A queued task as an offer carries it: enough to run it elsewhere under
// the same id. Its spec's base_env travels with it.
struct MigratingTask {
  std::string id;  // "<origin>:<seq>"
  TaskSpec spec;
  Micros submitted_at_us = 0;
  int attempts = 0;       // attempts started before (a requeue after a crash)
  int node_requeues = 0;  // of those, requeued because a node crashed
  int hops = 0;           // migrations so far, this one included
};

struct HandoffOffer {
  std::uint64_t epoch = 0;  // the donor's, new for every offer
  MigratingTask task;
};

enum class HandoffAnswerKind : std::uint8_t {
  kAccepted = 0,  // adopted (or already adopted): the receiver owns it
  kRefused = 1,   // cannot run it (reason), or that epoch is fenced
  kHave = 2,      // query: the receiver owns it
  kNotHave = 3,   // query: it does not, and now never will for that epoch
};
std::string_view to_string(HandoffAnswerKind kind);

struct HandoffAnswer {
  std::string task_id;
  std::uint64_t epoch = 0;
  HandoffAnswerKind kind = HandoffAnswerKind::kAccepted;
  std::string reason;  // kRefused: why (one line)
};

// "Do you own task_id from the offer of this epoch?" (after a lost answer,
// a restart, or the receiver's return from a false death).
struct HandoffQuery {
  std::string task_id;
  std::uint64_t epoch = 0;
};

// The receiver holds an adopted task until the donor confirms it journaled
// `moved` (docs/migration.md): it asks with HandoffConfirmQuery (after a
// restart, and again with backoff), the donor answers HandoffConfirm: go
// (the receiver may run it) or not (it discards it: the donor took it back).
struct HandoffConfirmQuery {
  std::string task_id;
  std::uint64_t epoch = 0;
};

struct HandoffConfirm {
  std::string task_id;
  std::uint64_t epoch = 0;
  bool go = false;
};

// How a task ended on the node that ran it, sent to its origin from a
// persisted outbox until acknowledged.
struct OutcomeReport {
  std::string task_id;
  std::string executor;                     // the node that ran it
  TaskState state = TaskState::kCompleted;  // completed, failed or cancelled
  std::optional<ExitStatus> exit;
  std::string reason;
  Micros started_at_us = -1;
  Micros finished_at_us = -1;
  int attempts = 0;
  Micros cpu_time_us = 0;
};

struct OutcomeAck {
  std::string task_id;
};

// An idle node asks a loaded one for up to `slots` tasks (pull).
struct WorkRequest {
  std::uint32_t slots = 0;
};

struct MigrationMessage {
  std::string from;          // sender's node name
  std::string from_address;  // where to answer ("HOST:PORT")
  std::variant<HandoffOffer, HandoffAnswer, HandoffQuery, HandoffConfirmQuery, HandoffConfirm,
               OutcomeReport, OutcomeAck, WorkRequest>
      body;
};

// Every field within its limits (ids, names, addresses, reasons, the spec
// as sched::validate_spec checks it, states and kinds known); the error
// names the field and what is allowed.
Status validate(const MigrationMessage& message);

}  // namespace braid::sched
