// Tests for the Asio <-> KJ bridge: AsioEventPort, FdStream, UnixListener.
// Everything runs on the test's thread with one io_context, driven by
// io.run_one_for() loops until a condition holds or a deadline passes; no
// sleeps. Throughput figures are printed, not asserted.
#include <capnp/message.h>
#include <capnp/rpc-twoparty.h>
#include <capnp/serialize.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <kj/async.h>
#include <kj/debug.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "rpc/asio_event_port.h"
#include "rpc/bridge_test.capnp.h"
#include "rpc/fd_stream.h"
#include "rpc/unix_listener.h"

namespace braid::rpc {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using EchoResponse = capnp::Response<test::Echo::EchoResults>;

// ---------------------------------------------------------------------------
// Server side

struct ServerStats {
  std::size_t echoes = 0;
  std::size_t slow_started = 0;
  std::size_t slow_finished = 0;  // the timer fired and the call returned
  std::size_t slow_ended = 0;     // the call's promise is gone: finished or cancelled
};

class EchoImpl final : public test::Echo::Server {
 public:
  EchoImpl(asio::io_context& io, ServerStats& stats) : io_(io), stats_(stats) {}

 protected:
  kj::Promise<void> echo(EchoContext context) override {
    ++stats_.echoes;
    auto text = context.getParams().getText();
    // An explicit size hint: one allocation for big texts, and GCC 12 with
    // -fsanitize warns (-Wmaybe-uninitialized) on the default null hint.
    context.getResults(capnp::MessageSize{text.size() / sizeof(capnp::word) + 4, 0}).setText(text);
    return kj::READY_NOW;
  }

  // An Asio timer bridged to a KJ promise: its handler owns only the
  // fulfiller; cancelling the call cancels the timer.
  kj::Promise<void> slow(SlowContext context) override {
    ++stats_.slow_started;
    // capnp 0.9.2 cancels a call on disconnect only if the server allows it;
    // otherwise it runs to the end and keeps the connection state alive.
    context.allowCancellation();
    auto timer = std::make_shared<asio::steady_timer>(
        io_, std::chrono::milliseconds(context.getParams().getMs()));
    auto paf = kj::newPromiseAndFulfiller<void>();
    timer->async_wait([fulfiller = kj::mv(paf.fulfiller)](const std::error_code& ec) mutable {
      if (!ec) fulfiller->fulfill();
    });
    ServerStats& stats = stats_;
    return paf.promise.then([&stats] { ++stats.slow_finished; }).attach(kj::defer([timer, &stats] {
      timer->cancel();
      ++stats.slow_ended;
    }));
  }

 private:
  asio::io_context& io_;
  ServerStats& stats_;
};

// ---------------------------------------------------------------------------
// Client side helpers

struct EchoOutcome {
  bool done = false;
  std::string text;
  kj::Maybe<kj::Exception> error;
};

// Starts an echo call; `out` is filled in by a continuation, no KJ wait.
kj::Promise<void> start_echo(test::Echo::Client& echo, kj::StringPtr text, EchoOutcome& out) {
  auto request = echo.echoRequest();
  request.setText(text);
  return request.send()
      .then(
          [&out](EchoResponse&& response) {
            auto reply = response.getText();
            out.text.assign(reply.cStr(), reply.size());
            out.done = true;
          },
          [&out](kj::Exception&& e) {
            out.error = kj::mv(e);
            out.done = true;
          })
      .eagerlyEvaluate(nullptr);
}

// Keeps `depth` echo calls in flight on one capability until stop().
class EchoPump final : private kj::TaskSet::ErrorHandler {
 public:
  EchoPump(test::Echo::Client echo, int depth) : echo_(kj::mv(echo)), tasks_(*this) {
    for (int i = 0; i < depth; ++i) issue();
  }
  void stop() { stopping_ = true; }
  std::size_t completed() const { return completed_; }
  std::size_t failed() const { return failed_; }
  std::size_t in_flight() const { return in_flight_; }

 private:
  void issue() {
    ++in_flight_;
    auto request = echo_.echoRequest();
    request.setText("ping");
    tasks_.add(request.send().then([this](EchoResponse&& response) {
      --in_flight_;
      KJ_ASSERT(response.getText() == "ping");
      ++completed_;
      if (!stopping_) issue();
    }));
  }
  void taskFailed(kj::Exception&&) override {
    --in_flight_;
    ++failed_;
  }

