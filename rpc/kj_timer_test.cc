// Tests for AsioKjTimer: KJ timers driven by one asio::steady_timer. The
// ordering tests use a fake clock and call advance() by hand; one test runs
// the real clock through io.run_one_for() loops with a deadline.
#include "rpc/kj_timer.h"

#include <gtest/gtest.h>
#include <kj/async.h>

#include <asio/io_context.hpp>
#include <chrono>

#include "rpc/asio_event_port.h"

namespace braid::rpc {
namespace {

using namespace std::chrono_literals;

class FakeClock final : public kj::MonotonicClock {
 public:
  kj::TimePoint now() const override { return now_; }
  void step(kj::Duration d) { now_ = now_ + d; }

 private:
  kj::TimePoint now_ = kj::origin<kj::TimePoint>() + 1000 * kj::SECONDS;
};

struct Fixture {
  asio::io_context io;
  AsioEventPort port{io};
  FakeClock clock;
  AsioKjTimer timer{io, clock};
};

TEST(AsioKjTimerTest, FiresAtItsTimeNeverEarlier) {
  Fixture f;
  bool fired = false;
  auto promise = f.timer.afterDelay(10 * kj::MILLISECONDS).then([&] { fired = true; });
  EXPECT_TRUE(f.timer.armed_for() != nullptr);
  f.clock.step(9 * kj::MILLISECONDS);
  f.timer.advance();
  EXPECT_FALSE(promise.poll(f.port.wait_scope()));
  EXPECT_FALSE(fired);
  f.clock.step(1 * kj::MILLISECONDS);
  f.timer.advance();
  ASSERT_TRUE(promise.poll(f.port.wait_scope()));
  promise.wait(f.port.wait_scope());
  EXPECT_TRUE(fired);
  EXPECT_TRUE(f.timer.armed_for() == nullptr);  // nothing left: not armed
}

TEST(AsioKjTimerTest, ArmsForTheEarliestAndReArmsForTheNext) {
  Fixture f;
  const kj::TimePoint start = f.clock.now();
  auto late = f.timer.afterDelay(50 * kj::MILLISECONDS);
  KJ_IF_MAYBE (armed, f.timer.armed_for()) {
    EXPECT_EQ(*armed, start + 50 * kj::MILLISECONDS);
  } else {
    FAIL() << "not armed";
  }
  auto early = f.timer.afterDelay(20 * kj::MILLISECONDS);
  KJ_IF_MAYBE (armed, f.timer.armed_for()) {
    EXPECT_EQ(*armed, start + 20 * kj::MILLISECONDS);  // re-armed earlier
  } else {
    FAIL() << "not armed";
  }
  f.clock.step(20 * kj::MILLISECONDS);
  f.timer.advance();
  EXPECT_TRUE(early.poll(f.port.wait_scope()));
  EXPECT_FALSE(late.poll(f.port.wait_scope()));
  KJ_IF_MAYBE (armed, f.timer.armed_for()) {
    EXPECT_EQ(*armed, start + 50 * kj::MILLISECONDS);  // then for the later one
  } else {
    FAIL() << "not re-armed for the later timer";
  }
}

TEST(AsioKjTimerTest, APassedTimeResolvesAtTheNextAdvanceAndDroppedTimersDoNothing) {
  Fixture f;
  { auto dropped = f.timer.afterDelay(5 * kj::MILLISECONDS); }
  // A time already passed: the Asio timer is due at once, the next advance fires it.
  auto past = f.timer.atTime(f.clock.now() - 1 * kj::SECONDS);
  KJ_IF_MAYBE (armed, f.timer.armed_for()) {
    EXPECT_LE(*armed, f.clock.now());
  } else {
    FAIL() << "not armed";
  }
  f.timer.advance();
  EXPECT_TRUE(past.poll(f.port.wait_scope()));
  f.clock.step(10 * kj::MILLISECONDS);
  f.timer.advance();  // the dropped one is gone: nothing fires, nothing breaks
  EXPECT_TRUE(f.timer.armed_for() == nullptr);
}

TEST(AsioKjTimerTest, TimeoutAfterOnTheRealClockThroughAsio) {
  asio::io_context io;
  AsioEventPort port(io);
  bool timed_out = false;
  kj::Promise<void> never = kj::NEVER_DONE;
  {
    AsioKjTimer timer(io);
    const auto begin = std::chrono::steady_clock::now();
    auto promise = timer.timeoutAfter(30 * kj::MILLISECONDS, kj::mv(never))
                       .then([] {},
                             [&](kj::Exception&& e) {
                               timed_out = e.getType() == kj::Exception::Type::OVERLOADED;
                             })
                       .eagerlyEvaluate(nullptr);
    const auto deadline = begin + 5s;
    while (!timed_out && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    EXPECT_TRUE(timed_out);
    EXPECT_GE(std::chrono::steady_clock::now() - begin, 30ms);
  }
  io.restart();
  io.poll();  // the destroyed timer's cancelled wait finds it gone
}

}  // namespace
}  // namespace braid::rpc
