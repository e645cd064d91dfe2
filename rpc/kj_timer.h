// AsioKjTimer: a kj::Timer on braidd's Asio loop, for KJ code that needs one
// (kj::HttpServer's header and pipeline timeouts). A kj::TimerImpl holds the
// KJ timers; one asio::steady_timer, re-armed at TimerImpl::nextEvent(),
// advances it to the clock's time when it fires.
//
// Contract
// - Single-threaded: construct, use and destroy it on the thread that runs
//   `io` and owns the AsioEventPort (KJ promises are fulfilled here).
// - Time is `clock`'s (default: kj::systemPreciseMonotonicClock(), i.e.
//   CLOCK_MONOTONIC, the clock asio::steady_clock reads too). now() reads the
//   clock, so afterDelay(d) is d from the moment of the call.
// - A timer promise resolves on the first Asio handler that runs at or after
//   its time (never early). Dropping a promise cancels it; the Asio timer
//   may then fire once for nothing.
// - Destroying the timer cancels the Asio wait; its handler, still queued in
//   `io`, finds the timer gone and does nothing. Promises from it must be
//   gone first (kj::TimerImpl's rule). `io` must outlive it.
#pragma once

#include <kj/time.h>
#include <kj/timer.h>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <memory>

namespace braid::rpc {

class AsioKjTimer final : public kj::Timer {
 public:
  explicit AsioKjTimer(asio::io_context& io,
                       const kj::MonotonicClock& clock = kj::systemPreciseMonotonicClock());
  ~AsioKjTimer() noexcept(false);
  AsioKjTimer(const AsioKjTimer&) = delete;
  AsioKjTimer& operator=(const AsioKjTimer&) = delete;

  // kj::Timer
  kj::TimePoint now() const override;
  kj::Promise<void> atTime(kj::TimePoint time) override;
  kj::Promise<void> afterDelay(kj::Duration delay) override;

  // Fires every KJ timer whose time has come (by the clock) and re-arms the
  // Asio timer; what the Asio handler does. Public for tests with a fake clock.
  void advance();
  // When the Asio timer is armed to fire next; null: not armed.
  kj::Maybe<kj::TimePoint> armed_for() const { return armed_for_; }

 private:
  void arm();

  asio::io_context& io_;
  const kj::MonotonicClock& clock_;
  kj::TimerImpl impl_;
  asio::steady_timer asio_timer_;
  kj::Maybe<kj::TimePoint> armed_for_;
  std::shared_ptr<AsioKjTimer*> anchor_;  // *anchor_ = nullptr once destroyed
};

}  // namespace braid::rpc
