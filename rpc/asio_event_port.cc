#include "rpc/asio_event_port.h"

#include <kj/debug.h>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <cstdlib>

namespace braid::rpc {

// How the pieces fit (kj/async.c++ of 0.9.2):
// - EventLoop::run(n) runs up to n events and then reports the queue state
//   through setRunnable(); it never calls wait()/poll(), so cross-thread events
//   queued by a kj::Executor are only picked up by EventLoop::wait()/poll(),
//   i.e. through Promise::wait()/poll(). on_wake() uses Promise::poll() for that.
// - KJ only calls setRunnable() when its remembered state changes. While
//   Promise::wait() drives the loop, KJ turns events itself and does not update
//   that state, so a run handler that fires then is skipped and re-posted later
//   (deferred_run_), or KJ would believe a run is pending when none is.

AsioEventPort::AsioEventPort(asio::io_context& io)
    : io_(io), anchor_(std::make_shared<Anchor>(Anchor{this})), loop_(*this), wait_scope_(loop_) {}

AsioEventPort::~AsioEventPort() noexcept {
  // Detached promises (kj::Promise::detach) die while the loop is still current.
  wait_scope_.cancelAllDetached();
  anchor_->port = nullptr;
}

void AsioEventPort::setRunnable(bool runnable) {
  // false needs no action: a queued run handler finds the loop empty.
  if (runnable) schedule_run();
}

void AsioEventPort::schedule_run() {
  if (run_posted_) return;
  run_posted_ = true;
  asio::post(io_, [anchor = anchor_] {
    if (anchor->port != nullptr) anchor->port->on_run();
  });
}

void AsioEventPort::on_run() {
  run_posted_ = false;
  if (kj_driving_ > 0) {
    // Promise::wait()/poll() up the stack is turning the loop itself; running
    // it here would nest EventLoop::run inside it.
    deferred_run_ = true;
    return;
  }
  deferred_run_ = false;
  // Re-post even if an event throws out of run(), or the loop would stall.
  KJ_DEFER(if (loop_.isRunnable()) schedule_run());
  auto deadline = std::chrono::steady_clock::now() + kRunBudget;
  for (unsigned turns = 0; turns < kTurnsPerRun; turns += kTurnsPerCheck) {
    loop_.run(kTurnsPerCheck);
    if (!loop_.isRunnable() || std::chrono::steady_clock::now() >= deadline) break;
  }
}

void AsioEventPort::wake() const {
  // Coalesce: one queued wake handler serves every wake() until the flag is
  // consumed by wait()/poll(). The Executor queues its event before calling
  // wake(), so whoever consumes the flag afterwards also sees the event.
  if (woken_.exchange(true, std::memory_order_acq_rel)) return;
  asio::post(io_, [anchor = anchor_] {
    if (anchor->port != nullptr) anchor->port->on_wake();
  });
}

void AsioEventPort::on_wake() {
  if (kj_driving_ > 0) return;  // wait()/poll() below us returns true; KJ polls the Executor
  if (!woken_.load(std::memory_order_acquire)) return;
  // Promise::poll() turns the local queue until empty, then calls
  // EventLoop::poll() -> poll() (which consumes woken_) -> Executor::poll(),
  // and keeps turning until the queue is empty, then reports setRunnable(false).
  draining_wake_ = true;
  KJ_DEFER(draining_wake_ = false);
  kj::Promise<void> never = kj::NEVER_DONE;
  never.poll(wait_scope_);
}

void AsioEventPort::prepare_io_for_kj_wait(const char* caller) {
  // Not an exception: KJ 0.9.2's waitImpl()/pollImpl() leave the waited
  // promise pointing at their destroyed stack event when the port throws, so
  // a later fulfil would write to freed stack memory.
  if (io_.get_executor().running_in_this_thread()) {
    KJ_LOG(FATAL, "kj::Promise::wait()/poll() called from inside an Asio handler; use .then()",
           caller);
    std::abort();
  }
  // A run()/run_one() that ran out of work leaves the context stopped.
  if (io_.stopped()) io_.restart();
}

bool AsioEventPort::wait() {
  if (!woken_.load(std::memory_order_acquire)) {
    prepare_io_for_kj_wait("wait");
    // Like any KJ port, wait() sleeps until an event comes, even when the
    // context has no work yet (only another thread's wake() may bring some).
    auto work = asio::make_work_guard(io_);
    ++kj_driving_;
    KJ_DEFER(--kj_driving_);
    io_.run_one();
  }
  // KJ calls wait() only with an empty queue; it returns to wait() while the
  // queue stays empty, and it can finish only after a wait() that queued work.
  // So a skipped run is re-posted only then, which avoids a busy loop.
  if (deferred_run_ && loop_.isRunnable()) {
    deferred_run_ = false;
    schedule_run();
  }
  return woken_.exchange(false, std::memory_order_acq_rel);
}

bool AsioEventPort::poll() {
  if (draining_wake_) return woken_.exchange(false, std::memory_order_acq_rel);
  if (!woken_.load(std::memory_order_acquire)) {
    prepare_io_for_kj_wait("poll");
    ++kj_driving_;
    KJ_DEFER(--kj_driving_);
    io_.poll_one();
  }
  // WaitScope::poll() returns without telling KJ's remembered state, so a
  // skipped run is always re-posted here.
  if (deferred_run_) {
    deferred_run_ = false;
    schedule_run();
  }
  return woken_.exchange(false, std::memory_order_acq_rel);
}

}  // namespace braid::rpc
