// ControlServer: the Cap'n Proto Control interface (control.capnp) served
// from a ControlBackend. Converts and checks every request (convert.h),
// calls the backend on the loop thread, and answers bad input with the
// `error` field, never with a dropped connection or a crash.
#pragma once

#include <memory>
#include <optional>

#include "rpc/control.capnp.h"
#include "rpc/control_backend.h"

namespace braid::rpc {

class ControlServer final : public schema::Control::Server {
 public:
  // The backend must outlive every capability handed out for this server,
  // or pass `backend_alive`: a token that expires with the backend. Calls
  // still under way when it expires (capnp keeps a call, and so this server,
  // alive after its connection is gone; a big submission is converted over
  // several loop turns) answer "shutting down" instead of reaching it.
  explicit ControlServer(ControlBackend& backend,
                         std::optional<std::weak_ptr<const bool>> backend_alive = std::nullopt)
      : backend_(backend), backend_alive_(std::move(backend_alive)) {}

  kj::Promise<void> submit(SubmitContext context) override;
  kj::Promise<void> list(ListContext context) override;
  kj::Promise<void> show(ShowContext context) override;
  kj::Promise<void> wait(WaitContext context) override;
  kj::Promise<void> cancel(CancelContext context) override;
  kj::Promise<void> readLog(ReadLogContext context) override;
  kj::Promise<void> stats(StatsContext context) override;
  kj::Promise<void> setPolicy(SetPolicyContext context) override;
  kj::Promise<void> setQuantum(SetQuantumContext context) override;
  kj::Promise<void> priority(PriorityContext context) override;
  kj::Promise<void> scheduler(SchedulerContext context) override;
  kj::Promise<void> cancelWhere(CancelWhereContext context) override;
  kj::Promise<void> clear(ClearContext context) override;
  kj::Promise<void> hold(HoldContext context) override;
  kj::Promise<void> peers(PeersContext context) override;
  kj::Promise<void> drain(DrainContext context) override;
  kj::Promise<void> setPeerFaults(SetPeerFaultsContext context) override;  // tests only

 private:
  bool backend_gone() const { return backend_alive_ && backend_alive_->expired(); }

  ControlBackend& backend_;
  std::optional<std::weak_ptr<const bool>> backend_alive_;
};

}  // namespace braid::rpc
