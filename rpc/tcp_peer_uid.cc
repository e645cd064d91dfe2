#include "rpc/tcp_peer_uid.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstring>

namespace braid::rpc {
namespace {

struct DiagRequest {
  nlmsghdr header;
  inet_diag_req_v2 request;
};

// The address as the IPv4 socket it is, when it is an IPv4-mapped IPv6 one.
asio::ip::address unmapped(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address;
}

void copy_address(const asio::ip::address& address, __be32 (&out)[4]) {
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    std::memcpy(out, bytes.data(), bytes.size());
  } else {
    const auto bytes = address.to_v6().to_bytes();
    std::memcpy(out, bytes.data(), bytes.size());
  }
}

}  // namespace

std::optional<std::uint32_t> diag_uid(const void* answer, std::size_t size) {
  if (size < NLMSG_LENGTH(sizeof(inet_diag_msg))) return std::nullopt;
  nlmsghdr header;
  std::memcpy(&header, answer, sizeof header);
  if (header.nlmsg_type != SOCK_DIAG_BY_FAMILY || header.nlmsg_len > size ||
      header.nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
    return std::nullopt;
  }
  inet_diag_msg message;
  std::memcpy(&message, static_cast<const char*>(answer) + NLMSG_HDRLEN, sizeof message);
  if (message.idiag_state == TCP_ESTABLISHED) return message.idiag_uid;
  // A client that sent its request and shut down its writing side is in
  // FIN_WAIT and still has its owner; an orphan (closed) is a time-wait
  // bucket the kernel reports as uid 0, never taken for root.
  const bool half_closed =
      message.idiag_state == TCP_FIN_WAIT1 || message.idiag_state == TCP_FIN_WAIT2;
  if (half_closed && message.idiag_uid != 0) return message.idiag_uid;
  return std::nullopt;
}

std::optional<std::uint32_t> peer_uid(const asio::ip::tcp::endpoint& peer,
                                      const asio::ip::tcp::endpoint& ours) {
  const asio::ip::address peer_address = unmapped(peer.address());
  const asio::ip::address our_address = unmapped(ours.address());
  if (peer_address.is_v4() != our_address.is_v4()) return std::nullopt;

  DiagRequest query{};
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.request.sdiag_family = peer_address.is_v4() ? AF_INET : AF_INET6;
  query.request.sdiag_protocol = IPPROTO_TCP;
  query.request.idiag_states = ~0U;  // any: the answer's state is checked
  // The client's socket: its source is the peer, its destination is us.
  query.request.id.idiag_sport = htons(peer.port());
  query.request.id.idiag_dport = htons(ours.port());
  copy_address(peer_address, query.request.id.idiag_src);
  copy_address(our_address, query.request.id.idiag_dst);
  query.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  query.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;
  // The kernel answers an exact lookup at once; the timeout only guards the loop.
  timeval timeout{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  std::optional<std::uint32_t> uid;
  if (::sendto(fd, &query, sizeof query, 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof kernel) == static_cast<ssize_t>(sizeof query)) {
    alignas(nlmsghdr) char answer[1024];
    ssize_t got;
    do {
      got = ::recv(fd, answer, sizeof answer, 0);
    } while (got < 0 && errno == EINTR);
    if (got > 0) uid = diag_uid(answer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return uid;
}

}  // namespace braid::rpc
