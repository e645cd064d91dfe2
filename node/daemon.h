// Daemon: one braid node, made of parts with one job each:
//   Tasks        the torus, the executor and each task's side record; time,
//                process actions, samplers, control operations (tasks.h)
//   Durability   the store: what is written when, recovery, purge (durability.h)
//   Waiters      `wait` calls and the state clients are shown (waiters.h)
//   Submissions  check, encode, store, admit (submissions.h)
// main() (braidd_main.cc) builds the parts; the Daemon routes Tasks' events
// (TaskEvents) and the other parts' questions to each other, answers the
// control interface (rpc::ControlBackend) by delegating, and runs the
// graceful shutdown. Everything runs on the one thread that runs
// the io_context; nothing here locks. Disk writes go through the
// storage::Committer's thread, whose answers are posted back to the loop.
//
// A part that follows the node's load (peers) registers with
// load_listeners(): Tasks calls it after every batch of actions.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/clock.h"
#include "node/daemon_config.h"
#include "node/durability.h"
#include "node/lifetime.h"
#include "node/submissions.h"
#include "node/tasks.h"
#include "node/waiters.h"
#include "rpc/control_backend.h"

namespace braid::node {

class Following;

class Daemon final : public rpc::ControlBackend, private TaskEvents {
 public:
  // Wires the parts to each other; they must outlive the Daemon. Then
  // Durability::recover() restores the stored tasks.
  Daemon(asio::io_context& io, const DaemonConfig& config, Tasks& tasks, Waiters& waiters,
         Durability& durability, Submissions& submissions);
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Graceful stop: no new starts, every task's processes are ended (SIGTERM,
  // SIGKILL after kill_grace), submissions under way are finished; `on_done`
  // runs once none is left (pending waits are told the node is going away).
  void shutdown(std::function<void()> on_done);
  // Expires when the daemon is destroyed (for objects that may outlive it,
  // such as the control server of a call still under way).
  std::weak_ptr<const bool> lifetime_token() const { return lifetime_.token(); }
  // Where a part registers for load changes (see above).
  void add_load_listener(std::function<void()> listener) {
    tasks_.add_load_listener(std::move(listener));
  }

  // rpc::ControlBackend
  kj::Promise<kj::Own<rpc::SubmitOutcome>> submit(std::vector<sched::TaskSpec> specs) override;
  sched::Result<rpc::ListPage> list(const rpc::ListQuery& query) override;
  sched::Result<std::vector<rpc::TaskView>> show(const std::vector<std::string>& ids) override;
  kj::Promise<kj::Own<rpc::WaitOutcome>> wait(std::vector<std::string> ids,
                                              sched::Micros timeout_us) override;
  sched::Status cancel(const std::vector<std::string>& ids) override;
  sched::Result<rpc::LogChunk> read_log(const std::string& id, bool stderr_stream,
                                        std::uint64_t offset, std::uint32_t max_bytes) override;
  rpc::StatsView stats() override;
  rpc::PeersView peers() override { return peers_view_ ? peers_view_() : rpc::PeersView{}; }
  // Logs and lists of tasks held elsewhere (braidd_main wires node/following.h
  // in when the node has peers; none: this node's own).
  void set_following(Following* following) { following_ = following; }
  kj::Promise<kj::Own<rpc::LogReply>> read_log_anywhere(const std::string& id, bool stderr_stream,
                                                        std::uint64_t offset,
                                                        std::uint32_t max_bytes) override;
  kj::Promise<kj::Own<rpc::ListReply>> list_cluster(const rpc::ListQuery& query) override;
  // What `peers` answers (braidd_main wires the peers part in; none: alone).
  void set_peers_view(std::function<rpc::PeersView()> view) { peers_view_ = std::move(view); }
  // Tests: what `setPeerFaults` does (braidd_main wires the peers part in).
  sched::Status set_peer_faults(const rpc::PeerFaultsRequest& faults) override {
    return peer_faults_ ? peer_faults_(faults) : rpc::ControlBackend::set_peer_faults(faults);
  }
  void set_peer_faults_handler(std::function<sched::Status(const rpc::PeerFaultsRequest&)> h) {
    peer_faults_ = std::move(h);
  }
  sched::Status set_policy(sched::Policy policy) override;
  sched::Status set_quantum(sched::Micros quantum_us) override;
  sched::Result<int> priority(const std::string& id, rpc::PriorityOp op, int value) override;
  sched::Status scheduler(rpc::SchedulerOp op) override;
  sched::Result<std::optional<int>> schedule_next() override;
  sched::Result<std::uint64_t> cancel_where(std::optional<sched::TaskState> state,
                                            const std::string& name_glob) override;
  sched::Result<std::uint64_t> clear() override;
  sched::Status hold(const std::vector<std::string>& ids, bool release) override;
  // Drain (node/drain.h): submissions are refused while draining; `on_drain`
  // (braidd_main: migration and the gossiped load) hears of every change.
  sched::Result<rpc::DrainView> drain(bool cancel, bool query) override;
  void set_on_drain(std::function<rpc::DrainView(bool draining)> on_drain) {
    on_drain_ = std::move(on_drain);
  }

 private:
  // TaskEvents
  void on_started(sched::TaskKey key) override;
  void on_state_changed(sched::TaskKey key) override;
  void on_actions_done() override;
  void on_interrupted(sched::TaskKey key) override;
  void on_exit_handled() override;

  void check_shutdown_done();

  asio::io_context& io_;
  const DaemonConfig& config_;
  Tasks& tasks_;
  Waiters& waiters_;
  Durability& durability_;
  Submissions& submissions_;
  std::function<void()> on_shutdown_done_;
  std::function<rpc::PeersView()> peers_view_;
  Following* following_ = nullptr;
  std::function<rpc::DrainView(bool)> on_drain_;
  std::function<sched::Status(const rpc::PeerFaultsRequest&)> peer_faults_;
  // Every handler and posted callback holds a guard of it (declared last:
  // destroyed first, so no handler runs on a half-destroyed daemon).
  Lifetime lifetime_;
};

}  // namespace braid::node