  test::Echo::Client echo_;
  kj::TaskSet tasks_;
  bool stopping_ = false;
  std::size_t completed_ = 0;
  std::size_t failed_ = 0;
  std::size_t in_flight_ = 0;
};

// A capnp client over one FdStream. Members die in reverse order: the
// capability, then the RPC system, then the stream.
struct EchoClient {
  EchoClient(asio::io_context& io, int fd)
      : stream(kj::heap<FdStream>(io, fd)),
        rpc(*stream),
        echo(rpc.bootstrap().castAs<test::Echo>()) {}
  kj::Own<FdStream> stream;
  capnp::TwoPartyClient rpc;
  test::Echo::Client echo;
};

std::pair<int, int> socket_pair() {
  int fds[2];
  KJ_SYSCALL(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
  return {fds[0], fds[1]};
}

// Blocking connect; a listening Unix socket accepts into its backlog at once.
int connect_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  KJ_ASSERT(fd >= 0, strerror(errno));
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  KJ_ASSERT(path.size() < sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  KJ_SYSCALL(::connect(fd, reinterpret_cast<const struct sockaddr*>(&addr), sizeof(addr)), path);
  return fd;
}

void write_all(int fd, const void* data, std::size_t size) {
  auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n;
    KJ_SYSCALL(n = ::send(fd, p, size, MSG_NOSIGNAL));
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/braid-bridge-XXXXXX";
    KJ_ASSERT(::mkdtemp(tmpl) != nullptr, strerror(errno));
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------
// Fixture: one io_context and one AsioEventPort on the test's thread.

class Bridge : public ::testing::Test {
 protected:
  ~Bridge() override {
    // Shutdown order: the test body's RPC objects and streams are gone; let
    // queued handlers (aborted waits) run while the KJ loop still exists.
    work_.reset();
    io_.restart();
    io_.poll();
  }

  // Runs the io_context until done() or the deadline; false on timeout.
  template <typename Done>
  bool run_until(Done&& done, Clock::duration timeout = 20s) {
    auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(10ms);
    }
    return true;
  }

  void run_for(Clock::duration d) {
    auto end = Clock::now() + d;
    run_until([&] { return Clock::now() >= end; }, d + 1s);
  }

  std::string echo_once(test::Echo::Client& echo, kj::StringPtr text) {
    EchoOutcome out;
    auto promise = start_echo(echo, text, out);
    EXPECT_TRUE(run_until([&] { return out.done; }));
    KJ_IF_MAYBE (e, out.error) {
      ADD_FAILURE() << e->getDescription().cStr();
    }
    return out.text;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  AsioEventPort port_{io_};
  ServerStats stats_;
};

// A server and a client connected by a socketpair.
struct PairedRpc {
  PairedRpc(asio::io_context& io, ServerStats& stats)
      : server(kj::heap<EchoImpl>(io, stats)), client(io, socket_pair_into(io)) {}

  int socket_pair_into(asio::io_context& io) {
    auto [client_fd, server_fd] = socket_pair();
    server.accept(kj::heap<FdStream>(io, server_fd));
    return client_fd;
  }

  capnp::TwoPartyServer server;
  EchoClient client;
};

// ---------------------------------------------------------------------------
// (e) KJ continuations run from Asio alone

TEST_F(Bridge, ThenContinuationRunsFromAsioHandlerWithoutKjWait) {
  bool ran = false;
  bool later_ran = false;
  kj::Own<kj::PromiseFulfiller<int>> fulfiller;
  kj::Maybe<kj::Promise<void>> held;
  kj::Maybe<kj::Promise<void>> later;
  asio::post(io_, [&] {
    auto paf = kj::newPromiseAndFulfiller<int>();
    fulfiller = kj::mv(paf.fulfiller);
    held = paf.promise.then([&](int v) { ran = v == 42; }).eagerlyEvaluate(nullptr);
    later = kj::evalLater([&] { later_ran = true; }).eagerlyEvaluate(nullptr);
  });
  asio::steady_timer timer(io_, 5ms);
  timer.async_wait([&](const std::error_code&) { fulfiller->fulfill(42); });
  ASSERT_TRUE(run_until([&] { return ran && later_ran; }));
}

// Promise::wait() drives Asio one step at a time, and afterwards the normal
// mode (io loops only) still runs what wait() left in KJ's queue.
TEST_F(Bridge, PromiseWaitWorksAndLeavesNoStall) {
  auto& ws = port_.wait_scope();
  EXPECT_EQ(kj::evalLater([] { return 7; }).wait(ws), 7);

  bool later_ran = false;
  kj::Maybe<kj::Promise<void>> later;
  auto paf = kj::newPromiseAndFulfiller<void>();
  asio::steady_timer timer(io_, 5ms);
  timer.async_wait([&](const std::error_code&) { paf.fulfiller->fulfill(); });
  paf.promise
      .then([&] {
        // Queued behind the event that ends wait(): still in KJ's queue then.
        later = kj::evalLater([&] { later_ran = true; }).eagerlyEvaluate(nullptr);
      })
      .wait(ws);
  ASSERT_TRUE(run_until([&] { return later_ran; }));

  // WaitScope::poll() leaves KJ's runnable state stale; the next work must
  // still be picked up by Asio.
  ws.poll();
  bool after_poll = false;
  auto p2 = kj::evalLater([&] { after_poll = true; }).eagerlyEvaluate(nullptr);
  ASSERT_TRUE(run_until([&] { return after_poll; }));
}

TEST_F(Bridge, PromiseWaitInsideAsioHandlerAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        asio::post(io_, [&] { kj::Promise<void>(kj::NEVER_DONE).wait(port_.wait_scope()); });
        io_.run_one();
      },
      "inside an Asio handler");
}

// wake(): a kj::Executor call from another thread reaches this loop.
TEST_F(Bridge, CrossThreadExecutorWakesAsioLoop) {
  const kj::Executor& executor = kj::getCurrentThreadExecutor();
  std::atomic<int> result{0};
  int calls_here = 0;
  std::thread other([&] {
    for (int i = 1; i <= 100; ++i) {
      result = executor.executeSync([&, i] {
        ++calls_here;  // runs on the test's thread
        return i;
      });
    }
  });
  bool ok = run_until([&] { return result.load() == 100; });
  other.join();
  ASSERT_TRUE(ok);
  EXPECT_EQ(calls_here, 100);

  // And through Promise::wait(): wait() returns true after wake().
  auto paf = kj::newPromiseAndCrossThreadFulfiller<int>();
  std::thread fulfiller([&] { paf.fulfiller->fulfill(5); });
  EXPECT_EQ(paf.promise.wait(port_.wait_scope()), 5);
  fulfiller.join();
}

// ---------------------------------------------------------------------------
// FdStream on its own

TEST_F(Bridge, FdStreamSetsCloexecAndNonblock) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);  // neither flag
  FdStream a(io_, fds[0]);
  ::close(fds[1]);
  int fd = KJ_ASSERT_NONNULL(a.getFd());
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
}

