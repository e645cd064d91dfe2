// Questions one node asks another about tasks (rpc/peer.capnp Peer.readLog
// and Peer.listTasks; docs/migration.md "Following a task"): plain structs,
// their bounds, and the conversions at the edge.
//
// Contract
// - Every *_from_wire() is the edge: lengths are checked before anything
//   is copied, the task id passes sched::validate_task_id, node names
//   gossip::valid_name, states must be known; errors are one line naming
//   the field. Together with the peer reader limits
//   (kPeerTraversalLimitWords) a hostile or buggy peer cannot make a node
//   allocate more than one bounded message per question.
// - Answers are bounded by the answering side too: a log chunk carries at
//   most kPeerLogChunkBytesMax bytes, a list at most kPeerListRowsMax rows
//   and about kPeerListBytesMax bytes (fill_list_answer stops before).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rpc/control_backend.h"
#include "rpc/peer.capnp.h"
#include "sched/result.h"
#include "sched/task.h"

namespace braid::rpc {

constexpr std::uint32_t kPeerLogChunkBytesMax = 512 * 1024;
constexpr std::uint32_t kPeerListRowsMax = 5000;
constexpr std::size_t kPeerListBytesMax = 1024 * 1024;
// A task moves at most sched::Balancer's max_hops (3) times; a pointer may
// also lead back to a donor once (a discarded adoption). More is a loop.
constexpr int kFollowHopsMax = 5;

struct PeerLogRequest {
  std::string task_id;
  bool stderr_stream = false;
  std::uint64_t offset = 0;
  std::uint32_t max_bytes = 0;  // at most kPeerLogChunkBytesMax
};

struct PeerLogAnswer {
  std::string data;
  sched::TaskState state = sched::TaskState::kQueued;  // the task's state on the answering node
  std::string moved_to;  // non-empty: it went there (no data); follow it
  std::string error;     // non-empty: refused (unknown task, unreadable log)
};

struct PeerListRequest {
  bool all = false;
  std::string state;      // a state name, empty = any (as `braid ps --state`)
  std::string name_glob;  // empty = any
  std::uint32_t limit = kPeerListRowsMax;
};

struct PeerListAnswer {
  std::vector<TaskView> tasks;
  bool more = false;  // some matching tasks were left out (bounds)
  std::string error;
};

void to_wire(const PeerLogRequest& request, schema::Peer::ReadLogParams::Builder out);
sched::Result<PeerLogRequest> from_wire(schema::Peer::ReadLogParams::Reader in);
void to_wire(const PeerLogAnswer& answer, schema::Peer::ReadLogResults::Builder out);
// `asked`: the request, so that an answer with more data than asked for is refused.
sched::Result<PeerLogAnswer> from_wire(schema::Peer::ReadLogResults::Reader in,
                                       const PeerLogRequest& asked);

void to_wire(const PeerListRequest& request, schema::Peer::ListTasksParams::Builder out);
sched::Result<PeerListRequest> from_wire(schema::Peer::ListTasksParams::Reader in);
// Fills rows until kPeerListRowsMax, `limit` or about kPeerListBytesMax
// bytes; sets more when rows were left out (or answer.more).
void fill_list_answer(const PeerListAnswer& answer, std::uint32_t limit,
                      schema::Peer::ListTasksResults::Builder out);
sched::Result<PeerListAnswer> from_wire(schema::Peer::ListTasksResults::Reader in);
// One task row from a peer, every field checked.
sched::Result<TaskView> checked_task_from_wire(schema::TaskInfo::Reader in);

}  // namespace braid::rpc
