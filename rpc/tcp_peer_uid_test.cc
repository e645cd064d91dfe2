// Tests for the peer uid lookup: the pure reading of the kernel's answer, and
// real loopback connections made here (established: our uid; closed by the
// client: no uid, although the kernel reports such orphans as uid 0).
#include "rpc/tcp_peer_uid.h"

#include <gtest/gtest.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstring>
#include <thread>

namespace braid::rpc {
namespace {

struct Answer {
  nlmsghdr header;
  inet_diag_msg message;
};

Answer answer(std::uint8_t state, std::uint32_t uid) {
  Answer a{};
  a.header.nlmsg_len = NLMSG_LENGTH(sizeof(inet_diag_msg));
  a.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  a.message.idiag_state = state;
  a.message.idiag_uid = uid;
  return a;
}

TEST(TcpPeerUid, ReadsTheUidOfAnEstablishedOrHalfClosedSocketOnly) {
  Answer a = answer(TCP_ESTABLISHED, 1000);
  EXPECT_EQ(diag_uid(&a, sizeof a), 1000u);
  a = answer(TCP_FIN_WAIT2, 0);  // an orphan: the kernel says uid 0
  EXPECT_EQ(diag_uid(&a, sizeof a), std::nullopt);
  a = answer(TCP_FIN_WAIT2, 1000);  // half-closed: still its owner's
  EXPECT_EQ(diag_uid(&a, sizeof a), 1000u);
  a = answer(TCP_CLOSE, 1000);
  EXPECT_EQ(diag_uid(&a, sizeof a), std::nullopt);
  a = answer(TCP_TIME_WAIT, 0);
  EXPECT_EQ(diag_uid(&a, sizeof a), std::nullopt);
  a = answer(TCP_ESTABLISHED, 1000);
  a.header.nlmsg_type = NLMSG_ERROR;
  EXPECT_EQ(diag_uid(&a, sizeof a), std::nullopt);
  a = answer(TCP_ESTABLISHED, 1000);
  EXPECT_EQ(diag_uid(&a, sizeof a - 1), std::nullopt);  // truncated
}

TEST(TcpPeerUid, LooksUpARealLoopbackConnection) {
  for (const char* host : {"127.0.0.1", "::1"}) {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address(host), 0));
    asio::ip::tcp::socket client(io);
    client.connect(acceptor.local_endpoint());
    asio::ip::tcp::socket server = acceptor.accept();
    const auto uid = peer_uid(server.remote_endpoint(), server.local_endpoint());
    ASSERT_TRUE(uid.has_value()) << host;
    EXPECT_EQ(*uid, static_cast<std::uint32_t>(::geteuid())) << host;
  }
}

// review18: a client that sends its request and closes at once leaves an
// orphaned socket that the kernel reports as uid 0 (root): never trusted.
TEST(TcpPeerUid, AClientThatClosedIsNobody) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  asio::ip::tcp::socket server = acceptor.accept();
  const auto peer = server.remote_endpoint();
  const auto ours = server.local_endpoint();
  client.close();
  // Poll until the close reached the kernel's state (immediate on loopback).
  std::optional<std::uint32_t> uid = peer_uid(peer, ours);
  for (int i = 0; i < 100 && uid; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    uid = peer_uid(peer, ours);
  }
  EXPECT_EQ(uid, std::nullopt);
}

}  // namespace
}  // namespace braid::rpc