TEST_F(Bridge, FdStreamShortReadOnlyAtEof) {
  auto [fa, fb] = socket_pair();
  auto a = kj::heap<FdStream>(io_, fa);
  auto b = kj::heap<FdStream>(io_, fb);

  char buf[16] = {};
  std::size_t got = 0;
  bool done = false;
  auto read = a->tryRead(buf, 10, sizeof(buf))
                  .then([&](std::size_t n) {
                    got = n;
                    done = true;
                  })
                  .eagerlyEvaluate(nullptr);
  auto w1 = b->write("abc", 3);
  run_for(20ms);
  EXPECT_FALSE(done);  // 3 < minBytes: still waiting
  auto w2 = b->write("defghij", 7);
  ASSERT_TRUE(run_until([&] { return done; }));
  EXPECT_EQ(got, 10u);
  EXPECT_EQ(std::string(buf, 10), "abcdefghij");

  done = false;
  auto w3 = b->write("xy", 2);
  b->shutdownWrite();
  auto read2 = a->tryRead(buf, 10, sizeof(buf))
                   .then([&](std::size_t n) {
                     got = n;
                     done = true;
                   })
                   .eagerlyEvaluate(nullptr);
  ASSERT_TRUE(run_until([&] { return done; }));
  EXPECT_EQ(got, 2u);  // EOF after 2 bytes
}

