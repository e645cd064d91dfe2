#include "rpc/kj_timer.h"

#include <chrono>
#include <system_error>

namespace braid::rpc {

AsioKjTimer::AsioKjTimer(asio::io_context& io, const kj::MonotonicClock& clock)
    : io_(io),
      clock_(clock),
      impl_(clock.now()),
      asio_timer_(io),
      anchor_(std::make_shared<AsioKjTimer*>(this)) {}

AsioKjTimer::~AsioKjTimer() noexcept(false) {
  *anchor_ = nullptr;
  asio_timer_.cancel();
}

kj::TimePoint AsioKjTimer::now() const { return clock_.now(); }

kj::Promise<void> AsioKjTimer::atTime(kj::TimePoint time) {
  impl_.advanceTo(clock_.now());  // a time already passed resolves at once
  auto promise = impl_.atTime(time);
  arm();
  return promise;
}

kj::Promise<void> AsioKjTimer::afterDelay(kj::Duration delay) {
  return atTime(clock_.now() + delay);
}

void AsioKjTimer::advance() {
  impl_.advanceTo(clock_.now());
  armed_for_ = nullptr;
  arm();
}

void AsioKjTimer::arm() {
  KJ_IF_MAYBE (next, impl_.nextEvent()) {
    KJ_IF_MAYBE (armed, armed_for_) {
      if (*armed <= *next) return;  // fires first anyway, then re-arms
    }
    armed_for_ = *next;
    const kj::Duration wait = *next - clock_.now();
    const auto wait_ns =
        std::chrono::nanoseconds(wait < 0 * kj::NANOSECONDS ? 0 : wait / kj::NANOSECONDS);
    asio_timer_.expires_after(std::chrono::ceil<std::chrono::steady_clock::duration>(wait_ns));
    asio_timer_.async_wait([anchor = anchor_](const std::error_code& ec) {
      if (ec || *anchor == nullptr) return;
      (*anchor)->advance();
    });
  }
}

}  // namespace braid::rpc
