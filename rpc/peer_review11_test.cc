// review11: failing reproducers against the peer transport (hostile review
// of issue 10). Each test states the attack and what should hold.
#include <arpa/inet.h>
#include <capnp/message.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

#include "rpc/asio_event_port.h"
#include "rpc/peer.capnp.h"
#include "rpc/peer_transport.h"
#include "rpc/raw_peer_client_test_util.h"

namespace braid::rpc {
namespace {

using testing::bootstrap_bytes;
using testing::challenge_bytes;
using testing::connect_loopback;
using testing::write_all;

using namespace std::chrono_literals;

constexpr const char* kSecret = "a cluster secret of some length";

// The flooder: one connection without the secret pipelines challenge()
// calls on the bootstrap Gate and never reads a byte back (a tiny receive
// buffer, so the server's answers back up at once).
class ChallengeFlooder {
 public:
  explicit ChallengeFlooder(std::uint16_t port) {
    for (std::uint32_t q = 1; q <= 4000; ++q) calls_.push_back(challenge_bytes(q));
    thread_ = std::thread([this, port] { run(port); });
  }
  ~ChallengeFlooder() {
    stop_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
  }
  std::uint64_t sent() const { return sent_; }

 private:
  void run(std::uint16_t port) {
    fd_ = connect_loopback(port);
    if (fd_ < 0) return;
    int small = 4096;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (!write_all(fd_, bootstrap_bytes())) return;
    for (std::uint32_t q = 1; !stop_; ++q) {
      const bool ok =
          q <= calls_.size() ? write_all(fd_, calls_[q - 1]) : write_all(fd_, challenge_bytes(q));
      if (!ok) break;
      ++sent_;
    }
  }
  std::vector<kj::Array<capnp::word>> calls_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<int> fd_{-1};
  std::thread thread_;
};

// Runs `body` in a forked child (gtest death-test machinery), so that a
// crash of the transport fails this test instead of the whole binary.
void in_child(const std::function<int()>& body) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::_Exit(body()), ::testing::ExitedWithCode(0), "");
}

// Attack: one connection WITHOUT the secret pipelines challenge() calls and
// never reads. challenge() may be called any number of times before prove()
// (rpc/peer_transport.cc:190); Cap'n Proto 0.9.2 queues every answer as a
// chained write promise (no backpressure on answers). When braidd then
// closes the unproven connection (sweep, 2 x call_deadline,
// rpc/peer_transport.cc:555, destroyed from the posted handler at :297),
// destroying that chain recurses once per queued answer
// (ChainPromiseNode::~ChainPromiseNode -> ... ) and overflows the stack:
// braidd dies with SIGSEGV. Anyone who can reach --listen can crash braidd.
// Should hold: the transport survives, and closes the connection.
TEST(PeerReview11, AnUnauthenticatedChallengeFloodDoesNotCrashTheListener) {
  in_child([] {
    asio::io_context io;
    AsioEventPort event_port(io);
    PeerTransportConfig config;
    config.listen = "127.0.0.1:0";
    config.name = "b";
    config.secret = kSecret;
    config.call_deadline = 1000ms;  // unproven connections closed after 2 s
    PeerTransport b(io, config, [](gossip::Message) {});
    ChallengeFlooder flooder(b.port());
    const auto until = std::chrono::steady_clock::now() + 3500ms;
    while (std::chrono::steady_clock::now() < until) io.run_one_for(10ms);
    // Reached only if the sweep's close did not crash us.
    return b.stats().incoming <= 1 ? 0 : 3;
  });
}

// Same attack, measured before the close: what one unauthenticated
// connection makes braidd hold in its heap within its 2 s of grace.
// Should hold: bounded by a handful of KiB per connection (256 of them are
// allowed at once).
TEST(PeerReview11, AnUnauthenticatedChallengeFloodDoesNotPinHeapMemory) {
  in_child([] {
    asio::io_context io;
    AsioEventPort event_port(io);
    PeerTransportConfig config;
    config.listen = "127.0.0.1:0";
    config.name = "b";
    config.secret = kSecret;
    config.call_deadline = 1000ms;
    PeerTransport b(io, config, [](gossip::Message) {});
    const std::size_t heap_before = ::mallinfo2().uordblks;
    std::size_t heap_peak = heap_before;
    ChallengeFlooder flooder(b.port());
    const auto until = std::chrono::steady_clock::now() + 1800ms;  // within the grace
    while (std::chrono::steady_clock::now() < until) {
      io.run_one_for(5ms);
      heap_peak = std::max(heap_peak, ::mallinfo2().uordblks);
    }
    const double grown_mib = static_cast<double>(heap_peak - heap_before) / (1024.0 * 1024.0);
    std::fprintf(stderr, "heap grew %.1f MiB for %llu challenge calls never read\n", grown_mib,
                 static_cast<unsigned long long>(flooder.sent()));
    std::fflush(stderr);
    std::_Exit(grown_mib < 4.0 ? 0 : 1);  // before any teardown (see the test above)
    return 0;
  });
}

}  // namespace
}  // namespace braid::rpc
