// ControlClient: the CLI's side of the control interface. Blocking calls on
// Cap'n Proto's own event loop (EzRpcClient); one client per process.
//
// Every call returns the daemon's answer or one of two errors:
//  - Refused: the daemon refused the input (bad usage; the CLI exits 2);
//  - Unreachable: no daemon answers on the socket, or it does not answer a
//    call within answer_timeout_us (a wait: within its own timeout plus that);
//    the CLI exits 3. A call that timed out may still be carried out.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "rpc/control_backend.h"
#include "sched/task.h"

namespace braid::node {

struct Refused {
  std::string message;
};
struct Unreachable {
  std::string message;
};

template <typename T>
using Reply = std::variant<T, Refused, Unreachable>;
struct Done {};

class ControlClient final {
 public:
  static constexpr sched::Micros kDefaultAnswerTimeoutUs = 30 * sched::kMicrosPerSecond;

  // Connects lazily: the first call reports Unreachable if nobody listens.
  // answer_timeout_us: sched::kNever waits for ever.
  explicit ControlClient(std::string socket_path,
                         sched::Micros answer_timeout_us = kDefaultAnswerTimeoutUs);
  ~ControlClient();

  Reply<std::vector<std::string>> submit(const std::vector<sched::TaskSpec>& specs);
  // One page; state and name are sent as given (the daemon checks them).
  Reply<rpc::ListPage> list(const rpc::ListQuery& query, const std::string& state);
  Reply<std::vector<rpc::TaskView>> show(const std::vector<std::string>& ids);
  Reply<rpc::WaitOutcome> wait(const std::vector<std::string>& ids, sched::Micros timeout_us);
  Reply<Done> cancel(const std::vector<std::string>& ids);
  Reply<rpc::LogChunk> read_log(const std::string& id, bool stderr_stream, std::uint64_t offset,
                                std::uint32_t max_bytes);
  Reply<rpc::StatsView> stats();
  Reply<Done> set_policy(const std::string& name);
  Reply<Done> set_quantum(sched::Micros quantum_us);
  Reply<int> priority(const std::string& id, rpc::PriorityOp op, int value);
  Reply<Done> scheduler(rpc::SchedulerOp op);
  // state: a live state or "all"; name: a glob, empty = any.
  Reply<std::uint64_t> cancel_where(const std::string& state, const std::string& name);
  Reply<std::uint64_t> clear();
  Reply<Done> hold(const std::vector<std::string>& ids, bool release);
  Reply<rpc::PeersView> peers();
  Reply<rpc::DrainView> drain(bool cancel);
  Reply<Done> set_peer_faults(const rpc::PeerFaultsRequest& faults);  // tests only

 private:
  struct Impl;
  class Answer;
  template <typename T, typename Call>
  Reply<T> call(Call&& call);

  std::string socket_path_;
  sched::Micros answer_timeout_us_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace braid::node
