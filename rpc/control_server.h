// ControlServer: the Cap'n Proto Control interface (control.capnp) served
// from a ControlBackend. Converts and checks every request (convert.h),
// calls the backend on the loop thread, and answers bad input with the
// `error` field, never with a dropped connection or a crash.
#pragma once

#include "rpc/control.capnp.h"
#include "rpc/control_backend.h"

namespace braid::rpc {

class ControlServer final : public schema::Control::Server {
 public:
  // The backend must outlive every capability handed out for this server.
  explicit ControlServer(ControlBackend& backend) : backend_(backend) {}

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

 private:
  ControlBackend& backend_;
};

}  // namespace braid::rpc