TEST_F(Bridge, FdStreamPeerGoneIsDisconnectedNotSigpipe) {
  auto [fa, fb] = socket_pair();
  auto a = kj::heap<FdStream>(io_, fa);
  bool hangup = false;
  auto watch = a->whenWriteDisconnected().then([&] { hangup = true; }).eagerlyEvaluate(nullptr);
  ::close(fb);
  ASSERT_TRUE(run_until([&] { return hangup; }));

  kj::Maybe<kj::Exception> error;
  auto write = a->write("hello", 5)
                   .then([] {}, [&](kj::Exception&& e) { error = kj::mv(e); })
                   .eagerlyEvaluate(nullptr);
  ASSERT_TRUE(run_until([&] { return error != nullptr; }));
  EXPECT_EQ(KJ_ASSERT_NONNULL(error).getType(), kj::Exception::Type::DISCONNECTED);
}

TEST_F(Bridge, FdStreamResetIsDisconnected) {
  auto [fa, fb] = socket_pair();
  auto a = kj::heap<FdStream>(io_, fa);
  write_all(fa, "unread", 6);  // b closes with unread data: a's read gets ECONNRESET
  ::close(fb);
  kj::Maybe<kj::Exception> error;
  char buf[8];
  auto read = a->tryRead(buf, 1, sizeof(buf))
                  .then([](std::size_t) {}, [&](kj::Exception&& e) { error = kj::mv(e); })
                  .eagerlyEvaluate(nullptr);
  ASSERT_TRUE(run_until([&] { return error != nullptr; }));
  EXPECT_EQ(KJ_ASSERT_NONNULL(error).getType(), kj::Exception::Type::DISCONNECTED);
}

// (d) Destroying a stream with a read pending is clean (run under ASan).
TEST_F(Bridge, DestroyStreamWithPendingReadIsClean) {
  // 1. The KJ way: drop the read promise, then the stream.
  {
    auto [fa, fb] = socket_pair();
    auto a = kj::heap<FdStream>(io_, fa);
    auto b = kj::heap<FdStream>(io_, fb);
    char buf[64];
    {
      auto read = a->tryRead(buf, 1, sizeof(buf));
      io_.poll();
    }
    a = nullptr;
    io_.poll();  // the aborted wait's handler runs: it may only drop its fulfiller
    auto w = b->write("late", 4).then([] {}, [](kj::Exception&&) {}).eagerlyEvaluate(nullptr);
    run_for(5ms);
  }
  // 2. Beyond the contract: the stream dies first, the promise is still held.
  //    The read is rejected and the buffer is never written.
  {
    auto [fa, fb] = socket_pair();
    auto a = kj::heap<FdStream>(io_, fa);
    auto buf = std::make_unique<char[]>(64);
    std::memset(buf.get(), '#', 64);
    kj::Maybe<kj::Exception> error;
    bool fulfilled = false;
    auto read = a->tryRead(buf.get(), 1, 64)
                    .then([&](std::size_t) { fulfilled = true; },
                          [&](kj::Exception&& e) { error = kj::mv(e); })
                    .eagerlyEvaluate(nullptr);
    a = nullptr;
    (void)::send(fb, "late", 4, MSG_NOSIGNAL);  // EPIPE: a's fd is closed
    ASSERT_TRUE(run_until([&] { return error != nullptr; }));
    EXPECT_FALSE(fulfilled);
    EXPECT_EQ(KJ_ASSERT_NONNULL(error).getType(), kj::Exception::Type::DISCONNECTED);
    EXPECT_EQ(std::string(buf.get(), 4), "####");
    ::close(fb);
  }
  // 3. A capnp client with a call in flight is destroyed, stream and all.
  {
    PairedRpc rpc(io_, stats_);
    auto client = kj::heap<EchoClient>(io_, [&] {
      auto [c, s] = socket_pair();
      rpc.server.accept(kj::heap<FdStream>(io_, s));
      return c;
    }());
    auto request = client->echo.slowRequest();
    request.setMs(60000);
    auto call = request.send();
    ASSERT_TRUE(run_until([&] { return stats_.slow_started == 1; }));
    { auto drop = kj::mv(call); }
    client = nullptr;
    // The server notices and cancels the call; the other client still works.
    ASSERT_TRUE(run_until([&] { return stats_.slow_ended == 1; }));
    EXPECT_EQ(stats_.slow_finished, 0u);
    EXPECT_EQ(echo_once(rpc.client.echo, "still here"), "still here");
  }
}

// ---------------------------------------------------------------------------
// (a) RPC over a socketpair, driven by Asio only

