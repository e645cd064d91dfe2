#include "rpc/peer_endpoint.h"

#include <gtest/gtest.h>

namespace braid::rpc {
namespace {

TEST(PeerEndpoint, ParsesHostsAndPorts) {
  auto e = parse_endpoint("10.0.0.7:7946");
  ASSERT_TRUE(e);
  EXPECT_EQ(e.value().host, "10.0.0.7");
  EXPECT_EQ(e.value().port, 7946);
  e = parse_endpoint("[::1]:80");
  ASSERT_TRUE(e);
  EXPECT_EQ(e.value().host, "::1");
  e = parse_endpoint("node-3.example:65535");
  ASSERT_TRUE(e);
  EXPECT_EQ(e.value().port, 65535);
  EXPECT_TRUE(parse_endpoint("127.0.0.1:0", /*allow_any_port=*/true));
}

TEST(PeerEndpoint, RefusesMalformedAddressesWithOneLine) {
  for (const char* bad : {"", "host", ":7946", "host:", "host:0", "host:65536", "host:7x", "::1:80",
                          "[::1:80", "[zz]:80", "ho st:80", "host:-1"}) {
    auto e = parse_endpoint(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().message.find("allowed: HOST:PORT"), std::string::npos) << bad;
    EXPECT_EQ(e.error().message.find('\n'), std::string::npos);
  }
}

TEST(PeerEndpoint, KnowsLoopback) {
  EXPECT_TRUE(is_loopback(parse_endpoint("127.0.0.1:1").value()));
  EXPECT_TRUE(is_loopback(parse_endpoint("[::1]:1").value()));
  EXPECT_TRUE(is_loopback(parse_endpoint("localhost:1").value()));
  EXPECT_FALSE(is_loopback(parse_endpoint("0.0.0.0:1").value()));
  EXPECT_FALSE(is_loopback(parse_endpoint("10.1.2.3:1").value()));
  EXPECT_FALSE(is_loopback(parse_endpoint("example.org:1").value()));
}

}  // namespace
}  // namespace braid::rpc
