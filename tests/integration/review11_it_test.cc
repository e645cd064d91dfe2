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

#include "rpc/peer.capnp.h"
#include "tests/integration/harness.h"

namespace braid::testing {
namespace {

using namespace std::chrono_literals;

int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool write_all(int fd, const kj::Array<capnp::word>& words) {
  const auto bytes = words.asBytes();
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.begin() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

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
      capnp::MallocMessageBuilder boot;
      boot.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(0);
      bool ok = write_all(fd, capnp::messageToFlatArray(boot));
      for (std::uint32_t q = 1; ok && !stop; ++q) {
        capnp::MallocMessageBuilder message;
        auto call = message.initRoot<capnp::rpc::Message>().initCall();
        call.setQuestionId(q);
        call.initTarget().initPromisedAnswer().setQuestionId(0);
        call.setInterfaceId(capnp::typeId<rpc::schema::Gate>());
        call.setMethodId(0);
        call.initParams().getContent().initAs<rpc::schema::Gate::ChallengeParams>();
        ok = write_all(fd, capnp::messageToFlatArray(message));
      }
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