TEST_F(Bridge, ThousandEchoRoundTripsOverSocketpair) {
  PairedRpc rpc(io_, stats_);
  for (int i = 0; i < 1000; ++i) {
    std::string text = "echo #" + std::to_string(i);
    ASSERT_EQ(echo_once(rpc.client.echo, text), text);
  }
  EXPECT_EQ(stats_.echoes, 1000u);
}

TEST_F(Bridge, OneMebibyteMessageRoundTripsIntact) {
  PairedRpc rpc(io_, stats_);
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  std::string back = echo_once(rpc.client.echo, kj::StringPtr(big.c_str(), big.size()));
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big);
}

// (b) Bounded draining: an Asio timer stays on time while 64 RPCs are
// continuously in flight on the same thread, and even while KJ is never idle.

// Samples how late a 5 ms Asio timer fires, again and again. "Wall" is plain
// lateness; "own" discounts the time this thread was off the CPU meanwhile
// (preempted on a loaded machine), leaving the delay caused by work on this
// thread, which is what bounded draining is about. Tests judge the wall p50
// and the own p95: a busy 2-core machine (or a sanitizer build on one) still
// produces rare outliers of 10+ ms that are not the loop's doing.
class TimerProbe {
 public:
  static constexpr int kSamples = 40;

  explicit TimerProbe(asio::io_context& io) : timer_(io) { arm(); }
  bool done() const { return wall_.size() >= kSamples; }

  // p50, p95 and max of the samples.
  struct Summary {
    Clock::duration p50, p95, max;
  };
  Summary wall() const { return summarize(wall_); }
  Summary own() const { return summarize(own_); }

 private:
  static Clock::duration thread_cpu() {
    struct timespec ts {};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }
  static Summary summarize(std::vector<Clock::duration> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[v.size() * 95 / 100], v.back()};
  }
  void arm() {
    auto armed_wall = Clock::now();
    auto armed_cpu = thread_cpu();
    auto due = armed_wall + 5ms;
    timer_.expires_at(due);
    timer_.async_wait([this, due, armed_wall, armed_cpu](const std::error_code& ec) {
      if (ec) return;
      auto now = Clock::now();
      auto late = now - due;
      auto off_cpu = (now - armed_wall) - (thread_cpu() - armed_cpu);
      wall_.push_back(late);
      own_.push_back(std::max(Clock::duration::zero(), late - std::max(off_cpu, {})));
      if (!done()) arm();
    });
  }

  asio::steady_timer timer_;
  std::vector<Clock::duration> wall_;
  std::vector<Clock::duration> own_;
};

long long micros(Clock::duration d) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

void print_lateness(const char* what, const TimerProbe& probe) {
  auto w = probe.wall();
  auto o = probe.own();
  std::printf(
      "[ timer    ] %s: lateness p50/p95/max %lld/%lld/%lld us (own work: %lld/%lld/%lld us)\n",
      what, micros(w.p50), micros(w.p95), micros(w.max), micros(o.p50), micros(o.p95),
      micros(o.max));
}

TEST_F(Bridge, TimerStaysOnTimeWith64RpcsInFlight) {
  PairedRpc rpc(io_, stats_);
  EchoPump pump(rpc.client.echo, 64);
  ASSERT_TRUE(run_until([&] { return pump.completed() >= 1000; }));

  std::size_t before = pump.completed();
  TimerProbe probe(io_);
  ASSERT_TRUE(run_until([&] { return probe.done(); }));
  std::size_t during = pump.completed() - before;
  pump.stop();
  ASSERT_TRUE(run_until([&] { return pump.in_flight() == 0; }));

  print_lateness("64 echoes in flight", probe);
  std::printf("[ timer    ] %zu echoes completed while sampling\n", during);
  EXPECT_LT(probe.wall().p50, 20ms);
  EXPECT_LT(probe.own().p95, 20ms);
  EXPECT_GT(during, 1000u);  // the flood really ran while the timer was measured
  EXPECT_EQ(pump.failed(), 0u);
}

// A KJ loop that is never idle: unbounded draining (run() until empty) would
// never return to Asio and the timer would never fire.
kj::Promise<void> spin(std::size_t& turns, const bool& stop) {
  return kj::evalLater([&turns, &stop]() -> kj::Promise<void> {
    ++turns;
    if (stop) return kj::READY_NOW;
    return spin(turns, stop);
  });
}

