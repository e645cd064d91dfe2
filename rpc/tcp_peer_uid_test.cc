// Tests for the /proc/net/tcp lookup: the pure parser on a fixed table and
// the real lookup on a loopback connection made here (its uid is ours).
#include "rpc/tcp_peer_uid.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>

namespace braid::rpc {
namespace {

TEST(TcpPeerUid, SpellsEndpointsAsTheKernel) {
  const asio::ip::tcp::endpoint v4(asio::ip::make_address("127.0.0.1"), 8000);
  const asio::ip::tcp::endpoint v6(asio::ip::make_address("::1"), 80);
  if (std::uint32_t one = 1; *reinterpret_cast<unsigned char*>(&one) == 1) {  // little-endian
    EXPECT_EQ(proc_net_address(v4), "0100007F:1F40");
    EXPECT_EQ(proc_net_address(v6), "00000000000000000000000001000000:0050");
  }
}

TEST(TcpPeerUid, FindsTheRowOfThePeer) {
  const std::string table =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
      "inode\n"
      "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
      "111 1 0000000000000000 100 0 0 10 0\n"
      "   1: 0100007F:C350 0100007F:1F40 01 00000000:00000000 00:00000000 00000000 65534        0 "
      "222 1 0000000000000000 20 4 30 10 -1\n"
      "   2: 0100007F:1F40 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 "
      "333 1 0000000000000000 20 4 30 10 -1\n";
  EXPECT_EQ(tcp_row_uid(table, "0100007F:C350", "0100007F:1F40"), 65534u);
  EXPECT_EQ(tcp_row_uid(table, "0100007f:c350", "0100007f:1f40"), 65534u);  // any case
  EXPECT_EQ(tcp_row_uid(table, "0100007F:1F40", "0100007F:C350"), 0u);
  EXPECT_EQ(tcp_row_uid(table, "0100007F:C351", "0100007F:1F40"), std::nullopt);
  EXPECT_EQ(tcp_row_uid("", "0100007F:C350", "0100007F:1F40"), std::nullopt);
  EXPECT_EQ(tcp_row_uid("   1: 0100007F:C350 0100007F:1F40 01", "0100007F:C350", "0100007F:1F40"),
            std::nullopt);  // a truncated row
}

TEST(TcpPeerUid, LooksUpARealLoopbackConnection) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io,
                                   asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ip::tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  asio::ip::tcp::socket server = acceptor.accept();
  const auto uid = peer_uid(server.remote_endpoint(), server.local_endpoint());
  ASSERT_TRUE(uid.has_value());
  EXPECT_EQ(*uid, static_cast<std::uint32_t>(::geteuid()));
}

}  // namespace
}  // namespace braid::rpc
