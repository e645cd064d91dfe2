// Following: `braid logs` and `braid ps --cluster` across nodes
// (docs/migration.md "Following a task"). Answers the peers' questions
// about the tasks this node holds (Peer.readLog, Peer.listTasks), and asks
// them about the tasks it does not.
//
// Contract
// - Single-threaded, on the daemon's loop; Tasks and Peers outlive it.
// - read_log: a task this node holds (no forwarding pointer) is read here.
//   A task with a pointer (`moved`, or ended elsewhere: moved_to names the
//   node that ran it), or one this node does not know whose id names a live
//   peer as its origin, is asked of that node; a node that answers
//   "moved to X" is followed, by this node, at most rpc::kFollowHopsMax
//   questions in all, each within `deadline`. `finished` = the holder says
//   the task ended and there is no more output. A holder that does not
//   answer is an error naming it (the CLI exits 2 with it). A remote read
//   that found nothing new is not asked again for kQuietInterval (answered
//   "nothing new" at once): `braid run` polls every 20 ms, and several of
//   them must not flood the holder.
// - list_cluster: this node's page (query's cursor); on the first page
//   (after == 0) also every live peer's tasks, asked at once, each within
//   `deadline`; a peer that does not answer (or answers only part) is one
//   line of peer_errors. Rows of a forwarding pointer are left out when
//   the node holding the task listed it. Never waits longer than
//   `deadline` (plus the loop's latency) for the peers.
#pragma once

#include <kj/async.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "node/peers.h"
#include "node/tasks.h"
#include "rpc/control_backend.h"
#include "rpc/peer_query.h"

namespace braid::node {

struct FollowingOptions {
  std::chrono::milliseconds deadline{1500};  // per question to a peer
  // Answer peers' questions (task output, task lists). Off on a node whose
  // peers proved no secret and that did not opt into trusting them
  // (--migrate): the peer port must not hand out what the control socket keeps private.
  bool answer_peers = true;
};
constexpr std::chrono::milliseconds kQuietInterval{100};

class Following final {
 public:
  Following(Tasks& tasks, Peers& peers, FollowingOptions options = {});
  ~Following();
  Following(const Following&) = delete;
  Following& operator=(const Following&) = delete;

  kj::Promise<kj::Own<rpc::LogReply>> read_log(const std::string& id, bool stderr_stream,
                                               std::uint64_t offset, std::uint32_t max_bytes);
  kj::Promise<kj::Own<rpc::ListReply>> list_cluster(const rpc::ListQuery& query);

  // How this node answers the peers (registered with Peers at construction).
  rpc::PeerLogAnswer answer_read_log(const rpc::PeerLogRequest& request) const;
  rpc::PeerListAnswer answer_list(const rpc::PeerListRequest& request) const;

 private:
  struct Chase;
  void ask(std::shared_ptr<Chase> chase, const std::string& node);
  // "id/o@offset" or "id/e@offset" -> when a remote read there found nothing new.
  static std::string quiet_key(const rpc::PeerLogRequest& request);
  static sched::Micros quiet_us();  // kQuietInterval
  void note_quiet(const rpc::PeerLogRequest& request);

  Tasks& tasks_;
  Peers& peers_;
  FollowingOptions options_;
  std::unordered_map<std::string, sched::Micros> quiet_;  // when, on Tasks' clock
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// ps --cluster: drops the rows that only point elsewhere, so that a task is
// listed by the node at the end of its chain. A `moved` row goes when the
// node it points to answered (`answered`: the nodes whose lists came, this
// one included): that node lists the task, or points on, or no longer
// shows it (ended, and the list is of unfinished tasks; a relay's pointer
// is never updated). An ended row with a pointer (the origin's copy of an
// outcome) goes when another row lists the task without a pointer. Rows of
// state `moved` stay when `keep_moved` (ps --state moved). Order kept.
void drop_pointer_rows(std::vector<rpc::TaskView>& rows, const std::set<std::string>& answered,
                       bool keep_moved = false);

}  // namespace braid::node