TEST_F(Bridge, TimerStaysOnTimeWhileKjIsNeverIdle) {
  std::size_t turns = 0;
  bool stop = false;
  bool spun_out = false;
  auto spinning = spin(turns, stop).then([&] { spun_out = true; }).eagerlyEvaluate(nullptr);
  TimerProbe probe(io_);
  ASSERT_TRUE(run_until([&] { return probe.done(); }));
  stop = true;
  ASSERT_TRUE(run_until([&] { return spun_out; }));

  print_lateness("KJ never idle", probe);
  std::printf("[ timer    ] %zu KJ turns while sampling\n", turns);
  EXPECT_LT(probe.wall().p50, 20ms);
  EXPECT_LT(probe.own().p95, 20ms);
  EXPECT_GT(turns, 10000u);
}

// ---------------------------------------------------------------------------
// (c) UnixListener

TEST_F(Bridge, ListenerSocketIsPrivateAndUnlinkedOnClose) {
  TempDir dir;
  std::string path = dir.file("node.sock");
  {
    UnixListener listener(io_, path);
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }
  struct stat st {};
  EXPECT_NE(::lstat(path.c_str(), &st), 0);
}

TEST_F(Bridge, ListenerReplacesStaleSocketButRefusesLiveOneOrNonSocket) {
  TempDir dir;
  std::string path = dir.file("node.sock");
  {
    // A socket file left behind by a server that died.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  UnixListener listener(io_, path);
  EXPECT_THROW(UnixListener second(io_, path), std::system_error);
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0);  // the failed second one left ours alone

  std::string plain = dir.file("plain");
  int fd = ::open(plain.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  EXPECT_THROW(UnixListener third(io_, plain), std::system_error);
  EXPECT_EQ(::lstat(plain.c_str(), &st), 0);
}

TEST_F(Bridge, ListenerServerSurvivesMisbehavingClients) {
  TempDir dir;
  std::string path = dir.file("node.sock");
  capnp::TwoPartyServer server(kj::heap<EchoImpl>(io_, stats_));
  UnixListener listener(io_, path);
  listener.on_accept([&](kj::Own<kj::AsyncIoStream> s) { server.accept(kj::mv(s)); });

  // Waits until the server has accepted `n` connections and dropped them all.
  auto wait_server_idle = [&](std::size_t n) {
    ASSERT_TRUE(run_until([&] { return listener.accepted() == n; }));
    bool drained = false;
    auto d = server.drain().then([&] { drained = true; }).eagerlyEvaluate(nullptr);
    ASSERT_TRUE(run_until([&] { return drained; }));
  };

  // 1. 100 bytes of garbage, then gone.
  {
    int fd = connect_unix(path);
    char garbage[100];
    std::memset(garbage, 0xAB, sizeof(garbage));
    write_all(fd, garbage, sizeof(garbage));
    ::close(fd);
  }
  wait_server_idle(1);

  // 2. Half of a valid capnp message, then gone.
  {
    capnp::MallocMessageBuilder message;
    message.initRoot<test::Echo::EchoParams>().setText(std::string(4096, 'h'));
    auto words = capnp::messageToFlatArray(message);
    auto bytes = words.asBytes();
    int fd = connect_unix(path);
    write_all(fd, bytes.begin(), bytes.size() / 2);
    ::close(fd);
  }
  wait_server_idle(2);

  // 3. Gone in the middle of a `slow` call: the server cancels the call.
  {
    EchoClient client(io_, connect_unix(path));
    auto request = client.echo.slowRequest();
    request.setMs(60000);
    auto call = request.send();
    ASSERT_TRUE(run_until([&] { return stats_.slow_started == 1; }));
    ::shutdown(KJ_ASSERT_NONNULL(client.stream->getFd()), SHUT_RDWR);  // abrupt
  }
  wait_server_idle(3);
  EXPECT_EQ(stats_.slow_ended, 1u);
  EXPECT_EQ(stats_.slow_finished, 0u);

  // A well-behaved client is served afterwards.
  EchoClient good(io_, connect_unix(path));
  EXPECT_EQ(echo_once(good.echo, "hello"), "hello");
  EXPECT_EQ(listener.accepted(), 4u);
  EXPECT_EQ(listener.accept_errors(), 0u);
}

// Accepting survives EMFILE: with the fd table full the listener backs off and
// retries, and serves the client once fds are free again.
TEST_F(Bridge, ListenerKeepsAcceptingAfterEmfile) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check opens a pipe to probe memory; with the fd table full on
  // purpose it fails and reports a false error. The release build runs this.
  GTEST_SKIP() << "fd exhaustion confuses the sanitizer runtime";
#endif
  TempDir dir;
  std::string path = dir.file("node.sock");
  capnp::TwoPartyServer server(kj::heap<EchoImpl>(io_, stats_));
  UnixListener listener(io_, path);
  int client_fd = connect_unix(path);  // waits in the backlog

  // Fill the fd table, under a lowered soft limit so this stays cheap.
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct rlimit low = saved;
  low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 512);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> hogs;
  for (;;) {
    int fd = ::dup(client_fd);
    if (fd < 0) break;
    hogs.push_back(fd);
  }
  listener.on_accept([&](kj::Own<kj::AsyncIoStream> s) { server.accept(kj::mv(s)); });
  // No calls on the (polymorphic) fixture while the fd table is full: UBSan's
  // vptr check needs a pipe() to probe memory and would report a bogus error.
  asio::io_context& io = io_;
  auto deadline = Clock::now() + 5s;
  while (listener.accept_errors() == 0 && Clock::now() < deadline) io.run_one_for(10ms);
  bool saw_error = listener.accept_errors() > 0;
  for (int fd : hogs) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(saw_error);
  ASSERT_TRUE(run_until([&] { return listener.accepted() == 1; }));

  EchoClient client(io_, client_fd);
  EXPECT_EQ(echo_once(client.echo, "after EMFILE"), "after EMFILE");
}

