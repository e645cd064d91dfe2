// review11: failing reproducers against a real braidd (hostile review of
// issue 10).
#include <arpa/inet.h>
#include <capnp/message.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "rpc/raw_peer_client_test_util.h"
#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using rpc::testing::bootstrap_bytes;
using rpc::testing::challenge_bytes;
using rpc::testing::connect_loopback;
using rpc::testing::write_all;

using namespace std::chrono_literals;

// Attack on the default configuration (loopback, no secret): any local
// process pipelines Gate.challenge() calls and never reads the answers.
// braidd queues every answer (Cap'n Proto 0.9.2 has no backpressure on
// answers; challenge() is unlimited before prove(),
// rpc/peer_transport.cc:190); when the sweep closes the unproven connection
// (rpc/peer_transport.cc:555), destroying the chain of queued writes
// overflows the stack and braidd dies with SIGSEGV, killing nothing of its
// tasks' bookkeeping but leaving the node down. Should hold: braidd
// survives and still answers.
TEST(Review11, AChallengeFloodThatNeverReadsDoesNotHurtBraidd) {
  // memberlist profile: probe every 1 s, so unproven connections live 2 s.
  Daemon d({"--name", "victim", "--listen", "127.0.0.1:0", "--gossip-profile", "memberlist"});
  std::string address;
  for (const auto& m : d.json({"peers", "--json"})) {
    if (m.at("self").get<bool>()) address = m.at("address").get<std::string>();
  }
  ASSERT_FALSE(address.empty());
  const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  std::atomic<bool> stop{false};
  std::thread flooder([&] {
    while (!stop) {  // a closed connection is simply opened again
      const int fd = connect_loopback(port);
      if (fd < 0) return;
      int small = 4096;
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
      bool ok = write_all(fd, bootstrap_bytes());
      for (std::uint32_t q = 1; ok && !stop; ++q) ok = write_all(fd, challenge_bytes(q));
      ::close(fd);
    }
  });
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until && d.alive()) std::this_thread::sleep_for(100ms);
  std::string peak;
  if (std::ifstream status("/proc/" + std::to_string(d.pid()) + "/status"); status) {
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmHWM", 0) == 0) peak = line;
    }
  }
  stop = true;
  flooder.join();
  std::printf("braidd %s\n", peak.c_str());
  if (!peak.empty()) {
    const long kib = std::stol(peak.substr(peak.find(':') + 1));
    EXPECT_LT(kib, 128 * 1024) << "one connection without the secret grew braidd to " << peak;
  }
  const bool alive = d.alive();
  EXPECT_TRUE(alive) << "braidd died under a flood from a peer without the secret (exit status "
                     << (alive ? 0 : d.terminate(1s)) << ", 128 + signal)";
  if (alive) {
    EXPECT_EQ(d.cli({"peers", "--json"}).exit_code, 0);
  }
}

}  // namespace
}  // namespace braid::testing
