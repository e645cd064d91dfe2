// AsioEventPort: runs a KJ event loop (and so Cap'n Proto RPC) inside an
// asio::io_context, on the one thread that owns the daemon's state.
//
// Contract
// - Construct on the thread that will run `io`. The constructor creates a
//   kj::EventLoop and a kj::WaitScope, so that loop is current for this thread
//   until the port is destroyed (a thread can have only one KJ loop).
// - Normal mode: the owner calls io.run() (or run_one()/run_for() loops) and
//   nothing else. When KJ gets work, setRunnable(true) posts ONE handler to
//   `io` that runs at most kTurnsPerRun KJ events (and for about kRunBudget at
//   most) and re-posts itself while work remains, so a flood of RPCs cannot
//   starve Asio timers or sockets.
// - Promise::wait(wait_scope()) / poll(wait_scope()) also work, from the top
//   level of the thread only (tests, main() before io.run()): they drive `io`
//   one step at a time (run_one()/poll_one()); like any KJ port, wait() sleeps
//   until an event comes. Never call them from inside an Asio handler: that
//   would nest the io_context, so the port logs and aborts instead.
// - Thread safety: only wake() may be called from another thread (kj::Executor
//   and cross-thread fulfillers do so). Everything else, including
//   destruction, happens on the owning thread.
// - Cross-thread events (kj::Executor) are drained in one go when their wake
//   handler runs; unlike local work that drain is not bounded. braid keeps
//   them rare: helper threads post results with asio::post instead.
// - Shutdown order: destroy every promise, capability, RPC system and stream
//   first, drain the io_context (io.poll()), then destroy the port; the
//   io_context itself must outlive the port. Handlers still queued in `io`
//   after the port is gone find it gone and do nothing. Destroying the port
//   while KJ events are still queued (a leaked promise) terminates, with
//   KJ's "EventLoop destroyed with events still in the queue".
#pragma once

#include <kj/async.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <memory>

namespace braid::rpc {

class AsioEventPort final : public kj::EventPort {
 public:
  // A posted run handler yields back to Asio after kTurnsPerRun KJ events or
  // once kRunBudget has passed (checked every kTurnsPerCheck events), which
  // bounds how late an Asio timer can be even in slow (sanitizer) builds.
  static constexpr unsigned kTurnsPerRun = 256;
  static constexpr unsigned kTurnsPerCheck = 32;
  static constexpr std::chrono::microseconds kRunBudget{1000};

  explicit AsioEventPort(asio::io_context& io);
  ~AsioEventPort() noexcept;  // see "Shutdown order"
  AsioEventPort(const AsioEventPort&) = delete;
  AsioEventPort& operator=(const AsioEventPort&) = delete;

  kj::WaitScope& wait_scope() { return wait_scope_; }
  asio::io_context& io_context() { return io_; }

  // kj::EventPort. wait()/poll() are called by KJ from Promise::wait()/poll();
  // they run one Asio handler (blocking / not blocking) and return true if
  // wake() was called since the last true return.
  bool wait() override;
  bool poll() override;
  void setRunnable(bool runnable) override;
  void wake() const override;

 private:
  // Shared with posted handlers so they can tell whether the port still lives.
  struct Anchor {
    AsioEventPort* port;
  };

  void schedule_run();
  void on_run();
  void on_wake();
  void prepare_io_for_kj_wait(const char* caller);

  asio::io_context& io_;
  std::shared_ptr<Anchor> anchor_;
  bool run_posted_ = false;     // a run handler is queued in io_
  bool deferred_run_ = false;   // a run handler fired while KJ was driving itself
  int kj_driving_ = 0;          // > 0 inside wait()/poll() called from Promise::wait/poll
  bool draining_wake_ = false;  // inside on_wake(), where poll() must not touch io_
  mutable std::atomic<bool> woken_{false};
  kj::EventLoop loop_;
  kj::WaitScope wait_scope_;
};

}  // namespace braid::rpc