// ---------------------------------------------------------------------------
// Throughput report (printed, not asserted): compare with FACTS.md, way B.

TEST_F(Bridge, EchoThroughputReport) {
  TempDir dir;
  std::string path = dir.file("node.sock");
  capnp::TwoPartyServer server(kj::heap<EchoImpl>(io_, stats_));
  UnixListener listener(io_, path);
  listener.on_accept([&](kj::Own<kj::AsyncIoStream> s) { server.accept(kj::mv(s)); });

  // Client and server on this one thread.
  {
    EchoClient client(io_, connect_unix(path));
    EchoPump pump(client.echo, 64);
    run_for(200ms);  // warm-up
    std::size_t start_count = pump.completed();
    auto start = Clock::now();
    run_for(1s);
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    double rate = static_cast<double>(pump.completed() - start_count) / secs;
    pump.stop();
    ASSERT_TRUE(run_until([&] { return pump.in_flight() == 0; }));
    EXPECT_EQ(pump.failed(), 0u);
    std::printf("[ rate     ] one thread (client + server): %.0f echo calls/s, 64 in flight\n",
                rate);
    RecordProperty("calls_per_s_one_thread", static_cast<int>(rate));
  }

  // Client on its own thread with its own io_context and AsioEventPort,
  // server on this one (closer to FACTS.md's setup).
  std::atomic<bool> client_done{false};
  double rate = 0;
  std::size_t failures = 0;
  std::thread client_thread([&] {
    asio::io_context io;
    AsioEventPort port(io);
    {
      EchoClient client(io, connect_unix(path));
      EchoPump pump(client.echo, 64);
      auto run = [&](Clock::duration d) {
        auto end = Clock::now() + d;
        while (Clock::now() < end) io.run_one_for(10ms);
      };
      run(200ms);
      std::size_t start_count = pump.completed();
      auto start = Clock::now();
      run(1s);
      double secs = std::chrono::duration<double>(Clock::now() - start).count();
      rate = static_cast<double>(pump.completed() - start_count) / secs;
      pump.stop();
      while (pump.in_flight() > 0) io.run_one_for(10ms);
      failures = pump.failed();
    }
    io.poll();
    client_done = true;
  });
  bool done = run_until([&] { return client_done.load(); }, 30s);
  client_thread.join();
  ASSERT_TRUE(done);
  EXPECT_EQ(failures, 0u);
  std::printf("[ rate     ] client thread -> server thread: %.0f echo calls/s, 64 in flight\n",
              rate);
  RecordProperty("calls_per_s_two_threads", static_cast<int>(rate));
}

}  // namespace
}  // namespace braid::rpc
