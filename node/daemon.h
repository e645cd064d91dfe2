// Daemon: one braid node. Owns the torus and the executor, feeds the torus
// time and process exits, carries out its actions, and answers the control
// interface (rpc::ControlBackend). Everything runs on the one thread that
// runs the io_context; nothing here locks.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <vector>

#include "node/clock.h"
#include "node/daemon_config.h"
#include "node/executor.h"
#include "node/slice_stats.h"
#include "rpc/control_backend.h"
#include "sched/torus.h"

namespace braid::node {

class Daemon final : public rpc::ControlBackend {
 public:
  // Creates <data_dir>/logs. The clock must be the steady clock Asio's timers use.
  Daemon(asio::io_context& io, const Clock& clock, DaemonConfig config);
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Graceful stop: no new starts, every task's processes are ended (SIGTERM,
  // SIGKILL after kill_grace); `on_done` runs once none is left.
  void shutdown(std::function<void()> on_done);

  // rpc::ControlBackend
  sched::Result<std::vector<std::string>> submit(std::vector<sched::TaskSpec> specs) override;
  sched::Result<std::vector<rpc::TaskView>> list(bool all,
                                                 std::optional<sched::TaskState> state) override;
  sched::Result<std::vector<rpc::TaskView>> show(const std::vector<std::string>& ids) override;
  kj::Promise<kj::Own<rpc::WaitOutcome>> wait(std::vector<std::string> ids,
                                              sched::Micros timeout_us) override;
  sched::Status cancel(const std::vector<std::string>& ids) override;
  sched::Result<rpc::LogChunk> read_log(const std::string& id, bool stderr_stream,
                                        std::uint64_t offset, std::uint32_t max_bytes) override;
  rpc::StatsView stats() override;
  sched::Status set_policy(sched::Policy policy) override;
  sched::Status set_quantum(sched::Micros quantum_us) override;
  sched::Result<int> priority(const std::string& id, rpc::PriorityOp op, int value) override;
  sched::Status scheduler(rpc::SchedulerOp op) override;

 private:
  struct Waiter;

  sched::Micros now_us() const;  // torus time: monotonic, 0 at start
  sched::Micros wall_us(sched::Micros torus_us) const;
  void carry_out();  // executes actions_ and re-arms the tick timer
  void on_process_exit(sched::TaskKey key, const sched::ExitStatus& status);
  void arm_timer();
  sched::Result<std::vector<sched::TaskKey>> keys_of(const std::vector<std::string>& ids) const;
  rpc::TaskView view(sched::TaskKey key) const;
  kj::Own<rpc::WaitOutcome> outcome_of(const std::vector<sched::TaskKey>& keys) const;
  void settle_waiters();
  void check_shutdown_done();

  asio::io_context& io_;
  const Clock& clock_;
  DaemonConfig config_;
  const sched::Micros start_monotonic_us_;
  const sched::Micros start_wall_us_;
  sched::Torus torus_;
  Executor executor_;
  asio::steady_timer tick_timer_;
  sched::Micros timer_due_us_ = sched::kNever;
  sched::Actions actions_;

  std::vector<sched::Micros> cpu_done_us_;     // measured CPU of ended attempts, by key
  std::vector<sched::Micros> slice_began_us_;  // by key, while on a slot
  SliceStats slices_;
  std::list<Waiter> waiters_;
  std::uint64_t next_waiter_serial_ = 1;
  bool shutting_down_ = false;
  std::function<void()> on_shutdown_done_;
  // Asio handlers that already completed cannot be cancelled: they check this
  // token and do nothing once the daemon is gone.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
};

}  // namespace braid::node
